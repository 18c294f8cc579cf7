"""``fit(class_weight=...)`` of ``nncore.Sequential``/``nncore.MLP``: by equivalence, a fit with
class weights is, bit for bit, the fit with the sample weights they stand for (computed here from
the definitions: a dict, ``"balanced"`` = n / (k · n_c) over the training rows, the product over
sigmoid outputs, times ``sample_weight``), validation rows included; the definitions against
scikit-learn's ``compute_sample_weight`` where installed; bad values refused with nothing
changed."""

from __future__ import annotations

import numpy as np
import pytest

import nncore

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
LABELS = np.r_[np.zeros(25, int), np.ones(10, int), np.full(5, 2)][RNG.permutation(40)]
FIT = {"optimizer": "adam", "epochs": 3, "batch_size": 8, "n_iter_no_change": None}


def _pair(n_out: int = 3, output: str = "softmax") -> tuple[nncore.MLP, nncore.MLP]:
    make = lambda: nncore.MLP([3, 5, n_out], "tanh", output, dtype="float64", seed=1)  # noqa: E731
    return make(), make()


def _balanced(labels: np.ndarray) -> np.ndarray:
    classes, counts = np.unique(labels, return_counts=True)
    table = dict(zip(classes, labels.size / (classes.size * counts), strict=True))
    return np.array([table[c] for c in labels])


def _same(a: nncore.MLP, b: nncore.MLP) -> None:
    assert a.parameters.tobytes() == b.parameters.tobytes()
    assert a.history is not None and b.history is not None
    assert a.history.loss == b.history.loss
    assert a.history.validation_loss == b.history.validation_loss


@pytest.mark.parametrize(
    ("class_weight", "weights"),
    [
        ({0: 0.5, 2: 4.0}, np.choose(LABELS, [0.5, 1.0, 4.0])),
        ("balanced", _balanced(LABELS)),
    ],
)
def test_class_weight_is_the_sample_weight_it_stands_for(class_weight, weights) -> None:
    a, b = _pair()
    sample = RNG.uniform(0.5, 2.0, 40)
    a.fit(X, LABELS, class_weight=class_weight, sample_weight=sample, **FIT)
    b.fit(X, LABELS, sample_weight=weights * sample, **FIT)
    _same(a, b)


def test_balanced_counts_the_training_rows_and_weighs_the_validation_rows() -> None:
    a, b = _pair()
    train, held = slice(0, 30), slice(30, 40)
    # the weights of the 30 training rows' frequencies, applied to both parts
    classes, counts = np.unique(LABELS[train], return_counts=True)
    table = dict(zip(classes, 30 / (classes.size * counts), strict=True))
    weights = np.array([table[c] for c in LABELS])
    a.fit(X, LABELS, class_weight="balanced", validation_split=0.25, **FIT)
    b.fit(
        X[train],
        LABELS[train],
        sample_weight=weights[train],
        validation_data=(X[held], LABELS[held], weights[held]),
        **FIT,
    )
    _same(a, b)


def test_sigmoid_outputs_one_and_several() -> None:
    y = (LABELS > 0).astype(int)
    a, b = _pair(1, "sigmoid")
    a.fit(X, y, class_weight={1: 3.0}, **FIT)
    b.fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0), **FIT)
    _same(a, b)
    Y = np.stack([y, (LABELS == 2).astype(int)], axis=1)
    a, b = _pair(2, "sigmoid")
    a.fit(X, Y, class_weight="balanced", **FIT)
    b.fit(X, Y, sample_weight=_balanced(Y[:, 0]) * _balanced(Y[:, 1]), **FIT)
    _same(a, b)
    a, b = _pair(2, "sigmoid")
    a.fit(X, Y, class_weight=[{0: 2.0}, {1: 5.0}], **FIT)
    b.fit(X, Y, sample_weight=np.where(Y[:, 0] == 0, 2.0, 1) * np.where(Y[:, 1], 5.0, 1), **FIT)
    _same(a, b)


def test_the_definitions_are_scikit_learns() -> None:
    pytest.importorskip("sklearn", reason="the comparison needs scikit-learn")
    from sklearn.utils.class_weight import compute_sample_weight

    np.testing.assert_allclose(_balanced(LABELS), compute_sample_weight("balanced", LABELS))
    Y = np.stack([LABELS > 0, LABELS == 2], axis=1).astype(int)
    np.testing.assert_allclose(
        _balanced(Y[:, 0]) * _balanced(Y[:, 1]), compute_sample_weight("balanced", Y)
    )


def test_a_sequential_takes_class_weight_too() -> None:
    from nncore import layers as L

    def make():
        return nncore.Sequential(
            [L.Dense(4, "relu"), L.Dense(3, "softmax")], n_inputs=3, dtype="float64", seed=2
        )

    a, b = make(), make()
    a.fit(X, LABELS, class_weight="balanced", **FIT)
    b.fit(X, LABELS, sample_weight=_balanced(LABELS), **FIT)
    assert a.parameters.tobytes() == b.parameters.tobytes()


@pytest.mark.parametrize(
    ("model_args", "y", "class_weight", "error", "match"),
    [
        (("identity", 1), X[:, 0], "balanced", ValueError, "needs a classifier"),
        (("softmax", 3), LABELS, "balance", ValueError, "'balanced' or a dict"),
        (("softmax", 3), LABELS, [1, 2], TypeError, "must be None, 'balanced'"),
        (("softmax", 3), LABELS, {3: 1.0}, ValueError, "names class 3"),
        (("softmax", 3), LABELS, {"a": 1.0}, ValueError, "keys must be class indices"),
        (("softmax", 3), LABELS, {0: -1.0}, ValueError, "finite and >= 0"),
        (("softmax", 3), LABELS, {0: float("nan")}, ValueError, "finite and >= 0"),
        (("softmax", 3), LABELS, {0: "1"}, TypeError, "must be a number"),
        (("softmax", 3), LABELS, {0: 0, 1: 0, 2: 0}, ValueError, "total weight of 0"),
        (("softmax", 3), np.full((40, 3), 1 / 3), "balanced", ValueError, "class labels"),
        (("sigmoid", 2), np.zeros((40, 2)), {0: 1.0}, ValueError, "list of 2 dicts"),
    ],
)
def test_bad_class_weights_are_refused_and_change_nothing(
    model_args, y, class_weight, error, match
) -> None:
    output, n_out = model_args
    model = nncore.MLP([3, 4, n_out], "tanh", output, dtype="float64", seed=3)
    before, generator = model.parameters.copy(), model.generator_state
    with pytest.raises(error, match=match):
        model.fit(X, y, class_weight=class_weight, **FIT)
    assert model.parameters.tobytes() == before.tobytes()
    assert model.generator_state == generator
    assert model.optimizer is None and model.history is None
