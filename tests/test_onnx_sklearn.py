"""skl2onnx converters of ``nncore.sklearn.MLPClassifier``/``MLPRegressor``: a scikit-learn
pipeline (StandardScaler + nncore estimator) converted by ``skl2onnx.to_onnx`` and run by
onnxruntime, against the pipeline's own ``predict_proba``/``predict``.

Tolerances: probabilities and values within 1e-5 (float32 input, which skl2onnx's scaler
computes in float32 where scikit-learn computes in float64) / 1e-12 (float64) times the largest
magnitude; labels equal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

REASON = "the skl2onnx converters are checked with onnxruntime (requirements/onnx.txt)"
ort = pytest.importorskip("onnxruntime", reason=REASON)
skl2onnx = pytest.importorskip("skl2onnx", reason=REASON)
pytest.importorskip("sklearn", reason="the converters are for nncore.sklearn's estimators")

from sklearn.pipeline import Pipeline  # noqa: E402 - after the skips
from sklearn.preprocessing import StandardScaler  # noqa: E402

from nncore import onnx_sklearn  # noqa: E402
from nncore.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
# A few epochs make a non-trivial network; whether it converged does not matter here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True, scope="module")
def registered() -> None:
    onnx_sklearn.register_skl2onnx()


def data(dtype: str, n: int = 80) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.normal(0.0, 1.0, (n, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 50.0, -1.0, 2.0]).astype(
        dtype
    )


def run(onx: Any, X: np.ndarray) -> list[Any]:
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    result: list[Any] = session.run(None, {session.get_inputs()[0].name: X})
    return result


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE[dtype] * scale)


def pipeline(estimator: Any) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("mlp", estimator)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "classes", [np.array([3, 7]), np.array(["cat", "dog", "eel"])], ids=["binary", "multiclass"]
)
def test_classifier_pipeline(classes: np.ndarray, dtype: str) -> None:
    X = data(dtype)
    y = classes[(np.abs(X[:, 0] * 3 + X[:, 3]).astype(int)) % len(classes)]
    model = pipeline(
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, dtype=dtype, random_state=0)
    )
    model.fit(X, y)
    if dtype == "float32":  # a ZipMap by default (ONNX's ZipMap takes float32 only)
        labels, probabilities = run(skl2onnx.to_onnx(model, X[:1]), X)
        np.testing.assert_array_equal(labels, model.predict(X))
        table = np.array([[row[c] for c in model.classes_] for row in probabilities])
        assert_close(table, model.predict_proba(X), dtype)
    options = {id(model.steps[-1][1]): {"zipmap": False}}
    labels, probabilities = run(skl2onnx.to_onnx(model, X[:1], options=options), X)
    np.testing.assert_array_equal(labels, model.predict(X))
    assert probabilities.dtype == X.dtype
    assert_close(probabilities, model.predict_proba(X), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_pipeline(n_outputs: int, dtype: str) -> None:
    X = data(dtype)
    y = X @ np.random.default_rng(1).normal(size=(4, n_outputs))
    model = pipeline(
        MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=30, dtype=dtype, random_state=0)
    )
    model.fit(X, y[:, 0] if n_outputs == 1 else y)
    (values,) = run(skl2onnx.to_onnx(model, X[:1]), X)
    assert values.shape == (len(X), n_outputs) and values.dtype == X.dtype
    assert_close(values, model.predict(X).reshape(len(X), n_outputs), dtype)


def test_float32_input_to_a_float64_estimator_is_cast() -> None:
    X = data("float64")
    y = (X[:, 0] > 0).astype(np.int64)
    model = pipeline(MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)).fit(X, y)
    X32 = X.astype(np.float32)
    onx = skl2onnx.to_onnx(model, X32[:1], options={MLPClassifier: {"zipmap": False}})
    labels, probabilities = run(onx, X32)
    assert probabilities.dtype == np.float32  # the declared output type of float32 input
    np.testing.assert_array_equal(labels, model.predict(X32))
    assert_close(probabilities, model.predict_proba(X32), "float32")


def test_boolean_classes_are_refused() -> None:
    X = data("float64")
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, X[:, 0] > 0)
    with pytest.raises(ValueError, match="classes of dtype bool"):
        skl2onnx.to_onnx(model, X[:1])


def test_a_multilabel_classifier_is_refused() -> None:
    X = data("float64")
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 50], axis=1).astype(int)
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="multi-label"):
        skl2onnx.to_onnx(model, X[:1])
