"""``nncore.sklearn`` with ``solver="lbfgs"`` against ``sklearn.neural_network`` with the same
hyper-parameters (and so the same initial weights): held-out scores within one point (accuracy) or
0.02 R² on scikit-learn's bundled data sets; on a convex problem (no hidden layer) the same optimum
to 1e-6 relative and a loss at least as low after as many iterations; ``loss_`` in scikit-learn's
units, written out independently (its log loss or half squared error plus ``alpha/2·‖W‖²/Σw``);
scikit-learn's attributes, warnings and refusals."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="the comparisons are with scikit-learn")
from sklearn import datasets  # noqa: E402
from sklearn import neural_network as sk  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from nncore import sklearn as nk  # noqa: E402

Array = np.ndarray

# data set: (loader, classification, hyper-parameters)
DATA_SETS: dict[str, tuple[Any, bool, dict[str, Any]]] = {
    "iris": (datasets.load_iris, True, {"hidden_layer_sizes": (16,), "alpha": 1e-3}),
    "wine": (datasets.load_wine, True, {"hidden_layer_sizes": (16,), "alpha": 1e-3}),
    "breast_cancer": (
        datasets.load_breast_cancer,
        True,
        {"hidden_layer_sizes": (16,), "alpha": 1e-3},
    ),
    "digits": (datasets.load_digits, True, {"hidden_layer_sizes": (32,), "alpha": 1e-3}),
    "diabetes": (datasets.load_diabetes, False, {"hidden_layer_sizes": (8,), "alpha": 10.0}),
}


def split(name: str) -> tuple[Array, Array, Array, Array]:
    """The data set standardised on its training part (targets too, for regression)."""
    loader, classification, _ = DATA_SETS[name]
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if not classification:
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return X_train, X_test, y_train, y_test


def both(classification: bool, **parameters: Any) -> tuple[Any, Any]:
    if classification:
        return sk.MLPClassifier(**parameters), nk.MLPClassifier(**parameters)
    return sk.MLPRegressor(**parameters), nk.MLPRegressor(**parameters)


def fitted(estimator: Any, X: Array, y: Array, **fit: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit)


@pytest.mark.parametrize("name", list(DATA_SETS))
def test_held_out_scores_match_scikit_learns(name: str) -> None:
    """The mean over three initialisations: a non-convex problem's runs from one start may end
    in different local minima (a sample or two of a test set apart) after tiny differences."""
    X_train, X_test, y_train, y_test = split(name)
    _, classification, parameters = DATA_SETS[name]
    scores = []
    for seed in range(3):
        theirs, ours = both(
            classification, solver="lbfgs", max_iter=300, random_state=seed, **parameters
        )
        fitted(theirs, X_train, y_train)
        fitted(ours, X_train, y_train)
        scores.append((ours.score(X_test, y_test), theirs.score(X_test, y_test)))
    our_mean, their_mean = np.mean(scores, axis=0)
    tolerance = 0.01 if classification else 0.02  # one point of accuracy, or R²
    assert abs(our_mean - their_mean) <= tolerance
    assert our_mean > (0.8 if classification else 0.2)  # a model was learned


def objective(estimator: Any, X: Array, y: Array, w: Array | None) -> float:
    """scikit-learn's lbfgs objective at the fitted weights, written out: its loss (log loss, or
    half the mean squared error) plus (alpha/2)·‖W‖²/Σw over the weight matrices only."""
    if isinstance(estimator, nk.MLPClassifier):
        loss = log_loss(y, estimator.predict_proba(X), sample_weight=w)
    else:
        residuals = (estimator.predict(X) - y) ** 2
        loss = 0.5 * float(np.average(residuals, weights=w))
    squares = sum(float(np.sum(W**2)) for W in estimator.coefs_)
    total = len(X) if w is None else float(np.sum(w))
    return loss + 0.5 * estimator.alpha * squares / total


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", ["breast_cancer", "diabetes"])
def test_a_convex_problem_reaches_scikit_learns_optimum_in_its_units(
    name: str, weighted: bool
) -> None:
    X_train, _, y_train, _ = split(name)
    _, classification, _ = DATA_SETS[name]
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X_train)) if weighted else None
    parameters = {"hidden_layer_sizes": (), "alpha": 1.0, "solver": "lbfgs", "random_state": 0}
    theirs, ours = both(classification, tol=1e-9, max_iter=1000, **parameters)
    fitted(theirs, X_train, y_train, sample_weight=w)
    fitted(ours, X_train, y_train, sample_weight=w)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    assert ours.loss_ == pytest.approx(objective(ours, X_train, y_train, w), rel=1e-9)
    for our_W, their_W in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(our_W, their_W, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("iterations", [2, 5, 10])
def test_a_convex_loss_at_least_as_low_as_scikit_learns_after_as_many_iterations(
    iterations: int,
) -> None:
    X_train, _, y_train, _ = split("wine")
    parameters = {"hidden_layer_sizes": (), "solver": "lbfgs", "random_state": 0}
    theirs, ours = both(True, max_iter=iterations, tol=0.0, **parameters)
    fitted(theirs, X_train, y_train)
    fitted(ours, X_train, y_train)
    assert ours.n_iter_ == theirs.n_iter_ == iterations
    assert ours.loss_ <= theirs.loss_ * (1 + 1e-12)


def test_attributes_and_warnings_are_scikit_learns() -> None:
    X_train, _, y_train, _ = split("iris")
    parameters = {"hidden_layer_sizes": (8,), "solver": "lbfgs", "max_iter": 3, "random_state": 0}
    theirs, ours = both(True, **parameters)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge") as their_warning:
        theirs.fit(X_train, y_train)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge") as our_warning:
        ours.fit(X_train, y_train)
    assert "max_iter=3" in str(their_warning[0].message) and "max_iter=3" in str(
        our_warning[0].message
    )
    assert ours.n_iter_ == theirs.n_iter_ == 3
    for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        assert hasattr(theirs, name) == hasattr(ours, name) == False  # noqa: E712
    assert ours.loss_ == pytest.approx(objective(ours, X_train, y_train, None), rel=1e-9)


def test_max_fun_limits_the_loss_evaluations() -> None:
    X_train, _, y_train, _ = split("iris")
    estimator = nk.MLPClassifier(solver="lbfgs", max_fun=10, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_evaluations"):
        estimator.fit(X_train, y_train)
    history = estimator.model_.history
    assert history.stop_reason == "max_evaluations" and estimator.n_iter_ < 10


def test_warm_start_continues_from_the_fitted_weights() -> None:
    X_train, _, y_train, _ = split("wine")
    estimator = nk.MLPClassifier(
        hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5, warm_start=True, random_state=0
    )
    first = fitted(estimator, X_train, y_train).loss_
    second = fitted(estimator, X_train, y_train).loss_
    assert second < first


def test_partial_fit_dropout_and_max_fun_are_refused() -> None:
    X_train, _, y_train, _ = split("iris")
    with pytest.raises(ValueError, match="stochastic optimizers"):
        nk.MLPClassifier(solver="lbfgs").partial_fit(X_train, y_train, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="dropout does not apply"):
        nk.MLPClassifier(solver="lbfgs", dropout=0.2).fit(X_train, y_train)
    for bad in (0, 1.5, "many"):
        with pytest.raises(ValueError, match="max_fun"):
            nk.MLPRegressor(solver="lbfgs", max_fun=bad).fit(X_train, y_train)
