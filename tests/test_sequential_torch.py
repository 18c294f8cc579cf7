"""``nncore.Sequential`` against PyTorch for the stack of issue 15's example (Embedding, Dense,
BatchNorm, Activation, Residual with LayerNorm, softmax output), float64: the gradient of the
mean cross-entropy in training mode (``torch.autograd``, 1e-9 relative) and a plain-SGD ``fit``
without shuffling (``model.train()``, the same loss and batches), parameters and running
statistics to 1e-9. The torch model is written here from the layers' definitions, reading the
parameters by their ``layout`` names; torch is not a dependency of nncore."""

from __future__ import annotations

import numpy as np
import pytest

import nncore
from nncore import layers as L

torch = pytest.importorskip(
    "torch", reason="the comparison with PyTorch needs torch, which nncore does not depend on"
)

N_INPUTS, COLUMNS, CARDINALITIES, DIM, WIDTH = 6, [0, 3], [4, 3], 2, 5


def _layers(momentum: float = 0.1) -> list[L.Layer]:
    return [
        L.Embedding(columns=COLUMNS, cardinalities=CARDINALITIES, dim=DIM),
        L.Dense(WIDTH),
        L.BatchNorm(momentum=momentum),
        L.Activation("tanh"),
        L.Residual([L.LayerNorm(), L.Dense(WIDTH, activation="relu"), L.Dense(WIDTH)]),
        L.Dense(3, activation="softmax"),
    ]


class _Torch(torch.nn.Module):  # type: ignore[misc]
    """The same network in torch, its parameters copied from an nncore model by name."""

    def __init__(self, model: nncore.Sequential, momentum: float) -> None:
        super().__init__()
        p = {name: torch.tensor(value.copy()) for name, value in model.named_parameters()}
        self.table = torch.nn.Parameter(p["0.table"])
        self.offsets = torch.tensor(np.concatenate([[0], np.cumsum(CARDINALITIES)[:-1]]))
        width_in = N_INPUTS - len(COLUMNS) + len(COLUMNS) * DIM
        self.dense1 = self._linear(p, "1", width_in, WIDTH)
        self.norm = torch.nn.BatchNorm1d(WIDTH, eps=1e-5, momentum=momentum).double()
        self.norm.weight.data, self.norm.bias.data = p["2.gamma"], p["2.beta"]
        self.layer_norm = torch.nn.LayerNorm(WIDTH, eps=1e-5).double()
        self.layer_norm.weight.data, self.layer_norm.bias.data = p["4.0.gamma"], p["4.0.beta"]
        self.inner1 = self._linear(p, "4.1", WIDTH, WIDTH)
        self.inner2 = self._linear(p, "4.2", WIDTH, WIDTH)
        self.out = self._linear(p, "5", WIDTH, 3)

    @staticmethod
    def _linear(p: dict, name: str, n_in: int, n_out: int):
        linear = torch.nn.Linear(n_in, n_out).double()
        linear.weight.data, linear.bias.data = p[f"{name}.W"].T.contiguous(), p[f"{name}.b"]
        return linear

    def forward(self, X):
        numeric = [j for j in range(N_INPUTS) if j not in COLUMNS]
        codes = X[:, COLUMNS].long() + self.offsets
        embedded = [self.table[codes[:, j]] for j in range(len(COLUMNS))]
        h = torch.cat([X[:, numeric], *embedded], dim=1)
        h = torch.tanh(self.norm(self.dense1(h)))
        f = self.inner2(torch.relu(self.inner1(self.layer_norm(h))))
        return self.out(h + f)  # logits; the softmax is in the loss

    def flat(self, attribute: str = "data") -> np.ndarray:
        """The parameters (or their gradients) in nncore's layout order."""

        def get(t):
            return getattr(t, attribute).detach().numpy()

        arrays = [get(self.table)]
        for linear in (self.dense1,):
            arrays += [get(linear.weight).T, get(linear.bias)]
        arrays += [get(self.norm.weight), get(self.norm.bias)]
        arrays += [get(self.layer_norm.weight), get(self.layer_norm.bias)]
        for linear in (self.inner1, self.inner2, self.out):
            arrays += [get(linear.weight).T, get(linear.bias)]
        return np.concatenate([a.ravel() for a in arrays])


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_INPUTS))
    for column, cardinality in zip(COLUMNS, CARDINALITIES, strict=True):
        X[:, column] = rng.integers(0, cardinality, n)
    return X, rng.integers(0, 3, n)


def test_the_gradient_is_torch_autograds() -> None:
    model = nncore.Sequential(_layers(), n_inputs=N_INPUTS, dtype="float64", seed=2)
    X, y = _data(16)
    net = _Torch(model, 0.1)
    net.train()
    loss = torch.nn.functional.cross_entropy(net(torch.tensor(X)), torch.tensor(y))
    loss.backward()
    np.testing.assert_allclose(model.gradient(X, y), net.flat("grad"), rtol=1e-9, atol=1e-12)
    assert model.loss(X, y) != pytest.approx(loss.item(), rel=1e-6)  # inference: running stats


@pytest.mark.parametrize("momentum", [0.1, 0.7])
def test_plain_sgd_without_shuffling_follows_torch(momentum: float) -> None:
    model = nncore.Sequential(_layers(momentum), n_inputs=N_INPUTS, dtype="float64", seed=3)
    X, y = _data(22, seed=1)
    net = _Torch(model, momentum)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    for _ in range(3):
        for start in range(0, 22, 8):  # batches of 8, 8, 6
            sgd.zero_grad()
            rows = slice(start, start + 8)
            logits = net(torch.tensor(X[rows]))
            torch.nn.functional.cross_entropy(logits, torch.tensor(y[rows])).backward()
            sgd.step()
    model.fit(
        X, y, optimizer="sgd", learning_rate=0.1, epochs=3, batch_size=8, shuffle=False,
        n_iter_no_change=None,
    )  # fmt: skip
    np.testing.assert_allclose(model.parameters, net.flat(), rtol=1e-9, atol=1e-12)
    state = model.state
    np.testing.assert_allclose(state["2.running_mean"], net.norm.running_mean, rtol=1e-9)
    np.testing.assert_allclose(state["2.running_var"], net.norm.running_var, rtol=1e-9)
    net.eval()
    expected = torch.softmax(net(torch.tensor(X)), dim=1).detach().numpy()
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-9, atol=1e-12)
