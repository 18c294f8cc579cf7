"""The task of the "import to trained model" benchmark, once per library, in a fresh process.

``python startup_tasks.py LIBRARY DATA.npz`` imports ``LIBRARY`` (nncore, sklearn, jax or
torch), trains a 64-128-10 network (ReLU hidden layer, softmax output, cross-entropy, Adam with
learning rate 0.001, β = (0.9, 0.999), ε = 1e-8, no weight decay, 20 epochs of shuffled batches
of 32, the last batch short) on the data in ``DATA.npz`` (``X`` float32, ``y`` integer labels),
predicts the labels of ``X``, and prints one JSON line: the seconds of each phase (``import``,
``train`` — JAX's compilation included —, ``predict``) and the accuracy of the predictions.
``bench_startup.py`` runs it and times the whole process from outside.

This file imports only the standard library and NumPy at the top: each task imports its library
itself, inside the timing. Adam (per parameter θ with gradient g, step t)::

    m ← β₁·m + (1−β₁)·g,   v ← β₂·v + (1−β₂)·g²
    θ ← θ − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

HIDDEN = 128
EPOCHS = 20
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
SEED = 0

#: What a task returns: its phase timings (seconds) and the predicted labels.
Result = tuple[dict[str, float], Array]


def run_nncore(X: Array, y: Array) -> Result:
    start = time.perf_counter()
    import nncore

    imported = time.perf_counter()
    model = nncore.MLP(
        [X.shape[1], HIDDEN, 10], activation="relu", output_activation="softmax", seed=SEED
    )
    model.fit(
        X,
        y,
        loss="categorical_cross_entropy",
        optimizer="adam",
        learning_rate=LEARNING_RATE,
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        n_iter_no_change=None,
    )
    trained = time.perf_counter()
    labels = np.asarray(model.predict(X))
    done = time.perf_counter()
    return phases(start, imported, trained, done), labels


def run_sklearn(X: Array, y: Array) -> Result:
    start = time.perf_counter()
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    imported = time.perf_counter()
    model = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        max_iter=EPOCHS,
        shuffle=True,
        random_state=SEED,
        tol=0.0,
        n_iter_no_change=EPOCHS + 1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached, as asked
        model.fit(X, y)
    trained = time.perf_counter()
    labels = model.predict(X)
    done = time.perf_counter()
    return phases(start, imported, trained, done), labels


def run_torch(X: Array, y: Array) -> Result:
    start = time.perf_counter()
    import torch

    imported = time.perf_counter()
    torch.manual_seed(SEED)
    model = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss()  # softmax output and cross-entropy, fused
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y)
    n = len(X)
    for _ in range(EPOCHS):
        order = torch.randperm(n)
        for first in range(0, n, BATCH_SIZE):
            rows = order[first : first + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(inputs[rows]), targets[rows]).backward()
            optimizer.step()
    trained = time.perf_counter()
    with torch.inference_mode():
        labels = model(inputs).argmax(dim=1).numpy()
    done = time.perf_counter()
    return phases(start, imported, trained, done), labels


def run_jax(X: Array, y: Array) -> Result:
    """JAX with a hand-written Adam (no optax): each epoch one jitted ``lax.scan`` over the full
    batches, then the short last batch in the same function; compiled on the first call."""
    start = time.perf_counter()
    import jax
    import jax.numpy as jnp

    imported = time.perf_counter()
    rng = np.random.default_rng(SEED)
    params = [glorot(rng, X.shape[1], HIDDEN), glorot(rng, HIDDEN, 10)]
    state = (params, zeros_like(params), zeros_like(params), jnp.zeros((), jnp.float32))
    inputs, targets = jnp.asarray(X), jnp.asarray(y, dtype=jnp.int32)

    def logits(params: Any, x: Any) -> Any:
        (W1, b1), (W2, b2) = params
        return jnp.maximum(x @ W1 + b1, 0.0) @ W2 + b2

    def batch_loss(params: Any, rows: Any) -> Any:
        z = logits(params, inputs[rows])
        log_p = z - jax.nn.logsumexp(z, axis=1, keepdims=True)
        return -jnp.mean(jnp.take_along_axis(log_p, targets[rows][:, None], axis=1))

    def adam_step(state: Any, rows: Any) -> tuple[Any, None]:
        params, m, v, t = state
        grads = jax.grad(batch_loss)(params, rows)
        t = t + 1
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
        scale = LEARNING_RATE * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        eps = 1e-8 * jnp.sqrt(1 - 0.999**t)  # ε/√(1−β₂ᵗ): the formula above, rearranged
        params = jax.tree.map(lambda p, m, v: p - scale * m / (jnp.sqrt(v) + eps), params, m, v)
        return (params, m, v, t), None

    n = len(X)
    full = n // BATCH_SIZE

    @jax.jit
    def epoch(state: Any, order: Any) -> Any:
        batches = order[: full * BATCH_SIZE].reshape(full, BATCH_SIZE)
        state, _ = jax.lax.scan(adam_step, state, batches)
        if full * BATCH_SIZE < n:
            state, _ = adam_step(state, order[full * BATCH_SIZE :])
        return state

    for _ in range(EPOCHS):
        state = epoch(state, rng.permutation(n).astype(np.int32))
    jax.block_until_ready(state)
    trained = time.perf_counter()
    labels = np.asarray(jax.jit(logits)(state[0], inputs).argmax(axis=1))
    done = time.perf_counter()
    return phases(start, imported, trained, done), labels


def glorot(rng: np.random.Generator, n_in: int, n_out: int) -> tuple[Array, Array]:
    """Glorot-uniform weights ``U(±√(6/(n_in+n_out)))`` and zero biases, float32."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    W = rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32)
    return W, np.zeros(n_out, dtype=np.float32)


def zeros_like(params: list[tuple[Array, Array]]) -> list[tuple[Array, Array]]:
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]


def phases(start: float, imported: float, trained: float, done: float) -> dict[str, float]:
    return {"import": imported - start, "train": trained - imported, "predict": done - trained}


#: The libraries, in the order of the table: name → task.
TASKS: dict[str, Callable[[Array, Array], Result]] = {
    "nncore": run_nncore,
    "sklearn": run_sklearn,
    "jax": run_jax,
    "torch": run_torch,
}


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in TASKS:
        sys.exit(f"usage: startup_tasks.py {{{','.join(TASKS)}}} DATA.npz")
    with np.load(argv[1]) as data:
        X, y = data["X"], data["y"]
    seconds, labels = TASKS[argv[0]](X, y)
    accuracy = float(np.mean(labels.reshape(-1) == y))
    print(json.dumps({"seconds": seconds, "accuracy": accuracy}))


if __name__ == "__main__":
    main(sys.argv[1:])
