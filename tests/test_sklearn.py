"""nncore.sklearn: scikit-learn's estimator checks, fidelity to scikit-learn's MLPs, and the
meta-estimators (Pipeline, GridSearchCV, cross_val_score, clone, pickling)."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network as sknn
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

import nncore
from nncore.sklearn import MLPClassifier, MLPRegressor

no_convergence_warning = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# --------------------------------------------------------------------- scikit-learn's checks
#: Checks that cannot pass for a configuration, with the reason (scikit-learn's own MLPs fail
#: the same ones in the same configurations, except for float32, which they do not offer).
_SAMPLE_WEIGHT_EQUIVALENCE = (
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
)
_EARLY_STOPPING_XFAILS = {
    "check_estimators_partial_fit_n_features": "partial_fit refuses early_stopping=True "
    "(as scikit-learn's MLPs)",
    "check_classifiers_one_label": "the validation split of 1 sample cannot be stratified",
    "check_fit2d_1feature": "10 samples leave a validation set of 1 (too small, as scikit-learn)",
    # early stopping keeps the first epoch of the best class-weighted validation accuracy; with
    # weights 1000 : 0.0001 it is 1 once the class-0 rows are right, before the model predicts
    # class 0 for > 87% of the test rows as the check demands (it does without early stopping).
    # scikit-learn's own MLPClassifier(early_stopping=True), given the class weights as
    # sample_weight, stops at the same epoch with the same predictions (36% class 0 in the
    # 3-class case): test_sklearn_units.py::test_class_weight_with_early_stopping_is_sklearns
    "check_class_weight_classifiers": "the class-weighted validation score saturates early "
    "(scikit-learn's early stopping does the same with these weights as sample_weight)",
    "check_fit_score_takes_y": "the 3-sample data leave a validation set of 1 (too small)",
    "check_estimators_nan_inf": "the 10-sample data leave a validation set of 1 (too small)",
    "check_n_features_in_after_fitting": "the 10-sample data leave a validation set of 1",
    "check_regressors_no_decision_function": "the 10-sample data leave a validation set of 1",
    **{
        name: "repeating rows changes the random validation split"
        for name in _SAMPLE_WEIGHT_EQUIVALENCE
    },
}
_FLOAT32_XFAILS = {
    "check_regressor_multioutput": "the check demands float64 predictions; dtype='float32' "
    "predicts in float32",
}


def _expected_failed_checks(estimator: Any) -> dict[str, str]:
    failures: dict[str, str] = {}
    if estimator.early_stopping:
        failures.update(_EARLY_STOPPING_XFAILS)
    if estimator.dtype == "float32":
        failures.update(_FLOAT32_XFAILS)
    if isinstance(estimator, MLPClassifier):
        failures.pop("check_regressors_no_decision_function", None)
        failures.pop("check_regressor_multioutput", None)
    else:
        failures.pop("check_classifiers_one_label", None)
    return failures


@no_convergence_warning
@parametrize_with_checks(
    [
        # The defaults, as scikit-learn's own test suite runs its MLPs: every check passes.
        MLPClassifier(),
        MLPRegressor(),
        # Other solvers, schedules and losses: every check passes too.
        MLPClassifier(solver="sgd", learning_rate="adaptive", max_iter=100),
        MLPRegressor(loss="huber", solver="rmsprop", activation="tanh", max_iter=100),
        # Configurations where some checks cannot apply (listed in _expected_failed_checks).
        MLPClassifier(early_stopping=True, max_iter=100),
        MLPRegressor(dtype="float32", max_iter=100),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    name = getattr(check, "func", check).__name__
    if estimator.dtype == "float32" and name in _SAMPLE_WEIGHT_EQUIVALENCE:
        # float32 predictions of the weighted and the repeated fits agree to about 1 ulp
        # (1.2e-7), the check's rtol is 1e-7: whether it passes depends on the CPU variant's
        # rounding (it passes with AVX2, not with AVX-512), so it may fail, not must.
        try:
            check(estimator)
        except AssertionError as error:
            pytest.xfail(f"float32 rounding (1 ulp) exceeds the check's rtol=1e-7: {error}"[:300])
        return
    check(estimator)


# --------------------------------------------------------------------- import
def test_import_nncore_does_not_import_sklearn() -> None:
    code = (
        "import sys, nncore\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'sklearn'], 'sklearn imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_sklearn_gives_install_hint() -> None:
    code = (
        "import sys\n"
        "sys.modules['sklearn'] = None\n"
        "try:\n"
        "    import nncore.sklearn\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert 'pip install "nncore[sklearn]"' in result.stdout


# --------------------------------------------------------------------- data
def _data() -> dict[str, Any]:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 5))
    binary = (X[:, 0] + X[:, 1] > 0).astype(int)
    multiclass = np.digitize(X[:, 0], [-0.5, 0.5])
    return {
        "X": X,
        "regression": np.c_[X[:, 0] - X[:, 1] ** 2, np.sin(X[:, 2]), X[:, 3]],
        "regression_1d": X[:, 0] - X[:, 1] ** 2,
        "binary": binary,
        "multiclass": multiclass,
        "multilabel": np.c_[binary, multiclass == 1, X[:, 4] > 0].astype(int),
    }


DATA = _data()
REGRESSION_TARGETS = ("regression", "regression_1d")


def _pair(target: str) -> tuple[type, type]:
    if target in REGRESSION_TARGETS:
        return sknn.MLPRegressor, MLPRegressor
    return sknn.MLPClassifier, MLPClassifier


# --------------------------------------------------------------------- fidelity
#: Full-batch SGD (120 samples < 200) without L2: the shuffling order cannot matter, so nncore
#: must reproduce scikit-learn's training exactly (up to rounding).
FULL_BATCH_SGD = {
    "solver": "sgd",
    "momentum": 0.0,
    "alpha": 0.0,
    "hidden_layer_sizes": (8, 7),
    "activation": "tanh",
    "learning_rate_init": 0.05,
    "max_iter": 150,
    "random_state": 0,
}


@no_convergence_warning
@pytest.mark.parametrize(
    ("target", "options"),
    [
        ("regression", {}),
        ("regression_1d", {}),
        ("binary", {}),
        ("multiclass", {}),
        ("multilabel", {}),
        ("multiclass", {"activation": "logistic"}),
        ("regression", {"momentum": 0.9}),
        ("regression", {"momentum": 0.9, "nesterovs_momentum": False}),
        ("regression", {"learning_rate": "invscaling", "learning_rate_init": 0.5}),
        ("multiclass", {"learning_rate": "adaptive", "max_iter": 400, "tol": 1e-3}),
        ("regression", {"tol": 1e-3, "max_iter": 1000}),
        ("multiclass", {"early_stopping": True, "max_iter": 400}),
        ("regression", {"early_stopping": True, "max_iter": 400}),
    ],
)
def test_full_batch_sgd_reproduces_sklearn(target: str, options: dict[str, Any]) -> None:
    sk_type, nn_type = _pair(target)
    params = {**FULL_BATCH_SGD, **options}
    X, y = DATA["X"], DATA[target]
    theirs = sk_type(**params).fit(X, y)
    ours = nn_type(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    if theirs.best_loss_ is None:
        assert ours.best_loss_ is None
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-12, abs=0)
    for mine, reference in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(mine, reference, rtol=1e-10, atol=1e-12)
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
    else:
        assert ours.validation_scores_ is None and ours.best_validation_score_ is None
    X_new = X[:20] + 0.1
    np.testing.assert_allclose(ours.predict(X_new), theirs.predict(X_new), rtol=1e-10)
    if nn_type is MLPClassifier:
        np.testing.assert_allclose(ours.predict_proba(X_new), theirs.predict_proba(X_new))


@no_convergence_warning
def test_full_batch_partial_fit_reproduces_sklearn() -> None:
    X, y = DATA["X"], DATA["multiclass"]
    params = {k: v for k, v in FULL_BATCH_SGD.items() if k != "max_iter"}
    theirs, ours = sknn.MLPClassifier(**params), MLPClassifier(**params)
    for _ in range(5):
        theirs.partial_fit(X, y, classes=[0, 1, 2])
        ours.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    assert ours.n_iter_ == theirs.n_iter_ == 1
    assert ours.t_ == theirs.t_ == 5 * len(X)


@no_convergence_warning
@pytest.mark.parametrize("target", ["regression", "binary", "multilabel", "multiclass"])
def test_adam_follows_sklearn_closely(target: str) -> None:
    """Adam differs only by where ε enters (PyTorch's placement): the full-batch training curves
    agree to about 1e-6."""
    sk_type, nn_type = _pair(target)
    params = {"hidden_layer_sizes": (8,), "max_iter": 100, "random_state": 0}
    X, y = DATA["X"], DATA[target]
    theirs = sk_type(**params).fit(X, y)
    ours = nn_type(**params).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-5)
    for mine, reference in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(mine, reference, atol=1e-4)


def _digits_accuracy(module: Any, seed: int) -> float:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    classifier = module.MLPClassifier(hidden_layer_sizes=(64,), max_iter=200, random_state=seed)
    model = make_pipeline(StandardScaler(), classifier).fit(X_train, y_train)
    return float(model.score(X_test, y_test))


def _diabetes_r2(module: Any, seed: int) -> float:
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    regressor = module.MLPRegressor(hidden_layer_sizes=(64,), max_iter=300, random_state=seed)
    model = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), regressor), transformer=StandardScaler()
    ).fit(X_train, y_train)
    return float(model.score(X_test, y_test))


@no_convergence_warning
@pytest.mark.parametrize("score", [_digits_accuracy, _diabetes_r2], ids=["digits", "diabetes"])
def test_held_out_score_matches_sklearn(score: Any) -> None:
    """The same hyper-parameters reach the same held-out accuracy / R² as scikit-learn within
    one percentage point, on average over 5 seeds (benchmarks/bench_sklearn.py times them)."""
    import nncore.sklearn as ours

    seeds = range(5)
    # scikit-learn's BLAS in one thread: several threads on a busy machine can take minutes
    with threadpool_limits(1):
        theirs = np.mean([score(sknn, seed) for seed in seeds])
    mine = np.mean([score(ours, seed) for seed in seeds])
    assert abs(mine - theirs) < 0.01, (mine, theirs)


# --------------------------------------------------------------------- estimator behaviour
@no_convergence_warning
def test_binary_multiclass_multilabel_outputs() -> None:
    X = DATA["X"]
    binary = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    binary.fit(X, np.where(DATA["binary"], "yes", "no"))
    assert list(binary.classes_) == ["no", "yes"]
    assert binary.n_outputs_ == 1 and binary.out_activation_ == "logistic"
    assert binary.model_.activations[-1] == "sigmoid" and binary.model_.n_outputs == 1
    proba = binary.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(binary.predict(X)) <= {"no", "yes"}
    np.testing.assert_array_equal(binary.predict(X), np.where(proba[:, 1] > 0.5, "yes", "no"))
    np.testing.assert_allclose(binary.predict_log_proba(X), np.log(proba))

    multi = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    multi.fit(X, DATA["multiclass"])
    assert multi.out_activation_ == "softmax" and multi.n_outputs_ == 3
    assert multi.predict_proba(X).shape == (len(X), 3)
    np.testing.assert_allclose(multi.predict_proba(X).sum(axis=1), 1.0)

    labels = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    labels.fit(X, DATA["multilabel"])
    assert labels.out_activation_ == "logistic" and labels.n_outputs_ == 3
    np.testing.assert_array_equal(labels.classes_, [0, 1, 2])
    assert labels.predict(X).shape == (len(X), 3)
    np.testing.assert_array_equal(labels.predict(X), labels.predict_proba(X) > 0.5)


@no_convergence_warning
def test_fitted_attributes() -> None:
    X, y = DATA["X"], DATA["regression"]
    model = MLPRegressor(hidden_layer_sizes=(6, 4), max_iter=30, random_state=0).fit(X, y)
    assert isinstance(model.model_, nncore.MLP)
    assert model.model_.layer_sizes == (5, 6, 4, 3)
    assert model.model_.dtype == np.float64
    assert model.n_features_in_ == 5 and model.n_layers_ == 4 and model.n_outputs_ == 3
    assert model.out_activation_ == "identity"
    assert [w.shape for w in model.coefs_] == [(5, 6), (6, 4), (4, 3)]
    assert [b.shape for b in model.intercepts_] == [(6,), (4,), (3,)]
    assert model.n_iter_ == 30 == len(model.loss_curve_)
    assert model.t_ == 30 * len(X)
    assert model.loss_ == model.loss_curve_[-1] and model.best_loss_ == min(model.loss_curve_)
    assert model.predict(X).shape == (len(X), 3)
    # coefs_/intercepts_ are copies of the network's parameters
    before = model.predict(X)
    model.coefs_[0][:] = 0.0
    np.testing.assert_array_equal(model.predict(X), before)
    np.testing.assert_array_equal(model.coefs_[1], model.model_.weights[1])
    np.testing.assert_array_equal(model.intercepts_[2], model.model_.biases[2])
    # the network computes predict
    np.testing.assert_array_equal(model.model_.forward(X), before)


@no_convergence_warning
def test_initial_weights_are_sklearns() -> None:
    """random_state draws scikit-learn's initial weights: the first full-batch loss (measured
    before any update) is scikit-learn's."""
    X, y = DATA["X"], DATA["multiclass"]
    for activation in ("relu", "logistic"):
        params = {"activation": activation, "alpha": 0.0, "max_iter": 1, "random_state": 3}
        theirs = sknn.MLPClassifier(**params).fit(X, y)
        ours = MLPClassifier(**params).fit(X, y)
        assert ours.loss_curve_[0] == pytest.approx(theirs.loss_curve_[0], rel=1e-12)


def test_convergence_warning_and_stopping() -> None:
    X, y = DATA["X"], DATA["regression_1d"]
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(5\) reached"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    params = {"hidden_layer_sizes": (4,), "max_iter": 500, "tol": 1.0, "n_iter_no_change": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = MLPRegressor(**params, random_state=0).fit(X, y)
        theirs = sknn.MLPRegressor(**params, random_state=0).fit(X, y)
    # epoch 1 sets the best loss, 2-5 do not improve it by tol: stop after n_iter_no_change + 2
    assert model.n_iter_ == theirs.n_iter_ == 5


@no_convergence_warning
def test_early_stopping_attributes_and_best_weights() -> None:
    X, y = DATA["X"], DATA["multiclass"]
    model = MLPClassifier(
        hidden_layer_sizes=(8,), early_stopping=True, max_iter=300, random_state=0
    ).fit(X, y)
    assert model.best_loss_ is None
    assert len(model.validation_scores_) == model.n_iter_ == len(model.loss_curve_)
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.n_iter_ < 300
    # the weights are those of the best epoch: recompute its validation score on the split,
    # drawn from random_state after the initial weights (as scikit-learn draws it)
    rng = np.random.RandomState(0)
    for fan_in, fan_out in [(5, 8), (8, 3)]:
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        rng.uniform(-bound, bound, (fan_in, fan_out))
        rng.uniform(-bound, bound, fan_out)
    # (not stratified: scikit-learn stratifies binary targets only, whose binarized y has one
    # column)
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, random_state=rng)
    assert model.score(X_val, y_val) == pytest.approx(model.best_validation_score_)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        model.partial_fit(X, y)


def test_partial_fit() -> None:
    X, y = DATA["X"], DATA["multiclass"]
    model = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    model.partial_fit(X[:60], y[:60], classes=[0, 1, 2])
    model.partial_fit(X[60:], y[60:])
    assert model.n_iter_ == 1 and model.t_ == len(X) and len(model.loss_curve_) == 2
    with pytest.raises(ValueError, match="classes not in"):
        model.partial_fit(X, y + 5)
    # partial_fit k times is fit with max_iter=k: the optimizer state carries over (one full
    # batch, so nncore's shuffling can only change the summation order)
    params = {"hidden_layer_sizes": (8,), "random_state": 0, "tol": 0.0}
    stepwise = MLPRegressor(**params)
    for _ in range(4):
        stepwise.partial_fit(X, DATA["regression"])
    with pytest.warns(ConvergenceWarning):
        at_once = MLPRegressor(max_iter=4, **params).fit(X, DATA["regression"])
    np.testing.assert_allclose(stepwise.loss_curve_, at_once.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(stepwise.predict(X), at_once.predict(X), rtol=1e-10)


@no_convergence_warning
def test_warm_start_continues_the_model_with_a_new_optimizer() -> None:
    X, y = DATA["X"], DATA["regression"]
    params = {"hidden_layer_sizes": (8,), "random_state": 0, "n_iter_no_change": np.inf}
    warm = MLPRegressor(max_iter=10, warm_start=True, **params).fit(X, y)
    model = warm.model_
    assert model.optimizer is not None and model.optimizer.step_count == 10
    warm.fit(X, y)
    # scikit-learn's warm start: the fitted parameters, a new Adam (step count 10, not 20)
    assert warm.model_ is model and model.optimizer.step_count == 10
    assert len(warm.loss_curve_) == 20 and warm.n_iter_ == 10 and warm.t_ == 20 * len(X)
    theirs = sknn.MLPRegressor(max_iter=10, warm_start=True, **params)
    theirs.fit(X, y).fit(X, y)
    np.testing.assert_allclose(warm.loss_curve_, theirs.loss_curve_, rtol=1e-5)
    # without warm_start, fit starts over
    restart = clone(warm).set_params(warm_start=False)
    restart.fit(X, y).fit(X, y)
    assert len(restart.loss_curve_) == 10
    with pytest.raises(ValueError, match="fitted architecture"):
        warm.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    classifier = MLPClassifier(max_iter=5, warm_start=True, random_state=0)
    classifier.fit(X, DATA["binary"])
    with pytest.raises(ValueError, match="same classes"):
        classifier.fit(X, DATA["multiclass"])


def test_parameters_are_checked_at_fit() -> None:
    X, y = DATA["X"], DATA["binary"]
    cases: list[tuple[Any, str]] = [
        (MLPClassifier(solver="lbfgs", dropout=0.5), "dropout does not apply"),
        (MLPClassifier(max_fun=0), "max_fun"),
        (MLPRegressor(loss="hinge"), "loss must be one of"),
        (MLPClassifier(activation="softmax"), "activation must be one of"),
        (MLPClassifier(solver="newton"), "solver must be one of"),
        (MLPClassifier(learning_rate="cyclic"), "learning_rate must be one of"),
        (MLPClassifier(hidden_layer_sizes=(4, 0)), "hidden_layer_sizes"),
        (MLPClassifier(alpha=-1.0), "alpha must be in"),
        (MLPClassifier(batch_size=0), "batch_size"),
        (MLPClassifier(max_iter=0), "max_iter"),
        (MLPClassifier(momentum=1.5), "momentum must be in"),
        (MLPClassifier(beta_2=1.0), "beta_2 must be in"),
        (MLPClassifier(epsilon=0.0), "epsilon must be in"),
        (MLPClassifier(n_iter_no_change=0), "n_iter_no_change"),
        (MLPClassifier(validation_fraction=1.0), "validation_fraction"),
        (MLPClassifier(dtype="float16"), "dtype"),
        (MLPClassifier(dropout=1.0), "dropout"),
        (MLPClassifier(hidden_layer_sizes=(4, 4), dropout=[0.1]), "one rate per hidden layer"),
        (MLPClassifier(shuffle="yes"), "shuffle must be a bool"),
    ]
    for estimator, message in cases:
        with pytest.raises(ValueError, match=message):
            estimator.fit(X, y)


@no_convergence_warning
def test_nncore_options() -> None:
    X, y = DATA["X"], DATA["multiclass"]
    for activation, name in [("logistic", "sigmoid"), ("gelu", "gelu"), ("silu", "swish")]:
        model = MLPClassifier(activation=activation, hidden_layer_sizes=(4,), max_iter=5)
        assert model.fit(X, y).model_.activations == (name, "softmax")
    single = MLPClassifier(dtype="float32", hidden_layer_sizes=(4,), max_iter=5).fit(X, y)
    assert single.model_.dtype == np.float32
    assert single.predict_proba(X).dtype == np.float32
    assert single.coefs_[0].dtype == np.float32
    dropped = MLPClassifier(hidden_layer_sizes=(8, 8), dropout=[0.5, 0.1], max_iter=5).fit(X, y)
    assert dropped.model_.dropout == (0.5, 0.1)
    for solver, rule in [("adamw", nncore.AdamW), ("rmsprop", nncore.RMSProp)]:
        model = MLPClassifier(solver=solver, hidden_layer_sizes=(4,), max_iter=5).fit(X, y)
        assert isinstance(model.model_.optimizer, rule)
    linear = MLPRegressor(hidden_layer_sizes=(), max_iter=5).fit(X, DATA["regression"])
    assert linear.model_.layer_sizes == (5, 3)
    for loss in ("absolute_error", "huber"):
        model = MLPRegressor(loss=loss, hidden_layer_sizes=(4,), max_iter=20, random_state=0)
        assert np.all(np.diff(model.fit(X, DATA["regression"]).loss_curve_[:5]) < 0)


@no_convergence_warning
def test_alpha_shrinks_the_weights() -> None:
    X, y = DATA["X"], DATA["regression"]
    small = MLPRegressor(alpha=0.0, random_state=0, max_iter=200).fit(X, y)
    large = MLPRegressor(alpha=10.0, random_state=0, max_iter=200).fit(X, y)
    norm = [sum(float(np.sum(w**2)) for w in m.coefs_) for m in (small, large)]
    assert norm[1] < norm[0]


@no_convergence_warning
def test_sparse_input_and_sample_weight() -> None:
    sparse = pytest.importorskip("scipy.sparse")
    X, y = DATA["X"], DATA["binary"]
    params = {"hidden_layer_sizes": (4,), "max_iter": 20, "random_state": 0}
    dense = MLPClassifier(**params).fit(X, y)
    from_sparse = MLPClassifier(**params).fit(sparse.csr_matrix(X), y)
    np.testing.assert_array_equal(
        from_sparse.predict_proba(sparse.csc_matrix(X)), dense.predict_proba(X)
    )
    # zero weights are removed rows; integer weights are repeated rows (full batch)
    weights = np.arange(len(X)) % 3
    weighted = MLPClassifier(**params).fit(X, y, sample_weight=weights)
    repeated = MLPClassifier(**params).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-9)


def test_verbose_prints_like_sklearn() -> None:
    X, y = DATA["X"], DATA["binary"]
    output = io.StringIO()
    with redirect_stdout(output), pytest.warns(ConvergenceWarning):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, verbose=True, early_stopping=True).fit(
            X, y
        )
    lines = output.getvalue().splitlines()
    assert lines[0].startswith("Iteration 1, loss = ")
    assert lines[1].startswith("Validation score: ")


def test_batch_size_larger_than_data_is_clipped() -> None:
    X, y = DATA["X"], DATA["binary"]
    with pytest.warns(UserWarning, match="clipped"), pytest.warns(ConvergenceWarning):
        MLPClassifier(hidden_layer_sizes=(4,), batch_size=1000, max_iter=1).fit(X, y)


def test_divergence_is_a_value_error() -> None:
    X = DATA["X"]
    y = X.sum(axis=1) * 1e3
    model = MLPRegressor(solver="sgd", learning_rate_init=10.0, max_iter=50, random_state=0)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        model.fit(X, y)


@no_convergence_warning
def test_feature_names_from_dataframes() -> None:
    pandas = pytest.importorskip("pandas")
    X = pandas.DataFrame(DATA["X"], columns=[f"f{i}" for i in range(5)])
    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5).fit(X, DATA["regression_1d"])
    np.testing.assert_array_equal(model.feature_names_in_, X.columns)
    with pytest.warns(UserWarning, match="feature names"):
        model.predict(X.to_numpy())


# --------------------------------------------------------------------- meta-estimators
@no_convergence_warning
def test_pipeline_clone_and_cross_val_score() -> None:
    X, y = DATA["X"], DATA["multiclass"]
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "mlp",
                MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0),
            ),
        ]
    )
    assert pipeline.fit(X, y).score(X, y) > 0.9
    copy = clone(pipeline)
    assert copy.get_params()["mlp__hidden_layer_sizes"] == (16,)
    assert not hasattr(copy.named_steps["mlp"], "model_")
    np.testing.assert_array_equal(copy.fit(X, y).predict(X), pipeline.predict(X))
    scores = cross_val_score(pipeline, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.7
    regression = cross_val_score(
        MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
        X,
        DATA["regression"],
        cv=3,
    )
    assert regression.mean() > 0.5


@no_convergence_warning
def test_grid_search_in_two_processes() -> None:
    X, y = DATA["X"], DATA["binary"]
    search = GridSearchCV(
        MLPClassifier(learning_rate_init=0.01, random_state=0),
        {"hidden_layer_sizes": [(4,), (16,)], "alpha": [1e-4, 1e-1]},
        cv=3,
        n_jobs=2,
    ).fit(X, y)
    assert set(search.best_params_) == {"hidden_layer_sizes", "alpha"}
    assert isinstance(search.best_estimator_.model_, nncore.MLP)
    assert search.score(X, y) > 0.8


@no_convergence_warning
def test_pickle_round_trip() -> None:
    X, y = DATA["X"], DATA["multiclass"]
    unfitted = MLPClassifier(hidden_layer_sizes=(5,), random_state=0)
    assert pickle.loads(pickle.dumps(unfitted)).get_params() == unfitted.get_params()
    model = unfitted.set_params(warm_start=True, max_iter=20).fit(X, np.array(["a", "b", "c"])[y])
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    assert list(copy.classes_) == ["a", "b", "c"]
    assert copy.model_.history.epochs == 20 and copy.loss_curve_ == model.loss_curve_
    # the copy continues exactly as the original: parameters, generator and Adam state
    labels = np.array(["a", "b", "c"])[y]
    np.testing.assert_array_equal(
        copy.fit(X, labels).predict_proba(X), model.fit(X, labels).predict_proba(X)
    )


def test_benchmark_script_runs(tmp_path: Path) -> None:
    """benchmarks/bench_sklearn.py end to end on its smallest setting (structure only)."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sklearn.py"
    json_path, markdown_path = tmp_path / "run.json", tmp_path / "run.md"
    command = [sys.executable, str(script), "--configs", "diabetes+es", "--dtypes", "float32"]
    command += ["--seeds", "1", "--repeats", "1", "--no-single-thread"]
    command += ["--json", str(json_path), "--markdown", str(markdown_path)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    assert "| diabetes+es | float32 |" in result.stdout
    report = json.loads(json_path.read_text())
    (row,) = report["rows"]
    assert set(row) == {"config", "dtype", "sklearn", "nncore"}
    assert row["nncore"]["per_seed"][0]["scores_identical_over_repeats"]
    assert "| diabetes+es | float32 |" in markdown_path.read_text()
