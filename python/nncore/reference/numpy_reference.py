"""Multi-layer perceptron training in NumPy: the same algorithm as ``pure_python``, vectorised.

Each function here has a twin of the same name and signature in
:mod:`nncore.reference.pure_python`; reading the two side by side shows how a loop over samples
turns into a matrix product. The formula being computed sits in a comment next to each line.

Conventions (shared with the C++ core):

* Storage is batch-major: ``X`` has shape ``(n_samples, n_features)``, one sample per row.
* Dense layer ``l`` owns ``W`` of shape ``(n_in, n_out)`` and ``b`` of shape ``(n_out,)``::

      Z = A_prev @ W + b        (b broadcast over the rows)
      A = g(Z)

  ``biases`` may be ``None`` for a network without bias terms.
* Losses are (optionally sample-weighted) means over the batch, gradient descent is
  ``W ← W − lr·dW``.

Arrays are computed in the floating dtype of the inputs (float32 stays float32; integer input is
converted to float64). Results are always new arrays; inputs are never modified. The numerics
are overflow-free: no NumPy ``RuntimeWarning`` is emitted even for logits of ±1000.

NumPy has no ``erf``; the exact GELU evaluates :func:`math.erfc` element by element (through
``np.frompyfunc``). That is slow, but this module is written for clarity, not speed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Array",
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

Array = npt.NDArray[np.floating[Any]]
"""A floating-point ndarray (float64 unless the inputs were another floating dtype)."""

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

# Python floats (not NumPy scalars), so that float32 arrays stay float32 when combined with them.
_SQRT_2 = math.sqrt(2.0)
_SQRT_2_PI = math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_CUBIC = 0.044715  # the cubic coefficient of the tanh approximation of GELU
_ERFC = np.frompyfunc(math.erfc, 1, 1)  # element-wise math.erfc (returns an object array)


# --------------------------------------------------------------------------------------------
# Validation helpers
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


def _as_float(a: npt.ArrayLike, argument: str, ndim: int, dtype: Any = None) -> Array:
    """``a`` as a floating ndarray with ``ndim`` dimensions (non-float input becomes float64)."""
    arr = np.asarray(a, dtype=dtype)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{argument} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{argument} must not be empty, got shape {arr.shape}")
    return arr


def _check_delta(delta: float) -> float:
    """The Huber threshold δ as a Python float; it must be positive and finite."""
    d = float(delta)
    if not (math.isfinite(d) and d > 0.0):
        raise ValueError(f"delta must be a positive finite number, got {delta!r}")
    return d


def _sample_weights(sample_weight: npt.ArrayLike | None, n: int, dtype: Any) -> Array:
    """The per-sample weights as a new 1-D array of ``dtype`` and length ``n`` (ones for None).

    Raises ``ValueError`` unless there are exactly ``n`` finite, non-negative weights.
    """
    if sample_weight is None:
        return np.ones(n, dtype=dtype)
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError("sample_weight must be a 1-D array of numbers") from error
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},) (one per sample), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    with np.errstate(over="ignore"):
        w_cast: Array = w.astype(dtype)
    if not np.all(np.isfinite(w_cast)):
        raise ValueError(f"sample_weight does not fit in {np.dtype(dtype)}")
    return w_cast


def _check_same_shape(a: Array, b: Array, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}")


def _check_network(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike] | None,
    X: npt.ArrayLike,
    activations: Sequence[str],
) -> tuple[list[Array], list[Array] | None, Array]:
    """Validate a network description and return (weights, biases, X) as float arrays."""
    if len(weights) == 0:
        raise ValueError("weights must contain at least one layer")
    if len(activations) != len(weights):
        raise ValueError(
            f"activations has {len(activations)} entries but weights has {len(weights)} layers"
        )
    for layer, name in enumerate(activations):
        _check_activation(name, f"activations[{layer}]")
    Ws = [_as_float(W, f"weights[{layer}]", 2) for layer, W in enumerate(weights)]
    Xa = _as_float(X, "X", 2)
    n_in = Xa.shape[1]
    for layer, W in enumerate(Ws):
        if W.shape[0] != n_in:
            raise ValueError(
                f"weights[{layer}] has shape {W.shape} but its input has {n_in} features "
                f"(expected {n_in} rows)"
            )
        n_in = W.shape[1]
    if biases is None:
        return Ws, None, Xa
    if len(biases) != len(Ws):
        raise ValueError(f"biases has {len(biases)} entries but weights has {len(Ws)} layers")
    bs = [_as_float(b, f"biases[{layer}]", 1) for layer, b in enumerate(biases)]
    for layer, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"biases[{layer}] has shape {b.shape} but weights[{layer}] has {W.shape[1]} outputs"
            )
    return Ws, bs, Xa


def _loss_inputs(
    Z_out: npt.ArrayLike, A_out: npt.ArrayLike, Y: npt.ArrayLike
) -> tuple[Array, Array, Array]:
    """Z_out, A_out and Y as arrays of one shape; Y is cast to the dtype of A_out."""
    Z = _as_float(Z_out, "Z_out", 2)
    A = _as_float(A_out, "A_out", 2)
    Ya = _as_float(Y, "Y", 2, dtype=A.dtype)
    _check_same_shape(Z, A, "Z_out", "A_out")
    _check_same_shape(A, Ya, "A_out", "Y")
    return Z, A, Ya


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------


def _sigmoid(Z: Array) -> Array:
    """σ(Z) elementwise, two-branch form: only e^(−|Z|) ≤ 1 is ever computed (no overflow)."""
    E = np.exp(-np.abs(Z))  # e^(−|z|)
    # z ≥ 0: σ(z) = 1 / (1 + e^(−z));   z < 0: σ(z) = e^z / (1 + e^z)
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))


def _normal_cdf(Z: Array) -> Array:
    """Φ(Z) = ½(1 + erf(Z/√2)) elementwise, the standard normal CDF.

    Computed as the equal ½·erfc(−Z/√2): for very negative z, 1 + erf(z/√2) cancels to 0 while
    erfc keeps full relative accuracy. NumPy has no erfc, so math.erfc is applied per element.
    """
    erfc: Array = _ERFC(-Z / _SQRT_2).astype(Z.dtype)  # erfc(−z/√2)
    return 0.5 * erfc


def _normal_pdf(Z: Array) -> Array:
    """φ(Z) = e^(−Z²/2) / √(2π) elementwise, the standard normal density (= Φ')."""
    pdf: Array = np.exp(-0.5 * Z * Z) / _SQRT_2_PI
    return pdf


def _gelu_tanh_u(Z: Array) -> Array:
    """u(Z) = √(2/π)·(Z + 0.044715·Z³), the argument of tanh in the tanh approximation of GELU."""
    u: Array = _SQRT_2_OVER_PI * (Z + _GELU_TANH_CUBIC * Z * Z * Z)
    return u


def activate(name: str, Z: npt.ArrayLike, slope: float = 0.01, *, alpha: float = 1.0) -> Array:
    """Apply activation ``name`` to the pre-activations ``Z`` (shape ``(n, k)``); returns ``A``.

    * identity:   A = Z
    * sigmoid:    A = 1 / (1 + e^(−Z))               (two-branch form, never overflows)
    * tanh:       A = tanh(Z)
    * relu:       A = max(Z, 0)
    * leaky_relu: A = Z if Z > 0 else slope·Z
    * softmax:    A_ik = e^(Z_ik − max_j Z_ij) / Σ_j e^(Z_ij − max_j Z_ij)   (row-wise)
    * elu:        A = Z if Z > 0 else alpha·(e^Z − 1)   (e^Z − 1 via expm1)
    * gelu:       A = Z·Φ(Z) = ½Z(1 + erf(Z/√2))      (exact GELU; Φ = standard normal CDF)
    * gelu_tanh:  A = ½Z(1 + tanh(√(2/π)(Z + 0.044715 Z³)))   (PyTorch's approximate='tanh')
    * softplus:   A = log(1 + e^Z) = max(Z, 0) + log1p(e^(−|Z|))   (exact, never overflows)
    * swish:      A = Z·σ(Z)                          (also called SiLU)
    """
    _check_activation(name)
    Za = _as_float(Z, "Z", 2)
    if name == "identity":
        return np.copy(Za)  # g(z) = z
    if name == "sigmoid":
        return _sigmoid(Za)  # g(z) = 1 / (1 + e^(−z))
    if name == "tanh":
        return np.tanh(Za)  # g(z) = tanh(z)
    if name == "relu":
        return np.where(Za > 0, Za, 0)  # g(z) = max(z, 0)
    if name == "leaky_relu":
        return np.where(Za > 0, Za, slope * Za)  # g(z) = z if z > 0 else slope·z
    if name == "elu":
        # g(z) = z if z > 0 else α(e^z − 1). np.where evaluates both branches, so expm1 gets
        # min(z, 0) (no overflow for large positive z); expm1 keeps e^z − 1 accurate near 0.
        return np.where(Za > 0, Za, alpha * np.expm1(np.minimum(Za, 0)))
    if name == "gelu":
        return Za * _normal_cdf(Za)  # g(z) = z·Φ(z)
    if name == "gelu_tanh":
        gelu_tanh: Array = 0.5 * Za * (1 + np.tanh(_gelu_tanh_u(Za)))  # g(z) = ½ z (1 + tanh u)
        return gelu_tanh
    if name == "softplus":
        # g(z) = log(1 + e^z) = max(z, 0) + log(1 + e^(−|z|))   (exp never sees a positive number)
        softplus: Array = np.maximum(Za, 0) + np.log1p(np.exp(-np.abs(Za)))
        return softplus
    if name == "swish":
        return Za * _sigmoid(Za)  # g(z) = z·σ(z)
    E = np.exp(Za - Za.max(axis=1, keepdims=True))  # e^(z − max z), row by row
    softmax: Array = E / E.sum(axis=1, keepdims=True)  # e^(z − max z) / Σ e^(z − max z)
    return softmax


def activation_backward(
    name: str,
    Z: npt.ArrayLike,
    A: npt.ArrayLike,
    dA: npt.ArrayLike,
    slope: float = 0.01,
    *,
    alpha: float = 1.0,
) -> Array:
    """Chain rule through an activation: given ``dA = dL/dA`` return ``dZ = dL/dZ``.

    ``Z``, ``A = g(Z)`` and ``dA`` all have shape ``(n, k)``; so does the result.

    * identity:   dZ = dA
    * sigmoid:    dZ = dA ⊙ A(1 − A)
    * tanh:       dZ = dA ⊙ (1 − A²)
    * relu:       dZ = dA ⊙ [Z > 0]                  (derivative 0 at Z == 0)
    * leaky_relu: dZ = dA ⊙ (1 if Z > 0 else slope)
    * softmax:    dZ = A ⊙ (dA − rowsum(dA ⊙ A))      (Jacobian-vector product, row-wise)
    * elu:        dZ = dA ⊙ (1 if Z > 0 else alpha·e^Z)   (derivative alpha at Z == 0)
    * gelu:       dZ = dA ⊙ (Φ(Z) + Z·φ(Z)),  φ(z) = e^(−z²/2)/√(2π)
    * gelu_tanh:  dZ = dA ⊙ (½(1 + tanh u) + ½Z(1 − tanh² u)·√(2/π)(1 + 3·0.044715 Z²))
    * softplus:   dZ = dA ⊙ σ(Z)
    * swish:      dZ = dA ⊙ σ(Z)(1 + Z(1 − σ(Z)))
    """
    _check_activation(name)
    Za, Aa, dAa = _as_float(Z, "Z", 2), _as_float(A, "A", 2), _as_float(dA, "dA", 2)
    _check_same_shape(Za, Aa, "Z", "A")
    _check_same_shape(Za, dAa, "Z", "dA")
    if name == "identity":
        return np.copy(dAa)  # g'(z) = 1
    if name == "sigmoid":
        return dAa * Aa * (1 - Aa)  # g'(z) = a(1 − a)
    if name == "tanh":
        return dAa * (1 - Aa * Aa)  # g'(z) = 1 − a²
    if name == "relu":
        return np.where(Za > 0, dAa, 0)  # g'(z) = 1 if z > 0 else 0
    if name == "leaky_relu":
        return np.where(Za > 0, dAa, slope * dAa)  # g'(z) = 1 if z > 0 else slope
    if name == "elu":
        # g(z) = α(e^z − 1) for z ≤ 0, so g'(z) = α·e^z there; g'(z) = 1 for z > 0
        # (exp gets min(z, 0): np.where evaluates both branches)
        return np.where(Za > 0, dAa, dAa * alpha * np.exp(np.minimum(Za, 0)))
    if name == "gelu":
        # g(z) = z·Φ(z)  =>  g'(z) = Φ(z) + z·Φ'(z) = Φ(z) + z·φ(z)   (product rule)
        return dAa * (_normal_cdf(Za) + Za * _normal_pdf(Za))
    if name == "gelu_tanh":
        # g(z) = ½ z (1 + tanh u(z))  =>  g'(z) = ½(1 + tanh u) + ½ z (1 − tanh² u)·u'(z),
        # u'(z) = √(2/π)(1 + 3·0.044715 z²)   (product rule, then tanh' = 1 − tanh²)
        T = np.tanh(_gelu_tanh_u(Za))
        dU = _SQRT_2_OVER_PI * (1 + 3 * _GELU_TANH_CUBIC * Za * Za)
        dZ_gelu_tanh: Array = dAa * (0.5 * (1 + T) + 0.5 * Za * (1 - T * T) * dU)
        return dZ_gelu_tanh
    if name == "softplus":
        return dAa * _sigmoid(Za)  # g(z) = log(1 + e^z)  =>  g'(z) = e^z / (1 + e^z) = σ(z)
    if name == "swish":
        # g(z) = z·σ(z)  =>  g'(z) = σ(z) + z·σ(z)(1 − σ(z)) = σ(z)(1 + z(1 − σ(z)))
        S = _sigmoid(Za)
        return dAa * S * (1 + Za * (1 - S))
    dZ: Array = Aa * (dAa - np.sum(dAa * Aa, axis=1, keepdims=True))  # A ⊙ (dA − rowsum(dA ⊙ A))
    return dZ


# --------------------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------------------


def forward(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike] | None,
    X: npt.ArrayLike,
    activations: Sequence[str],
    slope: float = 0.01,
    *,
    alpha: float = 1.0,
) -> tuple[list[Array], list[Array]]:
    """Run the network on ``X`` (shape ``(n, n_features)``) and keep every intermediate result.

    Returns ``(Zs, As)`` with ``len(Zs) == n_layers`` and ``len(As) == n_layers + 1``::

        As[0]   = X
        Zs[l]   = As[l] @ W_l + b_l          shape (n, n_out_l)
        As[l+1] = g_l(Zs[l])
    """
    Ws, bs, Xa = _check_network(weights, biases, X, activations)
    Zs: list[Array] = []
    As: list[Array] = [Xa]
    for layer, name in enumerate(activations):
        Z = As[layer] @ Ws[layer]  # Z = A_prev · W
        if bs is not None:
            Z = Z + bs[layer]  # Z = A_prev · W + b  (b broadcast over rows)
        Zs.append(Z)
        As.append(activate(name, Z, slope, alpha=alpha))  # A = g(Z)
    return Zs, As


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def _elementwise_loss(loss: str, A: Array, Y: Array, delta: float) -> Array:
    """The loss of every output of every sample for the element-wise losses (mse, mae, huber)."""
    R = A - Y  # residuals
    if loss == "mean_squared_error":
        return R * R  # r²
    if loss == "mean_absolute_error":
        return np.abs(R)  # |r|
    # huber: ½ r² for |r| ≤ δ (quadratic near 0), δ(|r| − ½δ) beyond (linear in the tails)
    return np.where(np.abs(R) <= delta, 0.5 * R * R, delta * (np.abs(R) - 0.5 * delta))


def _elementwise_loss_derivative(loss: str, A: Array, Y: Array, delta: float) -> Array:
    """d/dA of :func:`_elementwise_loss`."""
    R = A - Y
    if loss == "mean_squared_error":
        return 2 * R  # d(r²)/da = 2r
    if loss == "mean_absolute_error":
        return np.sign(R)  # d|r|/da = sign(r), with sign(0) = 0 (as PyTorch's L1Loss)
    # huber: d(½r²)/da = r for |r| ≤ δ and d(δ(|r| − ½δ))/da = δ·sign(r) beyond; together
    # that is r clipped to [−δ, δ]
    return np.clip(R, -delta, delta)


def loss_value(
    loss: str,
    Z_out: npt.ArrayLike,
    A_out: npt.ArrayLike,
    Y: npt.ArrayLike,
    *,
    delta: float = 1.0,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Mean loss of a batch, from the output layer's ``Z_out`` and ``A_out = g(Z_out)``.

    All three arrays have shape ``(n, k)``; ``Y`` is the dense target matrix. The batch loss is
    the weighted mean of the per-sample losses ℓ_i,

        L = Σ_i w_i·ℓ_i / Σ_i w_i        (w = sample_weight; None means w_i = 1, i.e. L = mean ℓ_i)

    and is 0 when Σ_i w_i = 0. With r = A_ij − Y_ij, z = Z_ij, y = Y_ij:

    * mean_squared_error:        ℓ_i = (1/k) Σ_j r²
    * mean_absolute_error:       ℓ_i = (1/k) Σ_j |r|
    * huber:                     ℓ_i = (1/k) Σ_j (½r² if |r| ≤ delta else delta·(|r| − ½delta))
    * binary_cross_entropy:      ℓ_i = (1/k) Σ_j [max(z, 0) − z·y + log(1 + e^(−|z|))]
      −[y·log σ(z) + (1 − y)·log(1 − σ(z))], finite for any z
    * categorical_cross_entropy: ℓ_i = logsumexp(Z_i) − Σ_k Y_ik·Z_ik
    * poisson (identity output, y ≥ 0): ℓ_i = (1/k) Σ_j [e^z − y·z + y·log y − y]
      the half Poisson deviance y·log(y/μ) − y + μ of the rate μ = e^z (0·log 0 = 0)
    """
    _check_loss(loss)
    d = _check_delta(delta)
    Z, A, Y_ = _loss_inputs(Z_out, A_out, Y)
    n, k = Y_.shape
    w = _sample_weights(sample_weight, n, A.dtype)
    total_weight = np.sum(w)  # Σ_i w_i  (= n without weights)
    if total_weight == 0:
        return 0.0  # no sample counts: the loss of an all-zero-weight batch is defined as 0
    if loss == "categorical_cross_entropy":
        m = Z.max(axis=1)  # row max, for a stable logsumexp
        logsumexp = m + np.log(np.sum(np.exp(Z - m[:, None]), axis=1))  # log Σ_k e^(z_k)
        per_sample = logsumexp - np.sum(Y_ * Z, axis=1)  # ℓ_i = lse − y·z
        return float(np.sum(w * per_sample) / total_weight)  # Σ w_i ℓ_i / Σ w_i
    terms: Array
    if loss == "binary_cross_entropy":
        terms = np.maximum(Z, 0) - Z * Y_ + np.log1p(np.exp(-np.abs(Z)))  # stable BCE on z
    elif loss == "poisson":
        # e^z − y·z + y·log y − y, with 0·log 0 = 0 (log of 1 where y = 0)
        y_log_y = Y_ * np.log(np.where(Y_ > 0, Y_, 1))
        terms = np.exp(Z) - Y_ * Z + y_log_y - Y_
    else:
        terms = _elementwise_loss(loss, A, Y_, d)  # r², |r| or huber(r)
    # Σ_i w_i ℓ_i / Σ_i w_i with ℓ_i = (1/k) Σ_j terms_ij
    return float(np.sum(w[:, None] * terms) / (k * total_weight))


def output_delta(
    loss: str,
    activation: str,
    Z_out: npt.ArrayLike,
    A_out: npt.ArrayLike,
    Y: npt.ArrayLike,
    slope: float = 0.01,
    *,
    alpha: float = 1.0,
    delta: float = 1.0,
    sample_weight: npt.ArrayLike | None = None,
) -> Array:
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
    Z, A, Y_ = _loss_inputs(Z_out, A_out, Y)
    n, k = Y_.shape
    w = _sample_weights(sample_weight, n, A.dtype)
    total_weight = np.sum(w)
    if total_weight == 0:
        return np.zeros_like(A)  # the loss is constantly 0: so is its gradient
    if loss not in _REQUIRED_OUTPUT_ACTIVATION:  # mse, mae, huber
        scale = w / (k * total_weight)  # w_i / (k·W)  (= 1/(n·k) without weights)
        # dL/dA_ij = w_i · ℓ'(a_ij − y_ij) / (k·W)
        dA = scale[:, None] * _elementwise_loss_derivative(loss, A, Y_, d)
        # dL/dZ = g'(Z) ⊙ dL/dA
        return activation_backward(activation, Z, A, dA, slope, alpha=alpha)
    # Fused losses: the activation's derivative cancels the log, dL/dZ_i = w_i(ŷ_i − y_i)/N.
    count = k * total_weight if loss != "categorical_cross_entropy" else total_weight
    rate = np.exp(Z) if loss == "poisson" else A  # poisson: the rate e^z, not the output z
    dZ: Array = w[:, None] * (rate - Y_) / count  # w_i (ŷ − y)/N, N = k·W (BCE, poisson) or W
    return dZ


def loss(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike] | None,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    activations: Sequence[str],
    loss: str,
    slope: float = 0.01,
    *,
    alpha: float = 1.0,
    delta: float = 1.0,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Mean loss of the network on the batch ``(X, Y)``: forward pass, then :func:`loss_value`.

    ``X`` is ``(n, n_features)``, ``Y`` is ``(n, n_out)``, ``sample_weight`` (optional) is
    ``(n,)``.
    """
    Ws, bs, Xa = _check_network(weights, biases, X, activations)
    _check_loss_activation(loss, activations[-1])
    Zs, As = forward(Ws, bs, Xa, activations, slope, alpha=alpha)
    Ya = _as_float(Y, "Y", 2, dtype=As[-1].dtype)
    _check_same_shape(As[-1], Ya, "network output", "Y")
    return loss_value(loss, Zs[-1], As[-1], Ya, delta=delta, sample_weight=sample_weight)


# --------------------------------------------------------------------------------------------
# Backward pass (backpropagation)
# --------------------------------------------------------------------------------------------


def _backpropagate(
    Ws: list[Array],
    bs: list[Array] | None,
    Zs: list[Array],
    As: list[Array],
    Y: Array,
    activations: Sequence[str],
    loss: str,
    slope: float,
    alpha: float,
    delta: float,
    sample_weight: npt.ArrayLike | None,
) -> tuple[list[Array], list[Array] | None]:
    """Backpropagation proper, given the stored forward pass (see :func:`backward`)."""
    n_layers = len(Ws)
    dWs: list[Array] = [np.empty(0)] * n_layers
    dbs: list[Array] = [np.empty(0)] * n_layers
    # dL/dZ of the output (the sample weights enter only here)
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
        dWs[layer] = As[layer].T @ dZ  # dL/dW = A_prev^T · dL/dZ
        dbs[layer] = dZ.sum(axis=0)  # dL/db = Σ_rows dL/dZ
        if layer > 0:
            dA_prev = dZ @ Ws[layer].T  # dL/dA_prev = dL/dZ · W^T
            dZ = activation_backward(  # dL/dZ_prev = g'(Z_prev) ⊙ dL/dA_prev
                activations[layer - 1], Zs[layer - 1], As[layer], dA_prev, slope, alpha=alpha
            )
    return dWs, (dbs if bs is not None else None)


def backward(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike] | None,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
    activations: Sequence[str],
    loss: str,
    slope: float = 0.01,
    *,
    alpha: float = 1.0,
    delta: float = 1.0,
    sample_weight: npt.ArrayLike | None = None,
) -> tuple[list[Array], list[Array] | None]:
    """Gradients of the (weighted) mean batch loss with respect to every weight and bias.

    Returns ``(dWs, dbs)``; ``dWs[l]`` has the shape of ``weights[l]`` and ``dbs[l]`` the shape of
    ``biases[l]`` (``dbs`` is ``None`` when ``biases`` is ``None``). With ``L`` layers::

        dZ_L     = output_delta(loss, g_L, Z_L, A_L, Y)      (row i scaled by w_i / Σ w)
        for l = L, ..., 1:
            dW_l     = A_{l-1}^T @ dZ_l
            db_l     = dZ_l.sum(axis=0)
            dA_{l-1} = dZ_l @ W_l^T
            dZ_{l-1} = g'_{l-1}(Z_{l-1}) ⊙ dA_{l-1}
    """
    Ws, bs, Xa = _check_network(weights, biases, X, activations)
    _check_loss_activation(loss, activations[-1])
    Zs, As = forward(Ws, bs, Xa, activations, slope, alpha=alpha)
    Ya = _as_float(Y, "Y", 2, dtype=As[-1].dtype)
    _check_same_shape(As[-1], Ya, "network output", "Y")
    return _backpropagate(Ws, bs, Zs, As, Ya, activations, loss, slope, alpha, delta, sample_weight)


# --------------------------------------------------------------------------------------------
# Gradient descent and training
# --------------------------------------------------------------------------------------------


def sgd_step(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike] | None,
    dWs: Sequence[npt.ArrayLike],
    dbs: Sequence[npt.ArrayLike] | None,
    learning_rate: float,
) -> tuple[list[Array], list[Array] | None]:
    """One gradient-descent step; returns new ``(weights, biases)`` and leaves the inputs alone.

    ``W ← W − lr·dW`` and ``b ← b − lr·db`` for every layer (``dWs``/``dbs`` shaped like
    ``weights``/``biases``; ``biases`` and ``dbs`` are both ``None`` for a bias-free network).
    """
    if len(dWs) != len(weights):
        raise ValueError(f"dWs has {len(dWs)} entries but weights has {len(weights)} layers")
    if (biases is None) != (dbs is None):
        raise ValueError("biases and dbs must both be None or both be given")
    lr = float(learning_rate)  # a Python float keeps float32 arrays float32
    new_weights: list[Array] = []
    for layer, (W, dW) in enumerate(zip(weights, dWs, strict=True)):
        Wa, dWa = _as_float(W, f"weights[{layer}]", 2), _as_float(dW, f"dWs[{layer}]", 2)
        _check_same_shape(Wa, dWa, f"weights[{layer}]", f"dWs[{layer}]")
        new_weights.append(Wa - lr * dWa)  # W ← W − lr·dW
    if biases is None or dbs is None:
        return new_weights, None
    if len(dbs) != len(biases):
        raise ValueError(f"dbs has {len(dbs)} entries but biases has {len(biases)} layers")
    new_biases: list[Array] = []
    for layer, (b, db) in enumerate(zip(biases, dbs, strict=True)):
        ba, dba = _as_float(b, f"biases[{layer}]", 1), _as_float(db, f"dbs[{layer}]", 1)
        _check_same_shape(ba, dba, f"biases[{layer}]", f"dbs[{layer}]")
        new_biases.append(ba - lr * dba)  # b ← b − lr·db
    return new_weights, new_biases


def adam_step(
    parameters: Sequence[npt.ArrayLike],
    gradients: Sequence[npt.ArrayLike],
    state: dict[str, Any],
    learning_rate: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> list[Array]:
    """One Adam update of every parameter array (PyTorch's ``torch.optim.Adam`` formula).

    ``state`` is a dict the caller keeps between steps (empty at first); the step counter ``t``
    advances once per call, for all arrays together::

        t ← t + 1
        m ← β₁·m + (1 − β₁)·g            (first moment, per array, zero at first)
        v ← β₂·v + (1 − β₂)·g²           (second moment)
        θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)

    Returns the new parameters; the inputs are not modified (``state`` is updated in place).
    """
    if len(parameters) != len(gradients):
        raise ValueError("parameters and gradients must have the same number of arrays")
    if not state:
        state.update(
            t=0, m=[np.zeros_like(g) for g in gradients], v=[np.zeros_like(g) for g in gradients]
        )
    state["t"] += 1
    t = state["t"]
    lr = float(learning_rate)
    updated: list[Array] = []
    for index, (theta, g) in enumerate(zip(parameters, gradients, strict=True)):
        ga = np.asarray(g)
        state["m"][index] = beta1 * state["m"][index] + (1 - beta1) * ga  # m ← β₁m + (1−β₁)g
        state["v"][index] = beta2 * state["v"][index] + (1 - beta2) * ga * ga  # v ← β₂v + (1−β₂)g²
        m_hat = state["m"][index] / (1 - beta1**t)  # bias corrections
        v_hat = state["v"][index] / (1 - beta2**t)
        updated.append(np.asarray(theta) - lr * m_hat / (np.sqrt(v_hat) + eps))
    return updated


def fit(
    weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike] | None,
    X: npt.ArrayLike,
    Y: npt.ArrayLike,
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
    sample_weight: npt.ArrayLike | None = None,
    optimizer: str = "sgd",
) -> tuple[list[Array], list[Array] | None, list[float]]:
    """Train with mini-batch gradient descent; returns ``(weights, biases, epoch_losses)``.

    ``optimizer`` is ``"sgd"`` (``W ← W − lr·dW``, below) or ``"adam"`` (``adam_step`` with its
    default β₁, β₂, ε over all weights and biases).

    ``X`` is ``(n, n_features)``, ``Y`` is ``(n, n_out)``. For every epoch the rows are cut into
    batches ``[0:B]``, ``[B:2B]``, ... (the last may be smaller); if ``shuffle`` is true the rows
    are first permuted with ``np.random.default_rng(seed)`` (a new permutation every epoch). Per
    batch::

        forward  ->  batch_loss (before the update)  ->  backward  ->  W ← W − lr·dW, b ← b − lr·db

    ``sample_weight`` (shape ``(n,)``) travels with its rows: each batch's loss and gradient are
    the weighted mean over that batch's rows (a batch whose weights are all 0 makes no update).
    The recorded loss of an epoch is the weighted mean over the whole epoch,

        epoch_losses[e] = Σ_batches batch_loss · (Σ_{i∈batch} w_i) / Σ_i w_i

    (``Σ_batches batch_loss · batch_size / n`` without weights; 0 if every weight is 0).
    The inputs are not modified: trained copies are returned.
    """
    Ws, bs, Xa = _check_network(weights, biases, X, activations)
    _check_loss_activation(loss, activations[-1])
    d = _check_delta(delta)
    Ya = _as_float(Y, "Y", 2)
    n = Xa.shape[0]
    if Ya.shape[0] != n:
        raise ValueError(f"Y has {Ya.shape[0]} rows but X has {n}")
    if Ya.shape[1] != Ws[-1].shape[1]:
        raise ValueError(
            f"Y has {Ya.shape[1]} columns but the network has {Ws[-1].shape[1]} outputs"
        )
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    w = _sample_weights(sample_weight, n, np.float64)
    total_weight = float(np.sum(w))  # Σ_i w_i over the whole data set
    Ws = [W.copy() for W in Ws]  # never hand back (or modify) the caller's arrays
    bs = [b.copy() for b in bs] if bs is not None else None
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    adam_state: dict[str, Any] = {}
    rng = np.random.default_rng(seed)
    epoch_losses: list[float] = []
    for _epoch in range(epochs):
        order = rng.permutation(n) if shuffle else np.arange(n)
        weighted_sum = 0.0
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            X_batch, Y_batch, w_batch = Xa[rows], Ya[rows], w[rows]  # weights follow their rows
            Zs, As = forward(Ws, bs, X_batch, activations, slope, alpha=alpha)
            # loss before the update
            batch_loss = loss_value(loss, Zs[-1], As[-1], Y_batch, delta=d, sample_weight=w_batch)
            dWs, dbs = _backpropagate(
                Ws, bs, Zs, As, Y_batch, activations, loss, slope, alpha, d, w_batch
            )
            if optimizer == "adam":
                updated = adam_step(Ws + (bs or []), dWs + (dbs or []), adam_state, learning_rate)
                Ws, bs = updated[: len(Ws)], (updated[len(Ws) :] if bs is not None else None)
            else:
                Ws, bs = sgd_step(Ws, bs, dWs, dbs, learning_rate)  # W ← W − lr·dW
            weighted_sum += batch_loss * float(np.sum(w_batch))  # Σ_{i∈batch} w_i ℓ_i
        # weighted mean over the epoch (defined as 0 when every weight is 0)
        epoch_losses.append(weighted_sum / total_weight if total_weight > 0 else 0.0)
    return Ws, bs, epoch_losses
