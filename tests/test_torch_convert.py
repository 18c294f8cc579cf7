"""``model.to_torch()`` and ``nncore.from_torch(module)`` against each other and ``forward``:
every layer, every activation (from the registries), both dtypes; gradients in training mode
(BatchNorm with the batch's statistics) against torch's autograd.

Tolerances: outputs within 1e-6 (float32) / 1e-12 (float64) times the largest output
magnitude; gradients within 1e-10 of the largest gradient entry (float64)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import nncore
from conftest import coded_features, randomize
from nncore import layers as L

torch = pytest.importorskip(
    "torch", reason="the PyTorch conversion is checked with PyTorch (requirements/reference.txt)"
)
nn = torch.nn

from nncore import torch_convert  # noqa: E402 - after the skip

TOLERANCE = {"float32": 1e-6, "float64": 1e-12}
DTYPES = tuple(TOLERANCE)


def every_layer(activation: str) -> list[L.Layer]:
    options = {"leaky_relu_slope": 0.2, "elu_alpha": 0.7}
    hidden = "tanh" if activation == "softmax" else activation
    return [
        L.Embedding([0, 3], [3, 4], 2),
        L.Dense(6, hidden, **options),
        L.BatchNorm(momentum=0.2, eps=1e-4),
        L.Residual([L.LayerNorm(eps=1e-6), L.Activation(hidden, **options), L.Dense(6)]),
        L.Dropout(0.3),
        L.Dense(3, activation if activation == "softmax" else "sigmoid", use_bias=False),
    ]


def random_model(layers: list[L.Layer], dtype: str, seed: int) -> nncore.Sequential:
    return randomize(nncore.Sequential(layers, 5, dtype=dtype, seed=seed), seed)


features = coded_features


def torch_output(module: Any, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        result: np.ndarray = module(torch.from_numpy(X)).numpy()
    return result


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE[dtype] * scale)


def canonical(config: Any) -> Any:
    """A layer config with the leaky_relu slope and elu alpha of the other activations (which
    use neither, and which torch's modules do not keep) at their defaults."""
    if isinstance(config, list):
        return [canonical(entry) for entry in config]
    if not isinstance(config, dict):
        return config
    config = {key: canonical(value) for key, value in config.items()}
    activation = config.get("activation", config.get("name"))
    if "leaky_relu_slope" in config and activation != "leaky_relu":
        config["leaky_relu_slope"] = 0.01
    if "elu_alpha" in config and activation != "elu":
        config["elu_alpha"] = 1.0
    return config


def test_every_activation_has_a_torch_module() -> None:
    assert set(torch_convert.TORCH_ACTIVATIONS) == set(nncore.ACTIVATIONS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", nncore.ACTIVATIONS)
def test_to_torch_and_back(activation: str, dtype: str) -> None:
    model = random_model(every_layer(activation), dtype, seed=len(activation))
    module = model.to_torch()
    assert not module.training
    assert {p.dtype for p in module.parameters()} == {getattr(torch, dtype)}
    X = features(7, dtype, seed=1)
    assert_close(torch_output(module, X), model.forward(X), dtype)
    back = nncore.from_torch(module)
    assert back.dtype == model.dtype
    if activation != "identity":  # Activation("identity") becomes nn.Identity, then nothing
        configs = [canonical(layer.config()) for layer in back.layers]
        assert configs == [canonical(layer.config()) for layer in model.layers]
        np.testing.assert_array_equal(back.parameters, model.parameters)
    for name, array in model.state.items():
        np.testing.assert_array_equal(back.state[name], array)
    np.testing.assert_array_equal(back.forward(X), model.forward(X))


def test_a_converted_module_saves_and_loads_with_torch(tmp_path: Any) -> None:
    """``torch.save`` pickles the Residual and ColumnEmbedding classes by their module path;
    a new interpreter loads them (nncore.torch_convert defines them on that lookup)."""
    model = random_model(every_layer("relu"), "float64", seed=0)
    X = features(7, "float64", seed=0)
    torch.save(model.to_torch(), tmp_path / "module.pt")
    np.save(tmp_path / "X.npy", X)
    code = (
        "import sys, numpy as np, torch\n"
        "module = torch.load(sys.argv[1], weights_only=False)\n"
        "with torch.no_grad():\n"
        "    np.save(sys.argv[2], module(torch.from_numpy(np.load(sys.argv[3]))).numpy())\n"
    )
    paths = [tmp_path / "module.pt", tmp_path / "output.npy", tmp_path / "X.npy"]
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert_close(np.load(tmp_path / "output.npy"), model.forward(X), "float64")


def test_batch_norm_running_statistics_after_training() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 5.0, (64, 4)).astype(np.float32)
    y = (X[:, 0] > 3.0).astype(np.int64)
    model = nncore.Sequential(
        [L.Dense(8, "relu"), L.BatchNorm(momentum=0.3), L.Dense(2, "softmax")], 4, seed=0
    )
    model.fit(X, y, learning_rate=0.05, epochs=5, batch_size=16)
    module = model.to_torch()
    batch_norm = module[2]
    assert isinstance(batch_norm, nn.BatchNorm1d) and batch_norm.momentum == 0.3
    np.testing.assert_array_equal(batch_norm.running_mean.numpy(), model.state["1.running_mean"])
    np.testing.assert_array_equal(batch_norm.running_var.numpy(), model.state["1.running_var"])
    assert np.all(model.state["1.running_var"] != 1.0)
    assert_close(torch_output(module, X), model.forward(X), "float32")


@pytest.mark.parametrize("activation", ["gelu", "elu", "softmax"])
def test_training_mode_gradients_are_torch_autograds(activation: str) -> None:
    """A user can continue in PyTorch: in training mode (no dropout, BatchNorm with the batch's
    statistics) torch's gradient of the MSE is ``model.gradient``."""
    layers = [layer for layer in every_layer(activation) if not isinstance(layer, L.Dropout)]
    model = random_model(layers, "float64", seed=2)
    X = features(9, "float64", seed=3)
    Y = np.random.default_rng(4).normal(size=(9, 3))
    module = model.to_torch().train()
    loss = nn.functional.mse_loss(module(torch.from_numpy(X)), torch.from_numpy(Y))
    loss.backward()
    with torch.no_grad():  # the gradients in place of the weights: from_torch lays them out
        for parameter in module.parameters():
            parameter.copy_(parameter.grad)
    gradient = nncore.from_torch(module).parameters
    expected = model.gradient(X, Y, loss="mse")
    np.testing.assert_allclose(gradient, expected, rtol=0, atol=1e-10 * np.abs(expected).max())


def test_from_torch_merges_linear_and_activation() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Linear(4, 8),
        nn.GELU(),
        nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 8, bias=False), nn.LeakyReLU(0.3)),
        nn.BatchNorm1d(8),
        nn.Dropout(0.1),
        nn.Identity(),
        nn.Tanh(),
        nn.Linear(8, 3),
        nn.Softmax(dim=-1),
    ).double()
    module[3].running_mean.normal_()
    module[3].running_var.uniform_(0.5, 2.0)
    module.eval()
    model = nncore.from_torch(module)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense",
        "LayerNorm",
        "Dense",
        "BatchNorm",
        "Dropout",
        "Activation",
        "Dense",
    ]
    assert model.layers[0].activation == "gelu" and model.layers[2].activation == "leaky_relu"
    assert model.layers[2].leaky_relu_slope == 0.3 and not model.layers[2].use_bias
    assert model.output_activation == "softmax" and model.dtype == np.float64
    X = np.random.default_rng(0).normal(size=(7, 4))
    assert_close(model.forward(X), torch_output(module, X), "float64")


def test_from_torch_needs_the_width_only_when_nothing_says_it() -> None:
    module = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))
    assert nncore.from_torch(module).n_inputs == 3
    with pytest.raises(ValueError, match="n_inputs"):
        nncore.from_torch(nn.Sequential(nn.ReLU()))
    assert nncore.from_torch(nn.Sequential(nn.ReLU()), n_inputs=4).n_inputs == 4


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (nn.Sequential(nn.Linear(4, 4), nn.Conv1d(1, 1, 1)), r"module 1 \(Conv1d\): nncore has no"),
        (
            nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), nn.GRU(4, 4))),
            r"module 1\.1 \(GRU\)",
        ),
        (nn.Sequential(nn.LayerNorm([2, 2])), r"module 0 \(LayerNorm\): .*last dimension"),
        (
            nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False)),
            r"module 0 \(BatchNorm1d\): .*running statistics",
        ),
        (nn.Sequential(nn.Softplus(beta=2.0)), r"module 0 \(Softplus\)"),
        (nn.Sequential(nn.Linear(4, 3), nn.Linear(5, 2)), "do not chain"),
        (nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1), nn.Linear(3, 2)), "softmax"),
        (nn.Sequential(nn.Linear(4, 3).double(), nn.Linear(3, 2)), "float32 or all"),
        (nn.Sequential(), "no layers"),
    ],
)
def test_from_torch_refusals_name_the_module(module: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        nncore.from_torch(module)


def test_from_torch_refuses_a_non_module() -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        nncore.from_torch([nn.Linear(2, 2)])
    with pytest.raises(TypeError, match="model"):
        torch_convert.to_torch("not a model")


def test_importing_nncore_imports_neither_torch_nor_onnx() -> None:
    code = (
        "import sys, nncore, nncore.onnx_export, nncore.torch_convert, nncore.cli\n"
        "nncore.from_torch\n"
        "loaded = [m for m in ('torch', 'onnx', 'onnxruntime', 'skl2onnx') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
