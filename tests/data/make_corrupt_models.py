"""Write ``tests/data/corrupt_models/``: small hand-made model files, each wrong in the one way
its name says, for ``tests/test_serialization.py``.

Everything here is built with ``struct``, ``zipfile``, ``json`` and NumPy dtypes only — not with
nncore's writer — starting from ``valid_file()``, a file written by hand from
``docs/model-format.md``. So the corpus also checks that the documented format is the one
``nncore.load`` reads (the tests load ``valid_file()`` too).

The output is deterministic (fixed timestamps, own ``.npy`` headers): the tests check that the
committed files are exactly what this script writes. After changing it, run from the repository
root::

    python tests/data/make_corrupt_models.py

``CORPUS`` maps each file name to a fragment the ``ValueError`` message of ``nncore.load`` must
contain (besides the file's name).
"""

from __future__ import annotations

import copy
import io
import json
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

OUTPUT = Path(__file__).resolve().parent / "corrupt_models"
DAMAGED = "the file is damaged or not an nncore model file"

# ------------------------------------------------------------------------------- building blocks
N_PARAMETERS = 13  # layer_sizes [2, 3, 1] with biases: 2·3 + 3 + 3·1 + 1
PARAMETERS = np.linspace(-1.0, 1.0, N_PARAMETERS)
EXP_AVG = np.linspace(-0.01, 0.01, N_PARAMETERS)
EXP_AVG_SQ = np.linspace(1e-6, 1e-4, N_PARAMETERS)
MEAN = np.array([0.5, -0.5])
#: The history's series (2 epochs, no validation data).
HISTORY = {
    "loss": np.array([0.5, 0.25]),
    "metric": np.array([0.1, 0.2]),
    "validation_loss": np.array([], dtype="<f8"),
    "validation_metric": np.array([], dtype="<f8"),
    "gradient_norm": np.array([1.0, 0.5]),
    "learning_rate": np.array([0.001, 0.001]),
}


def raw_npy(header: str, data: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """A ``.npy`` member with exactly the header text ``header`` (padded as NumPy pads it)."""
    length_format = "<H" if version[0] == 1 else "<I"
    prefix = 6 + 2 + struct.calcsize(length_format)
    text = header.encode("latin1")
    padding = -(prefix + len(text) + 1) % 64
    text += b" " * padding + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(length_format, len(text)) + text + data


def npy_header(descr: str, shape: tuple[int, ...], fortran_order: bool = False) -> str:
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran_order}, 'shape': {shape!r}, }}"


def npy(array: Any) -> bytes:
    """``array`` as a ``.npy`` member (C order, its own dtype)."""
    array = np.asarray(array)
    return raw_npy(npy_header(array.dtype.str, array.shape), array.tobytes(order="C"))


def zip_members(
    members: list[tuple[str, bytes]],
    compression: int = zipfile.ZIP_STORED,
    compressed: tuple[str, ...] = (),
) -> bytes:
    """A deterministic ZIP archive of ``members`` (name, bytes), in order, with ``compression``
    (ZIP_DEFLATED for the names in ``compressed``)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are wanted in one file
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED if name in compressed else compression
                info.create_system = 3
                info.external_attr = 0o644 << 16
                archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


#: The optimizer entry of both headers but its rule, and their history entry.
OPTIMIZER_STATE = {
    "dtype": "float64",
    "hyperparameters": {
        "learning_rate": 0.001,
        "betas": [0.9, 0.999],
        "eps": 1e-08,
        "weight_decay": 0.0,
        "clip_norm": None,
        "clip_value": None,
    },
    "step": 2,
    "state_names": ["exp_avg", "exp_avg_sq"],
}
HISTORY_ENTRY = {"stop_reason": "max_epochs", "epochs": 2, "best_epoch": None, "metric_name": "r2"}


def valid_header() -> dict[str, Any]:
    """The JSON header of ``valid_file()`` (without ``arrays``, which ``model_file`` adds)."""
    return {
        "format": "nncore-model",
        "format_version": 1,
        "nncore_version": "0.1.0",
        "architecture": {
            "layer_sizes": [2, 3, 1],
            "activations": ["tanh", "identity"],
            "use_bias": True,
            "dtype": "float64",
            "leaky_relu_slope": 0.01,
            "elu_alpha": 1.0,
            "dropout": [0.0],
            "init": "glorot_uniform",
        },
        "seed": "7",
        "random_state": ["1", "2", "3", "4"],
        "optimizer": {
            "class": "Adam",
            **copy.deepcopy(OPTIMIZER_STATE),
        },
        "history": copy.deepcopy(HISTORY_ENTRY),
        "metadata": {"note": "hand-made"},
    }


def valid_header_v2() -> dict[str, Any]:
    """The JSON header of ``valid_file_v2()``: the model of ``valid_file()`` in format version 2
    (without ``arrays``)."""
    return {
        "format": "nncore-model",
        "format_version": 2,
        "nncore_version": "0.4.0",
        "model": "MLP",
        "config": {
            "layer_sizes": [2, 3, 1],
            "activation": ["tanh"],
            "output_activation": "identity",
            "dtype": "float64",
            "seed": 7,
            "use_bias": True,
            "init": "glorot_uniform",
            "leaky_relu_slope": 0.01,
            "elu_alpha": 1.0,
            "dropout": [0.0],
        },
        "random_state": ["1", "2", "3", "4"],
        "optimizer": {
            "name": "adam",
            **copy.deepcopy(OPTIMIZER_STATE),
        },
        "history": copy.deepcopy(HISTORY_ENTRY),
        "metadata": {"note": "hand-made"},
    }


def valid_arrays() -> dict[str, Any]:
    return {
        "parameters": PARAMETERS,
        "optimizer.exp_avg": EXP_AVG,
        "optimizer.exp_avg_sq": EXP_AVG_SQ,
        **{f"history.{name}": values for name, values in HISTORY.items()},
        "metadata.mean": MEAN,
    }


def header_bytes(header: dict[str, Any]) -> bytes:
    return json.dumps(header).encode("utf-8")


def model_file(
    edit: Callable[[dict[str, Any]], Any] | None = None,
    arrays: dict[str, Any] | None = None,
    members: dict[str, bytes] | None = None,
    declare: dict[str, Any] | None = None,
    version: int = 1,
) -> bytes:
    """A model file: ``valid_header()`` (``valid_header_v2()`` for ``version=2``) changed by
    ``edit``, ``arrays`` (default ``valid_arrays()``) declared in its ``arrays`` entry (plus
    ``declare``, which may override), members from ``arrays`` unless replaced by raw bytes in
    ``members``."""
    header = valid_header() if version == 1 else valid_header_v2()
    arrays = valid_arrays() if arrays is None else arrays
    header["arrays"] = {
        name: {"dtype": np.asarray(a).dtype.str, "shape": list(np.shape(a))}
        for name, a in arrays.items()
    }
    header["arrays"].update(declare or {})
    if edit is not None:
        edit(header)
    contents = {name: npy(array) for name, array in arrays.items()}
    contents.update(members or {})
    return zip_members(
        [("header.npy", npy(np.frombuffer(header_bytes(header), np.uint8)))]
        + [(f"{name}.npy", data) for name, data in contents.items()]
    )


def valid_file() -> bytes:
    """A valid model file of format version 1, written by hand from the documentation."""
    return model_file()


def valid_file_v2() -> bytes:
    """The same model in format version 2, written by hand from the documentation."""
    return model_file(version=2)


def with_header_text(text: bytes) -> bytes:
    """A file whose header member holds ``text`` (valid other members)."""
    return zip_members(
        [("header.npy", npy(np.frombuffer(text, np.uint8)))]
        + [(f"{name}.npy", npy(a)) for name, a in valid_arrays().items()]
    )


def setter(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An ``edit`` that sets ``header[a][b]...`` (path ``"a.b"``) to ``value``."""
    keys = path.split(".")

    def edit(header: dict[str, Any]) -> None:
        target = header
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = copy.deepcopy(value)

    return edit


def deleter(path: str) -> Callable[[dict[str, Any]], None]:
    keys = path.split(".")

    def edit(header: dict[str, Any]) -> None:
        target = header
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return edit


def central_records(data: bytes) -> list[tuple[int, str, int]]:
    """``(offset of the central directory record, name, offset of the local header)``."""
    eocd = data.rindex(b"PK\x05\x06")
    count, _, start = struct.unpack_from("<HII", data, eocd + 10)
    records, offset = [], start
    for _ in range(count):
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, offset + 28)
        (local,) = struct.unpack_from("<I", data, offset + 42)
        name = data[offset + 46 : offset + 46 + name_length].decode("latin1")
        records.append((offset, name, local))
        offset += 46 + name_length + extra_length + comment_length
    return records


def patch(
    data: bytes,
    member: str,
    central: dict[int, tuple[str, int]],
    local: dict[int, tuple[str, int]] | None = None,
) -> bytes:
    """``data`` with struct fields (offset: (format, value)) of ``member``'s central directory
    record and local header replaced."""
    result = bytearray(data)
    for record, name, local_offset in central_records(data):
        if name == member:
            for offset, (fmt, value) in central.items():
                struct.pack_into(fmt, result, record + offset, value)
            for offset, (fmt, value) in (local or {}).items():
                struct.pack_into(fmt, result, local_offset + offset, value)
            return bytes(result)
    raise KeyError(member)


def replace_all(data: bytes, old: bytes, new: bytes, count: int) -> bytes:
    """``data`` with the ``count`` occurrences of ``old`` replaced (same length)."""
    assert data.count(old) == count and len(old) == len(new), (old, data.count(old))
    return data.replace(old, new)


# ------------------------------------------------------------------------------------ the corpus
def corpus() -> dict[str, tuple[bytes, str]]:
    """``{file name: (bytes, fragment of the expected error message)}``."""
    valid = valid_file()
    files: dict[str, tuple[bytes, str]] = {}

    def add(name: str, data: bytes, fragment: str) -> None:
        assert name not in files, name
        files[f"{name}.nncore"] = (data, fragment)

    # --- not a model file at all
    add("empty", b"", "the file is empty")
    add("plain_text", b"this is not a model\n", "does not start with the ZIP signature")
    add("npy_instead_of_npz", npy(PARAMETERS), "does not start with the ZIP signature")
    add("empty_zip", zip_members([]), "does not start with the ZIP signature")
    add("truncated_half", valid[: len(valid) // 2], "not a complete ZIP archive")
    add("truncated_end_record", valid[:-10], "not a complete ZIP archive")
    add("truncated_after_first_member", valid[:200], "not a complete ZIP archive")

    # --- the archive's structure
    arrays = valid_arrays()
    header = npy(np.frombuffer(header_bytes({**valid_header(), "arrays": {}}), np.uint8))
    add("no_header_member", zip_members([("parameters.npy", npy(PARAMETERS))]), "no header member")
    add(
        "missing_parameters_member",
        model_file(
            members={},
            arrays={k: v for k, v in arrays.items() if k != "parameters"},
            declare={"parameters": {"dtype": "<f8", "shape": [N_PARAMETERS]}},
        ),
        "'parameters.npy' declared in the header are missing",
    )
    extra = [("header.npy", header)]
    for name, member in [
        ("unexpected_member_script", "run.py"),
        ("path_traversal_member", "../parameters.npy"),
        ("absolute_path_member", "/etc/parameters.npy"),
        ("directory_member", "metadata/"),
        ("metadata_name_with_space", "metadata.a b.npy"),
    ]:
        add(name, zip_members([*extra, (member, npy(MEAN))]), f"unexpected member {member!r}")
    add(  # a valid member name, but nothing declares it
        "optimizer_member_bad_name",
        zip_members([*extra, ("optimizer.Exp-Avg.npy", npy(MEAN))]),
        "'optimizer.Exp-Avg.npy' are not declared",
    )
    add(
        "nul_in_member_name",
        replace_all(
            zip_members([*extra, ("header.npy_txt", npy(MEAN))]), b"npy_txt", b"npy\0txt", 2
        ),
        "'header.npy",  # 'header.npy\\x00txt' is unexpected (or, were NUL cut, a duplicate)
    )
    add(
        "duplicate_header_member",
        zip_members([*extra, *extra]),
        "holds the member 'header.npy' twice",
    )
    members = [
        (
            "header.npy",
            npy(
                np.frombuffer(
                    header_bytes(
                        {
                            **valid_header(),
                            "arrays": {
                                f"{k}": {"dtype": "<f8", "shape": list(np.shape(v))}
                                for k, v in arrays.items()
                            },
                        }
                    ),
                    np.uint8,
                )
            ),
        )
    ]
    members += [(f"{k}.npy", npy(v)) for k, v in arrays.items()]
    add(
        "compressed_members", zip_members(members, zipfile.ZIP_DEFLATED), "is compressed (method 8)"
    )
    bomb = raw_npy(npy_header("|u1", (10_000_000,)), bytes(10_000_000))
    add(
        "zip_bomb_deflated",
        zip_members([*members, ("metadata.bomb.npy", bomb)], compressed=("metadata.bomb.npy",)),
        "member 'metadata.bomb.npy' is compressed",
    )
    add(
        "encrypted_member",
        patch(valid, "parameters.npy", {8: ("<H", 1)}, {6: ("<H", 1)}),
        "member 'parameters.npy' is encrypted",
    )
    add(
        "member_size_forged",
        patch(valid, "parameters.npy", {20: ("<I", 10**9), 24: ("<I", 10**9)}),
        "claims 1000000000 bytes",
    )
    size = len(valid)
    add(
        "member_sizes_exceed_file",
        patch(
            patch(valid, "parameters.npy", {20: ("<I", size - 1), 24: ("<I", size - 1)}),
            "metadata.mean.npy",
            {20: ("<I", size - 1), 24: ("<I", size - 1)},
        ),
        "overlapping members",
    )
    add(
        "local_header_name_differs",
        _local_name_patch(valid),
        DAMAGED,
    )
    add("crc_mismatch", _flip_last_data_byte(valid, "parameters.npy"), "Bad CRC-32")

    # --- the header member
    text = header_bytes({**valid_header(), "arrays": {}})
    add(
        "header_not_npy",
        _replace_member(valid, "header.npy", text),
        "header: not a valid .npy array",
    )
    add(
        "header_wrong_dtype",
        _replace_member(valid, "header.npy", npy(np.frombuffer(text, np.uint8).astype(np.float64))),
        "dtype '<f8', expected '|u1' (uint8)",
    )
    add(
        "header_2d",
        _replace_member(
            valid,
            "header.npy",
            npy(np.frombuffer(text[:-1] if len(text) % 2 else text, np.uint8).reshape(2, -1)),
        ),
        "expected a 1-D array",
    )
    add(
        "header_claims_huge_size",
        _replace_member(valid, "header.npy", raw_npy(npy_header("|u1", (10**12,)), text)),
        "declares 1000000000000 bytes, over the limit",
    )
    add(
        "header_size_mismatch",
        _replace_member(valid, "header.npy", raw_npy(npy_header("|u1", (len(text) + 100,)), text)),
        "bytes of data but the member holds",
    )
    add("header_not_utf8", with_header_text(b"\xff\xfe{}"), "not UTF-8 text")
    add("header_not_json", with_header_text(b"{not json"), "not valid JSON")
    add("header_json_array", with_header_text(b"[1, 2, 3]"), "not an object")
    add(
        "header_deeply_nested_json",
        with_header_text(b"[" * 10_000 + b"]" * 10_000),
        "not valid JSON",
    )
    add(
        "header_duplicate_key",
        with_header_text(b'{"format": "nncore-model", "format": "nncore-model"}'),
        "'format' appears twice",
    )
    add(
        "header_integer_too_long",
        with_header_text(b'{"format": "nncore-model", "format_version": ' + b"9" * 5000 + b"}"),
        "not valid JSON",
    )

    # --- format and version
    add("wrong_format_name", model_file(setter("format", "numpy-npz")), "not an nncore model file")
    add("format_missing", model_file(deleter("format")), "not an nncore model file")
    add(
        "newer_format_version",
        model_file(setter("format_version", 3)),
        "written by a newer nncore (format version 3); this nncore reads versions up to 2",
    )
    add(
        "format_version_string", model_file(setter("format_version", "1")), "invalid format_version"
    )
    add("format_version_zero", model_file(setter("format_version", 0)), "invalid format_version")
    add("unknown_header_entry", model_file(setter("exec", "print(1)")), "unknown entries 'exec'")
    add("missing_architecture", model_file(deleter("architecture")), "lacks 'architecture'")
    add("nncore_version_number", model_file(setter("nncore_version", 1)), "nncore_version must be")

    # --- the architecture
    arch = "architecture."
    for name, key, value, fragment in [
        ("layer_sizes_zero", "layer_sizes", [2, 0, 1], "layer_sizes[1] must be >= 1, got 0"),
        ("layer_sizes_negative", "layer_sizes", [2, -3, 1], "layer_sizes[1] must be >= 1"),
        ("layer_sizes_float", "layer_sizes", [2, 3.0, 1], "layer_sizes[1] must be an integer"),
        ("layer_sizes_bool", "layer_sizes", [2, True, 1], "layer_sizes[1] must be an integer"),
        ("layer_sizes_string", "layer_sizes", "2-3-1", "layer_sizes must be a sequence of ints"),
        ("layer_sizes_single", "layer_sizes", [2], "needs at least 2 entries"),
        (
            "layer_sizes_huge",
            "layer_sizes",
            [2, 10**12, 1],
            "layer_sizes[1] must be <= 16777216, got 1000000000000",
        ),
        ("activation_unknown", "activations", ["evil", "identity"], "unknown activation 'evil'"),
        (
            "activation_softmax_hidden",
            "activations",
            ["softmax", "identity"],
            "softmax is only available as the output_activation",
        ),
        (
            "activations_count_mismatch",
            "activations",
            ["tanh", "tanh", "identity"],
            "activation as a list needs one entry per hidden layer (1), got 2",
        ),
        (
            "leaky_relu_slope_nan",
            "leaky_relu_slope",
            float("nan"),
            "leaky_relu_slope must be finite, got nan",
        ),
        ("leaky_relu_slope_negative", "leaky_relu_slope", -0.5, "leaky_relu_slope must be >= 0"),
        ("elu_alpha_zero", "elu_alpha", 0.0, "elu_alpha must be > 0"),
        ("elu_alpha_infinite", "elu_alpha", float("inf"), "elu_alpha must be finite"),
        ("dropout_one", "dropout", [1.0], "dropout rates must be in [0, 1), got 1.0"),
        ("dropout_negative", "dropout", [-0.1], "dropout must be >= 0.0, got -0.1"),
        ("dropout_count_mismatch", "dropout", [], "dropout as a list needs one entry per hidden"),
        ("dtype_float16", "dtype", "float16", "dtype must be 'float32' or 'float64'"),
        ("use_bias_string", "use_bias", "yes", "use_bias must be a bool, got 'yes'"),
        ("init_unknown", "init", "zeros", "unknown init 'zeros'"),
    ]:
        add(name, model_file(setter(arch + key, value)), fragment)
    add(
        "architecture_unknown_entry",
        model_file(setter(arch + "hook", "os.system")),
        "unknown entries 'hook'",
    )
    add(
        "parameter_count_mismatch",
        model_file(arrays={**arrays, "parameters": PARAMETERS[:-1]}),
        "declares '<f8' (12,), but the config implies '<f4' or '<f8' (13,)",
    )

    # --- seed and generator
    add("seed_number", model_file(setter("seed", 7)), "seed must be a decimal string")
    add("seed_too_large", model_file(setter("seed", str(2**64))), "seed must be a decimal string")
    add(
        "random_state_all_zero",
        model_file(setter("random_state", ["0", "0", "0", "0"])),
        "all zeros",
    )
    add(
        "random_state_three_words",
        model_file(setter("random_state", ["1", "2", "3"])),
        "must have 4 entries",
    )
    add(
        "random_state_hex",
        model_file(setter("random_state", ["0x1f", "2", "3", "4"])),
        "random_state[0] must be a decimal string",
    )

    # --- the optimizer
    opt = "optimizer."
    add(
        "optimizer_unknown_class",
        model_file(setter(opt + "class", "os.system")),
        "unknown class 'os.system'",
    )
    add(
        "optimizer_base_class",
        model_file(setter(opt + "class", "Optimizer")),
        "unknown class 'Optimizer'",
    )
    add(
        "optimizer_bad_hyperparameter",
        model_file(setter(opt + "hyperparameters.learning_rate", -1.0)),
        "optimizer: learning_rate must be >= 0",
    )
    add(
        "optimizer_unknown_hyperparameter",
        model_file(setter(opt + "hyperparameters.evil", 1)),
        "optimizer: ",
    )
    add(
        "optimizer_step_negative",
        model_file(setter(opt + "step", -1)),
        "optimizer.step must be an integer",
    )
    add(
        "optimizer_step_huge",
        model_file(setter(opt + "step", 2**63)),
        "optimizer.step must be an integer",
    )
    add(
        "optimizer_dtype_mismatch",
        model_file(setter(opt + "dtype", "float32")),
        "optimizer.dtype must be null or the model's 'float64'",
    )
    add("optimizer_unknown_entry", model_file(setter(opt + "code", "x")), "unknown entries 'code'")
    add(
        "optimizer_missing_state_vector",
        model_file(
            setter(opt + "state_names", ["exp_avg"]),
            arrays={k: v for k, v in arrays.items() if k != "optimizer.exp_avg_sq"},
        ),
        "optimizer: ",
    )
    add(
        "optimizer_state_wrong_length",
        model_file(arrays={**arrays, "optimizer.exp_avg": EXP_AVG[:-1]}),
        "arrays['optimizer.exp_avg'] declares '<f8' (12,)",
    )
    add(
        "optimizer_state_nan",
        model_file(arrays={**arrays, "optimizer.exp_avg": np.where(EXP_AVG > 0, np.nan, EXP_AVG)}),
        "optimizer.exp_avg: the values are not all finite",
    )
    add(
        "optimizer_state_undeclared_in_names",
        model_file(setter(opt + "state_names", ["exp_avg_sq"])),
        "unexpected member 'optimizer.exp_avg'",
    )

    # --- history and metadata
    add(
        "history_bad_stop_reason",
        model_file(setter("history.stop_reason", "rm -rf")),
        "unknown reason",
    )
    add(
        "history_best_epoch_out_of_range",
        model_file(setter("history.best_epoch", 5)),
        "best_epoch must be null or in [1, 2]",
    )
    add(
        "history_epochs_negative",
        model_file(setter("history.epochs", -1)),
        "history.epochs must be an integer in [0, 2**62)",
    )
    add(
        "history_series_in_header",  # the series belong in history.<series>.npy members
        model_file(setter("history.loss", [0.5, 0.25])),
        "history has unknown entries 'loss'",
    )
    add(
        "history_length_mismatch",
        model_file(arrays={**arrays, "history.loss": HISTORY["loss"][:1]}),
        "arrays['history.loss'] declares '<f8' (1,), but history.epochs implies '<f8' (2,)",
    )
    add(
        "history_member_length_differs",
        model_file(members={"history.loss": npy(HISTORY["loss"][:1])}),
        "history.loss: the array has shape (1,), the header declares (2,)",
    )
    add(
        "history_validation_partial",
        model_file(arrays={**arrays, "history.validation_loss": np.array([0.3])}),
        "history.epochs implies '<f8' (2,) or (0,)",
    )
    add(
        "history_strings",
        model_file(arrays={**arrays, "history.metric": np.array(["a", "b"])}),
        "arrays['history.metric'] declares '<U1' (2,)",
    )
    add(
        "history_member_float32",
        model_file(members={"history.gradient_norm": npy(HISTORY["gradient_norm"].astype("<f4"))}),
        "history.gradient_norm: the array has dtype '<f4', the header declares '<f8'",
    )
    add(
        "history_member_big_endian",
        model_file(members={"history.metric": npy(HISTORY["metric"].astype(">f8"))}),
        "history.metric: the array has dtype '>f8', the header declares '<f8'",
    )
    add(
        "history_member_missing",
        model_file(
            arrays={k: v for k, v in arrays.items() if k != "history.learning_rate"},
            declare={"history.learning_rate": {"dtype": "<f8", "shape": [2]}},
        ),
        "'history.learning_rate.npy' declared in the header are missing",
    )
    add(
        "history_member_undeclared_and_missing",
        model_file(arrays={k: v for k, v in arrays.items() if k != "history.learning_rate"}),
        "arrays lacks history.learning_rate",
    )
    add(
        "history_members_without_history",
        model_file(setter("history", None)),
        "arrays declares the unexpected member 'history.",
    )
    add(
        "history_unknown_series",
        model_file(members={"history.evil": npy(HISTORY["loss"])}),
        "'history.evil.npy' are not declared",
    )
    add(
        "history_consistent_huge_epochs",
        _huge_history(),
        "history.loss: the .npy header declares 8000000000000 bytes of data but the member holds",
    )
    add(
        "metadata_not_object",
        model_file(setter("metadata", [1, 2])),
        "metadata must be a JSON object",
    )
    add("arrays_not_object", model_file(setter("arrays", [])), "arrays must be a JSON object")

    # --- members versus the header's declarations
    add(
        "member_not_declared",
        model_file(members={"metadata.extra": npy(MEAN)}),
        "'metadata.extra.npy' are not declared",
    )
    add(
        "declared_member_missing",
        model_file(declare={"metadata.gone": {"dtype": "<f8", "shape": [2]}}),
        "'metadata.gone.npy' declared in the header are missing",
    )
    add(
        "metadata_object_dtype",
        model_file(declare={"metadata.mean": {"dtype": "|O", "shape": [2]}}),
        "'|O' is not a supported array dtype",
    )
    add(
        "metadata_dtype_differs",
        model_file(members={"metadata.mean": npy(MEAN.astype("<f4"))}),
        "metadata.mean: the array has dtype '<f4', the header declares '<f8'",
    )
    add(
        "metadata_array_huge_shape",
        model_file(
            declare={"metadata.mean": {"dtype": "|u1", "shape": [10**12]}},
            members={"metadata.mean": raw_npy(npy_header("|u1", (10**12,)), b"ab")},
        ),
        "declares 1000000000000 bytes of data but the member holds 2",
    )

    # --- the parameters member
    params = "parameters"
    data = PARAMETERS.tobytes()
    for name, member, fragment in [
        (
            "parameters_shape_huge",
            raw_npy(npy_header("<f8", (10**12,)), data),
            "the array has shape (1000000000000,), the header declares (13,)",
        ),
        ("parameters_2d", npy(PARAMETERS.reshape(13, 1)), "the array has shape (13, 1)"),
        (
            "parameters_float32",
            npy(PARAMETERS.astype("<f4")),
            "the array has dtype '<f4', the header declares '<f8'",
        ),
        ("parameters_int64", npy(np.arange(13, dtype="<i8")), "the array has dtype '<i8'"),
        ("parameters_big_endian", npy(PARAMETERS.astype(">f8")), "the array has dtype '>f8'"),
        (
            "parameters_object_dtype",
            raw_npy(npy_header("|O", (13,)), b"\x80\x04K\x01." + bytes(99)),
            "the array has dtype '|O'",
        ),
        (
            "parameters_structured_dtype",
            raw_npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (13,), }", data),
            "the array has dtype",
        ),
        (
            "parameters_fortran_order",
            raw_npy(npy_header("<f8", (13,), True), data),
            "Fortran order",
        ),
        (
            "parameters_nan",
            npy(np.where(PARAMETERS > 0.5, np.nan, PARAMETERS)),
            "parameters: the values are not all finite",
        ),
        (
            "parameters_infinite",
            npy(np.where(PARAMETERS > 0.5, np.inf, PARAMETERS)),
            "parameters: the values are not all finite",
        ),
        (
            "parameters_data_truncated",
            raw_npy(npy_header("<f8", (13,)), data[:-8]),
            "declares 104 bytes of data but the member holds 96",
        ),
        (
            "parameters_trailing_data",
            raw_npy(npy_header("<f8", (13,)), data + b"extra"),
            "declares 104 bytes of data but the member holds 109",
        ),
        (
            "npy_unknown_version",
            raw_npy(npy_header("<f8", (13,)), data, (9, 0)),
            "unsupported .npy format version 9.0",
        ),
        ("npy_bad_magic", b"\x93NUMPZ" + npy(PARAMETERS)[6:], "parameters: not a valid .npy"),
        (
            "npy_header_code",
            raw_npy(
                "{'descr': __import__('os').system('echo pwned'), "
                "'fortran_order': False, 'shape': (13,), }",
                data,
            ),
            "parameters: not a valid .npy array",
        ),
        (
            "npy_header_too_long",
            raw_npy(npy_header("<f8", (13,)) + " " * 12_000, data, (2, 0)),
            "parameters: not a valid .npy array",
        ),
        (
            "npy_header_negative_shape",
            raw_npy(npy_header("<f8", (-13,)), data),
            "the array has shape (-13,)",
        ),
    ]:
        add(name, model_file(members={params: member}), fragment)
    add(
        "parameters_consistent_huge_sizes",
        _consistent_huge(),
        "declares 8000024000000 bytes of data but the member holds 104",
    )
    _version_2(add)
    return files


def _version_2(add: Callable[[str, bytes, str], None]) -> None:
    """Files of format version 2 wrong in what version 2 changed: the model kind and config."""
    arrays = valid_arrays()
    for name, edit, fragment in [
        ("model_missing", deleter("model"), "the header lacks 'model'"),
        ("model_unknown", setter("model", "Transformer"), "unknown model kind 'Transformer'"),
        ("model_number", setter("model", 1), "unknown model kind 1"),
        ("architecture_entry", setter("architecture", {}), "unknown entries 'architecture'"),
        ("config_not_object", setter("config", [2, 3, 1]), "config must be a JSON object"),
        (
            "config_missing_key",
            deleter("config.seed"),
            "invalid MLP config: the config lacks 'seed'",
        ),
        ("config_unknown_key", setter("config.hook", "os.system"), "unknown entries 'hook'"),
        (
            "config_layer_sizes_huge",
            setter("config.layer_sizes", [2, 10**12, 1]),
            "layer_sizes[1] must be <= 16777216",
        ),
        ("config_seed_string", setter("config.seed", "7"), "seed must be an integer"),
        ("config_activation_unknown", setter("config.activation", ["evil"]), "unknown activation"),
        ("config_dtype_float32", setter("config.dtype", "float32"), "the config's model '<f4'"),
        (
            "config_dropout_count",
            setter("config.dropout", [0.1, 0.1]),
            "dropout as a list needs one entry per hidden layer",
        ),
        ("config_init_unknown", setter("config.init", "zeros"), "unknown init 'zeros'"),
        ("seed_outside_config", setter("seed", "7"), "unknown entries 'seed'"),
        ("optimizer_class_entry", setter("optimizer.class", "Adam"), "unknown entries 'class'"),
        ("optimizer_unknown_name", setter("optimizer.name", "evil"), "unknown name 'evil'"),
        ("optimizer_name_class", setter("optimizer.name", "Adam"), "unknown name 'Adam'"),
    ]:
        add(f"version2_{name}", model_file(edit, version=2), fragment)
    add(
        "version2_parameter_count_mismatch",
        model_file(setter("config.layer_sizes", [2, 4, 1]), version=2),
        "the config implies '<f4' or '<f8' (17,)",
    )
    add(
        "version2_parameters_nan",
        model_file(
            arrays={**arrays, "parameters": np.where(PARAMETERS > 0, np.nan, PARAMETERS)},
            version=2,
        ),
        "parameters: the values are not all finite",
    )


def _consistent_huge() -> bytes:
    """Architecture, JSON declaration and .npy header agree on 10**12 + 3·10**6 parameters; the
    member holds 13. Rejected from the sizes alone, before anything is allocated."""
    n = 1 * 10**6 + 10**6 + 10**6 * 10**6 + 10**6  # W1, b1, W2, b2

    def edit(header: dict[str, Any]) -> None:
        header["architecture"]["layer_sizes"] = [1, 10**6, 10**6]
        header["architecture"]["activations"] = ["tanh", "identity"]
        header["optimizer"] = None
        header["history"] = None

    return model_file(
        edit,
        arrays={"parameters": PARAMETERS},
        declare={"parameters": {"dtype": "<f8", "shape": [n]}},
        members={"parameters": raw_npy(npy_header("<f8", (n,)), PARAMETERS.tobytes())},
    )


def _huge_history() -> bytes:
    """Header, declarations and .npy headers agree on a history of 10**12 epochs; each series
    member holds 2 values. Rejected from the sizes alone, before anything is allocated."""
    epochs = 10**12
    series = [f"history.{name}" for name in HISTORY if not name.startswith("validation")]
    return model_file(
        setter("history.epochs", epochs),
        declare={name: {"dtype": "<f8", "shape": [epochs]} for name in series},
        members={
            name: raw_npy(npy_header("<f8", (epochs,)), HISTORY["loss"].tobytes())
            for name in series
        },
    )


def _replace_member(data: bytes, member: str, content: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [
            (info.filename, content if info.filename == member else archive.read(info))
            for info in archive.infolist()
        ]
    return zip_members(members)


def _local_name_patch(data: bytes) -> bytes:
    """The local header of parameters.npy names another file than its directory record."""
    for _, name, local in central_records(data):
        if name == "parameters.npy":
            result = bytearray(data)
            result[local + 30 : local + 30 + len(name)] = b"parameterz.npy"
            return bytes(result)
    raise KeyError("parameters.npy")


def _flip_last_data_byte(data: bytes, member: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    end = info.header_offset + 30 + name_length + extra_length + info.compress_size
    result = bytearray(data)
    result[end - 1] ^= 0x40
    return bytes(result)


def main() -> None:
    OUTPUT.mkdir(exist_ok=True)
    files = corpus()
    for stale in OUTPUT.glob("*.nncore"):
        if stale.name not in files:
            stale.unlink()
    for name, (data, _) in files.items():
        (OUTPUT / name).write_bytes(data)
    total = sum(len(data) for data, _ in files.values())
    print(f"wrote {len(files)} files ({total} bytes) to {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
