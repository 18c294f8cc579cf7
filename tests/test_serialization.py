"""Saving and loading models (``MLP.save``, ``nncore.load``), pickling and copying, through the
model file (``nncore.model_file``) and the format module (``nncore.serialization``).

The round trips are bit-exact: the loaded model predicts the same, holds the same parameters,
generator state and optimizer state, and ``fit`` on it continues exactly as on the original. The
loader is checked against a corpus of hand-made corrupt files (``tests/data/corrupt_models/``,
written by ``tests/data/make_corrupt_models.py``) and by fuzzing.
"""

from __future__ import annotations

import copy
import inspect
import io
import json
import os
import pickle
import stat
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nncore
from conftest import corrupt_model_maker
from nncore import model_file, serialization
from nncore.history import SERIES, History

DATA = Path(__file__).resolve().parent / "data"
CORRUPT = DATA / "corrupt_models"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "model-format.md"


MAKER = corrupt_model_maker()
CORPUS = MAKER.corpus()

OPTIMIZERS = {
    "sgd_momentum": lambda: nncore.SGD(learning_rate=0.05, momentum=0.9, weight_decay=1e-3),
    "sgd_nesterov": lambda: nncore.SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
    "adam": lambda: nncore.Adam(learning_rate=0.01, betas=(0.8, 0.99), clip_norm=1.0),
    "adamw": lambda: nncore.AdamW(learning_rate=0.01, weight_decay=0.1),
    "rmsprop_centered": lambda: nncore.RMSProp(
        learning_rate=0.01, momentum=0.5, centered=True, clip_value=0.5
    ),
    "adagrad": lambda: nncore.Adagrad(learning_rate=0.05, lr_decay=0.01),
}


def _problem(
    dtype: str = "float32",
    use_bias: bool = True,
    dropout: float = 0.0,
    sizes: tuple[int, ...] = (4, 7, 5, 3),
    seed: int = 3,
    **kwargs: Any,
) -> tuple[nncore.MLP, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = nncore.MLP(
        list(sizes),
        activation="tanh",
        dtype=dtype,
        seed=seed,
        use_bias=use_bias,
        dropout=dropout,
        **kwargs,
    )
    X = rng.normal(size=(37, sizes[0])).astype(dtype)
    y = rng.normal(size=(37, sizes[-1]))
    return model, X, y


def _round_trip(model: nncore.MLP, tmp_path: Path) -> nncore.MLP:
    path = tmp_path / "model.nncore"
    model.save(path)
    return nncore.load(path)


def _json(value: Any) -> str:
    """A comparable form of JSON-like values that may hold NaN."""
    return json.dumps(value, sort_keys=True)


def assert_same_model(a: nncore.MLP, b: nncore.MLP) -> None:
    """Everything save/load promises to keep, compared exactly."""
    assert a is not b
    assert a.layer_sizes == b.layer_sizes and a.activations == b.activations
    assert a.dtype == b.dtype and a.use_bias == b.use_bias and a.dropout == b.dropout
    assert a.seed == b.seed and a.config() == b.config()
    assert a.parameters.dtype == b.parameters.dtype
    assert np.array_equal(a.parameters, b.parameters)
    assert a.generator_state == b.generator_state
    if a.optimizer is None:
        assert b.optimizer is None
    else:
        assert b.optimizer is not None and b.optimizer is not a.optimizer
        assert type(a.optimizer) is type(b.optimizer)
        sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
        assert sa["hyperparameters"] == sb["hyperparameters"] and sa["dtype"] == sb["dtype"]
        assert sa["state"].keys() == sb["state"].keys()
        for key, value in sa["state"].items():
            assert np.array_equal(value, sb["state"][key]), key
    if a.history is None:
        assert b.history is None
    else:
        assert b.history is not None and _json(a.history.to_dict()) == _json(b.history.to_dict())
    assert _json(a.metadata) == _json(b.metadata)
    assert a.metadata_arrays.keys() == b.metadata_arrays.keys()
    for key, value in a.metadata_arrays.items():
        assert b.metadata_arrays[key].dtype == np.asarray(value).dtype
        assert np.array_equal(b.metadata_arrays[key], value)


def assert_continues_identically(a: nncore.MLP, b: nncore.MLP, X: Any, y: Any) -> None:
    """``fit`` with the kept optimizer and shuffling gives bit-identical results on both."""
    ha = a.fit(X, y, epochs=3, batch_size=8, shuffle=True, n_iter_no_change=None)
    hb = b.fit(X, y, epochs=3, batch_size=8, shuffle=True, n_iter_no_change=None)
    assert _json(ha.to_dict()) == _json(hb.to_dict())
    assert np.array_equal(a.parameters, b.parameters)
    assert a.generator_state == b.generator_state
    assert_same_model(a, b)


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("use_bias", "dropout"), [(True, 0.0), (False, 0.0), (True, 0.3)])
def test_round_trip_after_fit_is_exact_and_training_continues(
    tmp_path: Path, optimizer: str, dtype: str, use_bias: bool, dropout: float
) -> None:
    model, X, y = _problem(dtype, use_bias, dropout)
    model.fit(X, y, optimizer=OPTIMIZERS[optimizer](), epochs=4, batch_size=8)
    model.metadata = {"name": "test", "nested": {"values": [1, 2.5, None, True]}}
    model.metadata_arrays = {"mean": X.mean(axis=0), "labels": np.arange(3)}
    loaded = _round_trip(model, tmp_path)
    assert_same_model(model, loaded)
    assert np.array_equal(model.predict(X), loaded.predict(X))
    assert np.array_equal(model.forward(X), loaded.forward(X))
    assert_continues_identically(model, loaded, X, y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_before_any_fit(tmp_path: Path, dtype: str) -> None:
    model, X, y = _problem(dtype, dropout=0.2)
    loaded = _round_trip(model, tmp_path)
    assert loaded.optimizer is None and loaded.history is None
    assert loaded.metadata == {} and loaded.metadata_arrays == {}
    assert_same_model(model, loaded)
    assert_continues_identically(model, loaded, X, y)  # both start plain SGD


def test_round_trip_keeps_the_base_learning_rate_after_a_schedule(tmp_path: Path) -> None:
    model, X, y = _problem("float64")
    model.fit(X, y, optimizer="adam", learning_rate=0.02, lr_schedule="cosine", epochs=5)
    loaded = _round_trip(model, tmp_path)
    assert loaded.optimizer is not None and loaded.optimizer.learning_rate == 0.02
    ha = model.fit(X, y, lr_schedule="cosine", epochs=4, n_iter_no_change=None)
    hb = loaded.fit(X, y, lr_schedule="cosine", epochs=4, n_iter_no_change=None)
    assert ha.learning_rate == hb.learning_rate
    assert np.array_equal(model.parameters, loaded.parameters)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sizes": (3, 2)},  # no hidden layer
        {"sizes": (2, 4, 4, 4, 1), "activation": ["relu", "elu", "gelu"], "elu_alpha": 0.7},
        {"sizes": (2, 3, 2), "activation": "leaky_relu", "leaky_relu_slope": 0.123},
        {"sizes": (2, 5, 3), "activation": "swish", "output_activation": "softmax"},
        {"sizes": (2, 5, 2), "activation": "softplus", "output_activation": "sigmoid"},
        {"sizes": (3, 6, 1), "activation": "gelu_tanh", "init": "glorot_normal"},
        {"sizes": (3, 5, 1), "activation": "sigmoid", "init": "he_normal"},
    ],
    ids=lambda kwargs: "-".join(map(str, kwargs["sizes"])),
)
def test_round_trip_architectures(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    sizes = kwargs.pop("sizes")
    rng = np.random.default_rng(0)
    model = nncore.MLP(list(sizes), dtype="float64", seed=11, **{"activation": "tanh", **kwargs})
    X = rng.normal(size=(9, sizes[0]))
    loaded = _round_trip(model, tmp_path)
    assert_same_model(model, loaded)
    assert np.array_equal(model.predict(X), loaded.predict(X))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_files_of_both_dtypes_load_with_their_dtype(tmp_path: Path, dtype: str) -> None:
    model, X, _ = _problem(dtype)
    path = tmp_path / f"{dtype}.nncore"
    model.save(str(path))  # a str path as well as a Path
    loaded = nncore.load(str(path))
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.forward(X).dtype == np.dtype(dtype)
    with np.load(path, allow_pickle=False) as archive:
        assert archive["parameters"].dtype == np.dtype(dtype)


def test_history_with_validation_and_nan_round_trips(tmp_path: Path) -> None:
    model, X, y = _problem("float64")
    model.fit(X, y, validation_split=0.25, epochs=6, optimizer="adam", patience=2)
    model.metadata = {"not a number": float("nan"), "inf": float("-inf")}
    loaded = _round_trip(model, tmp_path)
    assert loaded.history is not None and model.history is not None
    assert loaded.history.validation_loss == model.history.validation_loss
    assert loaded.history.best_epoch == model.history.best_epoch
    assert np.isnan(loaded.metadata["not a number"]) and loaded.metadata["inf"] == -np.inf


def test_a_long_history_with_non_finite_values_round_trips(tmp_path: Path) -> None:
    """The series are members of their own, not JSON: the header stays small however long the
    history (a JSON history would pass the 1 MiB limit at some 10,000 epochs)."""
    model, X, _ = _problem("float64")
    record = {
        "loss": 0.1 + 2**-40,
        "metric": float("nan"),
        "validation_loss": float("inf"),
        "validation_metric": -0.0,
        "gradient_norm": 1e300,
        "learning_rate": 5e-324,
    }
    model.history = History([record] * 49_999 + [{**record, "loss": 0.05}], "max_epochs", "r2", 7)
    path = tmp_path / "long.nncore"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("header.npy").file_size < 2000
        assert archive.getinfo("history.loss.npy").file_size == 128 + 8 * 50_000
    nncore.load(path)  # warm up
    tracemalloc.start()
    try:
        nncore.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * path.stat().st_size, peak  # a small multiple of the file's size
    for loaded in (nncore.load(path), pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert_same_model(model, loaded)
        history = loaded.history
        assert history is not None and history.epochs == 50_000 and len(history.loss) == 50_000
        assert history.loss[-1] == 0.05 and history.loss[0] == 0.1 + 2**-40
        assert np.isnan(history.metric).all() and history.validation_loss[0] == np.inf
        assert np.signbit(history.validation_metric[0]) and history.learning_rate[0] == 5e-324
        assert (history.stop_reason, history.metric_name, history.best_epoch) == (
            "max_epochs",
            "r2",
            7,
        )
        assert np.array_equal(loaded.predict(X), model.predict(X))


def test_a_history_of_zero_epochs_round_trips(tmp_path: Path) -> None:
    model, _, _ = _problem()
    model.history = History([], "interrupted", "accuracy")
    loaded = _round_trip(model, tmp_path)
    assert loaded.history is not None and loaded.history.epochs == 0
    assert loaded.history.stop_reason == "interrupted" and loaded.history.metric_name == "accuracy"


def test_training_past_the_old_json_limit_pickles() -> None:
    """The reported failure: some 20,000 epochs of history used to overflow the JSON header."""
    rng = np.random.default_rng(0)
    model = nncore.MLP([2, 3, 1], seed=0)
    model.fit(rng.random((4, 2)), rng.random(4), epochs=20_000, batch_size=4, n_iter_no_change=None)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.history is not None and clone.history.epochs == 20_000
    assert_same_model(model, clone)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (
            lambda h: setattr(h, "validation_loss", [1.0]),
            ValueError,
            "validation_loss has 1 values",
        ),
        (lambda h: h.metric.pop(), ValueError, "metric has 2 values, the history 3 epochs"),
        (lambda h: setattr(h, "gradient_norm", ["a", "b", "c"]), TypeError, "list of numbers"),
        (lambda h: setattr(h, "learning_rate", [[1.0], [2.0], [3.0]]), TypeError, "numbers"),
        (lambda h: setattr(h, "loss", [1.0, [2.0], 3.0]), TypeError, "list of numbers"),
        (lambda h: setattr(h, "stop_reason", "bored"), ValueError, "stop_reason must be one of"),
        (lambda h: setattr(h, "best_epoch", 4), ValueError, r"best_epoch must be None or an int"),
        (lambda h: setattr(h, "metric_name", None), TypeError, "metric_name must be a string"),
    ],
)
def test_save_refuses_a_history_the_loader_would_refuse(
    tmp_path: Path, change: Any, error: type[Exception], match: str
) -> None:
    model, _, _ = _problem()
    model.history = History([{"loss": 1.0}] * 3, "max_epochs")
    model.save(tmp_path / "good.nncore")
    change(model.history)
    with pytest.raises(error, match=match):
        model.save(tmp_path / "model.nncore")
    assert [p.name for p in tmp_path.iterdir()] == ["good.nncore"]


def test_metadata_and_metadata_arrays(tmp_path: Path) -> None:
    model, _, _ = _problem()
    model.metadata = {"tuple": (1, 2), "text": "ünïcode \ud800", "big": 2**70}
    arrays = {
        "int64": np.arange(6, dtype=np.int64).reshape(2, 3),
        "bool": np.array([True, False]),
        "unicode": np.array(["cat", "dog", "ünï"]),
        "float16": np.array([1.5, -2.0], dtype=np.float16),
        "complex": np.array([1 + 2j]),
        "scalar": np.array(3.25),
        "empty": np.empty((0, 4)),
        "big_endian": np.arange(3, dtype=">i4"),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "list": [1.0, 2.0],
        "dotted.name-1": np.zeros(1),
    }
    model.metadata_arrays = dict(arrays)
    loaded = _round_trip(model, tmp_path)
    assert loaded.metadata == {"tuple": [1, 2], "text": "ünïcode \ud800", "big": 2**70}
    for name, value in arrays.items():
        expected = np.asarray(value)
        assert np.array_equal(loaded.metadata_arrays[name], expected), name
        assert loaded.metadata_arrays[name].dtype == expected.dtype.newbyteorder("="), name
        assert loaded.metadata_arrays[name].flags.writeable


def _circular() -> dict[str, Any]:
    inner: list[Any] = []
    inner.append(inner)
    return {"loop": inner}


@pytest.mark.parametrize(
    ("metadata", "arrays", "error", "match"),
    [
        ({1: "int key"}, {}, TypeError, "string keys"),
        (_circular(), {}, ValueError, "circular reference"),
        ({"x": np.int64(3)}, {}, TypeError, "JSON cannot hold"),
        ({"x": {1, 2}}, {}, TypeError, "JSON cannot hold"),
        ([1, 2], {}, TypeError, "must be a dict"),
        ({}, {"objects": np.array([object()])}, TypeError, "dtype object"),
        ({}, {"dates": np.array(["2024-01-01"], dtype="M8[D]")}, TypeError, "dtype"),
        ({}, {"a/b": np.zeros(1)}, ValueError, "not a valid name"),
        ({}, {"": np.zeros(1)}, ValueError, "not a valid name"),
        ({}, {".hidden": np.zeros(1)}, ValueError, "not a valid name"),
        ({}, {3: np.zeros(1)}, TypeError, "keys must be strings"),
    ],
)
def test_save_refuses_what_the_format_cannot_hold(
    tmp_path: Path, metadata: Any, arrays: Any, error: type[Exception], match: str
) -> None:
    model, _, _ = _problem()
    model.metadata = metadata
    model.metadata_arrays = arrays
    with pytest.raises(error, match=match):
        model.save(tmp_path / "model.nncore")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_header_over_the_limit(tmp_path: Path) -> None:
    model, _, _ = _problem()
    model.metadata = {"text": "x" * (serialization.MAX_HEADER_BYTES + 1)}
    with pytest.raises(ValueError, match="more than the format's 1048576"):
        model.save(tmp_path / "model.nncore")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_an_optimizer_that_does_not_fit_the_model(tmp_path: Path) -> None:
    model, _, _ = _problem()
    other, X2, y2 = _problem(sizes=(2, 3, 1))
    other.fit(X2, y2, optimizer="adam", epochs=1)
    model.optimizer = other.optimizer
    with pytest.raises(ValueError, match="holds state for 13 parameters"):
        model.save(tmp_path / "a.nncore")
    model.optimizer = nncore.Adam()
    model.optimizer.step(np.zeros(3), np.ones(3))  # float64 state, float32 model
    with pytest.raises(ValueError, match="works in float64 but the model is float32"):
        model.save(tmp_path / "b.nncore")

    class MyAdam(nncore.Adam):
        pass

    model.optimizer = MyAdam()
    with pytest.raises(TypeError, match="class MyAdam"):
        model.save(tmp_path / "c.nncore")
    assert list(tmp_path.iterdir()) == []


def test_an_unused_or_reset_optimizer_round_trips(tmp_path: Path) -> None:
    model, X, y = _problem()
    model.optimizer = nncore.RMSProp(momentum=0.3)  # never used: dtype None
    loaded = _round_trip(model, tmp_path)
    assert loaded.optimizer is not None and loaded.optimizer.dtype is None
    assert_continues_identically(model, loaded, X, y)
    model.optimizer.reset()
    loaded = _round_trip(model, tmp_path)
    assert loaded.optimizer is not None and loaded.optimizer.step_count == 0
    assert_continues_identically(model, loaded, X, y)


# --------------------------------------------------------------------------------------------
# The format as documented, read with NumPy alone
# --------------------------------------------------------------------------------------------


def test_the_file_is_an_uncompressed_npz_readable_with_numpy_alone(tmp_path: Path) -> None:
    model, X, y = _problem("float32")
    model.fit(X, y, optimizer="adam", epochs=2)
    model.metadata = {"owner": "tests"}
    model.metadata_arrays = {"mean": np.array([1.0, 2.0])}
    path = tmp_path / "model.nncore"
    model.save(path)

    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == [
        "header.npy",
        "parameters.npy",
        "optimizer.exp_avg.npy",
        "optimizer.exp_avg_sq.npy",
        *(f"history.{name}.npy" for name in SERIES),
        "metadata.mean.npy",
    ]
    assert all(info.compress_type == zipfile.ZIP_STORED for info in infos)

    with np.load(path, allow_pickle=False) as archive:
        header = json.loads(archive["header"].tobytes().decode("utf-8"))
        members = {name: archive[name] for name in archive.files}
    assert members["header"].dtype == np.uint8 and members["header"].ndim == 1
    assert header["format"] == "nncore-model" and header["format_version"] == 2
    assert header["nncore_version"] == nncore.__version__
    assert list(header) == [
        "format",
        "format_version",
        "nncore_version",
        "model",
        "config",
        "random_state",
        "optimizer",
        "history",
        "metadata",
        "arrays",
    ]
    assert header["model"] == "MLP"
    assert header["config"] == {
        "layer_sizes": [4, 7, 5, 3],
        "activation": ["tanh", "tanh"],
        "output_activation": "identity",
        "dtype": "float32",
        "seed": 3,
        "use_bias": True,
        "init": "glorot_uniform",
        "leaky_relu_slope": 0.01,
        "elu_alpha": 1.0,
        "dropout": [0.0, 0.0],
    }
    assert header["config"] == model.config()
    assert header["random_state"] == [str(word) for word in model.generator_state]
    assert header["optimizer"] == {
        "name": "adam",
        "dtype": "float32",
        "hyperparameters": {
            "learning_rate": 0.001,
            "betas": [0.9, 0.999],
            "eps": 1e-8,
            "weight_decay": 0.0,
            "clip_norm": None,
            "clip_value": None,
        },
        "step": model.optimizer.step_count,  # type: ignore[union-attr]
        "state_names": ["exp_avg", "exp_avg_sq"],
    }
    history = model.history
    assert history is not None
    assert header["history"] == {
        "stop_reason": history.stop_reason,
        "epochs": 2,
        "best_epoch": history.best_epoch,
        "metric_name": "r2",
    }
    for name in SERIES:
        member = members[f"history.{name}"]
        assert member.dtype == np.dtype("<f8") and member.tolist() == getattr(history, name)
    assert members["history.validation_loss"].shape == (0,)
    assert header["metadata"] == {"owner": "tests"}
    assert header["arrays"] == {
        name: {"dtype": value.dtype.str, "shape": list(value.shape)}
        for name, value in members.items()
        if name != "header"
    }
    # parameters: layer by layer, W row-major then b
    weights, biases = model.get_parameters()
    layout = np.concatenate(
        [x for w, b in zip(weights, biases, strict=True) for x in (w.ravel(), b)]
    )
    assert members["parameters"].dtype == np.dtype("<f4")
    assert np.array_equal(members["parameters"], layout)
    state = model.optimizer.state_dict()["state"]  # type: ignore[union-attr]
    assert np.array_equal(members["optimizer.exp_avg"], state["exp_avg"])
    assert np.array_equal(members["optimizer.exp_avg_sq"], state["exp_avg_sq"])
    assert np.array_equal(members["metadata.mean"], [1.0, 2.0])


def test_the_documentation_names_every_header_entry(tmp_path: Path) -> None:
    model, X, y = _problem()
    model.fit(X, y, optimizer="adam", epochs=1)
    model.save(tmp_path / "model.nncore")
    with np.load(tmp_path / "model.nncore", allow_pickle=False) as archive:
        header = json.loads(archive["header"].tobytes())
    docs = DOCS.read_text(encoding="utf-8")
    module_docs = (serialization.__doc__ or "") + (model_file.__doc__ or "")
    names = [*header, *header["optimizer"], *header["history"]]
    for name in [*names, *header["config"]]:
        assert f'"{name}"' in docs or f"``{name}``" in docs or f"`{name}`" in docs, name
    for name in names:
        assert name in module_docs, name
    # the config is the model's constructor's arguments (documented by nncore.MLP)
    assert list(header["config"]) == list(inspect.signature(nncore.MLP).parameters)
    for member in ("header", "parameters", "optimizer.<", "history.<", "metadata.<"):
        assert member in docs and member in module_docs
    # the entries of version 1, which load still reads
    for name in ("architecture", "activations", "seed", "class", *MAKER.valid_header()):
        assert f'"{name}"' in docs or f"`{name}`" in docs, name
        assert name in module_docs, name


def test_saving_the_same_model_twice_gives_identical_bytes(tmp_path: Path) -> None:
    model, X, y = _problem()
    model.fit(X, y, optimizer="rmsprop", epochs=2)
    model.save(tmp_path / "a.nncore")
    model.save(tmp_path / "b.nncore")
    assert (tmp_path / "a.nncore").read_bytes() == (tmp_path / "b.nncore").read_bytes()


@pytest.mark.parametrize("version", [1, 2])
def test_the_hand_written_file_from_the_documentation_loads(version: int) -> None:
    """``make_corrupt_models.valid_file()`` (version 1) and ``valid_file_v2()`` are written from
    docs/model-format.md without nncore."""
    data = MAKER.valid_file() if version == 1 else MAKER.valid_file_v2()
    model = nncore.load(io.BytesIO(data))
    assert model.layer_sizes == (2, 3, 1) and model.activations == ("tanh", "identity")
    assert model.dtype == np.float64 and model.seed == 7
    assert model.generator_state == (1, 2, 3, 4)
    assert np.array_equal(model.parameters, MAKER.PARAMETERS)
    weights, biases = model.get_parameters()
    assert np.array_equal(weights[0], MAKER.PARAMETERS[:6].reshape(2, 3))
    assert np.array_equal(biases[0], MAKER.PARAMETERS[6:9])
    assert isinstance(model.optimizer, nncore.Adam) and model.optimizer.step_count == 2
    assert np.array_equal(model.optimizer.state_dict()["state"]["exp_avg"], MAKER.EXP_AVG)
    assert model.history is not None and model.history.loss == [0.5, 0.25]
    assert model.metadata == {"note": "hand-made"}
    assert np.array_equal(model.metadata_arrays["mean"], MAKER.MEAN)
    model.fit(np.ones((4, 2)), np.zeros(4), epochs=2)  # usable


# --------------------------------------------------------------------------------------------
# Atomic saving, paths and file objects
# --------------------------------------------------------------------------------------------


def _saved(tmp_path: Path) -> tuple[nncore.MLP, Path, bytes]:
    model, X, y = _problem()
    path = tmp_path / "model.nncore"
    model.save(path)
    old = path.read_bytes()
    model.fit(X, y, optimizer="adam", epochs=1)  # the model now differs from the file
    return model, path, old


def test_a_failing_rename_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, path, old = _saved(tmp_path)

    def fail(*args: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk on fire"):
        model.save(path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.nncore"]


@pytest.mark.parametrize("exception", [OSError("no space left"), KeyboardInterrupt()])
def test_a_failure_mid_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exception: BaseException
) -> None:
    model, path, old = _saved(tmp_path)
    write_array = np.lib.format.write_array
    calls = []

    def write_then_fail(file: Any, array: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(array.shape)
        if len(calls) == 3:  # header and parameters are written, then the failure
            file.write(b"partial")
            raise exception
        write_array(file, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(type(exception)):
        model.save(path)
    assert len(calls) == 3
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.nncore"]
    monkeypatch.undo()
    model.save(path)
    assert_same_model(model, nncore.load(path))


def test_save_into_a_missing_directory_or_onto_a_directory(tmp_path: Path) -> None:
    model, _, _ = _problem()
    with pytest.raises(FileNotFoundError):
        model.save(tmp_path / "missing" / "model.nncore")
    (tmp_path / "dir.nncore").mkdir()
    with pytest.raises(IsADirectoryError):
        model.save(tmp_path / "dir.nncore")
    assert [p.name for p in tmp_path.iterdir()] == ["dir.nncore"]
    assert list((tmp_path / "dir.nncore").iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_file_modes_follow_the_umask_or_the_replaced_file(tmp_path: Path) -> None:
    model, _, _ = _problem()
    (tmp_path / "plain").write_bytes(b"")
    expected = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    model.save(tmp_path / "new.nncore")
    assert stat.S_IMODE((tmp_path / "new.nncore").stat().st_mode) == expected
    os.chmod(tmp_path / "new.nncore", 0o600)
    model.save(tmp_path / "new.nncore")
    assert stat.S_IMODE((tmp_path / "new.nncore").stat().st_mode) == 0o600


def test_file_objects(tmp_path: Path) -> None:
    model, X, _ = _problem()
    buffer = io.BytesIO()
    model.save(buffer)
    assert buffer.getvalue() == model_file.dumps(model)
    buffer.seek(0)
    assert np.array_equal(nncore.load(buffer).forward(X), model.forward(X))
    with open(tmp_path / "f.nncore", "wb") as file:
        model.save(file)
    with open(tmp_path / "f.nncore", "rb") as file:
        assert_same_model(model, nncore.load(file))

    class Stream(io.RawIOBase):  # not seekable
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self.data.readinto(buffer)

    assert_same_model(model, nncore.load(Stream(buffer.getvalue())))
    with pytest.raises(ValueError, match="cannot load the file object: not a complete ZIP"):
        nncore.load(io.BufferedReader(Stream(b"PK\x03\x04 but nothing more")))


def test_bad_file_arguments(tmp_path: Path) -> None:
    model, _, _ = _problem()
    with pytest.raises(TypeError, match=r"io\.BytesIO"):
        nncore.load(model_file.dumps(model))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary file"):
        model.save(b"model.nncore")
    with open(tmp_path / "t.txt", "w") as text, pytest.raises(TypeError, match="binary file"):
        model.save(text)
    with pytest.raises(TypeError, match="binary file"):
        nncore.load(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"nncore\.MLP"):
        model_file.save("not a model", tmp_path / "x.nncore")  # type: ignore[arg-type]


def test_os_errors_of_load_come_through(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        nncore.load(tmp_path / "missing.nncore")
    with pytest.raises(IsADirectoryError):
        nncore.load(tmp_path)
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        model, _, _ = _problem()
        model.save(tmp_path / "secret.nncore")
        os.chmod(tmp_path / "secret.nncore", 0)
        with pytest.raises(PermissionError):
            nncore.load(tmp_path / "secret.nncore")


# --------------------------------------------------------------------------------------------
# Corrupt and hostile files
# --------------------------------------------------------------------------------------------


def _zip_contents(data: bytes) -> list[tuple[str, int, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(i.filename, i.compress_type, archive.read(i)) for i in archive.infolist()]


def test_the_corpus_is_what_the_script_writes() -> None:
    committed = {path.name: path.read_bytes() for path in CORRUPT.glob("*.nncore")}
    assert sorted(committed) == sorted(CORPUS), "run python tests/data/make_corrupt_models.py"
    for name, (data, _) in CORPUS.items():
        if name in ("compressed_members.nncore", "zip_bomb_deflated.nncore"):
            # another zlib may compress differently: compare what the archives hold
            assert _zip_contents(committed[name]) == _zip_contents(data), name
            continue
        assert committed[name] == data, f"{name} differs: run tests/data/make_corrupt_models.py"
    assert all(len(data) < 32_000 for data, _ in CORPUS.values())


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corrupt_file_raises_a_helpful_value_error(name: str) -> None:
    path = CORRUPT / name
    with pytest.raises(ValueError) as info:
        nncore.load(path)
    message = str(info.value)
    assert message.startswith(f"cannot load {str(path)!r}: "), message
    assert CORPUS[name][1] in message, message
    with pytest.raises(ValueError):  # the same through a file object
        nncore.load(io.BytesIO(path.read_bytes()))


@pytest.mark.parametrize(
    "name",
    [
        "parameters_shape_huge.nncore",
        "parameters_consistent_huge_sizes.nncore",
        "metadata_array_huge_shape.nncore",
        "header_claims_huge_size.nncore",
        "member_size_forged.nncore",
        "layer_sizes_huge.nncore",
        "zip_bomb_deflated.nncore",
        "history_consistent_huge_epochs.nncore",
    ],
)
def test_hostile_sizes_are_rejected_without_allocating(name: str) -> None:
    data = (CORRUPT / name).read_bytes()
    nncore.load(io.BytesIO(MAKER.valid_file()))  # warm up imports and caches
    tracemalloc.start()
    try:
        with pytest.raises(ValueError):
            nncore.load(io.BytesIO(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak


def test_a_newer_format_version_is_named(tmp_path: Path) -> None:
    path = tmp_path / "future.nncore"
    path.write_bytes(MAKER.model_file(MAKER.setter("format_version", 7)))
    message = (
        f"cannot load {str(path)!r}: written by a newer nncore (format version 7); "
        f"this nncore reads versions up to {serialization.FORMAT_VERSION}"
    )
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        nncore.load(path)


def _check_outcome(data: bytes) -> None:
    """Loading ``data`` gives a valid, finite model or raises ValueError — nothing else."""
    try:
        model = nncore.load(io.BytesIO(data))
    except ValueError as error:
        assert str(error).startswith("cannot load the file object: ")
        return
    assert np.isfinite(model.parameters).all()
    assert np.isfinite(model.forward(np.ones((2, model.n_features)))).all()
    copy.deepcopy(model)


def _fuzz_base() -> bytes:
    model, X, y = _problem("float64", sizes=(3, 4, 2))
    model.fit(X, y, optimizer="adam", epochs=2)
    model.metadata = {"k": [1, 2]}
    model.metadata_arrays = {"m": np.arange(3.0)}
    return model_file.dumps(model)


FUZZ_BASE = _fuzz_base()
FUZZ_SETTINGS = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@FUZZ_SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, len(FUZZ_BASE) - 1), st.integers(1, 255)), min_size=1, max_size=4
    ),
    st.one_of(st.none(), st.integers(0, len(FUZZ_BASE))),
)
def test_fuzz_byte_flips_and_truncations(flips: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(FUZZ_BASE)
    for position, mask in flips:
        data[position] ^= mask
    _check_outcome(bytes(data[:cut]))


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


FUZZ_MEMBERS = _members(FUZZ_BASE)


@settings(FUZZ_SETTINGS, max_examples=100)
@given(st.data())
def test_fuzz_member_contents_with_valid_checksums(data: st.DataObject) -> None:
    """Flips, cuts and insertions inside the members, re-zipped with correct CRCs, so that the
    .npy and JSON parsing and the checks behind them are reached."""
    members = list(FUZZ_MEMBERS)
    index = data.draw(st.integers(0, len(members) - 1))
    name, content = members[index]
    buffer = bytearray(content)
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        position = data.draw(st.integers(0, max(len(buffer) - 1, 0)))
        if action == "flip" and buffer:
            buffer[position] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del buffer[position : position + data.draw(st.integers(1, 16))]
        else:
            buffer[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    members[index] = (name, bytes(buffer))
    _check_outcome(MAKER.zip_members(members))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    result = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            result += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            result += _paths(item, (*prefix, index))
    return result


FUZZ_HEADER = json.loads(bytes(np.load(io.BytesIO(FUZZ_MEMBERS[0][1]))).decode())
FUZZ_PATHS = _paths(FUZZ_HEADER)


@settings(FUZZ_SETTINGS, max_examples=100)
@given(st.sampled_from(FUZZ_PATHS), JSON_VALUES, st.booleans())
def test_fuzz_header_values(path: tuple[Any, ...], value: Any, delete: bool) -> None:
    """One entry of a valid header replaced by an arbitrary JSON value (or deleted)."""
    header = copy.deepcopy(FUZZ_HEADER)
    target = header
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    text = json.dumps(header).encode()
    members = [("header.npy", MAKER.npy(np.frombuffer(text, np.uint8))), *FUZZ_MEMBERS[1:]]
    _check_outcome(MAKER.zip_members(members))


# --------------------------------------------------------------------------------------------
# Pickling and copying
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy", *range(pickle.HIGHEST_PROTOCOL + 1)])
def test_pickled_and_copied_models_are_independent_and_identical(how: Any) -> None:
    model, X, y = _problem("float64", dropout=0.1)
    model.fit(X, y, optimizer=OPTIMIZERS["rmsprop_centered"](), epochs=2)
    model.metadata = {"a": [1]}
    model.metadata_arrays = {"m": np.arange(2.0)}
    if how == "pickle":
        clone = pickle.loads(pickle.dumps(model))
    elif how == "deepcopy":
        clone = copy.deepcopy(model)
    elif how == "copy":
        clone = copy.copy(model)
    else:
        clone = pickle.loads(pickle.dumps(model, protocol=how))
    assert type(clone) is nncore.MLP
    assert_same_model(model, clone)
    assert clone._network is not model._network and clone._random is not model._random
    assert clone._fit_lock is not model._fit_lock
    assert clone.metadata is not model.metadata
    assert clone.metadata_arrays["m"] is not model.metadata_arrays["m"]
    clone.weights[0][...] = 0.0  # independent buffers
    assert not np.array_equal(model.weights[0], clone.weights[0])
    clone = copy.deepcopy(model)
    assert np.array_equal(model.predict(X), clone.predict(X))
    assert_continues_identically(model, clone, X, y)


def test_the_pickled_state_is_the_file_format() -> None:
    model, _, _ = _problem()
    state = model.__getstate__()
    assert list(state) == ["nncore_model_file"]
    assert state["nncore_model_file"] == model_file.dumps(model)
    assert b"_thread" not in pickle.dumps(model)
    with pytest.raises(ValueError, match="cannot load the pickled model"):
        nncore.MLP.__new__(nncore.MLP).__setstate__({"nncore_model_file": b"PK\x03\x04junk"})


def test_public_names() -> None:
    assert nncore.load is model_file.load
    assert "load" in nncore.__all__
    assert callable(nncore.MLP.save)
