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
    (["tanh"], "sigmoid", "mean_squared_error", "binary"),  # a loss not fused with its output
]
#: A Huber threshold other than the default, where the loss's two pieces both occur.
HUBER_DELTA = 0.3


def targets(kind: str, rng: np.random.Generator, n: int, k: int) -> np.ndarray[Any, Any]:
    if kind == "real":
        return rng.standard_normal((n, k))
    if kind == "counts":
        return rng.poisson(1.5, (n, k)).astype(float)
    if kind == "binary":
        return (rng.random((n, k)) < 0.5).astype(float)
    return np.eye(k)[rng.integers(0, k, n)]


def n_outputs(output: str, one: bool) -> int:
    """The outputs of a case: 1 takes the path's single-output loss (one_output_error and
    one_output_delta; a softmax keeps its 3: of one output, it would always be 1)."""
    return 3 if output == "softmax" else 1 if one else 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("one", [False, True], ids=["k", "k1"])
@pytest.mark.parametrize(("hidden", "output", "loss", "kind"), CASES)
def test_an_epoch_of_single_rows_is_the_general_path_row_by_row(
    hidden: list[str],
    output: str,
    loss: str,
    kind: str,
    one: bool,
    dtype: Any,
    use_bias: bool,
    weighted: bool,
) -> None:
    rng = np.random.default_rng(len(hidden) + len(loss))
    n, k = 24, n_outputs(output, one)
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
        shuffle=False, sample_weight=w, n_iter_no_change=None, huber_delta=HUBER_DELTA,
    )  # fmt: skip
    for i in range(n):
        weight = None if w is None else w[i : i + 1]
        gradients = by_hand.backward(
            X[i : i + 1], Y[i : i + 1], loss=loss, sample_weight=weight, huber_delta=HUBER_DELTA
        )
        by_hand.step(gradients, LEARNING_RATE)

    (W_fit, b_fit), (W_hand, b_hand) = fitted.get_parameters(), by_hand.get_parameters()
    assert len(W_fit) == len(sizes) - 1 and len(b_fit) == (len(W_fit) if use_bias else 0)
    for fit_array, hand_array in zip([*W_fit, *b_fit], [*W_hand, *b_hand], strict=True):
        np.testing.assert_array_equal(fit_array, hand_array)
    assert not any(np.array_equal(a, b) for a, b in zip(initial, W_fit, strict=True))  # it trained


# The tests below compare two networks that compute the same function, one taking the one-sample
# path and one the general path: the second has a Dropout(0.0) after its first layer, which is an
# exact copy forward and backward, draws nothing from the generator, and (not being Dense) keeps
# the whole chain on the general path. Shuffled fits see the same order in both, so these cover
# shuffle=True, several epochs, momentum and Adam, the loss and metric history, and rows of weight
# 0, which the row-by-row test above cannot.


def two_paths(
    sizes: list[int], hidden: list[str], output: str, dtype: Any, use_bias: bool = True
) -> tuple[nncore.Sequential, nncore.Sequential]:
    from nncore.layers import Dense, Dropout

    def layers(copy: bool) -> list[Any]:
        stack: list[Any] = []
        for i, units in enumerate(sizes[1:]):
            activation = hidden[i] if i < len(hidden) else output
            stack.append(Dense(units, activation, use_bias=use_bias))
            if copy and i == 0:
                stack.append(Dropout(0.0))
        return stack

    row_path = nncore.Sequential(layers(False), sizes[0], dtype=dtype, seed=5)
    general = nncore.Sequential(layers(True), sizes[0], dtype=dtype, seed=5)
    general.parameters[...] = row_path.parameters
    general.generator_state = row_path.generator_state
    return row_path, general


def assert_same_fit(
    a: nncore.Sequential, b: nncore.Sequential, history_a: Any, history_b: Any
) -> None:
    np.testing.assert_array_equal(a.parameters, b.parameters)
    for key in ("loss", "metric", "gradient_norm", "validation_loss", "validation_metric"):
        assert getattr(history_a, key) == getattr(history_b, key), key
    assert history_a.scores == history_b.scores


def test_the_general_path_comparison_can_fail() -> None:
    """The Dropout(0.0) copy is the general path's network: a different start must differ."""
    row_path, general = two_paths([3, 4, 1], ["tanh"], "identity", np.float64)
    general.parameters[...] = row_path.parameters * 1.5
    X, Y = np.ones((4, 3)), np.zeros((4, 1))
    h_row = row_path.fit(X, Y, epochs=1, batch_size=1, optimizer="sgd", n_iter_no_change=None)
    h_gen = general.fit(X, Y, epochs=1, batch_size=1, optimizer="sgd", n_iter_no_change=None)
    with pytest.raises(AssertionError):
        assert_same_fit(row_path, general, h_row, h_gen)


SAMPLE_WEIGHTS = ["none", "uniform", "with_zeros", "first_batches_zero"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weights", SAMPLE_WEIGHTS)
@pytest.mark.parametrize("one", [False, True], ids=["k", "k1"])
@pytest.mark.parametrize(("hidden", "output", "loss", "kind"), CASES)
def test_shuffled_epochs_on_both_paths_agree(
    hidden: list[str], output: str, loss: str, kind: str, one: bool, dtype: Any, weights: str
) -> None:
    rng = np.random.default_rng(11)
    n, k = 30, n_outputs(output, one)
    sizes = [6, *[8 + 5 * i for i in range(len(hidden))], k]
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    Y = targets(kind, rng, n, k).astype(dtype)
    w = None
    if weights != "none":
        w = rng.uniform(0.2, 2.0, n).astype(dtype)
        if weights == "with_zeros":
            w[::3] = 0.0
        if weights == "first_batches_zero":  # batches of weight 0: dL/dz = 0, no loss
            w[:10] = 0.0
    row_path, general = two_paths(sizes, hidden, output, dtype)
    general_start = general.parameters.copy()
    options: dict[str, Any] = {
        "loss": loss, "optimizer": "adam" if weights == "uniform" else "sgd", "epochs": 3,
        "batch_size": 1, "learning_rate": 0.01, "sample_weight": w, "n_iter_no_change": None,
        "validation_data": (X[:7], Y[:7]), "huber_delta": HUBER_DELTA,
    }  # fmt: skip
    h_row = row_path.fit(X, Y, **options)
    h_gen = general.fit(X, Y, **options)
    assert_same_fit(row_path, general, h_row, h_gen)
    assert len(h_row.loss) == 3 and not np.array_equal(row_path.parameters, general_start)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("n", [9, 13])
def test_a_last_batch_of_one_row_takes_the_path_and_agrees(n: int, shuffle: bool) -> None:
    """n = 4·2 + 1 and 4·3 + 1 rows in batches of 4: every epoch ends with a batch of one."""
    rng = np.random.default_rng(n)
    X, Y = rng.standard_normal((n, 5)), rng.standard_normal((n, 2))
    row_path, general = two_paths([5, 9, 2], ["relu"], "identity", np.float64)
    options: dict[str, Any] = {
        "epochs": 4, "batch_size": 4, "shuffle": shuffle, "optimizer": "sgd",
        "learning_rate": 0.05, "n_iter_no_change": None,
    }  # fmt: skip
    h_row = row_path.fit(X, Y, **options)
    h_gen = general.fit(X, Y, **options)
    assert_same_fit(row_path, general, h_row, h_gen)


def misaligned(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A C-contiguous copy of ``a`` whose data starts one element past a 64-byte boundary."""
    itemsize = a.dtype.itemsize
    buffer = np.empty(a.size + 64 // itemsize + 1, a.dtype)
    skip = (-buffer.ctypes.data % 64) // itemsize + 1
    out = buffer[skip : skip + a.size].reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 64 != 0 and out.flags.c_contiguous
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 5])
@pytest.mark.parametrize(
    ("output", "loss"),
    [("softmax", "categorical_cross_entropy"), ("identity", "mean_squared_error"),
     ("sigmoid", "binary_cross_entropy")],
)  # fmt: skip
def test_results_do_not_depend_on_where_the_rows_lie_in_memory(
    output: str, loss: str, batch_size: int, shuffle: bool, dtype: Any
) -> None:
    """Rows read in place (the one-sample path) or in a batch copy, at any address, give the same
    numbers: 40 outputs, so that Eigen's vectorised sums over a row (which start at an aligned
    address when they read memory directly) would see the address. Soft labels for the softmax,
    whose loss sums each target row."""
    rng = np.random.default_rng(4)
    n, k = 20, 40
    X = rng.standard_normal((n, 33)).astype(dtype)
    if output == "softmax":
        Y = rng.random((n, k)) ** 3
        Y = (Y / Y.sum(axis=1, keepdims=True)).astype(dtype)
    elif output == "sigmoid":
        Y = rng.random((n, k)).astype(dtype)
    else:
        Y = rng.standard_normal((n, k)).astype(dtype)
    w = rng.uniform(0.5, 1.5, n).astype(dtype)
    fits = []
    for X_at, Y_at, w_at in [(X, Y, w), (misaligned(X), misaligned(Y), misaligned(w))]:
        model = nncore.MLP([33, 12, k], output_activation=output, dtype=dtype, seed=2)
        history = model.fit(
            X_at, Y_at, loss=loss, epochs=2, batch_size=batch_size, shuffle=shuffle,
            sample_weight=w_at,
            optimizer="sgd", learning_rate=0.01, n_iter_no_change=None,
        )  # fmt: skip
        fits.append((model, history))
    (a, h_a), (b, h_b) = fits
    assert_same_fit(a, b, h_a, h_b)


def test_a_layer_too_wide_for_the_row_loops_trains_as_row_by_row() -> None:
    """W = 130·130 > 16,384 entries: the general path (an Eigen product) at a batch of one."""
    rng = np.random.default_rng(8)
    X, Y = rng.standard_normal((6, 130)), rng.standard_normal((6, 1))
    fitted = nncore.MLP([130, 130, 1], seed=1)
    by_hand = nncore.MLP([130, 130, 1], seed=1)
    fitted.fit(X, Y, optimizer="sgd", learning_rate=0.01, epochs=1, batch_size=1, shuffle=False,
               n_iter_no_change=None)  # fmt: skip
    for i in range(6):
        by_hand.step(by_hand.backward(X[i : i + 1], Y[i : i + 1]), 0.01)
    np.testing.assert_array_equal(fitted.parameters, by_hand.parameters)
    # Shuffled, with X and Y away from any alignment: the same fit as from aligned copies.
    shuffled = [nncore.MLP([130, 130, 1], seed=1) for _ in range(2)]
    for model, (X_at, Y_at) in zip(shuffled, [(X, Y), (misaligned(X), misaligned(Y))], strict=True):
        model.fit(X_at, Y_at, optimizer="sgd", learning_rate=0.01, epochs=2, batch_size=1,
                  n_iter_no_change=None)  # fmt: skip
    np.testing.assert_array_equal(shuffled[0].parameters, shuffled[1].parameters)
