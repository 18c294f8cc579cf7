"""Small data sets generated in the package (nothing is downloaded): for the demo, the examples
and the tests. Each returns ``(X, y)`` with ``X`` float64 of shape ``(n_samples, n_features)``."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ._validation import check_float, check_int

Array = npt.NDArray[Any]


def make_xor() -> tuple[Array, Array]:
    """The four points of XOR: ``X`` (4, 2) in {0, 1}², ``y`` (4,) = x1 XOR x2 (int)."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def make_spirals(
    n_samples: int = 600, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[Array, Array]:
    """Interleaved spiral arms in the plane, one per class.

    ``X`` (n_samples, 2) with coordinates in about [-1, 1]; ``y`` (n_samples,) class indices
    ``0..n_classes-1`` (int), balanced (the first ``n_samples % n_classes`` classes get one more).
    ``noise`` is the standard deviation of the angular jitter, in radians.
    """
    n_samples = check_int(n_samples, "n_samples", 1)
    n_classes = check_int(n_classes, "n_classes", 1)
    noise = check_float(noise, "noise", minimum=0.0)
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    y = np.arange(n_samples) % n_classes
    radius = rng.uniform(0.05, 1.0, n_samples)
    # Arm k: angle grows with the radius (two turns per arm), arms rotated by 2πk/n_classes.
    angle = 4.0 * radius + 2.0 * np.pi * y / n_classes + rng.normal(0.0, noise, n_samples)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X, y


def make_sine(n_samples: int = 256, noise: float = 0.0, seed: int = 0) -> tuple[Array, Array]:
    """``y = sin(x)`` on ``x`` in [-π, π]: ``X`` (n_samples, 1), ``y`` (n_samples, 1), with
    Gaussian noise of standard deviation ``noise`` added to ``y``."""
    n_samples = check_int(n_samples, "n_samples", 1)
    noise = check_float(noise, "noise", minimum=0.0)
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    X = np.linspace(-np.pi, np.pi, n_samples).reshape(-1, 1)
    return X, np.sin(X) + rng.normal(0.0, noise, X.shape)
