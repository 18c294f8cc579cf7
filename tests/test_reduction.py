"""The native loop's reduction hook (``nncore/reduction.hpp``), in one process: what
``nncore.distributed.fit`` runs over MPI, with stand-ins for the other ranks.

``IdenticalRanks(2)`` plays two ranks holding the same rows: every sum the loop asks for (the
gradient between backward and step, the batch weights, the epoch's loss and metric sums, the
weights and target sums behind R²) comes back doubled. A doubling is exact in binary floating
point, and the loop divides every gradient and every mean by a doubled weight, so training must
give single-process training's weights and records bit for bit: a sum the loop forgot to reduce,
or reduced twice, would be off by a factor of two. The MPI runs are in test_distributed.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import nncore
from nncore import _core

NONE, NONE32 = np.empty(0), np.empty(0, dtype=np.float32)  # no sample weights


class IdenticalRanks:
    """The collective calls of ``ranks`` ranks that all hold this process's data."""

    def __init__(self, ranks: int = 2) -> None:
        self.ranks = ranks
        self.sums = 0
        self.agreed: list[BaseException | None] = []

    def sum(self, values: np.ndarray) -> None:
        values *= self.ranks
        self.sums += 1

    def max(self, value: int) -> int:
        return value

    def agree(self, error: BaseException | None) -> None:
        self.agreed.append(error)
        if error is not None:
            raise error


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = nncore.get_num_threads()
    yield
    nncore.set_num_threads(before)


def problem(output: str, dtype: str, layers: list[int], n: int = 45) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(n, layers[0]))
    X_val = rng.normal(size=(13, layers[0]))
    k = layers[-1]
    if output == "softmax":
        y, y_val = rng.integers(0, k, n), rng.integers(0, k, 13)
    elif output == "sigmoid":
        y, y_val = rng.integers(0, 2, (n, k)), rng.integers(0, 2, (13, k))
    else:
        y, y_val = rng.normal(size=(n, k)), rng.normal(size=(13, k))
    return {
        "X": X.astype(dtype),
        "y": y,
        "sample_weight": rng.uniform(0.0, 2.0, n),
        "validation_data": (X_val.astype(dtype), y_val),
    }


def train(
    reduction: Any,
    output: str = "softmax",
    dtype: str = "float64",
    layers: tuple[int, ...] = (4, 9, 3),
    dropout: float = 0.0,
    **fit_kwargs: Any,
) -> tuple[np.ndarray, list[dict[str, Any]], str]:
    """Weights, records and stop reason of a native fit with the given reduction (or None)."""
    model = nncore.MLP(list(layers), "tanh", output, dtype=dtype, seed=4, dropout=dropout)
    data = problem(output, dtype, list(layers), fit_kwargs.pop("n", 45))
    weighted = fit_kwargs.pop("weighted", True)
    validation = fit_kwargs.pop("validation", True)
    plan = model._fit_plan(
        data["X"],
        data["y"],
        sample_weight=data["sample_weight"] if weighted else None,
        validation_data=data["validation_data"] if validation else None,
        **{"epochs": 3, "batch_size": 8, "n_iter_no_change": None, **fit_kwargs},
    )
    optimizer = nncore.Adam(0.01)._native(dtype)
    records, reason = _core.fit(
        model._network,
        optimizer,
        model._random,
        (plan.features, plan.targets, plan.weights),
        plan.validation_data(),
        plan.native_options(),
        None,
        reduction,
    )
    return model._network.parameters.copy(), records, reason


CASES = [
    {"output": "softmax"},
    {"output": "softmax", "shuffle": False, "weighted": False},
    {"output": "sigmoid", "dtype": "float32", "validation": False},
    {"output": "identity", "loss": "huber", "huber_delta": 0.3},  # R²
    {"output": "identity", "dtype": "float32", "shuffle": False},
    {"output": "softmax", "dropout": 0.3, "layers": (4, 9, 7, 3)},
    {"output": "softmax", "target_loss": 1.05, "epochs": 40},
    {"output": "identity", "n_iter_no_change": 2, "tol": 10.0, "epochs": 40},
]


@pytest.mark.parametrize("case", CASES, ids=[str(case) for case in CASES])
def test_two_identical_ranks_train_like_one_process_bit_for_bit(case: dict[str, Any]) -> None:
    ranks = IdenticalRanks(2)
    parameters, records, reason = train(ranks, **case)
    expected_parameters, expected_records, expected_reason = train(None, **case)
    np.testing.assert_array_equal(parameters, expected_parameters)
    assert records == expected_records
    assert reason == expected_reason
    # Before the first epoch, for the training and the validation data: the total weight and, for
    # R², the weighted target sums and squares; the batch weights before the first epoch, or at
    # every epoch when shuffling (whether this rank's rows have weights or not: another rank's
    # may); every batch's gradient (nothing else per batch); the epoch's sums.
    r2 = 2 if case["output"] == "identity" else 0
    reweighed = case.get("shuffle", True)
    setup = 1 + r2 + (1 + r2 if case.get("validation", True) else 0) + (not reweighed)
    batches = -(-45 // 8)
    assert ranks.sums == setup + len(records) * (reweighed + batches + 1)
    assert ranks.agreed == [None]  # the setup's agreement; nothing failed


def test_split_batches_reduce_the_same_gradient(restore_threads: None) -> None:
    # S's network at batch 32 on two threads: the batch is split into blocks of rows.
    nncore.set_num_threads(2)
    before = _core._split_batches()
    case = {"layers": (64, 128, 128, 10), "batch_size": 32, "n": 96, "validation": False}
    parameters, records, _ = train(IdenticalRanks(2), **case)
    assert _core._split_batches() > before
    expected_parameters, expected_records, _ = train(None, **case)
    np.testing.assert_array_equal(parameters, expected_parameters)
    for ours, theirs in zip(records, expected_records, strict=True):
        # the gradient norm is measured again after the sum, in another order: to rounding
        assert ours.pop("gradient_norm") == pytest.approx(theirs.pop("gradient_norm"), rel=1e-12)
        assert ours == theirs


def test_a_failing_batch_is_agreed_on_and_changes_nothing() -> None:
    # A callback puts a NaN into the training data after epoch 1: in a data-parallel fit the next
    # batch's check fails, the rank sends a NaN gradient, and after the sum the failure is agreed
    # on (here: raised) with the weights of epoch 1's end.
    model = nncore.MLP([3, 5, 2], "tanh", "softmax", dtype="float64", seed=0)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    Y = np.eye(2)[rng.integers(0, 2, 30)]
    snapshots: list[np.ndarray] = []

    def poison(record: dict[str, Any]) -> bool:
        snapshots.append(model._network.parameters.copy())
        X[4, 0] = np.nan
        return False

    ranks = IdenticalRanks(2)
    options = _core.FitOptions(
        epochs=3, batch_size=8, shuffle=False, loss="categorical_cross_entropy"
    )
    arguments = (model._network, nncore.SGD(0.1)._native("float64"), model._random, (X, Y, NONE))
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        _core.fit(*arguments, None, options, poison, ranks)
    assert len(snapshots) == 1
    np.testing.assert_array_equal(model._network.parameters, snapshots[0])
    assert ranks.agreed[0] is None and isinstance(ranks.agreed[1], ValueError)
    # Without a reduction the same batch is a divergence (its loss is NaN).
    X[4, 0] = 0.0
    with pytest.raises(nncore.DivergenceError, match="non-finite loss at epoch 2, batch 1"):
        _core.fit(*arguments, None, options, poison)


class AnotherRankDiverges(IdenticalRanks):
    """Another rank's NaN arrives in the sum of the first gradient."""

    def __init__(self, n_parameters: int) -> None:
        super().__init__(1)
        self.n_parameters = n_parameters

    def sum(self, values: np.ndarray) -> None:
        if values.size == self.n_parameters:
            values[0] = np.nan


def test_a_non_finite_sum_stops_every_rank_before_the_step() -> None:
    model = nncore.MLP([3, 5, 2], "tanh", "softmax", dtype="float32", seed=0)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3)).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 30)]
    initial = model._network.parameters.copy()
    ranks = AnotherRankDiverges(initial.size)
    optimizer = nncore.SGD(0.1)._native("float32")
    options = _core.FitOptions(epochs=2, batch_size=8, loss="categorical_cross_entropy")
    with pytest.raises(nncore.DivergenceError, match="non-finite gradient at epoch 1, batch 1"):
        _core.fit(
            model._network, optimizer, model._random, (X, Y, NONE32), None, options, None, ranks
        )
    np.testing.assert_array_equal(model._network.parameters, initial)
    assert optimizer.step_count == 0
    assert ranks.agreed == [None, None]  # setup, then the gradient: this rank did not fail


def network_3_5_2() -> nncore.MLP:
    return nncore.MLP([3, 5, 2], "tanh", "softmax", dtype="float64", seed=0)


def sgd_fit(
    model: nncore.MLP, X: np.ndarray, Y: np.ndarray, options: Any, ranks: IdenticalRanks | None
) -> list[dict[str, Any]]:
    """The records of a plain-SGD native fit of a float64 model (ranks: None for one process)."""
    args = (X, Y, NONE), None, options, None, ranks
    records, _ = _core.fit(model._network, nncore.SGD()._native("float64"), model._random, *args)
    return records


def test_a_setup_failure_is_agreed_on() -> None:
    X, Y = np.zeros((6, 3)), np.zeros((6, 2))
    ranks = IdenticalRanks(2)
    X[2, 2] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        sgd_fit(network_3_5_2(), X, Y, _core.FitOptions(loss="mean_squared_error"), ranks)
    assert len(ranks.agreed) == 1 and isinstance(ranks.agreed[0], ValueError)
    assert ranks.sums == 0  # nothing else was asked of the ranks


REFUSED = [{"penalty": (0.1,) * 32}, {"epoch_loss": "batch_mean"}]  # 32: the parameters of 3-5-2


@pytest.mark.parametrize("setting", REFUSED, ids=["penalty", "batch_mean"])
def test_penalty_and_batch_mean_are_refused_in_a_data_parallel_fit(setting: dict[str, Any]) -> None:
    # Their sums assume that every rank has rows in every batch (the batch-mean loss adds m_B times
    # a batch's mean, and a rank past its last row has m_B < 0), so a data-parallel fit refuses
    # them before it trains; the same options train in one process.
    X, Y = np.random.default_rng(0).normal(size=(6, 3)), np.eye(2)[[0, 1, 0, 1, 1, 0]]
    options = _core.FitOptions(loss="cross_entropy", batch_size=4, **setting)
    model = network_3_5_2()
    before = model._network.parameters.copy()
    ranks = IdenticalRanks(2)
    with pytest.raises(ValueError, match="not available in a data-parallel fit"):
        sgd_fit(model, X, Y, options, ranks)
    # Every rank refuses alike (the options are the same on every rank), before any sum, and
    # leaves its network as it was.
    assert ranks.sums == 0
    np.testing.assert_array_equal(model._network.parameters, before)
    assert len(sgd_fit(model, X, Y, options, None)) == options.epochs
    assert not np.array_equal(model._network.parameters, before)


@pytest.mark.parametrize("with_reduction", [False, True])
def test_ctrl_c_in_a_callback_propagates_only_in_a_data_parallel_fit(with_reduction: bool) -> None:
    # One rank cannot stop cleanly alone (the others would wait for it): the KeyboardInterrupt
    # propagates, and `python -m mpi4py` aborts every rank.
    model = nncore.MLP([2, 3, 1], dtype="float64", seed=0)
    X, Y = np.ones((8, 2)), np.ones((8, 1))

    def interrupt(record: dict[str, Any]) -> bool:
        raise KeyboardInterrupt

    arguments = (model._network, nncore.SGD()._native("float64"), model._random, (X, Y, NONE))
    options = _core.FitOptions(epochs=3)
    if with_reduction:
        with pytest.raises(KeyboardInterrupt):
            _core.fit(*arguments, None, options, interrupt, IdenticalRanks(1))
    else:
        records, reason = _core.fit(*arguments, None, options, interrupt)
        assert reason == "interrupted" and len(records) == 1
