"""The model file (``nncore.model_file``) and what models tell it about themselves: ``config()``,
``from_config``, ``count_parameters``, ``parameters``, ``generator_state``; the files of format
version 1 written by nncore 0.3.0 (``tests/data/format_v1/``); the format module on its own
(``nncore.serialization.write``/``read`` of any header and arrays); and two defects of saving
(issue 16): a missing directory and a save from inside ``fit``."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nncore
from nncore import model_file, serialization

FORMAT_V1 = Path(__file__).resolve().parent / "data" / "format_v1"
V1_MODELS = ["classifier", "regressor", "unfitted"]
# The stored predictions were computed by nncore 0.3.0 in its own build. Another build (another
# instruction set, another summation order in the products) may round differently: a few ulps per
# layer for forward, a little more after two epochs of training. On the build that wrote them
# they agree bit for bit; these tolerances are far below any error of loading (a wrong parameter,
# activation or optimizer state moves the outputs by orders of magnitude more).
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
RTOL_CONTINUED = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9}


def _model(seed: int = 0, **kwargs: Any) -> nncore.MLP:
    return nncore.MLP([3, 5, 4, 2], **{"activation": "tanh", "seed": seed, **kwargs})


def _data(n: int = 20, n_features: int = 3, n_outputs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return rng.normal(size=(n, n_features)), rng.normal(size=(n, n_outputs))


# --------------------------------------------------------------------------------------------
# Files of format version 1 (nncore 0.3.0)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", V1_MODELS)
def test_a_file_written_by_0_3_loads_and_predicts_as_the_model_that_wrote_it(name: str) -> None:
    path = FORMAT_V1 / f"{name}.nncore"
    with np.load(path, allow_pickle=False) as archive:
        header = json.loads(archive["header"].tobytes().decode("utf-8"))
        stored_parameters = archive["parameters"]
    assert header["format_version"] == 1 and header["nncore_version"] == "0.3.0"
    model = nncore.load(path)
    # the parameters are the stored bits, whatever the build
    assert model.parameters.dtype == stored_parameters.dtype
    assert np.array_equal(model.parameters, stored_parameters)
    architecture = header["architecture"]
    assert list(model.layer_sizes) == architecture["layer_sizes"]
    assert list(model.activations) == architecture["activations"]
    assert model.seed == int(header["seed"])
    assert list(model.generator_state) == [int(word) for word in header["random_state"]]
    X = np.load(FORMAT_V1 / f"{name}.inputs.npy")
    rtol = RTOL[model.dtype]
    np.testing.assert_allclose(model.forward(X), np.load(FORMAT_V1 / f"{name}.forward.npy"), rtol)
    # fit continues as it did on the model that wrote the file (generator, optimizer, step count)
    model.fit(X, np.load(FORMAT_V1 / f"{name}.targets.npy"), epochs=2)
    continued = np.load(FORMAT_V1 / f"{name}.continued.npy")
    np.testing.assert_allclose(model.forward(X), continued, RTOL_CONTINUED[model.dtype])


def test_the_version_1_files_hold_what_their_models_had() -> None:
    classifier = nncore.load(FORMAT_V1 / "classifier.nncore")
    assert isinstance(classifier.optimizer, nncore.Adam) and classifier.optimizer.step_count > 0
    assert classifier.optimizer.learning_rate == 0.01
    assert classifier.history is not None and classifier.history.epochs == 6
    assert len(classifier.history.validation_loss) == 6
    assert classifier.dropout == (0.1, 0.0)
    assert classifier.metadata["task"] == "classify"
    assert classifier.metadata_arrays["classes"].tolist() == ["x", "y", "z"]
    regressor = nncore.load(FORMAT_V1 / "regressor.nncore")
    assert regressor.seed == 2**63 + 5 and not regressor.use_bias
    assert (
        regressor.config()["leaky_relu_slope"] == 0.2 and regressor.config()["init"] == "he_normal"
    )
    assert isinstance(regressor.optimizer, nncore.SGD) and regressor.optimizer.momentum == 0.9
    unfitted = nncore.load(FORMAT_V1 / "unfitted.nncore")
    assert unfitted.optimizer is None and unfitted.history is None
    assert unfitted.config()["elu_alpha"] == 0.5


@pytest.mark.parametrize("name", V1_MODELS)
def test_a_version_1_model_saved_again_is_version_2_and_the_same(tmp_path: Path, name: str) -> None:
    model = nncore.load(FORMAT_V1 / f"{name}.nncore")
    model.save(tmp_path / "again.nncore")
    with np.load(tmp_path / "again.nncore", allow_pickle=False) as archive:
        header = json.loads(archive["header"].tobytes().decode("utf-8"))
    assert header["format_version"] == serialization.FORMAT_VERSION == 2
    assert header["model"] == "MLP" and header["config"] == model.config()
    again = nncore.load(tmp_path / "again.nncore")
    assert again.config() == model.config() and again.generator_state == model.generator_state
    assert np.array_equal(again.parameters, model.parameters)
    X = np.load(FORMAT_V1 / f"{name}.inputs.npy")
    assert np.array_equal(again.forward(X), model.forward(X))


# --------------------------------------------------------------------------------------------
# config, from_config, count_parameters
# --------------------------------------------------------------------------------------------


CONFIGURED = [
    {},
    {"activation": ["relu", "elu"], "elu_alpha": 0.3, "dropout": [0.2, 0.0], "use_bias": False},
    {"output_activation": "softmax", "dtype": "float64", "init": "he_normal", "seed": 2**64 - 1},
    {"activation": "leaky_relu", "leaky_relu_slope": 0.5, "output_activation": "sigmoid"},
]


@pytest.mark.parametrize("kwargs", CONFIGURED)
def test_from_config_of_config_builds_the_same_model(kwargs: dict[str, Any]) -> None:
    model = _model(**kwargs)
    config = model.config()
    assert json.loads(json.dumps(config)) == config  # JSON-compatible
    assert list(config) == [
        "layer_sizes",
        "activation",
        "output_activation",
        "dtype",
        "seed",
        "use_bias",
        "init",
        "leaky_relu_slope",
        "elu_alpha",
        "dropout",
    ]
    for twin in (nncore.MLP.from_config(config), nncore.MLP(**config)):
        assert twin.config() == config
        assert twin.activations == model.activations and twin.dropout == model.dropout
        # the same seed and initializer: the same initial parameters, bit for bit
        assert twin.parameters.dtype == model.parameters.dtype
        assert np.array_equal(twin.parameters, model.parameters)
        assert twin.generator_state == model.generator_state
    assert nncore.MLP.count_parameters(config) == model.n_parameters


def test_config_resolves_auto_and_survives_training() -> None:
    model = _model(activation="relu")
    assert model.config()["init"] == "he_uniform"
    config = copy.deepcopy(model.config())
    X, y = _data()
    model.fit(X, y, epochs=2)
    assert model.config() == config  # the arguments, not the trained state


def test_count_parameters_needs_no_model() -> None:
    config = {**_model().config(), "layer_sizes": [2**24, 2**24, 2**24]}
    assert nncore.MLP.count_parameters(config) == 2 * (2**24 + 1) * 2**24
    config = {**config, "use_bias": False}
    assert nncore.MLP.count_parameters(config) == 2 * 2**48


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda c: c.pop("seed"), "'seed'"),
        (lambda c: c.update(hook="os.system"), "'hook'"),
        (lambda c: c.update(layer_sizes=[3, 0, 4, 2]), "layer_sizes[1]"),
        (lambda c: c.update(layer_sizes="3-5-4-2"), "layer_sizes"),
        (lambda c: c.update(activation=["tanh", "evil"]), "activation"),
        (lambda c: c.update(activation=["tanh"]), "activation"),
        (lambda c: c.update(output_activation="evil"), "output_activation"),
        (lambda c: c.update(dtype="float16"), "dtype"),
        (lambda c: c.update(seed=-1), "seed"),
        (lambda c: c.update(seed="7"), "seed"),
        (lambda c: c.update(use_bias="yes"), "use_bias"),
        (lambda c: c.update(init="zeros"), "init"),
        (lambda c: c.update(leaky_relu_slope=float("nan")), "leaky_relu_slope"),
        (lambda c: c.update(elu_alpha=0.0), "elu_alpha"),
        (lambda c: c.update(dropout=[0.5, 1.0]), "dropout"),
    ],
)
def test_a_bad_config_is_a_value_error_naming_the_key(change: Any, key: str) -> None:
    config = _model().config()
    change(config)
    with pytest.raises(ValueError, match="invalid MLP config") as info:
        nncore.MLP.from_config(config)
    assert key in str(info.value)
    if key in ("'seed'", "'hook'", "layer_sizes[1]", "layer_sizes", "use_bias"):
        with pytest.raises(ValueError, match="invalid MLP config"):
            nncore.MLP.count_parameters(config)


def test_a_config_that_is_not_a_dict_is_a_type_error() -> None:
    for config in (None, [("layer_sizes", [2, 1])], "MLP"):
        with pytest.raises(TypeError, match="config must be a dict"):
            nncore.MLP.from_config(config)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="config must be a dict"):
            nncore.MLP.count_parameters(config)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# parameters and generator_state
# --------------------------------------------------------------------------------------------


def test_parameters_is_a_flat_view_in_the_documented_layout() -> None:
    model = _model()
    weights, biases = model.get_parameters()
    layout = np.concatenate(
        [x for w, b in zip(weights, biases, strict=True) for x in (w.ravel(), b)]
    )
    assert model.parameters.shape == (model.n_parameters,)
    assert np.array_equal(model.parameters, layout)
    model.parameters[...] = 0.5
    assert all((w == 0.5).all() for w in model.weights)


def test_generator_state_round_trips_and_replays_a_fit() -> None:
    X, y = _data()
    model = _model(dropout=0.3)
    state, start = model.generator_state, model.parameters.copy()
    first = model.fit(X, y, epochs=3, n_iter_no_change=None, optimizer="sgd").loss
    after = model.parameters.copy()
    model.parameters[...] = start
    model.generator_state = state
    model.optimizer = None
    assert model.fit(X, y, epochs=3, n_iter_no_change=None, optimizer="sgd").loss == first
    assert np.array_equal(model.parameters, after)


@pytest.mark.parametrize(
    ("state", "error"),
    [
        ((1, 2, 3), TypeError),
        ("1234", TypeError),
        ((1, 2, 3, 2**64), ValueError),
        ((1, 2, 3, -1), ValueError),
        ((1, 2, 3, 4.0), TypeError),
        ((1, 2, 3, True), TypeError),
        ((0, 0, 0, 0), ValueError),
    ],
)
def test_a_bad_generator_state_is_refused_and_changes_nothing(state: Any, error: type) -> None:
    model = _model()
    before = model.generator_state
    with pytest.raises(error, match="generator_state"):
        model.generator_state = state
    assert model.generator_state == before


# --------------------------------------------------------------------------------------------
# Saving: the path in errors, and from inside fit (issue 16 §4)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_text", [False, True])
def test_save_into_a_missing_directory_names_the_path_given(tmp_path: Path, as_text: bool) -> None:
    model = _model()
    path = tmp_path / "missing" / "model.nncore"
    with pytest.raises(FileNotFoundError) as info:
        model.save(str(path) if as_text else path)
    assert info.value.filename == str(path)
    assert ".tmp" not in str(info.value) and str(path) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_save_onto_a_directory_names_the_path_given(tmp_path: Path) -> None:
    (tmp_path / "dir.nncore").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        _model().save(tmp_path / "dir.nncore")
    assert info.value.filename == str(tmp_path / "dir.nncore")
    assert [p.name for p in tmp_path.iterdir()] == ["dir.nncore"]


def test_a_model_saved_from_a_callback_holds_the_history_so_far(tmp_path: Path) -> None:
    X, y = _data()
    model = _model()
    seen = []

    def save_at_epoch_3(record: dict[str, Any]) -> None:
        assert model.history is not None and model.history.epochs == record["epoch"]
        seen.append(model.history.stop_reason)
        if record["epoch"] == 3:
            model.save(tmp_path / "epoch3.nncore")

    history = model.fit(
        X, y, epochs=5, callbacks=save_at_epoch_3, n_iter_no_change=None, validation_split=0.2
    )
    assert seen == ["running"] * 5 and model.history is history
    assert history.stop_reason == "max_epochs" and history.epochs == 5
    saved = nncore.load(tmp_path / "epoch3.nncore")
    assert saved.history is not None and saved.history.stop_reason == "running"
    assert saved.history.epochs == 3 and saved.history.metric_name == history.metric_name
    assert saved.history.loss == history.loss[:3]
    assert saved.history.validation_loss == history.validation_loss[:3]
    assert saved.history.learning_rate == history.learning_rate[:3]


def test_a_fit_that_raises_keeps_the_history_from_before() -> None:
    X, y = _data()
    model = _model()
    before = model.fit(X, y, epochs=2)

    def fail(record: dict[str, Any]) -> None:
        if record["epoch"] == 2:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        model.fit(X, y, epochs=4, callbacks=fail)
    assert model.history is before


# --------------------------------------------------------------------------------------------
# Model kinds
# --------------------------------------------------------------------------------------------


def test_mlp_is_the_registered_model_kind() -> None:
    assert {"MLP": nncore.MLP, "Sequential": nncore.Sequential} == model_file.MODELS
    with pytest.raises(TypeError, match="registered already"):

        @model_file.register_model
        class MLP:  # another class of the same name
            pass


def test_a_subclass_of_mlp_is_saved_as_an_mlp() -> None:
    class Custom(nncore.MLP):
        pass

    model = Custom([2, 3, 1], seed=1)
    loaded = model_file.loads(model_file.dumps(model))
    assert type(loaded) is nncore.MLP
    assert np.array_equal(loaded.parameters, model.parameters)
    clone = copy.deepcopy(model)  # through the same file, back into a Custom
    assert type(clone) is Custom and np.array_equal(clone.parameters, model.parameters)


def test_an_unknown_model_kind_is_refused() -> None:
    data = model_file.dumps(_model())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    header = json.loads(bytes(np.load(io.BytesIO(members.pop("header.npy")))).decode())
    arrays = {name[:-4]: np.load(io.BytesIO(blob)) for name, blob in members.items()}
    own = ("format", "format_version", "nncore_version", "arrays")
    entries = {key: value for key, value in header.items() if key not in own}
    buffer = io.BytesIO()
    serialization.write(buffer, {**entries, "model": "Transformer"}, arrays)
    with pytest.raises(
        ValueError, match="unknown model kind 'Transformer'; this nncore reads Sequential, MLP"
    ):
        nncore.load(io.BytesIO(buffer.getvalue()))


# --------------------------------------------------------------------------------------------
# The format module on its own
# --------------------------------------------------------------------------------------------


def _read(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    return serialization.read(io.BytesIO(data), lambda header, arrays: (header, arrays))


def test_the_format_module_writes_and_reads_any_header_and_arrays(tmp_path: Path) -> None:
    arrays = {
        "a": np.arange(6, dtype=">i4").reshape(2, 3),
        "b.c-d": np.array(["x", "yz"]),
        "empty": np.zeros((0, 3), dtype=np.float16),
        "scalar": np.array(True),
    }
    header = {"anything": [1, 2.5, None, {"nested": "ü"}], "big": 2**70}
    path = tmp_path / "f.nncore"
    serialization.write(path, header, arrays)
    read_header, read_arrays = serialization.read(path, lambda h, a: (h, a))
    assert list(read_header) == [
        "format",
        "format_version",
        "nncore_version",
        "anything",
        "big",
        "arrays",
    ]
    assert read_header["anything"] == header["anything"] and read_header["big"] == 2**70
    assert list(read_arrays) == list(arrays)
    for name, array in arrays.items():
        assert read_arrays[name].dtype == array.dtype.newbyteorder("=")
        assert np.array_equal(read_arrays[name], array), name
    assert _read(path.read_bytes())[0] == read_header


@pytest.mark.parametrize(
    ("header", "arrays", "error", "match"),
    [
        ({"format": "x"}, {}, ValueError, "the format's own"),
        ({"arrays": {}}, {}, ValueError, "the format's own"),
        ({"x": object()}, {}, TypeError, "JSON cannot hold"),
        ({}, {"header": np.zeros(1)}, ValueError, "not a valid array name"),
        ({}, {"a/b": np.zeros(1)}, ValueError, "not a valid array name"),
        ({}, {"-a": np.zeros(1)}, ValueError, "not a valid array name"),
        ({}, {"o": np.array([object()])}, TypeError, "dtype object"),
        ({}, {"deep": np.zeros((1,) * 33)}, ValueError, "more than 32 dimensions"),
    ],
)
def test_the_format_module_refuses_what_it_cannot_hold(
    tmp_path: Path, header: dict[str, Any], arrays: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        serialization.write(tmp_path / "f.nncore", header, arrays)
    assert list(tmp_path.iterdir()) == []


def test_decode_problems_are_reported_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f.nncore"
    serialization.write(path, {}, {"a": np.zeros(2)})

    def decode(header: dict[str, Any], arrays: dict[str, Any]) -> None:
        raise serialization.Invalid("not what I expected")

    with pytest.raises(ValueError, match=f"cannot load {str(path)!r}: not what I expected"):
        serialization.read(path, decode)
