"""nncore.Sequential and nncore.layers against the NumPy reference (nncore.reference.layers):
forward, gradient (1e-12 relative, float64) and a plain-SGD fit without shuffling; a Sequential of
Dense layers against the MLP of the same sizes, bit for bit; save/load/pickle; bad input.
"""

from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest

import nncore
from nncore import layers as L
from nncore.reference import layers as R


def _reference(layer: L.Layer) -> R.Layer:
    """The reference layer of the same arguments (its own class of the same name)."""
    config = layer.config()
    del config["layer"]
    config.pop("init", None)
    if isinstance(layer, L.Residual):
        return R.Residual([_reference(child) for child in layer.layers])
    positional = {key: config.pop(key) for key in list(config) if key in ("name",)}
    return getattr(R, type(layer).__name__)(*positional.values(), **config)


# Stacks of each layer type (dropout is off in gradient and forward).
STACKS = {
    "dense": pytest.param([L.Dense(6, "tanh"), L.Dropout(0.3), L.Dense(2)], id="dense"),
    "activation": pytest.param(
        [L.Dense(6), L.Activation("elu"), L.Dense(2)],
        id="activation",
    ),
    "layer_norm": pytest.param([L.Dense(6), L.LayerNorm(), L.Dense(2)], id="layer_norm"),
    "batch_norm": pytest.param([L.Dense(6), L.BatchNorm(), L.Dense(2)], id="batch_norm"),
    "residual": pytest.param(
        [L.Dense(6), L.Residual([L.Dense(6, "tanh"), L.Dense(6)]), L.Dense(2)],
        id="residual",
    ),
    "embedding": pytest.param(
        [L.Embedding([1, 3], [3, 5], 2), L.Dense(6, "tanh"), L.Dense(2)],
        id="embedding",
    ),
}
STACK_PARAMS = list(STACKS.values())


def _pair(layers: list[L.Layer], n_inputs: int = 4, seed: int = 0):
    model = nncore.Sequential(layers, n_inputs=n_inputs, dtype="float64", seed=seed)
    reference = R.Sequential(
        [_reference(layer) for layer in layers],
        n_inputs,
        dtype="float64",
        parameters=model.parameters,
    )
    return model, reference


def _data(n: int = 12, n_inputs: int = 4, n_outputs: int = 2, seed: int = 1, layers=()):
    """Normal features and targets; an Embedding's columns hold integer codes below their
    cardinalities."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_inputs))
    for layer in layers:
        if isinstance(layer, L.Embedding):
            for column, cardinality in zip(layer.columns, layer.cardinalities, strict=True):
                X[:, column] = rng.integers(0, cardinality, n)
    return X, rng.normal(size=(n, n_outputs))


@pytest.mark.parametrize("layers", STACK_PARAMS)
def test_forward_and_gradient_agree_with_the_reference(layers) -> None:
    model, reference = _pair(layers)
    X, Y = _data(layers=layers)
    assert model.layout == reference.layout()
    np.testing.assert_allclose(model.forward(X), reference.forward(X, False), rtol=1e-12)
    before = model.parameters.copy()
    gradient = model.gradient(X, Y, loss="mse")
    expected = reference.gradient(X, Y, "mean_squared_error")
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-14)
    assert model.parameters.tobytes() == before.tobytes()  # gradient changed nothing


@pytest.mark.parametrize("layers", STACK_PARAMS)
def test_plain_sgd_without_shuffling_follows_the_reference(layers) -> None:
    layers = [layer for layer in layers if not isinstance(layer, L.Dropout)]
    model, reference = _pair(layers)
    X, Y = _data(n=10, layers=layers)
    steps = reference.fit(X, Y, "mean_squared_error", 0.05, epochs=2, batch_size=4)
    model.fit(
        X,
        Y,
        loss="mse",
        optimizer="sgd",
        learning_rate=0.05,
        epochs=2,
        batch_size=4,
        shuffle=False,
        n_iter_no_change=None,
    )
    np.testing.assert_allclose(model.parameters, steps[-1].parameters, rtol=1e-10, atol=1e-12)
    for name, value in steps[-1].state.items():
        np.testing.assert_allclose(model.state[name], value, rtol=1e-10, atol=1e-12)


def test_a_sequential_of_dense_layers_is_the_mlp_bit_for_bit() -> None:
    for dtype in ("float32", "float64"):
        mlp = nncore.MLP([4, 7, 5, 2], activation="tanh", dtype=dtype, seed=3, dropout=0.25)
        model = nncore.Sequential(list(mlp.layers), n_inputs=4, dtype=dtype, seed=3)
        assert model.layout == list(mlp._network.parameter_layout)
        assert model.parameters.tobytes() == mlp.parameters.tobytes()
        X, Y = _data(n=30)
        kwargs = dict(optimizer="adam", epochs=4, batch_size=8, validation_split=0.2)
        h1, h2 = mlp.fit(X, Y, **kwargs), model.fit(X, Y, **kwargs)
        assert h1.loss == h2.loss and h1.stop_reason == h2.stop_reason
        assert model.parameters.tobytes() == mlp.parameters.tobytes()
        assert model.predict(X).tobytes() == mlp.predict(X).tobytes()
        assert model.generator_state == mlp.generator_state


def test_every_fit_keyword_works_on_a_sequential() -> None:
    X, Y = _data(n=40)
    y = (Y[:, 0] > 0).astype(int)
    model = nncore.Sequential([L.Dense(5, "relu"), L.Dense(2, "softmax")], n_inputs=4, seed=1)
    seen = []
    history = model.fit(
        X,
        y,
        loss=None,
        learning_rate=0.01,
        epochs=5,
        batch_size=7,
        shuffle=True,
        target_loss=None,
        tol=0.0,
        n_iter_no_change=3,
        verbose=0,
        callbacks=[seen.append],
        optimizer="rmsprop",
        lr_schedule="cosine",
        sample_weight=np.ones(40),
        validation_data=(X[:10], y[:10]),
        early_stopping=True,
        patience=2,
        min_delta=0.0,
        restore_best_weights=True,
        huber_delta=1.0,
    )
    assert len(seen) == history.epochs and model.predict(X).shape == (40,)
    assert model.predict_proba(X).shape == (40, 2)
    assert set(model.evaluate(X, y)) >= {"accuracy", "log_loss"}
    assert model.loss(X, y) == pytest.approx(model.loss(X, y, sample_weight=np.ones(40)))
    with pytest.raises(TypeError, match="unexpected keyword"):
        model.fit(X, y, nonsense=1)


def test_save_load_pickle_and_deepcopy_round_trip(tmp_path) -> None:
    model = nncore.Sequential([L.Dense(5, "tanh"), L.Dropout(0.1), L.Dense(2)], n_inputs=4)
    X, Y = _data(n=20)
    model.fit(X, Y, optimizer="adam", epochs=2)
    path = tmp_path / "m.nncore"
    model.save(path)
    copies = [nncore.load(path), pickle.loads(pickle.dumps(model)), copy.deepcopy(model)]
    for other in copies:
        assert type(other) is nncore.Sequential and other.config() == model.config()
        assert other.parameters.tobytes() == model.parameters.tobytes()
        assert other.generator_state == model.generator_state
        assert other.predict(X).tobytes() == model.predict(X).tobytes()
    buffer = io.BytesIO()
    model.save(buffer)
    assert nncore.load(io.BytesIO(buffer.getvalue())).layers == model.layers


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: L.Dense(0), ValueError, "Dense units"),
        (lambda: L.Dense(3, activation="nope"), ValueError, "Dense activation"),
        (lambda: L.Dense(3, use_bias=1), TypeError, "Dense use_bias"),
        (lambda: L.Dense(3, init="zeros"), ValueError, "Dense init"),
        (lambda: L.Dropout(1.0), ValueError, "Dropout rate"),
        (lambda: L.LayerNorm(eps=0.0), ValueError, "LayerNorm eps"),
        (lambda: L.BatchNorm(momentum=2.0), ValueError, "BatchNorm momentum"),
        (lambda: L.Residual([]), ValueError, "Residual layers"),
        (lambda: L.Residual([3]), TypeError, "Residual layers"),
        (lambda: L.Embedding([0, 0], [3, 3], 2), ValueError, "distinct"),
        (lambda: L.Embedding([0], [3, 4], 2), ValueError, "cardinalities"),
        (lambda: L.Embedding([0], [0], 2), ValueError, "cardinalities"),
        (lambda: nncore.Sequential([], n_inputs=3), ValueError, "layers"),
        (lambda: nncore.Sequential([L.Dense(2)], n_inputs=0), ValueError, "n_inputs"),
        (lambda: nncore.Sequential([L.Dense(2, "softmax"), L.Dense(2)], 3), ValueError, "layer 0"),
        (
            lambda: nncore.Sequential([L.Dense(4), L.Residual([L.Dense(3)])], n_inputs=3),
            ValueError,
            r"layer 1 \(Residual\)",
        ),
        (
            lambda: nncore.Sequential([L.Dense(4), L.Embedding([0], [3], 2)], n_inputs=3),
            ValueError,
            r"layer 1 \(Embedding\)",
        ),
    ],
)
def test_bad_arguments_are_refused_naming_the_layer(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make()


def test_bad_fit_input_changes_nothing() -> None:
    model = nncore.Sequential([L.Dense(3, "relu"), L.Dense(1)], n_inputs=4, seed=2)
    before, generator = model.parameters.copy(), model.generator_state
    X, Y = _data(n_outputs=1)
    with pytest.raises(ValueError, match="X"):
        model.fit(X[:, :3], Y)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(X, Y, epochs=0)
    assert model.parameters.tobytes() == before.tobytes()
    assert model.generator_state == generator and model.history is None


def test_the_issues_example_runs() -> None:
    """The user code at the top of issue 15 (smaller data)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 20))
    X[:, 0], X[:, 3] = rng.integers(0, 12, 80), rng.integers(0, 5, 80)
    y = rng.integers(0, 3, 80)
    model = nncore.Sequential(
        [
            L.Embedding(columns=[0, 3], cardinalities=[12, 5], dim=4),
            L.Dense(16),
            L.BatchNorm(),
            L.Activation("relu"),
            L.Dropout(0.1),
            L.Residual(
                [L.LayerNorm(), L.Dense(16, activation="relu"), L.Dropout(0.1), L.Dense(16)]
            ),
            L.Dense(3, activation="softmax"),
        ],
        n_inputs=20,
        dtype="float32",
        seed=0,
    )
    history = model.fit(X, y, optimizer="adamw", epochs=3, batch_size=16, validation_split=0.1)
    assert history.epochs >= 1 and model.predict(X).shape == (80,)


def test_a_bad_embedding_code_is_refused_naming_the_layer_and_nothing_changes() -> None:
    model = nncore.Sequential([L.Embedding([0], [3], 2), L.Dense(1)], n_inputs=2, seed=5)
    X = np.array([[0.0, 1.0], [2.0, -1.0], [5.0, 2.0]])
    before, generator = model.parameters.copy(), model.generator_state
    pattern = r"layer 0 \(Embedding\): column 0 of X holds 5 in row 2"
    with pytest.raises(ValueError, match=pattern):
        model.fit(X, np.zeros(3), optimizer="adam", epochs=2)
    with pytest.raises(ValueError, match=pattern):
        model.gradient(X, np.zeros(3))
    with pytest.raises(ValueError, match=r"layer 0 \(Embedding\): column 0 of X holds 0.5"):
        model.predict(np.array([[0.5, 1.0]]))
    assert model.parameters.tobytes() == before.tobytes()
    assert model.generator_state == generator
    assert model.history is None and model.optimizer is None


def test_a_fit_refused_by_the_core_leaves_a_given_optimizer_as_it_was() -> None:
    model = nncore.Sequential([L.Embedding([0], [3], 2), L.Dense(1)], n_inputs=2, seed=5)
    X = np.array([[0.0, 1.0], [7.0, -1.0]])
    adam = nncore.Adam(learning_rate=0.01)
    with pytest.raises(ValueError, match=r"layer 0 \(Embedding\)"):
        model.fit(X, np.zeros(2), optimizer=adam, learning_rate=0.5, epochs=2)
    assert model.optimizer is None
    assert adam.learning_rate == 0.01 and adam.step_count == 0 and adam.dtype is None
    float64 = nncore.Sequential([L.Dense(1)], n_inputs=2, dtype="float64")
    float64.fit(X, np.zeros(2), optimizer=adam, epochs=1)  # its dtype is still free
    assert adam.dtype == np.float64 and adam.step_count == 1
