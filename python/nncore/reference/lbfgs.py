"""L-BFGS's pieces, written to be read: the two-loop recursion and the strong Wolfe conditions.

The native core (``cpp/src/lbfgs.cpp``) computes the L-BFGS direction and checks its line search's
steps with the same formulas; the tests compare it with these (NumPy only, no ``_core``).

The two-loop recursion (Nocedal & Wright, *Numerical Optimization*, Algorithm 7.4) computes
``d = −H·g``, where ``H`` is the L-BFGS approximation of the inverse Hessian built from the last
``m`` pairs ``s_i = x_{i+1} − x_i``, ``y_i = ∇F(x_{i+1}) − ∇F(x_i)`` (each with ``s_iᵀy_i > 0``),
starting from ``H⁰ = γ·I``, ``γ = sᵀy / yᵀy`` of the newest pair. It is the same as applying the
BFGS update ``H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ`` (``ρ = 1/yᵀs``) once per pair, oldest
first, to ``H⁰`` — which ``inverse_hessian`` does with dense matrices, for checking.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

#: c1 (sufficient decrease) and c2 (curvature) of the strong Wolfe conditions.
WOLFE_C1 = 1e-4
WOLFE_C2 = 0.9


def two_loop_direction(g: Array, S: Array, Y: Array) -> Array:
    """``d = −H·g`` for the pairs ``(S[i], Y[i])``, oldest first (``S``, ``Y``: ``(k, n)``)."""
    q = np.array(g, dtype=np.float64)
    k = len(S)
    rho = [1.0 / float(np.dot(Y[i], S[i])) for i in range(k)]
    a = [0.0] * k
    for i in reversed(range(k)):  # newest to oldest
        a[i] = rho[i] * float(np.dot(S[i], q))
        q = q - a[i] * Y[i]
    if k:
        q = q * (float(np.dot(S[-1], Y[-1])) / float(np.dot(Y[-1], Y[-1])))  # H⁰ = γ·I
    for i in range(k):  # oldest to newest
        b = rho[i] * float(np.dot(Y[i], q))
        q = q + (a[i] - b) * S[i]
    return -q


def inverse_hessian(S: Array, Y: Array, n: int) -> Array:
    """The dense ``(n, n)`` matrix ``H`` the two-loop recursion applies: ``H⁰ = γ·I``, then one
    BFGS update per pair, oldest first."""
    gamma = float(np.dot(S[-1], Y[-1]) / np.dot(Y[-1], Y[-1])) if len(S) else 1.0
    H = gamma * np.eye(n)
    identity = np.eye(n)
    for s, y in zip(S, Y, strict=True):
        rho = 1.0 / float(np.dot(y, s))
        H = (identity - rho * np.outer(s, y)) @ H @ (identity - rho * np.outer(y, s))
        H = H + rho * np.outer(s, s)
    return H


def strong_wolfe(
    f0: float,
    g0: Array,
    f1: float,
    g1: Array,
    step: Array,
    c1: float = WOLFE_C1,
    c2: float = WOLFE_C2,
) -> tuple[bool, bool]:
    """Whether the step ``x1 − x0`` (``step``, any scale of ``α·d``) from ``x0`` (``f0``, ``g0``)
    to ``x1`` (``f1``, ``g1``) satisfies (sufficient decrease, curvature)::

        f1 <= f0 + c1·g0ᵀ(x1 − x0)
        |g1ᵀ(x1 − x0)| <= c2·|g0ᵀ(x1 − x0)|
    """
    slope0 = float(np.dot(g0, step))
    slope1 = float(np.dot(g1, step))
    return f1 <= f0 + c1 * slope0, abs(slope1) <= c2 * abs(slope0)
