"""ONNX export (``model.to_onnx``, ``nncore.onnx_export``), checked with onnxruntime against
``model.forward``: every layer, every activation (from the registries, so a new one is covered),
both dtypes, batch sizes 1 and 7, the lowest, a middle and the newest opset onnxruntime runs.

Tolerances: the largest difference is at most 1e-5 (float32) / 1e-12 (float64) times the
largest output magnitude of the batch (a relative tolerance on the output's scale: the gelu and
softplus tails near 0 are computed with different roundings by the two sides)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nncore
from conftest import coded_features, randomize
from nncore import layers as L

REASON = "the ONNX export is checked with onnxruntime (pip install -r requirements/onnx.txt)"
onnx = pytest.importorskip("onnx", reason=REASON)
ort = pytest.importorskip("onnxruntime", reason=REASON)

from nncore import onnx_export  # noqa: E402 - after the skips

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
DTYPES = tuple(TOLERANCE)


def newest_runnable_opset() -> int:
    """The newest opset (of the installed onnx) that the installed onnxruntime loads."""
    for opset in range(onnx_export.newest_opset(), onnx_export.OPSET_MIN - 1, -1):
        model = nncore.MLP([2, 2], seed=0)
        try:
            session(onnx_export.model_proto(model, opset))
        except Exception:  # onnxruntime's "opset not supported" has no class of its own
            continue
        return opset
    raise AssertionError("onnxruntime runs no opset nncore exports")


def session(proto: Any) -> Any:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def run_file(path: Path, X: np.ndarray) -> np.ndarray:
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    result: np.ndarray = session(model).run(["output"], {"input": X})[0]
    return result


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE[dtype] * scale)


def every_layer(activation: str) -> list[L.Layer]:
    """A network of every layer type, ``activation`` in a Dense and an Activation layer (or,
    for softmax, at the output), with non-default leaky_relu slope and elu alpha."""
    options = {"leaky_relu_slope": 0.2, "elu_alpha": 0.7}
    hidden = "tanh" if activation == "softmax" else activation
    return [
        L.Embedding([0, 3], [3, 4], 2),
        L.Dense(6, hidden, **options),
        L.BatchNorm(),
        L.Residual([L.LayerNorm(), L.Activation(hidden, **options), L.Dense(6)]),
        L.Dropout(0.3),
        L.Dense(3, activation if activation == "softmax" else "identity", use_bias=False),
    ]


def random_model(layers: list[L.Layer], n_inputs: int, dtype: str, seed: int) -> nncore.Sequential:
    """A model with random parameters and random (non-trivial) BatchNorm running statistics."""
    return randomize(nncore.Sequential(layers, n_inputs, dtype=dtype, seed=seed), seed)


features = coded_features


def test_every_layer_and_activation_has_an_exporter() -> None:
    assert set(onnx_export.EXPORTERS) == set(L.LAYERS)
    assert set(onnx_export.ACTIVATION_NODES) == set(nncore.ACTIVATIONS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", nncore.ACTIVATIONS)
def test_every_layer_and_activation_matches_forward(
    activation: str, dtype: str, tmp_path: Path
) -> None:
    model = random_model(every_layer(activation), 5, dtype, seed=len(activation))
    path = tmp_path / "model.onnx"
    model.to_onnx(path)
    for n in (1, 7):  # one file, any batch size
        X = features(n, dtype, seed=n)
        assert_close(run_file(path, X), model.forward(X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_opsets_lowest_middle_newest(dtype: str) -> None:
    newest = newest_runnable_opset()
    assert newest >= 17  # LayerNormalization's opset (and ReduceMean's change at 18) in range
    X = features(7, dtype, seed=0)
    for opset in sorted({onnx_export.OPSET_MIN, 13, 17, 18, newest}):
        for activation in ("gelu", "softplus", "softmax"):
            model = random_model(every_layer(activation), 5, dtype, seed=opset)
            proto = onnx_export.model_proto(model, opset)
            assert proto.opset_import[0].version == opset
            onnx.checker.check_model(proto, full_check=True)
            assert_close(session(proto).run(None, {"input": X})[0], model.forward(X), dtype)


def test_the_default_opset() -> None:
    proto = onnx_export.model_proto(nncore.MLP([2, 1], seed=0))
    assert proto.opset_import[0].version == onnx_export.DEFAULT_OPSET == 17


def test_gelu_float64_erf_series_against_math_erf() -> None:
    """The float64 erf of the gelu nodes (onnxruntime has no float64 Erf) against the
    standard library's erf, over the whole range and beyond the clamp."""
    import math

    graph = onnx_export.OnnxGraph(17, np.dtype(np.float64))
    erf = onnx_export._erf(graph, "input")
    graph.add_node("Identity", [erf], ["output"])
    proto = graph.model([("input", np.float64, 1)], [("output", np.float64, 1)])
    x = np.concatenate([np.linspace(-9.0, 9.0, 18001), [1e-300, -1e-8, 40.0]])[:, None]
    actual = session(proto).run(None, {"input": x})[0][:, 0]
    expected = np.array([math.erf(v) for v in x[:, 0]])
    np.testing.assert_allclose(actual, expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp(dtype: str, tmp_path: Path) -> None:
    model = nncore.MLP(
        [5, 16, 8, 3], activation=["gelu", "elu"], output_activation="softmax", dtype=dtype, seed=3
    )
    path = tmp_path / "mlp.onnx"
    model.to_onnx(path, opset=onnx_export.OPSET_MIN)
    X = features(7, dtype, seed=1)
    assert_close(run_file(path, X), model.forward(X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_after_training(dtype: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = (rng.normal(3.0, 5.0, (64, 4))).astype(dtype)
    y = (X[:, 0] > 3.0).astype(np.int64)
    model = nncore.Sequential(
        [L.Dense(8, "relu"), L.BatchNorm(momentum=0.3), L.Dense(2, "softmax")], 4, dtype, seed=0
    )
    model.fit(X, y, learning_rate=0.05, epochs=5, batch_size=16)
    mean, var = model.state["1.running_mean"], model.state["1.running_var"]
    assert np.all(mean != 0.0) and np.all(var != 1.0)  # the running statistics moved
    model.to_onnx(tmp_path / "bn.onnx")
    assert_close(run_file(tmp_path / "bn.onnx", X), model.forward(X), dtype)


def test_embedding_reads_codes_from_the_float_input(tmp_path: Path) -> None:
    model = random_model([L.Embedding([1], [3], 4), L.Dense(2)], 3, "float64", seed=0)
    model.to_onnx(tmp_path / "embedding.onnx")
    X = np.array([[0.5, 0.0, -1.0], [1.5, 2.0, 3.0], [2.5, 1.0, 0.25]])
    assert_close(run_file(tmp_path / "embedding.onnx", X), model.forward(X), "float64")
    table = model.named_parameters()[0][1]
    W, b = model.named_parameters()[1][1], model.named_parameters()[2][1]
    rows = np.hstack([X[:, [0, 2]], table[X[:, 1].astype(int)]])  # numeric columns, then codes
    np.testing.assert_allclose(run_file(tmp_path / "embedding.onnx", X), rows @ W + b, rtol=1e-12)
    with pytest.raises(Exception, match=r"out of bounds|indices"):  # a code out of range
        run_file(tmp_path / "embedding.onnx", np.array([[0.0, 3.0, 0.0]]))


def test_the_graph_has_a_dynamic_batch_and_named_tensors() -> None:
    proto = onnx_export.model_proto(nncore.MLP([4, 3, 2], seed=0))
    (graph_input,), (graph_output,) = proto.graph.input, proto.graph.output
    assert graph_input.name == "input" and graph_output.name == "output"
    for value, width in ((graph_input, 4), (graph_output, 2)):
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param == "batch" and dims[1].dim_value == width
    assert proto.producer_name == "nncore" and proto.producer_version == nncore.__version__


# ------------------------------------------------------------------------------ bad input
def test_refusals_name_the_argument(tmp_path: Path) -> None:
    model = nncore.MLP([2, 1], seed=0)
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="opset"):
        model.to_onnx(path, opset=onnx_export.OPSET_MIN - 1)
    with pytest.raises(ValueError, match="opset"):
        model.to_onnx(path, opset=onnx_export.newest_opset() + 1)
    with pytest.raises(TypeError, match="opset"):
        model.to_onnx(path, opset="17")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path"):
        model.to_onnx(3)
    with pytest.raises(TypeError, match="model"):
        onnx_export.to_onnx("not a model", path)
    assert not path.exists()


def test_a_layer_without_exporter_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delitem(onnx_export.EXPORTERS, "LayerNorm")
    model = nncore.Sequential([L.Dense(3), L.Residual([L.Dense(3), L.LayerNorm()])], 2)
    with pytest.raises(ValueError, match=r"layer 1\.1 \(LayerNorm\) cannot be exported"):
        model.to_onnx(tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def test_without_onnx_the_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"nncore\[onnx\]"):
        nncore.MLP([2, 1], seed=0).to_onnx(tmp_path / "m.onnx")


def test_a_failing_export_leaves_no_file_and_an_old_file_intact(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = nncore.MLP([2, 1], seed=0)
    old = tmp_path / "old.onnx"
    old.write_bytes(b"the old contents")

    def fail(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)  # the rename, after the whole file was written
    for path in (old, tmp_path / "new.onnx"):
        with pytest.raises(OSError, match="No space"):
            model.to_onnx(path)
    assert old.read_bytes() == b"the old contents"
    assert sorted(os.listdir(tmp_path)) == ["old.onnx"]  # no temporary file, no new file
    monkeypatch.undo()
    with pytest.raises(ValueError, match="opset"):  # refused before anything is written
        model.to_onnx(old, opset=1)
    assert old.read_bytes() == b"the old contents"


def test_an_export_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    model = nncore.MLP([2, 3], dtype="float64", seed=0)
    model.to_onnx(str(path))
    X = np.array([[1.0, -2.0]])
    assert_close(run_file(path, X), model.forward(X), "float64")


# ------------------------------------------------------------------------------ the command line
def nncore_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        [sys.executable, "-m", "nncore", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
    )


def raw_csv(path: Path) -> list[dict[str, str]]:
    """A CSV file whose features need the scaler (large offsets, tiny spreads) and an
    embedding (a categorical column)."""
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(150):
        a, b, colour = rng.normal(500.0, 100.0), rng.normal(0.0, 0.01), rng.integers(3)
        label = "yes" if a + 5000 * b > 500 else "no"
        price = 2 * a + 1000 * b + 7 * colour
        rows.append(
            [
                repr(float(a)),
                repr(float(b)),
                ["red", "green", "blue"][colour],
                label,
                repr(float(price)),
            ]
        )
    path.write_text(
        "a,b,colour,label,price\n" + "".join(",".join(row) + "\n" for row in rows), encoding="utf-8"
    )
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def onnx_features(proto: Any, rows: list[dict[str, str]]) -> np.ndarray:
    """The rows as the exported graph takes them: the columns its metadata names, categories
    as their codes (their index in the metadata's list)."""
    props = {entry.key: json.loads(entry.value) for entry in proto.metadata_props}
    categories = props.get("categories", {})
    return np.array(
        [
            [
                categories[f].index(r[f]) if f in categories else float(r[f])
                for f in props["feature_names"]
            ]
            for r in rows
        ]
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_cli_export_takes_raw_csv_features_like_predict(dtype: str, tmp_path: Path) -> None:
    rows = raw_csv(tmp_path / "data.csv")
    for task, target in (("classify", "label"), ("regress", "price")):
        model, out = tmp_path / f"{task}.nncore", tmp_path / f"{task}.onnx"
        trained = nncore_cli(
            "train", tmp_path / "data.csv", "--target", target, "--task", task, "--epochs", "20",
            "--dtype", dtype, "--quiet", "--out", model,
        )  # fmt: skip
        assert trained.returncode == 0, trained.stderr
        exported = nncore_cli("export", model, "--onnx", out)
        assert exported.returncode == 0, exported.stderr
        assert f"wrote {out} (opset {onnx_export.DEFAULT_OPSET})" in exported.stdout
        predicted = nncore_cli("predict", model, tmp_path / "data.csv", "--out", tmp_path / "p.csv")
        assert predicted.returncode == 0, predicted.stderr
        with (tmp_path / "p.csv").open(encoding="utf-8") as handle:
            predictions = list(csv.DictReader(handle))
        proto = onnx.load(str(out))
        onnx.checker.check_model(proto, full_check=True)
        outputs = session(proto).run(None, {"features": onnx_features(proto, rows)})
        if task == "classify":
            classes = json.loads({e.key: e.value for e in proto.metadata_props}["classes"])
            expected = [[float(r[f"probability_{c}"]) for c in classes] for r in predictions]
            # predict prints 6 significant digits
            np.testing.assert_allclose(outputs[0], expected, rtol=1e-5, atol=1e-6)
            assert [classes[k] for k in outputs[1]] == [r["prediction"] for r in predictions]
        else:  # predict prints 8 (float32) or 17 (float64) significant digits
            values = [float(r["prediction"]) for r in predictions]
            np.testing.assert_allclose(outputs[0][:, 0], values, rtol=TOLERANCE[dtype])


def test_cli_export_of_a_model_made_in_python(tmp_path: Path) -> None:
    model = nncore.MLP([3, 4, 1], dtype="float64", seed=0)
    model.save(tmp_path / "m.nncore")
    result = nncore_cli(
        "export", tmp_path / "m.nncore", "--onnx", tmp_path / "m.onnx", "--opset", "9"
    )
    assert result.returncode == 0, result.stderr
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert proto.opset_import[0].version == 9
    X = features(7, "float64", seed=0)[:, :3]
    (prediction,) = session(proto).run(None, {"features": X})
    assert_close(prediction, model.forward(X), "float64")  # no scaler: the raw features


def test_cli_export_of_a_sigmoid_classifier_gives_two_class_probabilities(tmp_path: Path) -> None:
    model = nncore.MLP([3, 4, 1], output_activation="sigmoid", seed=0)
    model.save(tmp_path / "m.nncore")
    result = nncore_cli("export", tmp_path / "m.nncore", "--onnx", tmp_path / "m.onnx")
    assert result.returncode == 0, result.stderr
    X = features(7, "float32", seed=0)[:, :3].astype(np.float64)
    X[0] = 0.0  # the biases start at 0: p = σ(0) = 0.5 exactly, which predict calls class 1
    probabilities, label = session(onnx.load(str(tmp_path / "m.onnx"))).run(None, {"features": X})
    p = model.forward(X.astype(np.float32))
    assert p[0, 0] == 0.5
    assert_close(probabilities, np.hstack([1 - p, p]), "float32")
    np.testing.assert_array_equal(label, model.predict(X.astype(np.float32)))


def test_cli_export_errors(tmp_path: Path) -> None:
    nncore.MLP([3, 1], seed=0).save(tmp_path / "m.nncore")
    result = nncore_cli(
        "export", tmp_path / "m.nncore", "--onnx", tmp_path / "m.onnx", "--opset", "8"
    )
    assert result.returncode == 2 and "--opset: must be >= 9" in result.stderr
    too_new = str(onnx_export.newest_opset() + 1)
    result = nncore_cli(
        "export", tmp_path / "m.nncore", "--onnx", tmp_path / "m.onnx", "--opset", too_new
    )
    assert result.returncode == 1 and "nncore: error: --opset: opset must be <=" in result.stderr
    result = nncore_cli("export", tmp_path / "missing.nncore", "--onnx", tmp_path / "m.onnx")
    assert result.returncode == 1 and "no such file" in result.stderr
    result = nncore_cli("export", tmp_path / "m.nncore", "--onnx", tmp_path / "no" / "m.onnx")
    assert result.returncode == 1 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["m.nncore"]
