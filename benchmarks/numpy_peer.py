"""The careful NumPy peer: the fastest honest NumPy version of the benchmark's training loop.

``nncore.reference.numpy_reference`` is written to be read; this is written to be fast, so that
"faster than NumPy" is measured against NumPy at its best rather than against a teaching
implementation. Same algorithm (tanh hidden layers, identity output, mean squared error, plain
mini-batch SGD, a fresh ``default_rng(seed).permutation`` every epoch when shuffling), but:

* every buffer (the gathered batch, each layer's activations and deltas, the gradients) is
  allocated once, for the full batch and for the short last batch, before the first epoch;
* batches are gathered with ``np.take(..., out=)``, products are ``np.matmul(..., out=)`` with the
  transposes taken as views, ``tanh`` and the bias addition run in place;
* the learning rate and the ``2/(m·k)`` of the loss derivative are folded into the output delta,
  so backpropagation yields ``lr·dW`` directly; the parameters live in one flat array and the
  update of all layers is one ``params -= lr·grads`` (after every gradient of the batch is taken);
* the dtype of the data (float32 or float64) is kept throughout.

With ``r = A_L − Y`` over a batch of ``m`` rows and ``k`` outputs::

    loss     = Σ r² / (m·k)
    D_L      = lr · 2·r / (m·k)                   (= lr·dL/dZ_L: identity output)
    lr·dW_l  = A_{l−1}ᵀ · D_l,   lr·db_l = Σ_rows D_l
    D_{l−1}  = (D_l · W_lᵀ) ⊙ (1 − A_{l−1}²)      (tanh' = 1 − tanh²)
    θ        ← θ − lr·dθ                           (all layers at once, after the batch)

Tested against ``numpy_reference.fit`` in ``tests/test_benchmarks.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


class _Buffers:
    """Every array one batch of ``m`` rows needs: the batch, then per layer ``A`` and ``D``."""

    def __init__(self, m: int, layers: Sequence[int], dtype: np.dtype[Any]) -> None:
        self.x = np.empty((m, layers[0]), dtype=dtype)  # gathered inputs  (m, n_0)
        self.y = np.empty((m, layers[-1]), dtype=dtype)  # gathered targets (m, n_L)
        # activations[l]: (m, n_{l+1}), the output of layer l (Z until tanh runs in place)
        self.activations = [np.empty((m, n), dtype=dtype) for n in layers[1:]]
        # deltas[l]: (m, n_{l+1}), lr·dL/dZ of layer l
        self.deltas = [np.empty((m, n), dtype=dtype) for n in layers[1:]]
        self.square = [np.empty((m, n), dtype=dtype) for n in layers[1:-1]]  # scratch for A²
        self.m = m


class NumpyMLP:
    """A tanh MLP with an identity output, trained by MSE + SGD in preallocated NumPy buffers.

    ``weights[l]`` has shape ``(n_l, n_{l+1})`` and ``biases[l]`` shape ``(n_{l+1},)``; both are
    copied into one flat parameter array (``self.weights``/``self.biases`` are views of it).
    """

    def __init__(self, weights: Sequence[Array], biases: Sequence[Array], dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self.layers = [weights[0].shape[0], *(W.shape[1] for W in weights)]
        sizes = [W.size + b.size for W, b in zip(weights, biases, strict=True)]
        self.parameters = np.empty(sum(sizes), dtype=self.dtype)
        self.gradients = np.zeros_like(self.parameters)  # holds lr·dθ after a batch
        self.weights, self.biases = self._layer_views(self.parameters)
        self.weight_gradients, self.bias_gradients = self._layer_views(self.gradients)
        for W, b, W_in, b_in in zip(self.weights, self.biases, weights, biases, strict=True):
            W[...] = W_in
            b[...] = b_in
        self._buffers: dict[int, _Buffers] = {}
        self._forward_buffers: dict[int, list[Array]] = {}  # predict's activations, by rows

    def _layer_views(self, flat: Array) -> tuple[list[Array], list[Array]]:
        """Per-layer ``(W, b)`` views into a flat array laid out W_0, b_0, W_1, b_1, ..."""
        Ws, bs, offset = [], [], 0
        for n_in, n_out in zip(self.layers[:-1], self.layers[1:], strict=True):
            Ws.append(flat[offset : offset + n_in * n_out].reshape(n_in, n_out))
            offset += n_in * n_out
            bs.append(flat[offset : offset + n_out])
            offset += n_out
        return Ws, bs

    def buffers(self, m: int) -> _Buffers:
        """The buffers for a batch of ``m`` rows, allocated on first use and kept."""
        buffers = self._buffers.get(m)
        if buffers is None:
            buffers = self._buffers[m] = _Buffers(m, self.layers, self.dtype)
        return buffers

    def _forward(self, x: Array, activations: list[Array]) -> Array:
        """Z = A_prev·W + b, A = tanh(Z) (identity on the last layer), in place; returns A_L."""
        a = x
        last = len(self.weights) - 1
        for layer, (W, b, out) in enumerate(
            zip(self.weights, self.biases, activations, strict=True)
        ):
            np.matmul(a, W, out=out)  # Z = A_prev · W
            out += b  # Z += b (broadcast over the rows)
            if layer < last:
                np.tanh(out, out=out)  # A = tanh(Z)
            a = out
        return a

    def _train_batch(self, X: Array, Y: Array, rows: Array, learning_rate: float) -> float:
        """One SGD step on the rows ``rows`` of ``(X, Y)``; returns the batch loss before it."""
        buf = self.buffers(len(rows))
        np.take(X, rows, axis=0, out=buf.x)
        np.take(Y, rows, axis=0, out=buf.y)
        output = self._forward(buf.x, buf.activations)
        delta = buf.deltas[-1]
        np.subtract(output, buf.y, out=delta)  # r = A_L − Y
        flat = delta.reshape(-1)
        loss = float(np.dot(flat, flat)) / flat.size  # Σ r² / (m·k)
        delta *= 2.0 * learning_rate / flat.size  # D_L = lr·2r/(m·k)
        for layer in range(len(self.weights) - 1, -1, -1):
            delta = buf.deltas[layer]
            a_prev = buf.activations[layer - 1] if layer > 0 else buf.x
            np.matmul(a_prev.T, delta, out=self.weight_gradients[layer])  # lr·dW = A_prevᵀ·D
            np.add.reduce(delta, axis=0, out=self.bias_gradients[layer])  # lr·db = Σ_rows D
            if layer > 0:
                below = buf.deltas[layer - 1]
                np.matmul(delta, self.weights[layer].T, out=below)  # D·Wᵀ
                square = buf.square[layer - 1]
                np.multiply(a_prev, a_prev, out=square)  # A²
                np.subtract(1.0, square, out=square)  # 1 − A²  (tanh')
                below *= square  # D_prev = (D·Wᵀ) ⊙ (1 − A²)
        self.parameters -= self.gradients  # θ ← θ − lr·dθ, every layer in one pass
        return loss

    def fit_epochs(
        self,
        X: Array,
        Y: Array,
        epochs: int,
        batch_size: int,
        learning_rate: float,
        rng: np.random.Generator | None,
    ) -> list[float]:
        """Train ``epochs`` epochs; ``rng`` shuffles every epoch (``None``: rows in order).

        ``X`` is ``(n, n_0)`` and ``Y`` is ``(n, n_L)`` of this model's dtype. Returns the
        epoch losses, each ``Σ_batches batch_loss · m / n`` like the reference's.
        """
        n = X.shape[0]
        in_order = np.arange(n)
        losses = []
        for _ in range(epochs):
            order = rng.permutation(n) if rng is not None else in_order
            total = 0.0
            for start in range(0, n, batch_size):
                rows = order[start : start + batch_size]
                total += self._train_batch(X, Y, rows, learning_rate) * len(rows)
            losses.append(total / n)
        return losses

    def predict(self, X: Array) -> Array:
        """The network's output for ``X`` (shape ``(m, n_0)``): a view of a reused buffer."""
        m = X.shape[0]
        activations = self._forward_buffers.get(m)
        if activations is None:
            activations = [np.empty((m, n), dtype=self.dtype) for n in self.layers[1:]]
            self._forward_buffers[m] = activations
        return self._forward(X, activations)
