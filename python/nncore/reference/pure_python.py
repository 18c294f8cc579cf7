"""Multi-layer perceptron training in pure Python: lists, loops and :mod:`math`, nothing else.

This file is meant to be *read*. Every step of the learning algorithm is written out with a loop
you can follow by hand, and the formula being computed sits in a comment next to the code.

Conventions (the same as :mod:`nncore.reference.numpy_reference` and the C++ core):

* A matrix is a list of rows, ``list[list[float]]``; a vector is a ``list[float]``.
* Storage is batch-major: ``X`` has shape ``(n_samples, n_features)``, one sample per row.
* Dense layer ``l`` owns ``W`` of shape ``(n_in, n_out)`` and ``b`` of length ``n_out``::

      Z = A_prev · W + b        (b is added to every row)
      A = g(Z)                  (g = the layer's activation)

  ``biases`` may be ``None`` for a network without bias terms.
* Losses are means over the batch, gradient descent is ``W ← W − lr·dW``.

Functions that take matrices accept any nested sequence of numbers and always return fresh
``list[list[float]]`` objects; nothing passed in is ever modified.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Matrix",
    "Vector",
    "activate",
    "activation_backward",
    "backward",
    "fit",
    "forward",
    "loss",
    "loss_value",
    "output_delta",
    "sgd_step",
]

Matrix = list[list[float]]
"""A matrix as a list of rows."""
Vector = list[float]
"""A vector (for example a bias) as a flat list."""
MatrixLike = Sequence[Sequence[float]]
VectorLike = Sequence[float]

ACTIVATIONS: tuple[str, ...] = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
"""Valid activation names."""
LOSSES: tuple[str, ...] = (
    "mean_squared_error",
    "binary_cross_entropy",
    "categorical_cross_entropy",
)
"""Valid loss names."""

# Losses that are fused with (and therefore require) a specific output activation.
_REQUIRED_OUTPUT_ACTIVATION: dict[str, str] = {
    "binary_cross_entropy": "sigmoid",
    "categorical_cross_entropy": "softmax",
}


# --------------------------------------------------------------------------------------------
# Validation and small matrix helpers
# --------------------------------------------------------------------------------------------


def _check_activation(name: str, argument: str = "name") -> None:
    if name not in ACTIVATIONS:
        raise ValueError(
            f"{argument}: unknown activation {name!r}; valid choices are {', '.join(ACTIVATIONS)}"
        )


def _check_loss(loss: str, argument: str = "loss") -> None:
    if loss not in LOSSES:
        choices = ", ".join(LOSSES)
        raise ValueError(f"{argument}: unknown loss {loss!r}; valid choices are {choices}")


def _check_loss_activation(loss: str, activation: str) -> None:
    """Raise if ``loss`` needs a particular output activation and ``activation`` is not it."""
    _check_loss(loss)
    _check_activation(activation, "activation")
    required = _REQUIRED_OUTPUT_ACTIVATION.get(loss)
    if required is not None and activation != required:
        raise ValueError(
            f"loss={loss!r} requires a {required!r} output activation, "
            f"got activation={activation!r}"
        )


def _as_matrix(M: MatrixLike, argument: str) -> Matrix:
    """Copy ``M`` into a fresh ``list[list[float]]``, checking that it is a non-empty rectangle."""
    rows = [[float(x) for x in row] for row in M]
    if not rows or not rows[0]:
        raise ValueError(f"{argument} must be a non-empty matrix (a list of non-empty rows)")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(
                f"{argument} must be rectangular: row 0 has {width} entries, row {i} has {len(row)}"
            )
    return rows


def _as_vector(v: VectorLike) -> Vector:
    """Copy ``v`` into a fresh ``list[float]``."""
    return [float(x) for x in v]


def _shape(M: Matrix) -> tuple[int, int]:
    return len(M), len(M[0])


def _check_same_shape(A: Matrix, B: Matrix, name_a: str, name_b: str) -> None:
    if _shape(A) != _shape(B):
        raise ValueError(f"{name_a} has shape {_shape(A)} but {name_b} has shape {_shape(B)}")


def _matmul(A: Matrix, B: Matrix) -> Matrix:
    """(n, m) · (m, p) -> (n, p):  C[i][j] = Σ_t A[i][t] · B[t][j]."""
    n, m = len(A), len(B)
    p = len(B[0])
    C = [[0.0] * p for _ in range(n)]
    for i in range(n):
        for j in range(p):
            total = 0.0
            for t in range(m):
                total += A[i][t] * B[t][j]
            C[i][j] = total
    return C


def _transpose(A: Matrix) -> Matrix:
    """(n, m) -> (m, n):  T[j][i] = A[i][j]."""
    return [[A[i][j] for i in range(len(A))] for j in range(len(A[0]))]


def _column_sums(A: Matrix) -> Vector:
    """(n, m) -> (m,):  s[j] = Σ_i A[i][j]."""
    sums = [0.0] * len(A[0])
    for row in A:
        for j, value in enumerate(row):
            sums[j] += value
    return sums


def _check_network(
    weights: Sequence[MatrixLike],
    biases: Sequence[VectorLike] | None,
    X: MatrixLike,
    activations: Sequence[str],
) -> tuple[list[Matrix], list[Vector] | None, Matrix]:
    """Validate a network description and return float copies of (weights, biases, X)."""
    if len(weights) == 0:
        raise ValueError("weights must contain at least one layer")
    if len(activations) != len(weights):
        raise ValueError(
            f"activations has {len(activations)} entries but weights has {len(weights)} layers"
        )
    for layer, name in enumerate(activations):
        _check_activation(name, f"activations[{layer}]")
    Ws = [_as_matrix(W, f"weights[{layer}]") for layer, W in enumerate(weights)]
    Xm = _as_matrix(X, "X")
    n_in = len(Xm[0])
    for layer, W in enumerate(Ws):
        if len(W) != n_in:
            raise ValueError(
                f"weights[{layer}] has shape {_shape(W)} but its input has {n_in} features "
                f"(expected {n_in} rows)"
            )
        n_in = len(W[0])
    if biases is None:
        return Ws, None, Xm
    if len(biases) != len(Ws):
        raise ValueError(f"biases has {len(biases)} entries but weights has {len(Ws)} layers")
    bs = [_as_vector(b) for b in biases]
    for layer, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        if len(b) != len(W[0]):
            raise ValueError(
                f"biases[{layer}] has length {len(b)} but weights[{layer}] has {len(W[0])} outputs"
            )
    return Ws, bs, Xm


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------


def _sigmoid(z: float) -> float:
    """σ(z) = 1 / (1 + e^(−z)), written so that ``exp`` never receives a large positive number."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))  # σ(z) = 1 / (1 + e^(−z)),  e^(−z) ≤ 1
    e = math.exp(z)
    return e / (1.0 + e)  # σ(z) = e^z / (1 + e^z),  e^z < 1


def _softmax_row(z: list[float]) -> list[float]:
    """softmax(z)_k = e^(z_k − max z) / Σ_j e^(z_j − max z)  (shifting by max z avoids overflow)."""
    m = max(z)
    exps = [math.exp(zk - m) for zk in z]
    total = sum(exps)
    return [e / total for e in exps]


def activate(name: str, Z: MatrixLike, slope: float = 0.01) -> Matrix:
    """Apply activation ``name`` to the pre-activations ``Z`` (shape ``(n, k)``); returns ``A``.

    * identity:   A = Z
    * sigmoid:    A = 1 / (1 + e^(−Z))               (two-branch form, never overflows)
    * tanh:       A = tanh(Z)
    * relu:       A = max(Z, 0)
    * leaky_relu: A = Z if Z > 0 else slope·Z
    * softmax:    A_ik = e^(Z_ik − max_j Z_ij) / Σ_j e^(Z_ij − max_j Z_ij)   (row by row)
    """
    _check_activation(name)
    Zm = _as_matrix(Z, "Z")
    if name == "identity":
        return [[z for z in row] for row in Zm]  # g(z) = z
    if name == "sigmoid":
        return [[_sigmoid(z) for z in row] for row in Zm]  # g(z) = 1 / (1 + e^(−z))
    if name == "tanh":
        return [[math.tanh(z) for z in row] for row in Zm]  # g(z) = tanh(z)
    if name == "relu":
        return [[z if z > 0.0 else 0.0 for z in row] for row in Zm]  # g(z) = max(z, 0)
    if name == "leaky_relu":
        return [[z if z > 0.0 else slope * z for z in row] for row in Zm]  # g(z) = z or slope·z
    return [_softmax_row(row) for row in Zm]  # softmax, one row (= one sample) at a time


def activation_backward(
    name: str, Z: MatrixLike, A: MatrixLike, dA: MatrixLike, slope: float = 0.01
) -> Matrix:
    """Chain rule through an activation: given ``dA = dL/dA`` return ``dZ = dL/dZ``.

    ``Z``, ``A = g(Z)`` and ``dA`` all have shape ``(n, k)``; so does the result.

    * identity:   dZ = dA
    * sigmoid:    dZ = dA ⊙ A(1 − A)
    * tanh:       dZ = dA ⊙ (1 − A²)
    * relu:       dZ = dA ⊙ [Z > 0]                  (derivative 0 at Z == 0)
    * leaky_relu: dZ = dA ⊙ (1 if Z > 0 else slope)
    * softmax:    dZ = A ⊙ (dA − rowsum(dA ⊙ A))      (Jacobian-vector product, row by row)
    """
    _check_activation(name)
    Zm, Am, dAm = _as_matrix(Z, "Z"), _as_matrix(A, "A"), _as_matrix(dA, "dA")
    _check_same_shape(Zm, Am, "Z", "A")
    _check_same_shape(Zm, dAm, "Z", "dA")
    n, k = _shape(Zm)
    dZ = [[0.0] * k for _ in range(n)]
    for i in range(n):
        if name == "softmax":
            dot = sum(dAm[i][j] * Am[i][j] for j in range(k))  # Σ_j dA_ij · A_ij
            for j in range(k):
                dZ[i][j] = Am[i][j] * (dAm[i][j] - dot)  # dZ_ij = A_ij (dA_ij − Σ_j' dA_ij' A_ij')
            continue
        for j in range(k):
            z, a, da = Zm[i][j], Am[i][j], dAm[i][j]
            if name == "identity":
                dZ[i][j] = da  # g'(z) = 1
            elif name == "sigmoid":
                dZ[i][j] = da * a * (1.0 - a)  # g'(z) = σ(z)(1 − σ(z)) = a(1 − a)
            elif name == "tanh":
                dZ[i][j] = da * (1.0 - a * a)  # g'(z) = 1 − tanh²(z) = 1 − a²
            elif name == "relu":
                dZ[i][j] = da if z > 0.0 else 0.0  # g'(z) = 1 if z > 0 else 0
            else:  # leaky_relu
                dZ[i][j] = da if z > 0.0 else slope * da  # g'(z) = 1 if z > 0 else slope
    return dZ


# --------------------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------------------


def forward(
    weights: Sequence[MatrixLike],
    biases: Sequence[VectorLike] | None,
    X: MatrixLike,
    activations: Sequence[str],
    slope: float = 0.01,
) -> tuple[list[Matrix], list[Matrix]]:
    """Run the network on ``X`` (shape ``(n, n_features)``) and keep every intermediate result.

    Returns ``(Zs, As)`` with ``len(Zs) == n_layers`` and ``len(As) == n_layers + 1``::

        As[0]   = X
        Zs[l]   = As[l] · W_l + b_l          shape (n, n_out_l)
        As[l+1] = g_l(Zs[l])

    ``As[-1]`` is the network's prediction. The backward pass needs all of them.
    """
    Ws, bs, Xm = _check_network(weights, biases, X, activations)
    Zs: list[Matrix] = []
    As: list[Matrix] = [Xm]
    for layer, name in enumerate(activations):
        Z = _matmul(As[layer], Ws[layer])  # Z = A_prev · W
        if bs is not None:
            b = bs[layer]
            Z = [[z + bj for z, bj in zip(row, b, strict=True)] for row in Z]  # Z = A_prev · W + b
        Zs.append(Z)
        As.append(activate(name, Z, slope))  # A = g(Z)
    return Zs, As


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def loss_value(loss: str, Z_out: MatrixLike, A_out: MatrixLike, Y: MatrixLike) -> float:
    """Mean loss of a batch, from the output layer's ``Z_out`` and ``A_out = g(Z_out)``.

    All three matrices have shape ``(n, k)``; ``Y`` is the dense target matrix.

    * mean_squared_error:        L = (1/(n·k)) Σ_ij (A_ij − Y_ij)²
    * binary_cross_entropy:      L = (1/(n·k)) Σ_ij [max(z, 0) − z·y + log(1 + e^(−|z|))]
      with z = Z_ij, y = Y_ij; this is −[y·log σ(z) + (1 − y)·log(1 − σ(z))] rewritten so that
      it is finite for any z
    * categorical_cross_entropy: L = (1/n) Σ_i [logsumexp(Z_i) − Σ_k Y_ik·Z_ik]
      (this is −Σ_k y_k·log softmax(z)_k when each target row sums to 1)
    """
    _check_loss(loss)
    Zm, Am, Ym = _as_matrix(Z_out, "Z_out"), _as_matrix(A_out, "A_out"), _as_matrix(Y, "Y")
    _check_same_shape(Zm, Am, "Z_out", "A_out")
    _check_same_shape(Am, Ym, "A_out", "Y")
    n, k = _shape(Ym)
    total = 0.0
    if loss == "mean_squared_error":
        for i in range(n):
            for j in range(k):
                total += (Am[i][j] - Ym[i][j]) ** 2  # (ŷ − y)²
        return total / (n * k)  # mean over samples and outputs
    if loss == "binary_cross_entropy":
        for i in range(n):
            for j in range(k):
                z, y = Zm[i][j], Ym[i][j]
                total += max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))  # stable BCE on z
        return total / (n * k)
    for i in range(n):  # categorical_cross_entropy
        m = max(Zm[i])
        logsumexp = m + math.log(sum(math.exp(z - m) for z in Zm[i]))  # log Σ_k e^(z_k), stable
        total += logsumexp - sum(Ym[i][j] * Zm[i][j] for j in range(k))  # −Σ_k y_k log p_k
    return total / n  # mean over samples


def output_delta(
    loss: str,
    activation: str,
    Z_out: MatrixLike,
    A_out: MatrixLike,
    Y: MatrixLike,
    slope: float = 0.01,
) -> Matrix:
    """Gradient ``dL/dZ`` of the mean batch loss with respect to the output pre-activations.

    Shapes: ``Z_out``, ``A_out = g(Z_out)``, ``Y`` and the result are ``(n, k)``.

    * mean_squared_error (any output activation):
      dL/dA = 2(A − Y)/(n·k), then dL/dZ = activation_backward(activation, Z, A, dL/dA)
    * binary_cross_entropy (sigmoid output only):      dL/dZ = (σ(Z) − Y)/(n·k)
    * categorical_cross_entropy (softmax output only): dL/dZ = (softmax(Z) − Y)/n

    Raises ``ValueError`` for a cross-entropy loss paired with the wrong output activation.
    """
    _check_loss_activation(loss, activation)
    Zm, Am, Ym = _as_matrix(Z_out, "Z_out"), _as_matrix(A_out, "A_out"), _as_matrix(Y, "Y")
    _check_same_shape(Zm, Am, "Z_out", "A_out")
    _check_same_shape(Am, Ym, "A_out", "Y")
    n, k = _shape(Ym)
    if loss == "mean_squared_error":
        scale = 2.0 / (n * k)
        # dL/dA = 2(ŷ − y)/(nk)
        dA = [[scale * (a - y) for a, y in zip(Am[i], Ym[i], strict=True)] for i in range(n)]
        return activation_backward(activation, Zm, Am, dA, slope)  # dL/dZ = g'(Z) ⊙ dL/dA
    # For the fused losses the activation's derivative cancels the log: dL/dZ = (ŷ − y) / N,
    # with ŷ = A_out = σ(Z) or softmax(Z) and N = n·k (BCE) or n (CCE).
    count = n * k if loss == "binary_cross_entropy" else n
    # dL/dZ = (ŷ − y)/N
    return [[(a - y) / count for a, y in zip(Am[i], Ym[i], strict=True)] for i in range(n)]


def loss(
    weights: Sequence[MatrixLike],
    biases: Sequence[VectorLike] | None,
    X: MatrixLike,
    Y: MatrixLike,
    activations: Sequence[str],
    loss: str,
    slope: float = 0.01,
) -> float:
    """Mean loss of the network on the batch ``(X, Y)``: forward pass, then :func:`loss_value`.

    ``X`` is ``(n, n_features)``, ``Y`` is ``(n, n_out)``.
    """
    Ws, bs, Xm = _check_network(weights, biases, X, activations)
    _check_loss_activation(loss, activations[-1])
    Ym = _as_matrix(Y, "Y")
    Zs, As = forward(Ws, bs, Xm, activations, slope)
    _check_same_shape(As[-1], Ym, "network output", "Y")
    return loss_value(loss, Zs[-1], As[-1], Ym)


# --------------------------------------------------------------------------------------------
# Backward pass (backpropagation)
# --------------------------------------------------------------------------------------------


def _backpropagate(
    Ws: list[Matrix],
    bs: list[Vector] | None,
    Zs: list[Matrix],
    As: list[Matrix],
    Y: Matrix,
    activations: Sequence[str],
    loss: str,
    slope: float,
) -> tuple[list[Matrix], list[Vector] | None]:
    """Backpropagation proper, given the stored forward pass (see :func:`backward`)."""
    n_layers = len(Ws)
    dWs: list[Matrix] = [[] for _ in range(n_layers)]
    dbs: list[Vector] = [[] for _ in range(n_layers)]
    # Start at the output: dL/dZ of the last layer.
    dZ = output_delta(loss, activations[-1], Zs[-1], As[-1], Y, slope)
    for layer in reversed(range(n_layers)):
        # This layer computed Zs[layer] = As[layer] · Ws[layer] + bs[layer]; As[layer] = A_prev.
        dWs[layer] = _matmul(_transpose(As[layer]), dZ)  # dL/dW = A_prev^T · dL/dZ
        dbs[layer] = _column_sums(dZ)  # dL/db = Σ_rows dL/dZ
        if layer > 0:
            dA_prev = _matmul(dZ, _transpose(Ws[layer]))  # dL/dA_prev = dL/dZ · W^T
            # A_prev = As[layer] = g(Zs[layer - 1]): step back through the previous activation.
            dZ = activation_backward(  # dL/dZ_prev = g'(Z_prev) ⊙ dL/dA_prev
                activations[layer - 1], Zs[layer - 1], As[layer], dA_prev, slope
            )
    return dWs, (dbs if bs is not None else None)


def backward(
    weights: Sequence[MatrixLike],
    biases: Sequence[VectorLike] | None,
    X: MatrixLike,
    Y: MatrixLike,
    activations: Sequence[str],
    loss: str,
    slope: float = 0.01,
) -> tuple[list[Matrix], list[Vector] | None]:
    """Gradients of the mean batch loss with respect to every weight and bias.

    Returns ``(dWs, dbs)``; ``dWs[l]`` has the shape of ``weights[l]`` and ``dbs[l]`` the shape of
    ``biases[l]`` (``dbs`` is ``None`` when ``biases`` is ``None``). With ``L`` layers::

        dZ_L     = output_delta(loss, g_L, Z_L, A_L, Y)
        for l = L, ..., 1:
            dW_l     = A_{l-1}^T · dZ_l
            db_l     = Σ_rows dZ_l
            dA_{l-1} = dZ_l · W_l^T
            dZ_{l-1} = g'_{l-1}(Z_{l-1}) ⊙ dA_{l-1}
    """
    Ws, bs, Xm = _check_network(weights, biases, X, activations)
    _check_loss_activation(loss, activations[-1])
    Ym = _as_matrix(Y, "Y")
    Zs, As = forward(Ws, bs, Xm, activations, slope)
    _check_same_shape(As[-1], Ym, "network output", "Y")
    return _backpropagate(Ws, bs, Zs, As, Ym, activations, loss, slope)


# --------------------------------------------------------------------------------------------
# Gradient descent and training
# --------------------------------------------------------------------------------------------


def sgd_step(
    weights: Sequence[MatrixLike],
    biases: Sequence[VectorLike] | None,
    dWs: Sequence[MatrixLike],
    dbs: Sequence[VectorLike] | None,
    learning_rate: float,
) -> tuple[list[Matrix], list[Vector] | None]:
    """One gradient-descent step; returns new ``(weights, biases)`` and leaves the inputs alone.

    ``W ← W − lr·dW`` and ``b ← b − lr·db`` for every layer (``dWs``/``dbs`` shaped like
    ``weights``/``biases``; ``biases`` and ``dbs`` are both ``None`` for a bias-free network).
    """
    if len(dWs) != len(weights):
        raise ValueError(f"dWs has {len(dWs)} entries but weights has {len(weights)} layers")
    if (biases is None) != (dbs is None):
        raise ValueError("biases and dbs must both be None or both be given")
    lr = float(learning_rate)
    new_weights: list[Matrix] = []
    for layer, (W, dW) in enumerate(zip(weights, dWs, strict=True)):
        Wm, dWm = _as_matrix(W, f"weights[{layer}]"), _as_matrix(dW, f"dWs[{layer}]")
        _check_same_shape(Wm, dWm, f"weights[{layer}]", f"dWs[{layer}]")
        # W ← W − lr·dW
        new_weights.append(
            [[w - lr * dw for w, dw in zip(Wm[i], dWm[i], strict=True)] for i in range(len(Wm))]
        )
    if biases is None or dbs is None:
        return new_weights, None
    if len(dbs) != len(biases):
        raise ValueError(f"dbs has {len(dbs)} entries but biases has {len(biases)} layers")
    new_biases: list[Vector] = []
    for layer, (b, db) in enumerate(zip(biases, dbs, strict=True)):
        if len(b) != len(db):
            raise ValueError(
                f"biases[{layer}] has length {len(b)} but dbs[{layer}] has length {len(db)}"
            )
        # b ← b − lr·db
        new_biases.append([float(bj) - lr * float(dbj) for bj, dbj in zip(b, db, strict=True)])
    return new_weights, new_biases


def fit(
    weights: Sequence[MatrixLike],
    biases: Sequence[VectorLike] | None,
    X: MatrixLike,
    Y: MatrixLike,
    activations: Sequence[str],
    loss: str,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    slope: float = 0.01,
    shuffle: bool = False,
    seed: int = 0,
) -> tuple[list[Matrix], list[Vector] | None, list[float]]:
    """Train with mini-batch gradient descent; returns ``(weights, biases, epoch_losses)``.

    ``X`` is ``(n, n_features)``, ``Y`` is ``(n, n_out)``. For every epoch the rows are cut into
    batches ``[0:B]``, ``[B:2B]``, ... (the last may be smaller); if ``shuffle`` is true the rows
    are first permuted with ``random.Random(seed)`` (a new permutation every epoch). Per batch::

        forward  ->  batch_loss (before the update)  ->  backward  ->  W ← W − lr·dW, b ← b − lr·db

    ``epoch_losses[e] = Σ_batches batch_loss · batch_size / n`` (sample-weighted mean).
    The inputs are not modified: trained copies are returned.
    """
    Ws, bs, Xm = _check_network(weights, biases, X, activations)
    _check_loss_activation(loss, activations[-1])
    Ym = _as_matrix(Y, "Y")
    n = len(Xm)
    if len(Ym) != n:
        raise ValueError(f"Y has {len(Ym)} rows but X has {n}")
    if len(Ym[0]) != len(Ws[-1][0]):
        raise ValueError(f"Y has {len(Ym[0])} columns but the network has {len(Ws[-1][0])} outputs")
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rng = random.Random(seed)
    epoch_losses: list[float] = []
    for _epoch in range(epochs):
        order = list(range(n))
        if shuffle:
            rng.shuffle(order)
        weighted_sum = 0.0
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            X_batch = [Xm[i] for i in rows]
            Y_batch = [Ym[i] for i in rows]
            Zs, As = forward(Ws, bs, X_batch, activations, slope)
            batch_loss = loss_value(loss, Zs[-1], As[-1], Y_batch)  # loss before the update
            dWs, dbs = _backpropagate(Ws, bs, Zs, As, Y_batch, activations, loss, slope)
            Ws, bs = sgd_step(Ws, bs, dWs, dbs, learning_rate)  # W ← W − lr·dW
            weighted_sum += batch_loss * len(rows)  # Σ batch_loss · batch_size
        epoch_losses.append(weighted_sum / n)  # sample-weighted mean over the epoch
    return Ws, bs, epoch_losses
