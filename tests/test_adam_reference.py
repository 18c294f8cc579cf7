"""A whole native ``fit`` with Adam reproduces ``numpy_reference.fit(optimizer="adam")``: the
fused loop's update count, bias correction and batch order match the readable reference."""

from __future__ import annotations

import numpy as np
import pytest

import nncore
from nncore.reference import numpy_reference

# Same float64 operations in another order over a few dozen updates.
FIT_RTOL = 1e-9


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("batch_size", [4, 7, 23])
def test_native_adam_fit_matches_the_reference(use_bias: bool, batch_size: int) -> None:
    rng = np.random.default_rng(batch_size)
    X = rng.normal(size=(23, 3))
    y = rng.normal(size=(23, 2))
    model = nncore.MLP([3, 5, 2], activation="tanh", dtype="float64", seed=1, use_bias=use_bias)
    weights, biases = model.get_parameters()
    history = model.fit(
        X,
        y,
        optimizer=nncore.optim.Adam(learning_rate=0.01),
        epochs=6,
        batch_size=batch_size,
        shuffle=False,
        n_iter_no_change=None,
    )
    expected_w, expected_b, expected_losses = numpy_reference.fit(
        weights,
        biases if use_bias else None,
        X,
        y,
        ["tanh", "identity"],
        "mean_squared_error",
        0.01,
        6,
        batch_size,
        optimizer="adam",
    )
    np.testing.assert_allclose(history.loss, expected_losses, rtol=FIT_RTOL)
    trained_w, trained_b = model.get_parameters()
    for got, expected in zip(trained_w, expected_w, strict=True):
        np.testing.assert_allclose(got, expected, rtol=FIT_RTOL, atol=1e-12)
    if use_bias:
        assert expected_b is not None
        for got, expected in zip(trained_b, expected_b, strict=True):
            np.testing.assert_allclose(got, expected, rtol=FIT_RTOL, atol=1e-12)


def test_reference_rejects_unknown_optimizer() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        numpy_reference.fit(
            [np.ones((1, 1))],
            None,
            [[1.0]],
            [[1.0]],
            ["identity"],
            "mean_squared_error",
            0.1,
            1,
            1,
            optimizer="rmsprop",
        )


def test_pure_python_adam_fit_matches_the_numpy_reference() -> None:
    """The two references agree on Adam too (independent code: lists and loops vs arrays)."""
    from nncore.reference import pure_python

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(9, 2)), rng.normal(size=(9, 1))
    weights = [rng.normal(size=(2, 3)), rng.normal(size=(3, 1))]
    biases = [rng.normal(size=3), rng.normal(size=1)]
    args = (["tanh", "identity"], "mean_squared_error", 0.05, 4, 4)
    w_np, b_np, losses_np = numpy_reference.fit(weights, biases, X, y, *args, optimizer="adam")
    w_py, b_py, losses_py = pure_python.fit(
        [w.tolist() for w in weights],
        [b.tolist() for b in biases],
        X.tolist(),
        y.tolist(),
        *args,
        optimizer="adam",
    )
    np.testing.assert_allclose(losses_py, losses_np, rtol=1e-12)
    for got, expected in zip(w_py + b_py, w_np + b_np, strict=True):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-14)
