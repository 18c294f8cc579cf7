"""The core's Sequential as the bindings show it (bind_layers.cpp, bind_sequential.cpp): a list of
layer objects over flat buffers. Checked against the core's Network (the same layers made by the
MLP's constructor), bit for bit, and against the formulas written out in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from nncore import _core

EMPTY = np.zeros(0)


def _pair(seed: int = 0) -> tuple[_core.SequentialF64, _core.NetworkF64]:
    layers = [
        _core.DenseF64(3, 5, "tanh", 0.01, 1.0, True),
        _core.DropoutF64(5, 0.25),
        _core.DenseF64(5, 2, "identity", 0.01, 1.0, True),
    ]
    sequential = _core.SequentialF64(layers)
    network = _core.NetworkF64([3, 5, 2], ["tanh", "identity"], 0.01, 1.0, True, [0.25])
    sequential.initialize("glorot_uniform", _core.Random(seed))
    network.initialize("glorot_uniform", _core.Random(seed))
    return sequential, network


def test_layout_names_arrays_by_index_path() -> None:
    sequential, network = _pair()
    assert sequential.parameter_layout == [
        ("0.W", (3, 5), 0),
        ("0.b", (5,), 15),
        ("2.W", (5, 2), 20),
        ("2.b", (2,), 30),
    ]
    assert sequential.state_layout == [] and sequential.state.size == 0
    assert network.parameter_layout == sequential.parameter_layout
    assert sequential.min_training_rows == 1


def test_a_sequential_of_dense_and_dropout_is_the_network_bit_for_bit() -> None:
    sequential, network = _pair(3)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    assert sequential.parameters.tobytes() == network.parameters.tobytes()
    assert sequential.forward(X).tobytes() == network.forward(X).tobytes()
    loss, gradient = sequential.gradient(X, Y, EMPTY, "mse", 1.0)
    assert not sequential.gradients.any()  # gradient() changed nothing
    assert loss == network.backward(X, Y, EMPTY, "mse", 1.0)
    assert loss == sequential.backward(X, Y, EMPTY, "mse", 1.0)
    assert sequential.gradients.tobytes() == network.gradients.tobytes()
    # A new array's alignment may differ from the core's buffer's, and with it the vectorised
    # column sums of db: the same to rounding.
    np.testing.assert_allclose(gradient, network.gradients, rtol=1e-14, atol=1e-16)
    assert sequential.evaluate(X, Y, EMPTY, "mse", 1.0) == network.evaluate(X, Y, EMPTY, "mse", 1.0)


def test_the_gradient_agrees_with_the_reference() -> None:
    """The reference's Sequential of the same layers, dropout off: 1e-12 relative in float64."""
    sequential, _ = _pair(5)
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    W0 = sequential.parameters[:15].reshape(3, 5)
    b0 = sequential.parameters[15:20]
    W1 = sequential.parameters[20:30].reshape(5, 2)
    b1 = sequential.parameters[30:]
    hidden = np.tanh(X @ W0 + b0)
    out = hidden @ W1 + b1
    dout = 2.0 * (out - Y) / out.size
    dhidden = dout @ W1.T * (1.0 - hidden**2)
    expected = np.concatenate(
        [(X.T @ dhidden).ravel(), dhidden.sum(0), (hidden.T @ dout).ravel(), dout.sum(0)]
    )
    _, gradient = sequential.gradient(X, Y, EMPTY, "mse", 1.0)
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-15)


def test_fit_trains_a_sequential_like_the_network() -> None:
    sequential, network = _pair(4)
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    options = _core.FitOptions(epochs=3, batch_size=4)
    results = []
    for model in (sequential, network):
        optimizer = _core.SGDF64(0.05)
        results.append(_core.fit(model, optimizer, _core.Random(9), (X, Y, EMPTY), None, options))
    assert results[0] == results[1]
    assert sequential.parameters.tobytes() == network.parameters.tobytes()


def test_bad_layers_are_value_errors() -> None:
    with pytest.raises(ValueError, match="layer 1 \\(Dense\\) takes 4 inputs"):
        _core.SequentialF64(
            [
                _core.DenseF64(3, 5, "tanh", 0.01, 1.0, True),
                _core.DenseF64(4, 1, "tanh", 0.01, 1.0, True),
            ]
        )
    with pytest.raises(ValueError, match="dropout rates"):
        _core.DropoutF64(3, 1.0)
    with pytest.raises(TypeError):
        _core.SequentialF64([_core.DenseF32(3, 5, "tanh", 0.01, 1.0, True)])  # type: ignore[list-item]
