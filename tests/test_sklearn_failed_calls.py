"""A refused ``fit``/``partial_fit`` of the scikit-learn estimators changes nothing (issue 20,
rule 5): for each way the call can fail before training, on a new and on a fitted estimator,
every attribute (the model's parameters, optimizer state and generator included) is as before,
also those scikit-learn's own input checks set (``n_features_in_``, ``classes_``)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import nncore
from test_failed_calls import model_state, plain

pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
from sklearn.exceptions import ConvergenceWarning

from nncore.sklearn import MLPClassifier, MLPRegressor

X_EST = np.random.default_rng(1).normal(size=(30, 3))
Y_CLASSES = np.arange(30) % 3
Y_REAL = X_EST[:, 0] * 2.0


def estimator_state(estimator: Any) -> dict[str, Any]:
    """Every attribute of the estimator, the model's state and arrays as bytes."""
    state: dict[str, Any] = {}
    for key, value in vars(estimator).items():
        if isinstance(value, nncore.MLP):
            state[key] = (value, model_state(value))
        elif isinstance(value, np.ndarray):
            state[key] = plain(value)
        elif key == "_label_binarizer":
            state[key] = (value, plain(vars(value)))
        elif key == "_best_parameters":
            state[key] = [plain(array) for part in value for array in part]
        else:
            state[key] = copy.deepcopy(value)
    return state


def make(kind: str, **params: Any) -> Any:
    estimator = MLPClassifier if kind == "classifier" else MLPRegressor
    return estimator(hidden_layer_sizes=(4,), max_iter=3, random_state=0, **params)


def targets(kind: str) -> np.ndarray:
    return Y_CLASSES if kind == "classifier" else Y_REAL


# (id, the estimator's parameters to set, the call's arguments replaced, the call, whether the
# failure needs a fitted estimator: a width or architecture that differs from the fitted one)
ESTIMATOR_FAILURES: list[tuple[str, dict[str, Any], dict[str, Any], str, bool]] = [
    ("solver_unknown", {"solver": "newton"}, {}, "fit", False),
    ("alpha_negative", {"alpha": -1.0}, {}, "fit", False),
    ("max_iter_2**63", {"max_iter": 2**63}, {}, "fit", False),
    ("hidden_layer_sizes_2**31", {"hidden_layer_sizes": (2**31,)}, {}, "fit", False),
    ("batch_size_0", {"batch_size": 0}, {}, "fit", False),
    ("dtype_unknown", {"dtype": "float16"}, {}, "fit", False),
    ("X_not_finite", {}, {"X": np.full((30, 3), np.nan)}, "fit", False),
    ("sample_weight_zero", {}, {"sample_weight": np.zeros(30)}, "fit", False),
    ("sample_weight_zero", {}, {"sample_weight": np.zeros(30)}, "partial_fit", False),
    (
        "validation_too_small",
        {"early_stopping": True, "validation_fraction": 0.01},
        {},
        "fit",
        False,
    ),
    ("partial_fit_early_stopping", {"early_stopping": True}, {}, "partial_fit", False),
    ("X_wrong_width", {}, {"X": X_EST[:, :2]}, "partial_fit", True),
    ("warm_start_other_width", {"warm_start": True}, {"X": X_EST[:, :2]}, "fit", True),
    (
        "warm_start_other_architecture",
        {"warm_start": True, "hidden_layer_sizes": (5,)},
        {},
        "fit",
        True,
    ),
    ("warm_start_other_dtype", {"warm_start": True, "dtype": "float32"}, {}, "fit", True),
]
CASES = [
    pytest.param(
        kind,
        fitted,
        params,
        arguments,
        method,
        id=f"{name}-{method}-{kind}-{'fitted' if fitted else 'new'}",
    )
    for name, params, arguments, method, needs_fit in ESTIMATOR_FAILURES
    for kind in ("classifier", "regressor")
    for fitted in ((True,) if needs_fit else (False, True))
]


@pytest.mark.parametrize(("kind", "fitted", "params", "arguments", "method"), CASES)
def test_a_refused_estimator_fit_changes_nothing(
    kind: str,
    fitted: bool,
    params: dict[str, Any],
    arguments: dict[str, Any],
    method: str,
) -> None:
    estimator = make(kind)
    if fitted:
        with pytest.warns(ConvergenceWarning):
            estimator.fit(X_EST, targets(kind))
    estimator.set_params(**params)
    call = {"X": X_EST, "y": targets(kind), **arguments}
    if method == "partial_fit" and kind == "classifier":
        call["classes"] = np.arange(3)
    before = estimator_state(estimator)
    with pytest.raises(ValueError):
        getattr(estimator, method)(**call)
    assert estimator_state(estimator) == before


def test_a_refused_partial_fit_of_a_new_classifier_sets_no_classes() -> None:
    """``partial_fit`` with labels outside ``classes``: refused, and no ``classes_`` is left."""
    estimator = make("classifier")
    with pytest.raises(ValueError, match="classes"):
        estimator.partial_fit(X_EST, Y_CLASSES + 5, classes=np.arange(3))
    assert vars(estimator) == vars(make("classifier"))
    estimator.partial_fit(X_EST, Y_CLASSES, classes=np.arange(3))  # and it trains afterwards
    assert estimator.classes_.tolist() == [0, 1, 2]
