"""The core's ``poisson`` loss (the half Poisson deviance of the rate e^z, z the identity output):
value and gradient against PyTorch's ``PoissonNLLLoss(log_input=True)`` (plus the constant
``xlogy(y, y) − y``), central finite differences and the NumPy reference (the reference is also
checked in test_reference.py and test_activations_losses.py); its domain (y >= 0) and output
layer; stability for large log-rates; ``MLP.fit(loss="poisson")``."""

from __future__ import annotations

import numpy as np
import pytest

import nncore
from nncore.reference import numpy_reference as nref

TORCH_REASON = "the comparison with PyTorch's PoissonNLLLoss needs torch"
# float64: the same formula evaluated in another order (Eigen vs torch's kernels).
RTOL = 1e-12
# Central differences (step 1e-6) of a float64 loss of order 1: truncation and rounding ~1e-10.
FD_RTOL = 1e-6
FD_ATOL = 1e-9


def _problem(
    seed: int, weighted: bool
) -> tuple[nncore.MLP, np.ndarray, np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    model = nncore.MLP([4, 5, 3], activation="tanh", dtype="float64", seed=seed)
    for bias in model.biases:
        bias[...] = rng.normal(scale=0.3, size=bias.shape)
    X = rng.normal(size=(17, 4))
    Y = rng.poisson(1.2, size=(17, 3)).astype(np.float64)  # zeros among them: 0·log 0 = 0
    w = rng.uniform(0.1, 2.0, size=17) if weighted else None
    return model, X, Y, w


def _constant(Y: np.ndarray) -> np.ndarray:
    """xlogy(y, y) − y per entry, the term that turns PyTorch's loss into the deviance."""
    return np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1.0)), 0.0) - Y


@pytest.mark.parametrize("weighted", [False, True])
def test_value_and_gradient_match_torch(weighted: bool) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    model, X, Y, w = _problem(1, weighted)
    value = model.loss(X, Y, loss="poisson", sample_weight=w)
    gradients = model.backward(X, Y, loss="poisson", sample_weight=w)

    weights, biases = model.get_parameters()
    params = [torch.tensor(p, requires_grad=True) for p in (*weights, *biases)]
    W1, W2, b1, b2 = params
    z = torch.tanh(torch.tensor(X) @ W1 + b1) @ W2 + b2  # the log-rate
    per_entry = torch.nn.PoissonNLLLoss(log_input=True, full=False, reduction="none")(
        z, torch.tensor(Y)
    ) + torch.tensor(_constant(Y))
    per_sample = per_entry.mean(dim=1)
    sw = torch.ones(len(X), dtype=torch.float64) if w is None else torch.tensor(w)
    loss = (sw * per_sample).sum() / sw.sum()
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=RTOL)
    expected = [p.grad.numpy() for p in params]
    mine = [g for g, _ in gradients] + [b for _, b in gradients]
    for got, want in zip(mine, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_gradient_matches_finite_differences_and_the_reference() -> None:
    model, X, Y, w = _problem(2, True)
    gradients = model.backward(X, Y, loss="poisson", sample_weight=w)
    weights, biases = model.get_parameters()
    reference = nref.backward(
        weights, biases, X, Y, ["tanh", "identity"], "poisson", sample_weight=w
    )
    for (dW, db), rW, rb in zip(gradients, reference[0], reference[1], strict=True):
        np.testing.assert_allclose(dW, rW, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(db, rb, rtol=1e-10, atol=1e-14)
    step = 1e-6
    W = model.weights[1]
    for index in [(0, 0), (2, 1), (4, 2)]:
        saved = W[index]
        W[index] = saved + step
        up = model.loss(X, Y, loss="poisson", sample_weight=w)
        W[index] = saved - step
        down = model.loss(X, Y, loss="poisson", sample_weight=w)
        W[index] = saved
        assert gradients[1][0][index] == pytest.approx(
            (up - down) / (2 * step), rel=FD_RTOL, abs=FD_ATOL
        )


def test_the_deviance_is_zero_at_the_targets_and_stable() -> None:
    """ℓ = 0 where e^z = y (and at y = 0 as z → −∞); large negative log-rates are finite."""
    model = nncore.MLP([1, 1], dtype="float64", seed=0)
    model.weights[0][...] = 0.0
    for rate in (0.5, 3.0, 40.0):
        model.biases[0][...] = np.log(rate)
        assert model.loss(np.zeros((2, 1)), np.full(2, rate), loss="poisson") == pytest.approx(
            0.0, abs=1e-13
        )
    model.biases[0][...] = -700.0  # e^z underflows to ~0: the loss is 700·y + y·log y − y
    value = model.loss(np.zeros((1, 1)), np.array([2.0]), loss="poisson")
    assert value == pytest.approx(700.0 * 2 + 2 * np.log(2) - 2, rel=1e-12)


def test_targets_and_output_layer_are_checked() -> None:
    model = nncore.MLP([2, 3, 1], dtype="float64", seed=0)
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="poisson must be >= 0"):
        model.fit(X, np.array([1.0, -1.0, 0.0]), loss="poisson", epochs=1)
    with pytest.raises(ValueError, match="poisson must be >= 0"):
        model.loss(X, np.array([1.0, -1.0, 0.0]), loss="poisson")
    sigmoid = nncore.MLP([2, 3, 1], output_activation="sigmoid", seed=0)
    with pytest.raises(ValueError, match="needs a identity output layer"):
        sigmoid.fit(X, np.ones(3), loss="poisson", epochs=1)


def test_core_refuses_negative_targets_itself() -> None:
    from nncore import _core

    model = nncore.MLP([2, 1], dtype="float64", seed=0)
    optimizer = nncore.SGD(0.1)._native("float64")
    options = _core.FitOptions(epochs=1, loss="poisson")
    data = (np.zeros((2, 2)), np.array([[1.0], [-2.0]]), np.empty(0))
    with pytest.raises(ValueError, match="poisson needs targets y >= 0"):
        _core.fit(model._network, optimizer, model._random, data, None, options)


def test_mlp_fit_with_poisson_learns_the_rates() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 2))
    rates = np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1])
    y = rng.poisson(rates).astype(np.float64)
    model = nncore.MLP([2, 1], dtype="float64", seed=0)
    history = model.fit(X, y, loss="poisson", epochs=60, optimizer="adam", learning_rate=0.05)
    assert history.loss[-1] < history.loss[0]
    predicted = np.exp(model.predict(X).ravel())  # the output is the log-rate
    assert np.corrcoef(predicted, rates)[0, 1] > 0.95
