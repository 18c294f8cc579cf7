"""The JAX peers of the training benchmark, each run in a worker process of its own.

Two ways to write the benchmark's training loop in JAX (same algorithm as every other
implementation: tanh hidden layers, identity output, mean squared error, plain mini-batch SGD, a
fresh permutation of the rows every epoch, the last partial batch included):

* ``jax-step``: one jitted SGD step per batch. ``X`` and ``Y`` live on the device; each step
  receives the batch's row indices (a slice of the epoch's host permutation) and gathers the
  batch inside the jitted function. The short last batch is a second compiled shape.
* ``jax-scan``: the whole epoch is one jitted function: ``lax.scan`` over the full batches of the
  epoch's permutation, then the last partial batch inside the same function.

With ``r = A_L − Y`` over a batch of ``m`` rows and ``k`` outputs (the gradient by ``jax.grad``)::

    Z_l = A_{l−1}·W_l + b_l,   A_l = tanh(Z_l) (hidden),  A_L = Z_L (identity)
    loss = Σ r² / (m·k)
    θ ← θ − lr·∂loss/∂θ

JAX fixes its CPU thread count when it starts (``PJRT_NPROC``, read once), so every thread count
needs a process of its own. :class:`JaxWorker` starts ``python jax_peer.py --serve`` with the
environment of one thread count (:func:`worker_environment`) and drives it over its stdin/stdout
pipes (pickled commands), so the benchmark's turn-taking rounds time it like any in-process
implementation: a repeat is one ``run`` command, its pipe round trip (well under a millisecond)
included. At start-up the worker checks that the thread count took effect: how many of its threads a
jitted matmul keeps busy (:func:`thread_check`), and the CPU time over the wall time.

Compilation happens when the worker is set up (ahead of time, ``jit(...).lower(...).compile()``),
not in the timed epochs; its seconds are reported. This module imports JAX only in the worker.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

#: The two JAX implementations: result-key prefix → what the worker builds.
MODES = {"jax_step": "step", "jax_scan": "scan"}
#: XLA flags that keep the CPU backend's products on the calling thread (with ``PJRT_NPROC=1``).
ONE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
#: Side of the square matmul that checks the worker's thread count (CPU seconds / wall seconds).
CHECK_MATMUL = 1024


def worker_environment(threads: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a JAX worker on ``threads`` CPU threads (JAX on the CPU only).

    ``PJRT_NPROC`` sets the size of XLA's CPU thread pool; for one thread the XLA flags
    ``ONE_THREAD_XLA_FLAGS`` are added as well (after any flags already in ``XLA_FLAGS``).
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    env = dict(os.environ if base is None else base)
    env["JAX_PLATFORMS"] = "cpu"
    env["PJRT_NPROC"] = str(threads)
    flags = env.get("XLA_FLAGS", "").split()
    if threads == 1:
        flags += ONE_THREAD_XLA_FLAGS.split()
    if flags:
        env["XLA_FLAGS"] = " ".join(flags)
    return env


class JaxWorkerError(RuntimeError):
    """The worker failed (its message says why); ``import_error`` when JAX is not importable."""

    def __init__(self, message: str, import_error: bool = False) -> None:
        super().__init__(message)
        self.import_error = import_error


class JaxWorker:
    """A ``jax_peer.py --serve`` process on ``threads`` threads, driven by pickled commands."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=worker_environment(threads),
        )

    def call(self, command: str, payload: Any = None) -> Any:
        """Send ``(command, payload)``; the worker's answer, or :class:`JaxWorkerError`."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            pickle.dump((command, payload), stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.flush()
            status, answer = pickle.load(stdout)
        except (BrokenPipeError, EOFError) as error:
            code = self.process.poll()
            raise JaxWorkerError(f"the JAX worker stopped (exit code {code}): {error}") from None
        if status == "error":
            message, import_error = answer
            raise JaxWorkerError(message, import_error)
        return answer

    def close(self) -> None:
        """Ask the worker to stop; kill it when it does not within 10 s."""
        if self.process.poll() is None:
            with contextlib.suppress(JaxWorkerError):
                self.call("quit")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


# --------------------------------------------------------------------------------------------
# The worker side (imports JAX)
# --------------------------------------------------------------------------------------------


def thread_cpu_ticks() -> dict[str, int]:
    """CPU time (user + system, in clock ticks) of each thread of this process, by thread id."""
    ticks = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        ticks[task.name] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks


def thread_check(jax: Any, n: int = CHECK_MATMUL, min_time: float = 0.5) -> dict[str, Any]:
    """How many threads ran jitted ``n×n`` float32 matmuls, their GFLOP/s and CPU/wall ratio.

    ``busy_threads`` counts the threads that got at least a quarter of the busiest one's CPU
    time while the matmuls ran (read from ``/proc/self/task``; None where that is missing). With
    ``PJRT_NPROC=1`` that is exactly one; with 2 it is two on a quiet machine (3-4 when other
    processes preempt them and the work moves between the pool's threads and the caller). Unlike
    CPU/wall, which a shared machine's other work lowers, it does not need a quiet machine.
    """
    a = jax.numpy.ones((n, n), dtype=np.float32)
    product = jax.jit(lambda a: a @ a)
    product(a).block_until_ready()
    has_proc = Path("/proc/self/task").is_dir()
    before = thread_cpu_ticks() if has_proc else {}
    calls, start_wall, start_cpu = 0, time.perf_counter(), time.process_time()
    while (wall := time.perf_counter() - start_wall) < min_time or calls < 3:
        product(a).block_until_ready()
        calls += 1
    cpu = time.process_time() - start_cpu
    busy = None
    if has_proc:
        used = [t - before.get(tid, 0) for tid, t in thread_cpu_ticks().items()]
        busy = sum(u >= max(used) / 4 for u in used) if max(used, default=0) > 0 else 0
    return {
        "busy_threads": busy,
        "cpu_over_wall": cpu / wall,
        "gflops": calls * 2.0 * n**3 / wall / 1e9,
    }


class JaxMLP:
    """The network's parameters on the device and the compiled step or epoch of one mode."""

    def __init__(self, setup: dict[str, Any]) -> None:
        import jax

        if np.dtype(setup["dtype"]) == np.float64:
            jax.config.update("jax_enable_x64", True)
        self.jax = jax
        self.mode = setup["mode"]
        if self.mode not in MODES.values():
            raise ValueError(f"mode must be one of {sorted(MODES.values())}, got {self.mode!r}")
        self.batch_size = int(setup["batch_size"])
        self.learning_rate = float(setup["learning_rate"])
        self.rng = np.random.default_rng(setup["seed"])
        self.X = jax.device_put(setup["X"])
        self.Y = jax.device_put(setup["Y"])
        self.n = int(setup["X"].shape[0])
        self.params = [
            (jax.device_put(W), jax.device_put(b))
            for W, b in zip(setup["weights"], setup["biases"], strict=True)
        ]
        self.losses: list[float] = []
        start = time.perf_counter()
        self._compile()
        self.compile_seconds = time.perf_counter() - start

    # The math: the forward pass and loss, one SGD update on given rows, a scanned epoch.

    def batch_loss(self, params: Any, x: Any, y: Any) -> Any:
        """``Σ r² / (m·k)`` of the network's output on ``x`` against ``y``."""
        jnp = self.jax.numpy
        a = x
        for layer, (W, b) in enumerate(params):
            a = a @ W + b
            if layer < len(params) - 1:
                a = jnp.tanh(a)
        r = a - y
        return jnp.mean(r * r)

    def update(self, params: Any, total: Any, X: Any, Y: Any, rows: Any) -> tuple[Any, Any]:
        """One SGD step on the rows ``rows`` of ``(X, Y)``; ``total`` accumulates ``loss · m``
        (the epoch loss). The data are arguments, not constants baked into the program."""
        jnp = self.jax.numpy
        x = jnp.take(X, rows, axis=0)
        y = jnp.take(Y, rows, axis=0)
        loss, grads = self.jax.value_and_grad(self.batch_loss)(params, x, y)
        lr = self.learning_rate
        pairs = zip(params, grads, strict=True)
        params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in pairs]
        return params, total + loss * rows.shape[0]

    def epoch(self, params: Any, X: Any, Y: Any, order: Any) -> tuple[Any, Any]:
        """One epoch over ``order``: ``lax.scan`` over its full batches, then the short one."""
        full = self.n // self.batch_size
        used = full * self.batch_size
        total = self.jax.numpy.zeros((), dtype=self.X.dtype)
        if full:
            batches = order[:used].reshape(full, self.batch_size)

            def body(carry: Any, rows: Any) -> tuple[Any, None]:
                return self.update(*carry, X, Y, rows), None

            (params, total), _ = self.jax.lax.scan(body, (params, total), batches)
        if used < self.n:
            params, total = self.update(params, total, X, Y, order[used:])
        return params, total / self.n

    def _compile(self) -> None:
        """Compile ahead of time every shape the timed epochs call."""
        jax = self.jax
        total = jax.numpy.zeros((), dtype=self.X.dtype)
        if self.mode == "scan":
            order = np.arange(self.n, dtype=np.int32)
            lowered = jax.jit(self.epoch).lower(self.params, self.X, self.Y, order)
            self.compiled_epoch = lowered.compile()
            return
        sizes = {min(self.batch_size, self.n), self.n % self.batch_size} - {0}
        step = jax.jit(self.update)
        self.compiled_steps = {
            m: step.lower(
                self.params, total, self.X, self.Y, np.arange(m, dtype=np.int32)
            ).compile()
            for m in sizes
        }

    def run_epochs(self, epochs: int) -> None:
        """Train ``epochs`` epochs, each on a fresh ``default_rng(seed)`` permutation."""
        for _ in range(epochs):
            order = self.rng.permutation(self.n).astype(np.int32)
            if self.mode == "scan":
                self.params, loss = self.compiled_epoch(self.params, self.X, self.Y, order)
            else:
                total = np.zeros((), dtype=self.X.dtype)
                for start in range(0, self.n, self.batch_size):
                    rows = order[start : start + self.batch_size]
                    step = self.compiled_steps[len(rows)]
                    self.params, total = step(self.params, total, self.X, self.Y, rows)
                loss = total / self.n
            self.losses.append(float(loss))  # waits for the epoch's last step

    def parameters(self) -> tuple[list[Array], list[Array]]:
        return [np.asarray(W) for W, _ in self.params], [np.asarray(b) for _, b in self.params]


def answer(command: str, payload: Any, state: dict[str, Any]) -> Any:
    """The worker's answer to one command (``state`` holds the model between commands)."""
    if command == "info":
        import jax

        return {
            "jax": jax.__version__,
            "devices": [str(d) for d in jax.devices()],
            "thread_check": thread_check(jax),
        }
    if command == "setup":
        state["model"] = JaxMLP(payload)
        return {"compile_seconds": state["model"].compile_seconds}
    model: JaxMLP | None = state.get("model")
    if model is None:
        raise RuntimeError(f"{command!r} before 'setup'")
    if command == "run":
        model.run_epochs(int(payload))
        return None
    if command == "parameters":
        return model.parameters()
    if command == "losses":
        return list(model.losses)
    raise ValueError(f"unknown command {command!r}")


def serve(commands: IO[bytes], replies: IO[bytes]) -> None:
    """Answer pickled ``(command, payload)`` pairs until ``quit`` or the end of ``commands``."""
    state: dict[str, Any] = {}
    while True:
        try:
            command, payload = pickle.load(commands)
        except EOFError:
            return
        if command == "quit":
            reply: tuple[str, Any] = ("ok", None)
        else:
            try:
                reply = ("ok", answer(command, payload, state))
            except ImportError as error:
                reply = ("error", (f"jax is not importable ({error})", True))
            except Exception as error:  # every failure goes back to the parent
                reply = ("error", (f"{type(error).__name__}: {error}", False))
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()
        if command == "quit":
            return


def main() -> None:
    if sys.argv[1:] != ["--serve"]:
        sys.exit("usage: jax_peer.py --serve (started by bench_training.py, not by hand)")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed to stdout goes to stderr, not into the replies
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
