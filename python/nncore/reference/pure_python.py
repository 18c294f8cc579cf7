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
* Losses are (optionally sample-weighted) means over the batch, gradient descent is
  ``W ← W − lr·dW``.

Functions that take matrices accept any nested sequence of numbers and always return fresh
``list[list[float]]`` objects; nothing passed in is ever modified.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Matrix",
    "Vector",
    "activate",
    "activation_backward",
    "adam_step",
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

ACTIVATIONS: tuple[str, ...] = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "softmax",
    "elu",
    "gelu",
    "gelu_tanh",
    "softplus",
    "swish",
)
"""Valid activation names."""
LOSSES: tuple[str, ...] = (
    "mean_squared_error",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "mean_absolute_error",
    "huber",
    "poisson",
)
"""Valid loss names."""

# Losses that are fused with (and therefore require) a specific output activation.
_REQUIRED_OUTPUT_ACTIVATION: dict[str, str] = {
    "binary_cross_entropy": "sigmoid",
    "categorical_cross_entropy": "softmax",
    "poisson": "identity",  # its input is the log-rate z; the rate is e^z
}

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_PI = math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_CUBIC = 0.044715  # the cubic coefficient of the tanh approximation of GELU


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


def _check_delta(delta: float) -> float:
    """The Huber threshold δ as a float; it must be positive and finite."""
    d = float(delta)
    if not (math.isfinite(d) and d > 0.0):
        raise ValueError(f"delta must be a positive finite number, got {delta!r}")
    return d


def _sample_weights(sample_weight: VectorLike | None, n: int) -> Vector:
    """The per-sample weights as a fresh ``list[float]`` of length ``n`` (all ones for ``None``).

    Raises ``ValueError`` unless there are exactly ``n`` finite, non-negative weights.
    """
    if sample_weight is None:
        return [1.0] * n
    try:
        w = [float(x) for x in sample_weight]
    except (TypeError, ValueError) as error:
        raise ValueError("sample_weight must be a 1-D sequence of numbers") from error
    if len(w) != n:
        raise ValueError(f"sample_weight has {len(w)} entries but there are {n} samples")
    for i, wi in enumerate(w):
        if not (math.isfinite(wi) and wi >= 0.0):
            raise ValueError(f"sample_weight must be finite and non-negative, got {wi!r} at {i}")
    return w


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


def _normal_cdf(z: float) -> float:
    """Φ(z) = ½(1 + erf(z/√2)), the standard normal CDF.

    Computed as the equal ½·erfc(−z/√2): for very negative z, 1 + erf(z/√2) cancels to 0 while
    erfc keeps full relative accuracy (Φ(−10) ≈ 7.6e−24 instead of 0).
    """
    return 0.5 * math.erfc(-z / _SQRT_2)


def _normal_pdf(z: float) -> float:
    """φ(z) = e^(−z²/2) / √(2π), the standard normal density (= Φ'(z))."""
    return math.exp(-0.5 * z * z) / _SQRT_2_PI


def _gelu_tanh_u(z: float) -> float:
    """u(z) = √(2/π)·(z + 0.044715·z³), the argument of tanh in the tanh approximation of GELU."""
    return _SQRT_2_OVER_PI * (z + _GELU_TANH_CUBIC * z * z * z)


def _softplus(z: float) -> float:
    """log(1 + e^z) = max(z, 0) + log(1 + e^(−|z|)): exp only ever sees −|z| ≤ 0 (no overflow)."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def activate(name: str, Z: MatrixLike, slope: float = 0.01, *, alpha: float = 1.0) -> Matrix:
    """Apply activation ``name`` to the pre-activations ``Z`` (shape ``(n, k)``); returns ``A``.

    * identity:   A = Z
    * sigmoid:    A = 1 / (1 + e^(−Z))               (two-branch form, never overflows)
    * tanh:       A = tanh(Z)
    * relu:       A = max(Z, 0)
    * leaky_relu: A = Z if Z > 0 else slope·Z
    * softmax:    A_ik = e^(Z_ik − max_j Z_ij) / Σ_j e^(Z_ij − max_j Z_ij)   (row by row)
    * elu:        A = Z if Z > 0 else alpha·(e^Z − 1)   (e^Z − 1 via expm1)
    * gelu:       A = Z·Φ(Z) = ½Z(1 + erf(Z/√2))      (exact GELU; Φ = standard normal CDF)
    * gelu_tanh:  A = ½Z(1 + tanh(√(2/π)(Z + 0.044715 Z³)))   (PyTorch's approximate='tanh')
    * softplus:   A = log(1 + e^Z) = max(Z, 0) + log1p(e^(−|Z|))   (exact, never overflows)
    * swish:      A = Z·σ(Z)                          (also called SiLU)
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
    if name == "elu":
        # g(z) = z if z > 0 else α(e^z − 1); expm1 keeps e^z − 1 accurate for z near 0
        return [[z if z > 0.0 else alpha * math.expm1(z) for z in row] for row in Zm]
    if name == "gelu":
        return [[z * _normal_cdf(z) for z in row] for row in Zm]  # g(z) = z·Φ(z)
    if name == "gelu_tanh":
        # g(z) = ½ z (1 + tanh u),  u = √(2/π)(z + 0.044715 z³)
        return [[0.5 * z * (1.0 + math.tanh(_gelu_tanh_u(z))) for z in row] for row in Zm]
    if name == "softplus":
        return [[_softplus(z) for z in row] for row in Zm]  # g(z) = log(1 + e^z)
    if name == "swish":
        return [[z * _sigmoid(z) for z in row] for row in Zm]  # g(z) = z·σ(z)
    return [_softmax_row(row) for row in Zm]  # softmax, one row (= one sample) at a time


def activation_backward(
    name: str,
    Z: MatrixLike,
    A: MatrixLike,
    dA: MatrixLike,
    slope: float = 0.01,
    *,
    alpha: float = 1.0,
) -> Matrix:
    """Chain rule through an activation: given ``dA = dL/dA`` return ``dZ = dL/dZ``.

    ``Z``, ``A = g(Z)`` and ``dA`` all have shape ``(n, k)``; so does the result.

    * identity:   dZ = dA
    * sigmoid:    dZ = dA ⊙ A(1 − A)
    * tanh:       dZ = dA ⊙ (1 − A²)
    * relu:       dZ = dA ⊙ [Z > 0]                  (derivative 0 at Z == 0)
    * leaky_relu: dZ = dA ⊙ (1 if Z > 0 else slope)
    * softmax:    dZ = A ⊙ (dA − rowsum(dA ⊙ A))      (Jacobian-vector product, row by row)
    * elu:        dZ = dA ⊙ (1 if Z > 0 else alpha·e^Z)   (derivative alpha at Z == 0)
    * gelu:       dZ = dA ⊙ (Φ(Z) + Z·φ(Z)),  φ(z) = e^(−z²/2)/√(2π)
    * gelu_tanh:  dZ = dA ⊙ (½(1 + tanh u) + ½Z(1 − tanh² u)·√(2/π)(1 + 3·0.044715 Z²))
    * softplus:   dZ = dA ⊙ σ(Z)
    * swish:      dZ = dA ⊙ σ(Z)(1 + Z(1 − σ(Z)))
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
            elif name == "leaky_relu":
                dZ[i][j] = da if z > 0.0 else slope * da  # g'(z) = 1 if z > 0 else slope
            elif name == "elu":
                # g(z) = α(e^z − 1) for z ≤ 0, so g'(z) = α·e^z there; g'(z) = 1 for z > 0
                dZ[i][j] = da if z > 0.0 else da * alpha * math.exp(z)
            elif name == "gelu":
                # g(z) = z·Φ(z)  =>  g'(z) = Φ(z) + z·Φ'(z) = Φ(z) + z·φ(z)   (product rule)
                dZ[i][j] = da * (_normal_cdf(z) + z * _normal_pdf(z))
            elif name == "gelu_tanh":
                # g(z) = ½ z (1 + tanh u(z))  =>  g'(z) = ½(1 + tanh u) + ½ z (1 − tanh² u)·u'(z),
                # u'(z) = √(2/π)(1 + 3·0.044715 z²)   (product rule, then tanh' = 1 − tanh²)
                t = math.tanh(_gelu_tanh_u(z))
                du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_CUBIC * z * z)
                dZ[i][j] = da * (0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du)
            elif name == "softplus":
                # g(z) = log(1 + e^z)  =>  g'(z) = e^z / (1 + e^z) = σ(z)
                dZ[i][j] = da * _sigmoid(z)
            else:  # swish
                # g(z) = z·σ(z)  =>  g'(z) = σ(z) + z·σ(z)(1 − σ(z)) = σ(z)(1 + z(1 − σ(z)))
                s = _sigmoid(z)
                dZ[i][j] = da * s * (1.0 + z * (1.0 - s))
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
    *,
    alpha: float = 1.0,
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
        As.append(activate(name, Z, slope, alpha=alpha))  # A = g(Z)
    return Zs, As


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def _elementwise_loss(loss: str, a: float, y: float, delta: float) -> float:
    """The loss of one output of one sample for the element-wise losses (mse, mae, huber)."""
    r = a - y  # residual
    if loss == "mean_squared_error":
        return r * r  # r²
    if loss == "mean_absolute_error":
        return abs(r)  # |r|
    if abs(r) <= delta:  # huber
        return 0.5 * r * r  # ½ r²            (quadratic near 0)
    return delta * (abs(r) - 0.5 * delta)  # δ(|r| − ½δ)    (linear in the tails)


def _elementwise_loss_derivative(loss: str, a: float, y: float, delta: float) -> float:
    """d/da of :func:`_elementwise_loss`."""
    r = a - y
    if loss == "mean_squared_error":
        return 2.0 * r  # d(r²)/da = 2r
    if loss == "mean_absolute_error":
        # d|r|/da = sign(r), with sign(0) = 0 (as PyTorch's L1Loss)
        return 1.0 if r > 0.0 else (-1.0 if r < 0.0 else 0.0)
    # huber: d(½r²)/da = r for |r| ≤ δ and d(δ(|r| − ½δ))/da = δ·sign(r) beyond; together
    # that is r clipped to [−δ, δ]
    return min(max(r, -delta), delta)


def loss_value(
    loss: str,
    Z_out: MatrixLike,
    A_out: MatrixLike,
    Y: MatrixLike,
    *,
    delta: float = 1.0,
    sample_weight: VectorLike | None = None,
) -> float:
    """Mean loss of a batch, from the output layer's ``Z_out`` and ``A_out = g(Z_out)``.

    All three matrices have shape ``(n, k)``; ``Y`` is the dense target matrix. The batch loss is
    the weighted mean of the per-sample losses ℓ_i,

        L = Σ_i w_i·ℓ_i / Σ_i w_i        (w = sample_weight; None means w_i = 1, i.e. L = mean ℓ_i)

    and is 0 when Σ_i w_i = 0. With r = A_ij − Y_ij, z = Z_ij, y = Y_ij:

    * mean_squared_error:        ℓ_i = (1/k) Σ_j r²
    * mean_absolute_error:       ℓ_i = (1/k) Σ_j |r|
    * huber:                     ℓ_i = (1/k) Σ_j (½r² if |r| ≤ delta else delta·(|r| − ½delta))
    * binary_cross_entropy:      ℓ_i = (1/k) Σ_j [max(z, 0) − z·y + log(1 + e^(−|z|))]
      this is −[y·log σ(z) + (1 − y)·log(1 − σ(z))] rewritten so that it is finite for any z
    * categorical_cross_entropy: ℓ_i = logsumexp(Z_i) − Σ_k Y_ik·Z_ik
    * poisson (identity output, y ≥ 0): ℓ_i = (1/k) Σ_j [e^z − y·z + y·log y − y]
      the half Poisson deviance y·log(y/μ) − y + μ of the rate μ = e^z (0·log 0 = 0)
      (this is −Σ_k y_k·log softmax(z)_k when each target row sums to 1)

    So without weights mse / mae / huber / bce average over samples *and* outputs, cce over
    samples.
    """
    _check_loss(loss)
    d = _check_delta(delta)
    Zm, Am, Ym = _as_matrix(Z_out, "Z_out"), _as_matrix(A_out, "A_out"), _as_matrix(Y, "Y")
    _check_same_shape(Zm, Am, "Z_out", "A_out")
    _check_same_shape(Am, Ym, "A_out", "Y")
    n, k = _shape(Ym)
    w = _sample_weights(sample_weight, n)
    total_weight = sum(w)  # Σ_i w_i  (= n without weights)
    if total_weight == 0.0:
        return 0.0  # no sample counts: the loss of an all-zero-weight batch is defined as 0
    total = 0.0
    if loss == "categorical_cross_entropy":
        for i in range(n):
            m = max(Zm[i])
            logsumexp = m + math.log(sum(math.exp(z - m) for z in Zm[i]))  # log Σ_k e^(z_k)
            total += w[i] * (logsumexp - sum(Ym[i][j] * Zm[i][j] for j in range(k)))  # w_i ℓ_i
        return total / total_weight  # Σ w_i ℓ_i / Σ w_i
    for i in range(n):
        for j in range(k):
            z, y = Zm[i][j], Ym[i][j]
            if loss == "binary_cross_entropy":
                term = max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))  # stable BCE on z
            elif loss == "poisson":
                y_log_y = y * math.log(y) if y > 0 else 0.0  # 0·log 0 = 0
                term = math.exp(z) - y * z + y_log_y - y
            else:
                term = _elementwise_loss(loss, Am[i][j], Ym[i][j], d)  # r², |r| or huber(r)
            total += w[i] * term  # Σ_ij w_i · term_ij
    # Σ_i w_i ℓ_i / Σ_i w_i with ℓ_i = (1/k) Σ_j term_ij
    return total / (k * total_weight)


def output_delta(
    loss: str,
    activation: str,
    Z_out: MatrixLike,
    A_out: MatrixLike,
    Y: MatrixLike,
    slope: float = 0.01,
    *,
    alpha: float = 1.0,
    delta: float = 1.0,
    sample_weight: VectorLike | None = None,
) -> Matrix:
    """Gradient ``dL/dZ`` of the (weighted) mean batch loss w.r.t. the output pre-activations.

    Shapes: ``Z_out``, ``A_out = g(Z_out)``, ``Y`` and the result are ``(n, k)``. With
    W = Σ_i w_i (= n without weights) and r = A − Y:

    * mean_squared_error, mean_absolute_error, huber (any output activation):
      dL/dA_ij = w_i·ℓ'(r_ij)/(k·W) with ℓ'(r) = 2r (mse), sign(r) (mae, sign(0) = 0),
      r clipped to [−delta, delta] (huber); then
      dL/dZ = activation_backward(activation, Z, A, dL/dA)
    * binary_cross_entropy (sigmoid output only):      dL/dZ_ij = w_i·(σ(Z_ij) − Y_ij)/(k·W)
    * categorical_cross_entropy (softmax output only): dL/dZ_ij = w_i·(softmax(Z)_ij − Y_ij)/W
    * poisson (identity output only):                  dL/dZ_ij = w_i·(e^Z_ij − Y_ij)/(k·W)

    The gradient is all zeros when W = 0 (see :func:`loss_value`). Raises ``ValueError`` for a
    cross-entropy loss paired with the wrong output activation.
    """
    _check_loss_activation(loss, activation)
    d = _check_delta(delta)
    Zm, Am, Ym = _as_matrix(Z_out, "Z_out"), _as_matrix(A_out, "A_out"), _as_matrix(Y, "Y")
    _check_same_shape(Zm, Am, "Z_out", "A_out")
    _check_same_shape(Am, Ym, "A_out", "Y")
    n, k = _shape(Ym)
    w = _sample_weights(sample_weight, n)
    total_weight = sum(w)
    if total_weight == 0.0:
        return [[0.0] * k for _ in range(n)]  # the loss is constantly 0: so is its gradient
    if loss not in _REQUIRED_OUTPUT_ACTIVATION:  # mse, mae, huber
        dA = [[0.0] * k for _ in range(n)]
        for i in range(n):
            scale = w[i] / (k * total_weight)  # w_i / (k·W)  (= 1/(n·k) without weights)
            for j in range(k):
                # dL/dA_ij = w_i · ℓ'(a_ij − y_ij) / (k·W)
                dA[i][j] = scale * _elementwise_loss_derivative(loss, Am[i][j], Ym[i][j], d)
        # dL/dZ = g'(Z) ⊙ dL/dA
        return activation_backward(activation, Zm, Am, dA, slope, alpha=alpha)
    # For the fused losses the activation's derivative cancels the log: dL/dZ_i = w_i(ŷ_i − y_i)/N
    # with ŷ = A_out = σ(Z) or softmax(Z) and N = k·W (BCE) or W (CCE).
    # (poisson: ŷ is the rate e^z, N = k·W)
    count = k * total_weight if loss != "categorical_cross_entropy" else total_weight
    rates = [[math.exp(z) for z in row] for row in Zm] if loss == "poisson" else Am
    # dL/dZ_ij = w_i (ŷ_ij − y_ij)/N
    return [
        [w[i] * (a - y) / count for a, y in zip(rates[i], Ym[i], strict=True)] for i in range(n)
    ]


def loss(
    weights: Sequence[MatrixLike],
    biases: Sequence[VectorLike] | None,
    X: MatrixLike,
    Y: MatrixLike,
    activations: Sequence[str],
    loss: str,
    slope: float = 0.01,
    *,
    alpha: float = 1.0,
    delta: float = 1.0,
    sample_weight: VectorLike | None = None,
) -> float:
    """Mean loss of the network on the batch ``(X, Y)``: forward pass, then :func:`loss_value`.

    ``X`` is ``(n, n_features)``, ``Y`` is ``(n, n_out)``, ``sample_weight`` (optional) has
    length ``n``.
    """
    Ws, bs, Xm = _check_network(weights, biases, X, activations)
    _check_loss_activation(loss, activations[-1])
    Ym = _as_matrix(Y, "Y")
    Zs, As = forward(Ws, bs, Xm, activations, slope, alpha=alpha)
    _check_same_shape(As[-1], Ym, "network output", "Y")
    return loss_value(loss, Zs[-1], As[-1], Ym, delta=delta, sample_weight=sample_weight)


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
    alpha: float,
    delta: float,
    sample_weight: VectorLike | None,
) -> tuple[list[Matrix], list[Vector] | None]:
    """Backpropagation proper, given the stored forward pass (see :func:`backward`)."""
    n_layers = len(Ws)
    dWs: list[Matrix] = [[] for _ in range(n_layers)]
    dbs: list[Vector] = [[] for _ in range(n_layers)]
    # Start at the output: dL/dZ of the last layer (the sample weights enter only here).
    dZ = output_delta(
        loss,
        activations[-1],
        Zs[-1],
        As[-1],
        Y,
        slope,
        alpha=alpha,
        delta=delta,
        sample_weight=sample_weight,
    )
    for layer in reversed(range(n_layers)):
        # This layer computed Zs[layer] = As[layer] · Ws[layer] + bs[layer]; As[layer] = A_prev.
        dWs[layer] = _matmul(_transpose(As[layer]), dZ)  # dL/dW = A_prev^T · dL/dZ
        dbs[layer] = _column_sums(dZ)  # dL/db = Σ_rows dL/dZ
        if layer > 0:
            dA_prev = _matmul(dZ, _transpose(Ws[layer]))  # dL/dA_prev = dL/dZ · W^T
            # A_prev = As[layer] = g(Zs[layer - 1]): step back through the previous activation.
            dZ = activation_backward(  # dL/dZ_prev = g'(Z_prev) ⊙ dL/dA_prev
                activations[layer - 1], Zs[layer - 1], As[layer], dA_prev, slope, alpha=alpha
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
    *,
    alpha: float = 1.0,
    delta: float = 1.0,
    sample_weight: VectorLike | None = None,
) -> tuple[list[Matrix], list[Vector] | None]:
    """Gradients of the (weighted) mean batch loss with respect to every weight and bias.

    Returns ``(dWs, dbs)``; ``dWs[l]`` has the shape of ``weights[l]`` and ``dbs[l]`` the shape of
    ``biases[l]`` (``dbs`` is ``None`` when ``biases`` is ``None``). With ``L`` layers::

        dZ_L     = output_delta(loss, g_L, Z_L, A_L, Y)      (row i scaled by w_i / Σ w)
        for l = L, ..., 1:
            dW_l     = A_{l-1}^T · dZ_l
            db_l     = Σ_rows dZ_l
            dA_{l-1} = dZ_l · W_l^T
            dZ_{l-1} = g'_{l-1}(Z_{l-1}) ⊙ dA_{l-1}
    """
    Ws, bs, Xm = _check_network(weights, biases, X, activations)
    _check_loss_activation(loss, activations[-1])
    Ym = _as_matrix(Y, "Y")
    Zs, As = forward(Ws, bs, Xm, activations, slope, alpha=alpha)
    _check_same_shape(As[-1], Ym, "network output", "Y")
    return _backpropagate(Ws, bs, Zs, As, Ym, activations, loss, slope, alpha, delta, sample_weight)


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


def adam_step(
    parameters: Sequence[Sequence[float]],
    gradients: Sequence[Sequence[float]],
    state: dict[str, Any],
    learning_rate: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> list[list[float]]:
    """One Adam update of flat parameter lists (PyTorch's ``torch.optim.Adam`` formula).

    ``parameters`` and ``gradients`` are lists of flat lists of floats (one per array);
    ``state`` is a dict the caller keeps between steps (empty at first); ``t`` advances once per
    call, for all arrays together::

        t ← t + 1
        m ← β₁·m + (1 − β₁)·g            (first moment, zero at first)
        v ← β₂·v + (1 − β₂)·g²           (second moment)
        θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)

    Returns the new parameters; the inputs are not modified (``state`` is updated in place).
    """
    if len(parameters) != len(gradients):
        raise ValueError("parameters and gradients must have the same number of arrays")
    if not state:
        state.update(
            t=0, m=[[0.0] * len(g) for g in gradients], v=[[0.0] * len(g) for g in gradients]
        )
    state["t"] += 1
    t = state["t"]
    lr = float(learning_rate)
    updated: list[list[float]] = []
    for index, (theta, g) in enumerate(zip(parameters, gradients, strict=True)):
        m, v = state["m"][index], state["v"][index]
        new_theta = []
        for j, (theta_j, g_j) in enumerate(zip(theta, g, strict=True)):
            m[j] = beta1 * m[j] + (1 - beta1) * g_j  # m ← β₁m + (1−β₁)g
            v[j] = beta2 * v[j] + (1 - beta2) * g_j * g_j  # v ← β₂v + (1−β₂)g²
            m_hat = m[j] / (1 - beta1**t)  # bias corrections
            v_hat = v[j] / (1 - beta2**t)
            new_theta.append(theta_j - lr * m_hat / (math.sqrt(v_hat) + eps))
        updated.append(new_theta)
    return updated


def _flat_rows(matrices: Sequence[Matrix]) -> list[list[float]]:
    """Each matrix (a list of rows) as one flat list, row after row."""
    return [[x for row in matrix for x in row] for matrix in matrices]


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
    *,
    alpha: float = 1.0,
    delta: float = 1.0,
    sample_weight: VectorLike | None = None,
    optimizer: str = "sgd",
) -> tuple[list[Matrix], list[Vector] | None, list[float]]:
    """Train with mini-batch gradient descent; returns ``(weights, biases, epoch_losses)``.

    ``optimizer`` is ``"sgd"`` (``W ← W − lr·dW``, below) or ``"adam"`` (``adam_step`` with its
    default β₁, β₂, ε over all weights and biases).

    ``X`` is ``(n, n_features)``, ``Y`` is ``(n, n_out)``. For every epoch the rows are cut into
    batches ``[0:B]``, ``[B:2B]``, ... (the last may be smaller); if ``shuffle`` is true the rows
    are first permuted with ``random.Random(seed)`` (a new permutation every epoch). Per batch::

        forward  ->  batch_loss (before the update)  ->  backward  ->  W ← W − lr·dW, b ← b − lr·db

    ``sample_weight`` (length ``n``) travels with its rows: each batch's loss and gradient are
    the weighted mean over that batch's rows (a batch whose weights are all 0 makes no update).
    The recorded loss of an epoch is the weighted mean over the whole epoch,

        epoch_losses[e] = Σ_batches batch_loss · (Σ_{i∈batch} w_i) / Σ_i w_i

    (``Σ_batches batch_loss · batch_size / n`` without weights; 0 if every weight is 0).
    The inputs are not modified: trained copies are returned.
    """
    Ws, bs, Xm = _check_network(weights, biases, X, activations)
    _check_loss_activation(loss, activations[-1])
    d = _check_delta(delta)
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
    w = _sample_weights(sample_weight, n)
    total_weight = sum(w)  # Σ_i w_i over the whole data set
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    adam_state: dict[str, Any] = {}
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
            w_batch = [w[i] for i in rows]  # the weights follow their rows
            Zs, As = forward(Ws, bs, X_batch, activations, slope, alpha=alpha)
            # loss before the update
            batch_loss = loss_value(loss, Zs[-1], As[-1], Y_batch, delta=d, sample_weight=w_batch)
            dWs, dbs = _backpropagate(
                Ws, bs, Zs, As, Y_batch, activations, loss, slope, alpha, d, w_batch
            )
            if optimizer == "adam":
                flat = adam_step(
                    _flat_rows(Ws) + [list(b) for b in bs or []],
                    _flat_rows(dWs) + [list(db) for db in dbs or []],
                    adam_state,
                    learning_rate,
                )
                Ws = [
                    [flat[layer][i * len(W[0]) : (i + 1) * len(W[0])] for i in range(len(W))]
                    for layer, W in enumerate(Ws)
                ]
                bs = flat[len(Ws) :] if bs is not None else None
            else:
                Ws, bs = sgd_step(Ws, bs, dWs, dbs, learning_rate)  # W ← W − lr·dW
            weighted_sum += batch_loss * sum(w_batch)  # Σ_{i∈batch} w_i ℓ_i
        # weighted mean over the epoch (defined as 0 when every weight is 0)
        epoch_losses.append(weighted_sum / total_weight if total_weight > 0.0 else 0.0)
    return Ws, bs, epoch_losses
