"""fit's one-sample path (cpp/src/one_sample.hpp) against the general path, bit for bit.

A batch of one row through a chain of Dense layers takes its own path in the training loop, which
must compute exactly what the general path computes. The general path is reached from Python by
``MLP.backward`` on one row (Sequential::backward through the chain) and ``MLP.step`` (the same
SGD update ``fit`` runs): an unshuffled epoch of ``fit(batch_size=1)`` must equal that loop over
the rows, to the last bit, for every activation, loss, dtype, bias and weighting tried here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nncore

LEARNING_RATE = 0.05

#: (hidden activations, output activation, loss, targets): the pairings fit accepts.
CASES = [
    (["tanh"], "identity", "mean_squared_error", "real"),
    (["relu", "sigmoid"], "identity", "huber", "real"),
    (["elu"], "tanh", "mean_absolute_error", "real"),
    (["gelu"], "identity", "poisson", "counts"),
    (["leaky_relu"], "sigmoid", "binary_cross_entropy", "binary"),
    (["swish", "softplus"], "softmax", "categorical_cross_entropy", "one_hot"),
]


def targets(kind: str, rng: np.random.Generator, n: int, k: int) -> np.ndarray[Any, Any]:
    if kind == "real":
        return rng.standard_normal((n, k))
    if kind == "counts":
        return rng.poisson(1.5, (n, k)).astype(float)
    if kind == "binary":
        return (rng.random((n, k)) < 0.5).astype(float)
    return np.eye(k)[rng.integers(0, k, n)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("hidden", "output", "loss", "kind"), CASES)
def test_an_epoch_of_single_rows_is_the_general_path_row_by_row(
    hidden: list[str], output: str, loss: str, kind: str, dtype: Any, use_bias: bool, weighted: bool
) -> None:
    rng = np.random.default_rng(len(hidden) + len(loss))
    n, k = 24, 3 if output == "softmax" else 2
    sizes = [5, *[7 + 9 * i for i in range(len(hidden))], k]
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    Y = targets(kind, rng, n, k).astype(dtype)
    w = rng.uniform(0.2, 2.0, n).astype(dtype) if weighted else None
    make = {"activation": hidden, "output_activation": output, "dtype": dtype}
    fitted = nncore.MLP(sizes, seed=3, use_bias=use_bias, **make)
    by_hand = nncore.MLP(sizes, seed=3, use_bias=use_bias, **make)
    initial = by_hand.get_parameters()[0]

    fitted.fit(
        X, Y, loss=loss, optimizer="sgd", learning_rate=LEARNING_RATE, epochs=1, batch_size=1,
        shuffle=False, sample_weight=w, n_iter_no_change=None,
    )  # fmt: skip
    for i in range(n):
        weight = None if w is None else w[i : i + 1]
        gradients = by_hand.backward(X[i : i + 1], Y[i : i + 1], loss=loss, sample_weight=weight)
        by_hand.step(gradients, LEARNING_RATE)

    (W_fit, b_fit), (W_hand, b_hand) = fitted.get_parameters(), by_hand.get_parameters()
    assert len(W_fit) == len(sizes) - 1 and len(b_fit) == (len(W_fit) if use_bias else 0)
    for fit_array, hand_array in zip([*W_fit, *b_fit], [*W_hand, *b_hand], strict=True):
        np.testing.assert_array_equal(fit_array, hand_array)
    assert not any(np.array_equal(a, b) for a, b in zip(initial, W_fit, strict=True))  # it trained
