"""Shared test helpers: random problems and the bridge from an ``MLP`` to ``nncore.reference``.

The helpers are plain functions (importable as ``from conftest import ...``) and are also offered
as fixtures of the same name, for tests that prefer fixtures.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import nncore

# Hypothesis budgets. "ci" (the default) keeps the property and fuzz tests to a few seconds each;
# NNCORE_HYPOTHESIS=thorough runs 25x as many examples (a local hunt; see README, Reliability).
# Examples are derandomised in CI so that a red run is reproducible; no deadline (the sanitizer
# build is ~10x slower), the fuzz tests bound each input's time themselves.
settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("NNCORE_HYPOTHESIS", "ci"))

Array = np.ndarray


def canonical_loss(loss: str | None, output_activation: str) -> str:
    """The full loss name for an alias or ``None`` (the loss fused with the output activation)."""
    aliases = {
        "mse": "mean_squared_error",
        "bce": "binary_cross_entropy",
        "cce": "categorical_cross_entropy",
    }
    if loss is None:
        fused = {"sigmoid": "binary_cross_entropy", "softmax": "categorical_cross_entropy"}
        return fused.get(output_activation, "mean_squared_error")
    return aliases.get(loss, loss)


def random_targets(
    rng: np.random.Generator, loss: str, n: int, n_outputs: int, one_hot: bool = False
) -> tuple[Array, Array]:
    """Random targets ``(y, Y_dense)`` for ``loss`` (any alias): ``y`` is what ``MLP`` accepts,
    ``Y_dense`` the float64 ``(n, n_outputs)`` matrix ``nncore.reference`` takes.

    mse: standard normal values; bce: 0/1 labels; cce: class indices (or one-hot rows with
    ``one_hot=True``).
    """
    loss = canonical_loss(loss, "identity")
    if loss == "categorical_cross_entropy":
        labels = rng.integers(0, n_outputs, size=n)
        dense = np.zeros((n, n_outputs))
        dense[np.arange(n), labels] = 1.0
        return (dense.copy() if one_hot else labels), dense
    if loss == "binary_cross_entropy":
        dense = rng.integers(0, 2, size=(n, n_outputs)).astype(np.float64)
    else:
        dense = rng.normal(size=(n, n_outputs))
    return dense.copy(), dense


def random_problem(
    rng: np.random.Generator,
    layer_sizes: list[int],
    activation: str = "tanh",
    output_activation: str = "identity",
    loss: str | None = None,
    n: int = 8,
    dtype: str = "float64",
    use_bias: bool = True,
    *,
    leaky_relu_slope: float = 0.01,
    one_hot: bool = False,
    bias_scale: float = 0.5,
) -> tuple[nncore.MLP, Array, Array, Array]:
    """A seeded model with random data: returns ``(model, X, y, Y_dense)``.

    The model's seed is drawn from ``rng``; its biases (zero after initialisation) are set to
    ``N(0, bias_scale²)`` values so that bias gradients are exercised. ``X`` is standard normal in
    the model's dtype; ``y``/``Y_dense`` are as in ``random_targets``.
    """
    model = nncore.MLP(
        layer_sizes,
        activation=activation,
        output_activation=output_activation,
        dtype=dtype,
        seed=int(rng.integers(0, 2**63)),
        use_bias=use_bias,
        leaky_relu_slope=leaky_relu_slope,
    )
    if use_bias and bias_scale:
        for bias in model.biases:
            bias[...] = rng.normal(scale=bias_scale, size=bias.shape)
    X = rng.normal(size=(n, layer_sizes[0])).astype(dtype)
    y, Y_dense = random_targets(
        rng, canonical_loss(loss, output_activation), n, layer_sizes[-1], one_hot
    )
    return model, X, y, Y_dense


def reference_parameters(
    model: nncore.MLP, dtype: Any = np.float64
) -> tuple[list[Array], list[Array] | None]:
    """Copies of the model's ``(weights, biases)`` cast to ``dtype``, in the form
    ``nncore.reference`` expects (``biases`` is ``None`` for a model without bias)."""
    weights, biases = model.get_parameters()
    weights = [np.asarray(w, dtype=dtype) for w in weights]
    if not model.use_bias:
        return weights, None
    return weights, [np.asarray(b, dtype=dtype) for b in biases]


def assert_close_scaled(actual: Any, expected: Any, rtol: float, atol_scale: float, what: str):
    """``|actual − expected| <= rtol·|expected| + atol_scale·max|expected|`` elementwise."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    assert np.asarray(actual).shape == expected.shape, what
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        expected,
        rtol=rtol,
        atol=atol_scale * scale,
        err_msg=what,
    )


def reference_gradients(
    gradients: list[tuple[Array, Array | None]],
) -> tuple[list[Array], list[Array] | None]:
    """``MLP.backward``'s list of ``(dW, db)`` pairs as the reference's ``(dWs, dbs)``."""
    dWs = [dW for dW, _ in gradients]
    if gradients[0][1] is None:
        return dWs, None
    return dWs, [db for _, db in gradients]


def randomize(model: Any, seed: int) -> Any:
    """``model`` with N(0, 1) parameters and random non-trivial state (running variances in
    [0.5, 2], the other buffers N(0, 1)), drawn from ``seed``: a model far from its
    initialisation, for comparing its forward pass with another runtime's."""
    rng = np.random.default_rng(seed)
    model.parameters[:] = rng.normal(0.0, 1.0, model.n_parameters)
    for name, array in model.state.items():
        array[...] = (
            rng.uniform(0.5, 2.0, array.shape) if "var" in name else rng.normal(size=array.shape)
        )
    return model


def coded_features(n: int, dtype: str, seed: int) -> Any:
    """``(n, 5)`` inputs, columns 0 and 3 integer codes (of cardinality 3 and 4)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 2.0, (n, 5))
    X[:, 0] = rng.integers(0, 3, n)
    X[:, 3] = rng.integers(0, 4, n)
    return X.astype(dtype)


def corrupt_model_maker() -> Any:
    """``tests/data/make_corrupt_models.py`` as a module (it is a script, not a package): the
    writer of hand-made model files, valid and invalid, from the format's specification alone."""
    path = Path(__file__).resolve().parent / "data" / "make_corrupt_models.py"
    spec = importlib.util.spec_from_file_location("make_corrupt_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_finite(model: nncore.MLP) -> bool:
    """Whether every weight and bias of ``model`` is finite."""
    weights, biases = model.get_parameters()
    return all(bool(np.isfinite(a).all()) for a in [*weights, *biases])


@pytest.fixture(name="random_problem")
def random_problem_fixture() -> Any:
    return random_problem


@pytest.fixture(name="reference_parameters")
def reference_parameters_fixture() -> Any:
    return reference_parameters


@pytest.fixture
def without_blas() -> Iterator[None]:
    """Products on Eigen for the test (no registered BLAS: the core then also splits long passes
    over the parameters across its threads); the choice of ``NNCORE_BLAS`` afterwards."""
    from nncore import _blas
    from nncore.config import _use_blas_from_environment

    _blas.use("eigen")
    yield
    _use_blas_from_environment()
