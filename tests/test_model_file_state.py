"""A model's state (a BatchNorm's running statistics) in model files: saved as ``state.<name>``
arrays, restored bit for bit by load, pickle and deepcopy; files whose state arrays are missing,
extra, of the wrong shape or dtype, or not finite are refused with ValueError; a model with
non-finite state is not saved. (A BatchNorm is the layer with state.)"""

from __future__ import annotations

import copy
import io
import json
import pickle
import zipfile

import numpy as np
import pytest

import nncore
from nncore import layers as L
from nncore import model_file, serialization


def _trained() -> nncore.Sequential:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))
    model = nncore.Sequential(
        [L.Dense(5), L.BatchNorm(), L.Activation("relu"), L.Dense(1)], n_inputs=3, seed=4
    )
    model.fit(X, y, optimizer="adam", epochs=3, batch_size=8)
    return model


def test_the_running_statistics_survive_save_load_pickle_and_deepcopy(tmp_path) -> None:
    model = _trained()
    state = model.state
    assert set(state) == {"1.running_mean", "1.running_var"}
    # trained: neither the initial zeros nor the initial ones
    assert np.any(state["1.running_mean"] != 0) and np.any(state["1.running_var"] != 1)
    model.save(tmp_path / "m.nncore")
    X = np.random.default_rng(1).normal(size=(7, 3))
    for other in (
        nncore.load(tmp_path / "m.nncore"),
        pickle.loads(pickle.dumps(model)),
        copy.deepcopy(model),
    ):
        for name, value in state.items():
            assert other.state[name].tobytes() == value.tobytes(), name
        assert other.predict(X).tobytes() == model.predict(X).tobytes()


def _members(model: nncore.Sequential) -> tuple[dict, dict]:
    with zipfile.ZipFile(io.BytesIO(model_file.dumps(model))) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    header = json.loads(bytes(np.load(io.BytesIO(members.pop("header.npy")))).decode())
    arrays = {name[:-4]: np.load(io.BytesIO(blob)) for name, blob in members.items()}
    own = ("format", "format_version", "nncore_version", "arrays")
    return {key: value for key, value in header.items() if key not in own}, arrays


def _load(entries: dict, arrays: dict):
    buffer = io.BytesIO()
    serialization.write(buffer, entries, arrays)
    return nncore.load(io.BytesIO(buffer.getvalue()))


def _without(arrays: dict, name: str) -> dict:
    return {key: value for key, value in arrays.items() if key != name}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: _without(a, "state.1.running_var"), "state arrays"),
        (lambda a: {**a, "state.9.running_mean": np.zeros(5, np.float32)}, "state arrays"),
        (lambda a: {**a, "state.1.running_var": np.ones(4, np.float32)}, "state.1.running_var"),
        (lambda a: {**a, "state.1.running_var": np.ones(5, np.float64)}, "state.1.running_var"),
        (
            lambda a: {**a, "state.1.running_mean": np.full(5, np.nan, np.float32)},
            "not all finite",
        ),
    ],
)
def test_a_file_with_bad_state_arrays_is_refused(change, match) -> None:
    entries, arrays = _members(_trained())
    assert _load(entries, arrays).state.keys() == {"1.running_mean", "1.running_var"}
    with pytest.raises(ValueError, match=match):
        _load(entries, change(arrays))


def test_a_model_with_non_finite_state_is_not_saved(tmp_path) -> None:
    model = _trained()
    model.state["1.running_var"][2] = np.inf
    pattern = r"non-finite state: model\.state\['1\.running_var'\]\[2\] is inf"
    with pytest.raises(ValueError, match=pattern):
        model.save(tmp_path / "m.nncore")
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match=pattern):
        pickle.dumps(model)


def test_an_mlp_file_holds_no_state_arrays() -> None:
    _, arrays = _members(nncore.MLP([3, 4, 1]))
    assert not [name for name in arrays if name.startswith("state.")]
