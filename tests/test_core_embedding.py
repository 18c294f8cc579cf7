"""The core's Embedding layer (cpp/include/nncore/layers/embedding.hpp) as the bindings show it:
integer codes of some columns of X replaced by rows of one learned table, the network's first
layer. Checked against the NumPy reference (``nncore.reference.layers.Embedding``: 1e-12 relative
in float64, 1e-5 in float32), central finite differences, and torch (``nn.Embedding`` + ``cat``
+ ``Linear``, autograd, 1e-9 in float64) where installed; bad codes and arguments are
ValueErrors that change nothing."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import nncore
from nncore import _core
from nncore.reference import layers as R

EMPTY64 = np.zeros(0)
N_IN, COLUMNS, CARDINALITIES, DIM = 6, [4, 1], [5, 3], 3  # codes in columns 4 and 1
NUMERIC = [0, 2, 3, 5]
HIDDEN, N_OUT = 7, 2

_CORE: dict[str, Any] = {
    "float32": (_core.EmbeddingF32, _core.DenseF32, _core.DropoutF32, _core.SequentialF32),
    "float64": (_core.EmbeddingF64, _core.DenseF64, _core.DropoutF64, _core.SequentialF64),
}


def core_model(
    dtype: str = "float64", dropout: float | None = None, seed: int = 0, output: str = "identity"
) -> Any:
    """Embedding → Dense(tanh) [→ Dropout] → Dense(output), initialised from Random(seed)."""
    embedding_class, dense, dropout_class, sequential = _CORE[dtype]
    embedding = embedding_class(N_IN, COLUMNS, CARDINALITIES, DIM)
    layers = [embedding, dense(embedding.n_outputs, HIDDEN, "tanh", 0.01, 1.0, True)]
    if dropout is not None:
        layers.append(dropout_class(HIDDEN, dropout))
    layers.append(dense(HIDDEN, N_OUT, output, 0.01, 1.0, True))
    model = sequential(layers)
    model.initialize("glorot_uniform", _core.Random(seed))
    return model


def reference_of(
    model: Any, dtype: str = "float64", dropout: float | None = None, output: str = "identity"
) -> R.Sequential:
    """The same stack in the NumPy reference, with the core model's parameters."""
    layers: list[R.Layer] = [R.Embedding(COLUMNS, CARDINALITIES, DIM), R.Dense(HIDDEN, "tanh")]
    if dropout is not None:
        layers.append(R.Dropout(dropout))
    layers.append(R.Dense(N_OUT, output))
    return R.Sequential(layers, N_IN, dtype=dtype, parameters=model.parameters)


def data(n: int, dtype: str = "float64", seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """X with normal numeric columns and codes (each seen several times when n > 5), Y normal."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_IN))
    for column, cardinality in zip(COLUMNS, CARDINALITIES, strict=True):
        X[:, column] = rng.integers(0, cardinality, n)
    return X.astype(dtype), rng.normal(size=(n, N_OUT)).astype(dtype)


def test_layout_widths_and_initial_table() -> None:
    model = core_model()
    assert model.parameter_layout[0] == ("0.table", (8, DIM), 0)
    assert model.parameter_layout[1] == ("1.W", (4 + 2 * DIM, HIDDEN), 24)
    assert model.state_layout == [] and model.min_training_rows == 1
    layer = _core.EmbeddingF64(N_IN, COLUMNS, CARDINALITIES, DIM)
    assert (layer.kind, layer.n_inputs, layer.n_outputs) == ("Embedding", 6, 10)
    assert layer.parameters == [("table", [8, DIM])]
    # N(0, 1) draws of the generator in buffer order, whatever the initializer's name
    random = _core.Random(3)
    expected = np.array([random.normal() for _ in range(8 * DIM)])
    for initializer in ("glorot_uniform", "he_normal"):
        alone = _core.SequentialF64([layer])
        alone.initialize(initializer, _core.Random(3))
        assert alone.parameters.tobytes() == expected.tobytes()


def test_a_large_table_is_standard_normal() -> None:
    model = _core.SequentialF32([_core.EmbeddingF32(2, [1], [4000], 10)])
    model.initialize("he_uniform", _core.Random(0))
    table = model.parameters.astype(np.float64)
    assert abs(table.mean()) < 0.03 and abs(table.std() - 1.0) < 0.02  # 40000 draws: ~4 sigma


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-12), ("float32", 1e-5)])
def test_forward_and_gradient_agree_with_the_reference(dtype: str, rtol: float) -> None:
    model = core_model(dtype, dropout=0.3)
    reference = reference_of(model, dtype, dropout=0.3)
    X, Y = data(13, dtype)
    np.testing.assert_allclose(model.forward(X), reference.forward(X, False), rtol=rtol, atol=rtol)
    loss, gradient = model.gradient(X, Y, np.zeros(0, dtype), "mse", 1.0)
    expected = reference.gradient(X, Y, "mean_squared_error")
    np.testing.assert_allclose(gradient, expected, rtol=rtol, atol=rtol * 1e-3)
    assert loss == pytest.approx(reference.loss(X, Y, "mean_squared_error"), rel=rtol)
    assert not model.gradients.any()  # gradient() changed nothing


def test_the_layer_alone_is_the_gather() -> None:
    """Y = [X_numeric, table[x_4], table[5 + x_1]] written out, and an unseen code's rows get 0."""
    model = _core.SequentialF64([_core.EmbeddingF64(N_IN, COLUMNS, CARDINALITIES, DIM)])
    model.initialize("glorot_uniform", _core.Random(2))
    table = model.parameters.reshape(8, DIM)
    X = np.array([[0.5, 2, -1, 3, 4, 7], [1.5, 0, 2, -3, 4, 8], [2.5, 2, 1, 0, 0, 9]])
    codes4, codes1 = X[:, 4].astype(int), X[:, 1].astype(int)
    expected = np.hstack([X[:, NUMERIC], table[codes4], table[5 + codes1]])
    assert model.forward(X).tobytes() == expected.tobytes()
    Y = np.zeros((3, 10))
    _, gradient = model.gradient(X, Y, EMPTY64, "mse", 1.0)
    dY = 2.0 * expected / expected.size
    dtable = np.zeros((8, DIM))
    np.add.at(dtable, codes4, dY[:, 4:7])  # code 4 twice: added twice
    np.add.at(dtable, 5 + codes1, dY[:, 7:10])
    np.testing.assert_allclose(gradient.reshape(8, DIM), dtable, rtol=1e-15, atol=0)
    assert not dtable[[1, 2, 3, 6]].any()  # codes never seen


def test_the_gradient_matches_central_finite_differences() -> None:
    model = core_model()
    X, Y = data(6)
    _, gradient = model.gradient(X, Y, EMPTY64, "mse", 1.0)
    h, numeric = 1e-6, np.empty_like(gradient)
    for i in range(gradient.size):
        saved = model.parameters[i]
        model.parameters[i] = saved + h
        plus = model.evaluate(X, Y, EMPTY64, "mse", 1.0)[0]
        model.parameters[i] = saved - h
        minus = model.evaluate(X, Y, EMPTY64, "mse", 1.0)[0]
        model.parameters[i] = saved
        numeric[i] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-12), ("float32", 1e-5)])
def test_fit_follows_the_reference_sgd(dtype: str, rtol: float) -> None:
    model = core_model(dtype, output="softmax")
    reference = reference_of(model, dtype, output="softmax")
    X, _ = data(23, dtype)
    Y = np.eye(N_OUT, dtype=dtype)[np.random.default_rng(4).integers(0, N_OUT, 23)]
    optimizer = (_core.SGDF64 if dtype == "float64" else _core.SGDF32)(0.1)
    options = _core.FitOptions(
        epochs=3, batch_size=5, shuffle=False, loss="categorical_cross_entropy"
    )
    history, _ = _core.fit(
        model, optimizer, _core.Random(0), (X, Y, np.zeros(0, dtype)), None, options
    )
    steps = reference.fit(X, Y, "categorical_cross_entropy", 0.1, epochs=3, batch_size=5)
    np.testing.assert_allclose(model.parameters, steps[-1].parameters, rtol=rtol, atol=rtol)
    assert len(history) == 3


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = nncore.get_num_threads()
    yield
    nncore.set_num_threads(before)


def test_batches_split_into_blocks_of_rows_match_the_reference(restore_threads: None) -> None:
    """Row blocks on 2 threads, the gradient in 2 parts, the cut inside the table (at a row)."""
    columns, cardinalities, dim, n_in = [0, 2, 3], [1000, 1500, 700], 16, 6
    layers = [_core.EmbeddingF64(n_in, columns, cardinalities, dim)]
    widths = [n_in - 3 + 3 * dim, 128, 128, 4]
    layers += [_core.DenseF64(a, b, "tanh", 0.01, 1.0, True) for a, b in itertools.pairwise(widths)]
    model = _core.SequentialF64(layers)
    model.initialize("glorot_uniform", _core.Random(1))
    table_size = 3200 * dim
    assert table_size > model.parameters.size / 2  # the 2 gradient parts meet in the table
    rng = np.random.default_rng(5)
    X = rng.normal(size=(64, n_in))
    X[:, columns] = rng.integers(0, 700, (64, 3))
    Y = rng.normal(size=(64, 4))
    reference = R.Sequential(
        [R.Embedding(columns, cardinalities, dim)] + [R.Dense(w, "tanh") for w in widths[1:]],
        n_in,
        parameters=model.parameters,
    )
    nncore.set_num_threads(2)
    before = _core._split_batches()
    options = _core.FitOptions(epochs=2, batch_size=32, shuffle=False)
    _core.fit(model, _core.SGDF64(0.05), _core.Random(0), (X, Y, EMPTY64), None, options)
    assert _core._split_batches() > before
    steps = reference.fit(X, Y, "mean_squared_error", 0.05, epochs=2, batch_size=32)
    np.testing.assert_allclose(model.parameters, steps[-1].parameters, rtol=1e-12, atol=1e-14)


BAD_CODES = [(4, 5.0, "5"), (4, 2.5, "2.5"), (1, -1.0, "-1"), (1, 3.0, "3")]


@pytest.mark.parametrize(("column", "value", "shown"), BAD_CODES)
def test_a_bad_code_is_refused_by_forward_gradient_and_fit(
    column: int, value: float, shown: str
) -> None:
    model = core_model()
    X, Y = data(9)
    X[6, column] = value
    message = re.escape(f"column {column} of X holds {shown} in row 6, not an integer code")
    with pytest.raises(ValueError, match=message):
        model.forward(X)
    with pytest.raises(ValueError, match=message):
        model.gradient(X, Y, EMPTY64, "mse", 1.0)
    with pytest.raises(ValueError, match=message):
        model.backward(X, Y, EMPTY64, "mse", 1.0)
    assert not model.gradients.any()
    parameters, random = model.parameters.copy(), _core.Random(7)
    good_X, good_Y = data(9)
    options = _core.FitOptions(epochs=2, batch_size=4, shuffle=True)
    for train, validation in [
        ((X, Y, EMPTY64), None),
        ((good_X, good_Y, EMPTY64), (X, Y, EMPTY64)),
    ]:
        optimizer = _core.AdamF64(0.01)
        with pytest.raises(ValueError, match=message):
            _core.fit(model, optimizer, random, train, validation, options)
        assert model.parameters.tobytes() == parameters.tobytes()
        assert random.state == _core.Random(7).state
        # the optimizer too: a fit after the failed one is a fit from the start
        _core.fit(model, optimizer, random, (good_X, good_Y, EMPTY64), None, options)
        fresh = core_model()
        _core.fit(
            fresh, _core.AdamF64(0.01), _core.Random(7), (good_X, good_Y, EMPTY64), None, options
        )
        assert model.parameters.tobytes() == fresh.parameters.tobytes()
        model.parameters[:] = parameters
        random = _core.Random(7)


def test_float32_codes_and_non_finite_codes() -> None:
    model = core_model("float32")
    X, _ = data(4, "float32")
    X[0, 4] = np.float32(1.5)
    with pytest.raises(ValueError, match=re.escape("column 4 of X holds 1.5 in row 0")):
        model.forward(X)
    for value in (np.nan, np.inf):
        X[0, 4] = value
        with pytest.raises(ValueError, match="NaN or infinity"):
            model.forward(X)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((6, [], [], 2), "at least one column"),
        ((6, [1, 2], [3], 2), r"one cardinality per column \(2\), got 1"),
        ((6, [1], [3], 0), "dim must be in"),
        ((6, [6], [3], 2), r"columns must be in \[0, 6\), got 6"),
        ((6, [-1], [3], 2), r"columns must be in \[0, 6\), got -1"),
        ((6, [2, 0, 2], [3, 3, 3], 2), "columns must be distinct, got 2 twice"),
        ((6, [1], [0], 2), "cardinalities must be at least 1, got 0"),
        ((6, [1, 2], [2**39, 2**39], 2), "at most 2\\^40 entries"),
        ((6, [1], [3], 2**25), "dim must be in"),
        ((0, [0], [3], 2), "n_inputs must be in"),
        ((6, [1, 2], [3, 3], 2**23 + 1), "layer sizes must be between 1 and 2\\^24"),
    ],
)
def test_bad_arguments_are_value_errors(arguments: tuple[Any, ...], message: str) -> None:
    for embedding in (_core.EmbeddingF32, _core.EmbeddingF64):
        with pytest.raises(ValueError, match=message):
            embedding(*arguments)


# ------------------------------------------------------------------------------------------------
# torch: nn.Embedding over the table (codes offset per column) + cat + Linear, autograd
# ------------------------------------------------------------------------------------------------


def torch_model(torch: Any, model: Any, dropout: bool) -> tuple[Any, Any]:
    """The core model's stack in torch, with its parameters: (the table module, a forward fn)."""
    nn = torch.nn
    arrays = {
        name: torch.tensor(model.parameters[offset : offset + int(np.prod(shape))].reshape(shape))
        for name, shape, offset in model.parameter_layout
    }
    table = nn.Embedding(8, DIM, dtype=torch.float64)
    first = nn.Linear(4 + 2 * DIM, HIDDEN, dtype=torch.float64)
    last = nn.Linear(HIDDEN, N_OUT, dtype=torch.float64)
    out = "3" if dropout else "2"
    with torch.no_grad():
        table.weight.copy_(arrays["0.table"])
        first.weight.copy_(arrays["1.W"].T)
        first.bias.copy_(arrays["1.b"])
        last.weight.copy_(arrays[f"{out}.W"].T)
        last.bias.copy_(arrays[f"{out}.b"])
    offsets = torch.tensor([0, 5])
    stack = nn.Sequential(first, nn.Tanh(), *([nn.Dropout(0.4)] if dropout else []), last)
    stack.eval()  # dropout off, as the core's gradient()

    def forward(X: Any) -> Any:
        codes = X[:, COLUMNS].long() + offsets
        vectors = table(codes).reshape(X.shape[0], -1)  # column 4's vector, then column 1's
        return stack(torch.cat([X[:, NUMERIC], vectors], dim=1))

    return (table, first, last), forward


def flat_gradient(torch: Any, modules: tuple[Any, Any, Any]) -> np.ndarray:
    table, first, last = modules
    parts = [table.weight.grad, first.weight.grad.T, first.bias.grad]
    parts += [last.weight.grad.T, last.bias.grad]
    return torch.cat([p.reshape(-1) for p in parts]).numpy()


@pytest.mark.parametrize("dropout", [False, True])
def test_the_gradient_agrees_with_torch_autograd(dropout: bool) -> None:
    torch = pytest.importorskip(
        "torch", reason="the comparison with PyTorch needs torch, which nncore does not depend on"
    )
    model = core_model(dropout=0.4 if dropout else None)
    modules, forward = torch_model(torch, model, dropout)
    X, Y = data(11)
    prediction = forward(torch.tensor(X))
    np.testing.assert_allclose(prediction.detach().numpy(), model.forward(X), rtol=1e-12)
    loss = torch.nn.functional.mse_loss(prediction, torch.tensor(Y))
    loss.backward()
    value, gradient = model.gradient(X, Y, EMPTY64, "mse", 1.0)
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(gradient, flat_gradient(torch, modules), rtol=1e-9, atol=1e-13)


def test_fit_follows_torch_sgd() -> None:
    torch = pytest.importorskip(
        "torch", reason="the comparison with PyTorch needs torch, which nncore does not depend on"
    )
    model = core_model()
    modules, forward = torch_model(torch, model, dropout=False)
    X, Y = data(20)
    options = _core.FitOptions(epochs=4, batch_size=6, shuffle=False)
    _core.fit(model, _core.SGDF64(0.2), _core.Random(0), (X, Y, EMPTY64), None, options)
    parameters = [p for module in modules for p in module.parameters()]
    optimizer = torch.optim.SGD(parameters, lr=0.2)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    for _epoch in range(4):
        for start in range(0, 20, 6):
            optimizer.zero_grad()
            rows = slice(start, start + 6)
            torch.nn.functional.mse_loss(forward(Xt[rows]), Yt[rows]).backward()
            optimizer.step()
    table, first, last = modules
    expected = torch.cat(
        [
            t.detach().reshape(-1)
            for t in (table.weight, first.weight.T, first.bias, last.weight.T, last.bias)
        ]
    ).numpy()
    np.testing.assert_allclose(model.parameters, expected, rtol=1e-9, atol=1e-12)
