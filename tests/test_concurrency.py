"""Threads: ``predict`` from several threads on one model equals the serial result bit for bit
(the GIL is released inside); a second ``fit`` on a model that is being fitted is refused with a
clear ``RuntimeError`` and does not disturb the first, and so is ``backward`` (it shares the
model's gradient buffer with ``fit``); ``fit`` of two models in two threads runs
at the same time and each result equals its serial one bit for bit.

No assertion here is on speed: overlap is shown by timestamps taken inside the fits' callbacks.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

import nncore

N_THREADS = 4


def _problem(seed: int, n: int = 3000) -> tuple[nncore.MLP, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    y = np.sin(X[:, :2])
    model = nncore.MLP([8, 32, 32, 2], activation="tanh", dtype="float64", seed=seed)
    return model, X, y


def _run_threads(targets: list[Any]) -> list[Any]:
    """Run each callable in its own thread, all released at once; their results (or errors)."""
    results: list[Any] = [None] * len(targets)
    barrier = threading.Barrier(len(targets))

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = targets[i]()
        except BaseException as error:  # reported to the main thread
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_predict_from_many_threads_equals_serial_bitwise() -> None:
    model, X, _ = _problem(0)
    model.fit(X, np.sin(X[:, :2]), epochs=1)
    chunks = [X[i::N_THREADS] for i in range(N_THREADS)]
    serial = [model.forward(chunk) for chunk in chunks]
    for _ in range(5):
        results = _run_threads([lambda c=chunk: model.forward(c) for chunk in chunks])
        for got, expected in zip(results, serial, strict=True):
            assert isinstance(got, np.ndarray), got
            assert got.tobytes() == expected.tobytes()


def test_second_fit_on_a_model_being_fitted_is_refused() -> None:
    model, X, y = _problem(1)
    twin, _, _ = _problem(1)
    started, release = threading.Event(), threading.Event()

    def hold(record: dict[str, Any]) -> bool:
        started.set()
        release.wait(timeout=60)  # keep the first fit inside fit until the second has tried
        return False

    first: list[Any] = []
    thread = threading.Thread(
        target=lambda: first.append(model.fit(X, y, epochs=2, callbacks=hold, batch_size=64))
    )
    thread.start()
    assert started.wait(timeout=60)
    before = model.optimizer
    with pytest.raises(RuntimeError, match="fit is already running on this model"):
        model.fit(X, y, epochs=1, optimizer="adam", learning_rate=0.5)
    assert model.optimizer is before  # the refused fit changed nothing
    release.set()
    thread.join()
    # The first fit is unaffected: it equals the same fit run alone.
    twin.fit(X, y, epochs=2, callbacks=lambda record: False, batch_size=64)
    assert model._network.parameters.tobytes() == twin._network.parameters.tobytes()
    assert first[0].loss == twin.history.loss  # type: ignore[union-attr]


def test_backward_during_a_fit_is_refused_and_does_not_disturb_it() -> None:
    """``backward`` from another thread while ``fit`` runs, and from inside the fit's own
    callback, raises ``RuntimeError``; the fit's result equals the same fit run alone, bit for
    bit. Once the fit is over, ``backward`` works again and gives the serial gradient."""
    model, X, y = _problem(4)
    twin, _, _ = _problem(4)
    started, release = threading.Event(), threading.Event()
    from_callback: list[BaseException] = []

    def hold(record: dict[str, Any]) -> bool:
        if record["epoch"] == 1:
            try:
                model.backward(X[:10], y[:10])
            except RuntimeError as error:
                from_callback.append(error)
            started.set()
            release.wait(timeout=60)  # keep the fit inside fit until backward has been tried
        return False

    first: list[Any] = []
    thread = threading.Thread(
        target=lambda: first.append(model.fit(X, y, epochs=3, callbacks=hold, batch_size=64))
    )
    thread.start()
    assert started.wait(timeout=60)
    with pytest.raises(RuntimeError, match="backward is refused: fit is already running"):
        model.backward(X, y)
    release.set()
    thread.join()
    assert len(from_callback) == 1 and "gradient buffer" in str(from_callback[0])
    twin.fit(X, y, epochs=3, callbacks=lambda record: False, batch_size=64)
    assert model._network.parameters.tobytes() == twin._network.parameters.tobytes()
    assert first[0].loss == twin.history.loss  # type: ignore[union-attr]
    for (dW, db), (dW_twin, db_twin) in zip(model.backward(X, y), twin.backward(X, y), strict=True):
        assert dW.tobytes() == dW_twin.tobytes() and db.tobytes() == db_twin.tobytes()


def test_fits_of_two_models_run_in_parallel_and_equal_serial() -> None:
    problems = [_problem(2), _problem(3)]
    serial = []
    for seed in (2, 3):
        model, X, y = _problem(seed)
        model.fit(X, y, epochs=3, batch_size=16)
        serial.append(model._network.parameters.copy())
    stamps: list[list[float]] = [[], []]

    def fit(i: int) -> Any:
        model, X, y = problems[i]
        stamps[i].append(time.monotonic())

        def stamp(record: dict[str, Any]) -> bool:
            stamps[i].append(time.monotonic())
            return False

        return model.fit(X, y, epochs=3, batch_size=16, callbacks=stamp)

    results = _run_threads([lambda: fit(0), lambda: fit(1)])
    for result in results:
        assert isinstance(result, nncore.History), result
    # The intervals [start, end] of the two fits overlap: neither waited for the other.
    (start_a, end_a), (start_b, end_b) = (
        (stamps[0][0], stamps[0][-1]),
        (stamps[1][0], stamps[1][-1]),
    )
    assert start_a < end_b and start_b < end_a
    for (model, _, _), expected in zip(problems, serial, strict=True):
        assert model._network.parameters.tobytes() == expected.tobytes()
