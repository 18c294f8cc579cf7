"""The public API contract of ``nncore``: version, parameter views and copies, shapes and dtypes,
``predict``/``predict_proba``, ``History``, loss names, warm starts, thread safety, the docstring
example."""

from __future__ import annotations

import doctest
import importlib.metadata
import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nncore
from nncore.history import STOP_REASONS

ROOT = Path(__file__).resolve().parents[1]


def data(n: int = 40, n_features: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, n_features)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Version
# --------------------------------------------------------------------------------------------


def test_version_matches_installed_metadata() -> None:
    assert isinstance(nncore.__version__, str)
    assert nncore.__version__ == importlib.metadata.version("nncore")


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="tomllib is in the standard library from 3.11"
)
def test_version_matches_pyproject() -> None:
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    assert nncore.__version__ == project["version"]


def test_public_names() -> None:
    for name in nncore.__all__:
        assert hasattr(nncore, name), name
    assert issubclass(nncore.DivergenceError, FloatingPointError)


def test_optional_submodules_are_attributes_imported_on_first_use() -> None:
    """``nncore.plot``/``nncore.sklearn`` without importing them first, and ``import nncore``
    alone imports neither matplotlib nor scikit-learn (a fresh interpreter shows it)."""
    code = (
        "import sys, nncore\n"
        "heavy = ('matplotlib', 'sklearn', 'nncore.plot', 'nncore.sklearn')\n"
        "print(sorted(name for name in sys.modules if name.startswith(heavy)))\n"
        "print('plot' in dir(nncore), 'sklearn' in dir(nncore))\n"
        "print(nncore.plot.plot_decision_boundary.__name__)\n"
        "print('matplotlib' in sys.modules)\n"  # the plot functions import it when called
        "try:\n"
        "    print(nncore.sklearn.MLPClassifier.__name__)\n"
        "except ImportError as error:\n"  # without scikit-learn: the install hint
        "    print(error)\n"
        "try:\n"
        "    nncore.no_such_module\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["[]", "True True", "plot_decision_boundary", "False"]
    assert lines[4] in (
        "MLPClassifier",
        'nncore.sklearn needs scikit-learn: pip install "nncore[sklearn]"',
    )
    assert lines[5] == "module 'nncore' has no attribute 'no_such_module'"


#: What ``import nncore`` and a fit leave unimported (the model-file format and what it needs,
#: the references, the datasets, pathlib), so that a user who trains and predicts does not wait
#: for them: see ``_LAZY_SUBMODULES`` in ``nncore/__init__.py`` and ``model_file``.
LAZILY_IMPORTED = (
    "nncore.serialization",
    "nncore.reference",
    "nncore.datasets",
    "zipfile",
    "json",
    "secrets",
    "hmac",
    "pathlib",
)


def test_import_and_fit_leave_the_lazy_modules_unimported() -> None:
    """A fresh interpreter: after NumPy (whatever it imports is not nncore's doing), ``import
    nncore``, an MLP's fit and predict import none of ``LAZILY_IMPORTED`` the interpreter had not
    imported already (its ``site`` may import pathlib); each is in ``dir(nncore)`` and there on
    first use."""
    code = (
        "import sys, numpy as np\n"
        f"lazy = {LAZILY_IMPORTED!r}\n"
        "before = set(sys.modules)\n"
        "import nncore\n"
        "print(sorted(set(lazy) & (set(sys.modules) - before)))\n"
        "model = nncore.MLP([3, 4, 2], output_activation='softmax', seed=0)\n"
        # the data without numpy.random, which imports secrets
        "X = np.linspace(0, 1, 48, dtype=np.float32).reshape(3, 16).T\n"
        "model.fit(X, (X[:, 0] > 0.5).astype(int), optimizer='adam', epochs=2, batch_size=4)\n"
        "model.predict(X)\n"
        "print(sorted(set(lazy) & (set(sys.modules) - before)))\n"
        "print(all(name in dir(nncore) for name in ('datasets', 'reference', 'serialization')))\n"
        "from nncore import datasets, reference\n"
        "print(reference.numpy_reference.__name__, datasets.make_spirals.__name__)\n"
        "print(nncore.serialization.__name__)\n"
        "copy = nncore.model_file.loads(nncore.model_file.dumps(model))\n"
        "print(np.array_equal(copy.predict_proba(X), model.predict_proba(X)))\n"
        "print(all(name in sys.modules for name in lazy if name.startswith(('nncore', 'zip'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[]",
        "[]",
        "True",
        "nncore.reference.numpy_reference make_spirals",
        "nncore.serialization",
        "True",
        "True",
    ]


# --------------------------------------------------------------------------------------------
# Parameters: views, copies, shapes, round trip
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weights_and_biases_shapes_and_dtype(dtype: str) -> None:
    sizes = [3, 7, 5, 2]
    model = nncore.MLP(sizes, dtype=dtype, seed=0)
    assert model.layer_sizes == tuple(sizes)
    assert model.n_layers == 3
    assert model.n_features == 3 and model.n_outputs == 2
    assert [w.shape for w in model.weights] == [(3, 7), (7, 5), (5, 2)]
    assert [b.shape for b in model.biases] == [(7,), (5,), (2,)]
    assert all(a.dtype == np.dtype(dtype) for a in model.weights + model.biases)
    assert model.n_parameters == sum(a * b + b for a, b in itertools.pairwise(sizes))
    weights, biases = model.get_parameters()
    assert [w.shape for w in weights] == [(3, 7), (7, 5), (5, 2)]
    assert [b.shape for b in biases] == [(7,), (5,), (2,)]
    # Biases start at zero, weights do not.
    assert all(not b.any() for b in biases)
    assert all(w.any() for w in weights)


def test_weights_are_writable_views() -> None:
    model = nncore.MLP([3, 4, 2], seed=0)
    X = data()
    before = model.forward(X)
    model.weights[0][0, 0] = 5
    assert model.weights[0][0, 0] == 5
    assert model.get_parameters()[0][0][0, 0] == 5
    assert not np.array_equal(model.forward(X), before)


def test_biases_are_writable_views() -> None:
    model = nncore.MLP([3, 4, 2], activation="identity", seed=0)
    X = data()
    before = model.forward(X)
    model.biases[-1][:] = [1.0, -2.0]
    assert model.get_parameters()[1][-1].tolist() == [1.0, -2.0]
    np.testing.assert_allclose(
        model.forward(X), before + np.array([1.0, -2.0]), rtol=1e-6, atol=1e-6
    )


def test_whole_layer_assignment_through_view() -> None:
    model = nncore.MLP([3, 4, 2], seed=0)
    model.weights[1][:] = 0
    model.biases[1][:] = 0.25
    np.testing.assert_array_equal(model.forward(data()), np.full((40, 2), 0.25, np.float32))


def test_get_parameters_returns_copies() -> None:
    model = nncore.MLP([3, 4, 2], seed=0)
    X = data()
    before_output = model.forward(X)
    before = model._network.parameters.copy()
    weights, biases = model.get_parameters()
    for array in weights + biases:
        array[...] = 123.0
    np.testing.assert_array_equal(model._network.parameters, before)
    np.testing.assert_array_equal(model.forward(X), before_output)
    # Two calls give independent arrays.
    again = model.get_parameters()[0][0]
    assert not np.shares_memory(again, model.get_parameters()[0][0])
    assert not np.shares_memory(again, model.weights[0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_set_parameters_round_trip(dtype: str, use_bias: bool) -> None:
    source = nncore.MLP([3, 6, 2], dtype=dtype, seed=1, use_bias=use_bias)
    source.fit(data(), data(n_features=2, seed=1), epochs=2)
    target = nncore.MLP([3, 6, 2], dtype=dtype, seed=2, use_bias=use_bias)
    weights, biases = source.get_parameters()
    target.set_parameters(weights, biases if use_bias else None)
    assert target._network.parameters.tobytes() == source._network.parameters.tobytes()
    X = data()
    np.testing.assert_array_equal(target.forward(X), source.forward(X))
    # The model copied the arrays: changing them afterwards changes nothing.
    weights[0][...] = 0
    assert target._network.parameters.tobytes() == source._network.parameters.tobytes()


def test_set_parameters_converts_dtype_and_layout() -> None:
    model = nncore.MLP([3, 2], seed=0)
    w = np.asfortranarray(np.arange(6, dtype=np.float64).reshape(3, 2))
    model.set_parameters([w], [[0.5, -0.5]])
    np.testing.assert_array_equal(model.weights[0], w.astype(np.float32))
    np.testing.assert_array_equal(model.biases[0], np.array([0.5, -0.5], np.float32))


def test_no_bias_model() -> None:
    model = nncore.MLP([3, 4, 2], use_bias=False, seed=0)
    assert model.use_bias is False
    assert model.biases == []
    weights, biases = model.get_parameters()
    assert biases == []
    assert model.n_parameters == 3 * 4 + 4 * 2
    X, y = data(), data(n_features=2, seed=1)
    gradients = model.backward(X, y)
    assert len(gradients) == 2
    for (dW, db), w in zip(gradients, weights, strict=True):
        assert db is None
        assert dW.shape == w.shape
    model.step(gradients, 0.1)
    model.set_parameters(weights)
    np.testing.assert_array_equal(model.weights[0], weights[0])
    # Without biases, a zero input gives a zero output for any weights.
    np.testing.assert_array_equal(model.forward(np.zeros((2, 3))), np.zeros((2, 2), np.float32))


def test_backward_shapes_and_no_parameter_change() -> None:
    model = nncore.MLP([3, 5, 2], seed=0)
    before = model._network.parameters.copy()
    gradients = model.backward(data(), data(n_features=2, seed=1))
    np.testing.assert_array_equal(model._network.parameters, before)
    assert [(dW.shape, db.shape) for dW, db in gradients] == [((3, 5), (5,)), ((5, 2), (2,))]
    # The returned gradients are copies, not views of the model's gradient buffer.
    gradients[0][0][...] = 0
    again = model.backward(data(), data(n_features=2, seed=1))
    assert again[0][0].any()


def test_step_is_gradient_descent() -> None:
    model = nncore.MLP([3, 5, 2], dtype="float64", seed=0)
    weights, biases = model.get_parameters()
    gradients = model.backward(data(), data(n_features=2, seed=1))
    model.step(gradients, 0.5)
    for w, b, (dW, db), w_new, b_new in zip(
        weights, biases, gradients, *model.get_parameters(), strict=True
    ):
        np.testing.assert_allclose(w_new, w - 0.5 * dW, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(b_new, b - 0.5 * db, rtol=1e-15, atol=1e-15)


# --------------------------------------------------------------------------------------------
# dtype
# --------------------------------------------------------------------------------------------


def test_default_dtype_is_float32() -> None:
    model = nncore.MLP([3, 2], seed=0)
    assert model.dtype == np.float32
    assert model._network.parameters.dtype == np.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("input_dtype", [np.float16, np.float32, np.float64, np.int32])
def test_forward_output_dtype_is_model_dtype(dtype: str, input_dtype: Any) -> None:
    model = nncore.MLP([3, 4, 2], dtype=dtype, seed=0)
    assert model.dtype == np.dtype(dtype)
    X = (data() * 4).astype(input_dtype)
    output = model.forward(X)
    assert output.dtype == np.dtype(dtype)
    assert output.shape == (40, 2)
    assert output.flags.c_contiguous and output.flags.writeable
    assert model.predict(X).dtype == np.dtype(dtype)


def test_float64_model_is_more_precise_than_float32() -> None:
    a = nncore.MLP([3, 8, 2], dtype="float32", seed=3)
    b = nncore.MLP([3, 8, 2], dtype="float64", seed=3)
    b.set_parameters(*[[x.astype(np.float64) for x in xs] for xs in a.get_parameters()])
    X = data().astype(np.float64)
    np.testing.assert_allclose(a.forward(X), b.forward(X), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# predict / predict_proba
# --------------------------------------------------------------------------------------------


def test_predict_softmax_gives_class_indices() -> None:
    model = nncore.MLP([3, 6, 4], output_activation="softmax", seed=0)
    X = data()
    labels = model.predict(X)
    assert labels.shape == (40,)
    assert np.issubdtype(labels.dtype, np.integer)
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (40, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(labels, probabilities.argmax(axis=1))


def test_predict_single_sigmoid_gives_flat_labels() -> None:
    model = nncore.MLP([3, 6, 1], output_activation="sigmoid", seed=0)
    X = data() * 10
    labels = model.predict(X)
    assert labels.shape == (40,)
    assert np.issubdtype(labels.dtype, np.integer)
    assert set(np.unique(labels)) <= {0, 1}
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (40, 1)
    np.testing.assert_array_equal(labels, (probabilities[:, 0] >= 0.5).astype(int))


def test_predict_multi_sigmoid_gives_label_matrix() -> None:
    model = nncore.MLP([3, 6, 3], output_activation="sigmoid", seed=0)
    X = data() * 10
    labels = model.predict(X)
    assert labels.shape == (40, 3)
    assert set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, (model.predict_proba(X) >= 0.5).astype(int))


@pytest.mark.parametrize("output", ["identity", "tanh", "relu"])
def test_predict_regression_gives_outputs(output: str) -> None:
    model = nncore.MLP([3, 6, 2], output_activation=output, seed=0)
    X = data()
    prediction = model.predict(X)
    assert prediction.shape == (40, 2)
    np.testing.assert_array_equal(prediction, model.forward(X))
    with pytest.raises(ValueError, match="predict_proba"):
        model.predict_proba(X)


def test_predict_regression_single_output_keeps_two_dimensions() -> None:
    model = nncore.MLP([3, 1], seed=0)
    assert model.predict(data()).shape == (40, 1)


def test_is_classifier() -> None:
    assert nncore.MLP([2, 2], output_activation="softmax").is_classifier
    assert nncore.MLP([2, 1], output_activation="sigmoid").is_classifier
    assert not nncore.MLP([2, 1]).is_classifier


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


def test_fit_returns_history() -> None:
    model = nncore.MLP([3, 4, 2], seed=0)
    history = model.fit(data(), data(n_features=2, seed=1), epochs=5)
    assert isinstance(history, nncore.History)
    assert len(history) == 5 == history.epochs == history["epochs"]
    assert history.loss == history["loss"]
    assert len(history.loss) == 5
    assert all(isinstance(value, float) for value in history.loss)
    assert history.stop_reason == history["stop_reason"] == "max_epochs"
    assert history.stop_reason in STOP_REASONS
    assert {"loss", "stop_reason", "epochs"} <= set(history.keys())
    assert list(history) == history.keys()
    assert "loss" in history


def test_history_to_dict_is_json_serialisable() -> None:
    model = nncore.MLP([3, 4, 2], seed=0)
    history = model.fit(data(), data(n_features=2, seed=1), epochs=3)
    as_dict = history.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert {k: as_dict[k] for k in ("loss", "stop_reason", "epochs")} == {
        "loss": history.loss,
        "stop_reason": "max_epochs",
        "epochs": 3,
    }
    assert as_dict["validation_loss"] == []  # no validation data
    # A copy: changing it does not change the history.
    as_dict["loss"].append(0.0)
    assert len(history.loss) == 3


def test_history_unknown_key_raises_key_error() -> None:
    history = nncore.History([{"loss": 1.0}, {"loss": 0.5}], "max_epochs")
    with pytest.raises(KeyError, match="accuracy"):
        history["accuracy"]


def test_history_stop_reasons() -> None:
    X, y = data(), data(n_features=2, seed=1)
    model = nncore.MLP([3, 4, 2], seed=0)
    assert model.fit(X, y, epochs=50, target_loss=1e9).stop_reason == "target_loss"
    assert model.fit(X, y, epochs=50, callbacks=[lambda r: True]).stop_reason == "callback"
    history = model.fit(X, y, epochs=1000, learning_rate=0.0, n_iter_no_change=3)
    assert history.stop_reason == "no_improvement"
    assert len(history) < 1000


def test_callbacks_receive_epoch_records() -> None:
    records: list[dict[str, Any]] = []
    model = nncore.MLP([3, 4, 2], seed=0)
    history = model.fit(data(), data(n_features=2, seed=1), epochs=4, callbacks=[records.append])
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert [r["loss"] for r in records] == history.loss


# --------------------------------------------------------------------------------------------
# reprs
# --------------------------------------------------------------------------------------------


def test_reprs_do_not_crash() -> None:
    for model in (
        nncore.MLP([3, 4, 2], seed=0),
        nncore.MLP([3, 1], output_activation="sigmoid", dtype="float64", use_bias=False, seed=0),
        nncore.MLP([3, 4, 4, 5], activation="leaky_relu", output_activation="softmax", seed=0),
    ):
        text = repr(model)
        assert text.startswith("MLP(")
        assert model.dtype.name in text
        assert str(model)
    assert "0 epochs" in repr(nncore.History([], "max_epochs"))
    history = nncore.MLP([3, 2], seed=0).fit(data(), data(n_features=2), epochs=2)
    assert "2 epochs" in repr(history) and "max_epochs" in repr(history)


# --------------------------------------------------------------------------------------------
# Loss names
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "n_outputs", "alias", "full"),
    [
        ("identity", 2, "mse", "mean_squared_error"),
        ("sigmoid", 2, "mse", "mean_squared_error"),
        ("sigmoid", 2, "bce", "binary_cross_entropy"),
        ("softmax", 3, "cce", "categorical_cross_entropy"),
        ("softmax", 3, "cross_entropy", "categorical_cross_entropy"),
    ],
)
def test_loss_aliases(output: str, n_outputs: int, alias: str, full: str) -> None:
    model = nncore.MLP([3, 4, n_outputs], output_activation=output, dtype="float64", seed=0)
    X = data()
    y = np.eye(n_outputs)[np.arange(40) % n_outputs]
    assert model.loss(X, y, alias) == model.loss(X, y, full)
    for (a, b), (c, d) in zip(model.backward(X, y, alias), model.backward(X, y, full), strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@pytest.mark.parametrize(
    ("output", "n_outputs", "expected"),
    [
        ("sigmoid", 2, "binary_cross_entropy"),
        ("softmax", 3, "categorical_cross_entropy"),
        ("identity", 2, "mean_squared_error"),
        ("tanh", 2, "mean_squared_error"),
    ],
)
def test_default_loss_follows_output(output: str, n_outputs: int, expected: str) -> None:
    model = nncore.MLP([3, 4, n_outputs], output_activation=output, dtype="float64", seed=0)
    X = data()
    y = np.eye(n_outputs)[np.arange(40) % n_outputs]
    assert model.loss(X, y) == model.loss(X, y, expected)
    assert model.loss(X, y, None) == model.loss(X, y, expected)
    a = nncore.MLP([3, 4, n_outputs], output_activation=output, dtype="float64", seed=0)
    b = nncore.MLP([3, 4, n_outputs], output_activation=output, dtype="float64", seed=0)
    assert a.fit(X, y, epochs=2).loss == b.fit(X, y, loss=expected, epochs=2).loss


def test_default_loss_values_differ_between_losses() -> None:
    """The aliases are not all silently mapped to one loss."""
    model = nncore.MLP([3, 4, 2], output_activation="sigmoid", dtype="float64", seed=0)
    X, y = data(), np.eye(2)[np.arange(40) % 2]
    assert model.loss(X, y, "mse") != model.loss(X, y, "bce")


# --------------------------------------------------------------------------------------------
# Warm start
# --------------------------------------------------------------------------------------------


def test_fit_twice_continues_from_trained_weights() -> None:
    """With ``shuffle=False``, 3 + 2 epochs are bit-identical to 5 epochs in one call."""
    X, y = data(n=50), data(n=50, n_features=2, seed=1)
    twice = nncore.MLP([3, 5, 2], seed=3)
    once = nncore.MLP([3, 5, 2], seed=3)
    first = twice.fit(X, y, epochs=3, batch_size=8, shuffle=False)
    after_first = twice._network.parameters.copy()
    second = twice.fit(X, y, epochs=2, batch_size=8, shuffle=False)
    assert not np.array_equal(twice._network.parameters, after_first)
    full = once.fit(X, y, epochs=5, batch_size=8, shuffle=False)
    assert first.loss + second.loss == full.loss
    assert twice._network.parameters.tobytes() == once._network.parameters.tobytes()


def test_fit_twice_with_shuffle_warm_starts() -> None:
    X = data(n=200)
    y = X @ np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 1.0]], np.float32)
    model = nncore.MLP([3, 8, 2], activation="tanh", seed=3)
    initial_loss = model.loss(X, y)
    first = model.fit(X, y, epochs=20, learning_rate=0.05)
    trained_loss = model.loss(X, y)
    assert trained_loss < initial_loss / 4
    second = model.fit(X, y, epochs=1, learning_rate=0.05)
    # The second call starts where the first ended, not from fresh weights.
    assert second.loss[0] < first.loss[0] / 4
    assert abs(second.loss[0] - first.loss[-1]) < abs(second.loss[0] - first.loss[0])


# --------------------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------------------


def test_concurrent_fit_on_one_model_raises() -> None:
    """A second ``fit`` while one is running raises RuntimeError; the first is unaffected."""
    X, y = data(n=64), data(n=64, n_features=2, seed=1)
    model = nncore.MLP([3, 4, 2], seed=0)
    started, release = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def hold(record: dict[str, Any]) -> bool:
        # Runs inside the first fit at the end of epoch 1: keep that fit alive until released.
        started.set()
        assert release.wait(timeout=30), "the main thread never released the first fit"
        return False

    def first_fit() -> None:
        try:
            results["history"] = model.fit(X, y, epochs=3, callbacks=[hold])
        except BaseException as error:  # pragma: no cover - reported below
            results["error"] = error

    thread = threading.Thread(target=first_fit)
    thread.start()
    try:
        assert started.wait(timeout=30), "the first fit never reached its callback"
        with pytest.raises(RuntimeError, match="already running"):
            model.fit(X, y, epochs=1)
    finally:
        release.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert "error" not in results, results.get("error")
    assert results["history"].epochs == 3
    # Once the first fit has returned, fit works again.
    assert model.fit(X, y, epochs=1).epochs == 1


def test_fit_on_two_models_in_parallel_threads() -> None:
    X, y = data(n=256), data(n=256, n_features=2, seed=1)
    models = [nncore.MLP([3, 8, 2], seed=s) for s in (0, 1)]
    serial = [nncore.MLP([3, 8, 2], seed=s) for s in (0, 1)]
    threads = [threading.Thread(target=m.fit, args=(X, y), kwargs={"epochs": 20}) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for m, s in zip(models, serial, strict=True):
        s.fit(X, y, epochs=20)
        assert m._network.parameters.tobytes() == s._network.parameters.tobytes()


def test_predict_from_threads_matches_serial() -> None:
    model = nncore.MLP([20, 64, 64, 5], activation="tanh", output_activation="softmax", seed=0)
    X = np.random.default_rng(1).normal(size=(20_000, 20)).astype(np.float32)
    serial_labels, serial_proba = model.predict(X), model.predict_proba(X)
    results: list[Any] = [None] * 4
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait()
        results[i] = [(model.predict(X), model.predict_proba(X)) for _ in range(3)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for per_thread in results:
        assert per_thread is not None
        for labels, proba in per_thread:
            np.testing.assert_array_equal(labels, serial_labels)
            assert proba.tobytes() == serial_proba.tobytes()


# --------------------------------------------------------------------------------------------
# The docstring example
# --------------------------------------------------------------------------------------------


def test_package_docstring_example_runs() -> None:
    result = doctest.testmod(nncore, verbose=False, report=True)
    assert result.attempted > 0
    assert result.failed == 0


def test_exception_in_callback_propagates_and_releases_fit() -> None:
    model = nncore.MLP([3, 4, 2], seed=0)
    X, y = data(), data(n_features=2, seed=1)
    calls: list[int] = []

    def failing(record: dict[str, Any]) -> None:
        calls.append(record["epoch"])
        raise KeyError("boom from callback")

    with pytest.raises(KeyError, match="boom from callback"):
        model.fit(X, y, epochs=5, callbacks=[failing])
    assert calls == [1]
    assert np.isfinite(model._network.parameters).all()
    # The fit lock was released: the model trains again.
    assert model.fit(X, y, epochs=1).epochs == 1
