"""Saving and loading models: ``MLP.save(path)`` and ``nncore.load(path)``.

The ``.nncore`` file format, version 1
======================================

A model file (suggested extension ``.nncore``) is an **uncompressed NumPy ``.npz`` archive**: a
ZIP file whose members are ``.npy`` arrays, every one stored without compression
(``ZIP_STORED``). A reader needs NumPy alone and never unpickles anything::

    import json, numpy as np
    with np.load("model.nncore", allow_pickle=False) as archive:
        header = json.loads(archive["header"].tobytes().decode("utf-8"))
        parameters = archive["parameters"]

Members (each ``<name>.npy`` in the ZIP; nothing else may be in the archive):

``header``
    1-D ``uint8`` array: the UTF-8 bytes of a JSON object (at most ``MAX_HEADER_BYTES`` = 1 MiB),
    described below. nncore writes ASCII (other characters ``\\u``-escaped), compactly.
``parameters``
    1-D array of the model's dtype (``<f4`` or ``<f8``, little-endian): every parameter, layer by
    layer, each layer's ``W`` (shape ``(n_in, n_out)``) in row-major order followed by its ``b``
    (``n_out`` values; absent without bias). Its length is
    ``Σ n_in·n_out (+ n_out with bias)`` over the layers.
``optimizer.<state name>``
    One per state vector of the optimizer of the last ``fit`` (PyTorch's state names:
    ``momentum_buffer``, ``exp_avg``, ``exp_avg_sq``, ``square_avg``, ``grad_avg``, ``sum``):
    1-D, the model's dtype, as long as ``parameters``.
``history.<series>``
    Only with a history (header ``"history"`` not null), then one for each of its per-epoch
    series ``loss``, ``metric``, ``validation_loss``, ``validation_metric``, ``gradient_norm``,
    ``learning_rate`` (``nncore.history.SERIES``): 1-D ``<f8`` (float64, little-endian), one value
    per epoch, so of shape ``(epochs,)``; the two validation series have shape ``(0,)`` when the
    ``fit`` had no validation data. Values may be NaN or infinite.
``metadata.<name>``
    One per entry of ``model.metadata_arrays``: any shape; dtype bool, (un)signed integers of
    1, 2, 4 or 8 bytes, float16/32/64, complex64/128 or fixed-width unicode (``<U…``),
    little-endian. ``<name>`` is 1–128 characters from ``A–Z a–z 0–9 _ . -`` and does not start
    with ``.`` or ``-``.

The JSON header (key order as written; every key is required, no other key is allowed)::

    {
      "format": "nncore-model",
      "format_version": 1,                    # newer versions are refused by this reader
      "nncore_version": "0.1.0",              # the writer's version (information only)
      "architecture": {
        "layer_sizes": [n_features, hidden_1, ..., n_outputs],   # ints >= 1, at least 2
        "activations": ["relu", ..., "identity"],  # per layer, output last; softmax: output only
        "use_bias": true,
        "dtype": "float32",                   # or "float64"
        "leaky_relu_slope": 0.01,             # finite, >= 0
        "elu_alpha": 1.0,                     # finite, > 0
        "dropout": [0.0, ...],                # one rate in [0, 1) per hidden layer
        "init": "he_uniform"                  # the initializer ("auto" resolved)
      },
      "seed": "12345",                        # the model's seed, decimal string (< 2**64)
      "random_state": ["…", "…", "…", "…"],   # xoshiro256** state: 4 decimal strings (< 2**64),
                                              # not all zero (JSON numbers lose precision > 2**53)
      "optimizer": null or {
        "class": "Adam",                      # SGD, Adam, AdamW, RMSProp or Adagrad (nncore.optim)
        "dtype": "float32",                   # null (never used) or the model's dtype
        "hyperparameters": {...},             # Optimizer.hyperparameters(): constructor arguments
        "step": 120,                          # the update count t (0 <= t < 2**62)
        "state_names": ["exp_avg", "exp_avg_sq"]   # one optimizer.<name> member each
      },
      "history": null or {                    # the History of the last fit, without its
        "stop_reason": "max_epochs",          # series (history.<series> members): one of
                                              # nncore.history.STOP_REASONS
        "epochs": 120,                        # completed epochs (0 <= epochs < 2**62): the
                                              # length of every history.<series> member
        "best_epoch": null,                   # null or in [1, epochs]
        "metric_name": "r2"                   # a string
      },
      "metadata": {...},                      # model.metadata (a JSON object)
      "arrays": {                             # every member except header: typestr and shape
        "parameters": {"dtype": "<f4", "shape": [n]},
        "optimizer.exp_avg": {"dtype": "<f4", "shape": [n]},
        "history.loss": {"dtype": "<f8", "shape": [120]},
        "history.validation_loss": {"dtype": "<f8", "shape": [0]},
        "metadata.mean": {"dtype": "<f8", "shape": [3]}
      }
    }

Floats are written as Python's ``json`` writes them (shortest round-trip decimal, so values come
back bit for bit); non-finite values, which only ``metadata`` may hold, are written as the tokens
``NaN``, ``Infinity`` and ``-Infinity`` (Python's ``json`` reads them; strict JSON parsers need
that option). JSON turns tuples into lists: ``metadata`` comes back with lists; ``save`` raises
``TypeError`` for metadata JSON cannot hold (NumPy scalars, sets, non-string keys). The history's
series are members, not JSON, so a history of any length fits (<= 48 bytes per epoch); besides
``metadata`` the header holds only a few hundred bytes. Duplicate keys in a JSON object are an
error. The ``format_version`` is increased by any change an older reader would misread.

What is restored: the architecture and parameters (predictions are bit-identical), the generator
state and the optimizer (rule, hyper-parameters including the base learning rate, step count and
state vectors), so that ``fit(...)`` on the loaded model continues exactly as it would have on the
saved one; ``history``, ``metadata`` and ``metadata_arrays``. Files written by the same model in
the same state are byte-identical (fixed member order and timestamps).

Loading is safe with untrusted files: nothing in a file is executed (``allow_pickle=False``, no
``eval``, the optimizer class comes from a fixed list of ``nncore.optim`` names) and memory use is
bounded by a small multiple of the file's size. The archive is opened with ``zipfile``; any member
name other than the above, a compressed or encrypted member, or members whose sizes add up to more
than the file are rejected; the header member is at most 1 MiB; every ``.npy`` member's own header
(read with ``numpy.lib.format``) must declare the dtype and shape the JSON header and the
architecture (for the history's series: ``history.epochs``) imply, C order, and exactly as many
data bytes as the member holds — all checked before its data is read. The architecture must be
one ``MLP`` accepts and the parameters and optimizer state finite (the history may hold NaN).
Any problem raises ``ValueError`` naming the file and the problem; ``FileNotFoundError``,
``IsADirectoryError`` and ``PermissionError`` come through as they are.

Saving to a path is atomic: the archive is written to a temporary file in the target's directory,
flushed and ``fsync``-ed, then renamed onto the target with ``os.replace``; on any error the
temporary is removed and an existing file is left as it was. (A symbolic link at the target is
replaced by the file, not followed. The new file gets the mode of the file it replaces, else the
default for new files under the process's umask.) Saving to, or loading from, a binary file object
is also possible; then there is no atomicity and the object is not closed.

Saving from a ``fit`` callback writes the state at that epoch's end. Saving while *another thread*
runs ``fit`` on the same model gives an undefined mixture of states: don't.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import re
import secrets
import stat
import struct
import zipfile
from collections.abc import Iterable
from itertools import pairwise
from tokenize import TokenError
from typing import IO, Any, TypeAlias, TypeGuard

import numpy as np
import numpy.typing as npt

from . import optim
from ._core import __version__
from ._validation import ACTIVATIONS, INITIALIZERS
from .history import SERIES, STOP_REASONS, History
from .mlp import MLP

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MAX_HEADER_BYTES", "load", "save"]

#: The ``"format"`` entry of every model file's header.
FORMAT_NAME = "nncore-model"
#: The version of the format this nncore writes and the newest it reads.
FORMAT_VERSION = 1
#: The largest JSON header a file may have (bytes).
MAX_HEADER_BYTES = 1 << 20

#: What ``save`` and ``load`` accept: a path, or a binary file object.
File: TypeAlias = "str | os.PathLike[str] | IO[bytes]"
Array = npt.NDArray[Any]

#: The optimizer classes a file may name (nothing else is ever instantiated).
_OPTIMIZERS: dict[str, type[optim.Optimizer]] = {
    "SGD": optim.SGD,
    "Adam": optim.Adam,
    "AdamW": optim.AdamW,
    "RMSProp": optim.RMSProp,
    "Adagrad": optim.Adagrad,
}
_DTYPES: dict[str, np.dtype[Any]] = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8")}
#: The type strings metadata arrays may have (besides fixed-width unicode, ``<U…``).
_METADATA_DTYPES = frozenset(
    (
        "|b1",
        "|i1",
        "<i2",
        "<i4",
        "<i8",
        "|u1",
        "<u2",
        "<u4",
        "<u8",
        "<f2",
        "<f4",
        "<f8",
        "<c8",
        "<c16",
    )
)
_UNICODE_DTYPE = re.compile(r"<U[1-9][0-9]{0,8}")
_METADATA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_STATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MEMBER = re.compile(
    r"(?P<kind>header|parameters)\.npy"
    r"|(?P<group>optimizer|history|metadata)\.(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})\.npy"
)
_DECIMAL_U64 = re.compile(r"0|[1-9][0-9]{0,19}")
_MAX_NDIM = 32
_MAX_STEP = 1 << 62
# Room for a .npy member's own header (NumPy refuses to parse more than 10000 bytes of it).
_NPY_HEADER_ROOM = 1 << 16
# Exceptions that zipfile, numpy.lib.format and json raise for damaged input.
_DAMAGE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    struct.error,
    ValueError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    NotImplementedError,
)
_HISTORY_SCALARS = ("stop_reason", "epochs", "best_epoch", "metric_name")
#: The dtype of the history's series members.
_SERIES_DTYPE = np.dtype("<f8")
_ARCHITECTURE_KEYS = (
    "layer_sizes",
    "activations",
    "use_bias",
    "dtype",
    "leaky_relu_slope",
    "elu_alpha",
    "dropout",
    "init",
)
_HEADER_KEYS = (
    "format",
    "format_version",
    "nncore_version",
    "architecture",
    "seed",
    "random_state",
    "optimizer",
    "history",
    "metadata",
    "arrays",
)
_OPTIMIZER_KEYS = ("class", "dtype", "hyperparameters", "step", "state_names")


class _Invalid(Exception):
    """A problem with a file's contents (``load`` turns it into a ``ValueError``)."""


# ===================================================================================== saving
def save(model: MLP, file: File) -> None:
    """Write ``model`` to ``file`` (a path or a writable binary file object) in the ``.nncore``
    format (module docstring). Writing to a path is atomic: the file is either the new model or
    left as it was.

    Raises ``TypeError`` for a model that is not an ``MLP``, for ``metadata`` that JSON cannot
    hold, ``metadata_arrays`` of an unsupported dtype or a ``history`` whose series are not
    numbers; ``ValueError`` when the header would exceed 1 MiB, the optimizer's state does not fit
    the model or the history is inconsistent (a series of the wrong length, an unknown
    ``stop_reason``, ``best_epoch`` out of range); ``OSError`` from the file system.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"save needs an nncore.MLP, got {type(model).__name__}")
    header, arrays = _encode(model)  # every check happens before the file system is touched
    if isinstance(file, (str, os.PathLike)):
        _save_atomic(os.fsdecode(file), header, arrays)
    elif _is_binary_file(file, "write"):
        _write_archive(file, header, arrays)
    else:
        raise TypeError(
            "file must be a path (str or os.PathLike) or a binary file object opened for "
            f"writing, got {type(file).__name__}"
        )


def _dumps(model: MLP) -> bytes:
    """The bytes of ``model``'s file (for pickling and copying)."""
    buffer = io.BytesIO()
    save(model, buffer)
    return buffer.getvalue()


def _loads(data: bytes) -> MLP:
    """The model in ``data``, the bytes of a model file."""
    return _load_stream(io.BytesIO(data), "the pickled model")


def _is_binary_file(file: Any, method: str) -> bool:
    return callable(getattr(file, method, None)) and not isinstance(file, io.TextIOBase)


def _encode(model: MLP) -> tuple[bytes, list[tuple[str, Array]]]:
    """The JSON header's bytes and the other members ``(name, array)`` of ``model``'s file."""
    dtype = _DTYPES[model.dtype.name]
    parameters = model._network.parameters
    n_parameters = int(parameters.size)
    arrays: list[tuple[str, Array]] = [("parameters", parameters.astype(dtype, copy=False))]

    optimizer_header = None
    if model.optimizer is not None:
        optimizer = model.optimizer
        class_name = next(
            (name for name, rule in _OPTIMIZERS.items() if type(optimizer) is rule), None
        )
        if class_name is None:
            raise TypeError(
                f"cannot save an optimizer of class {type(optimizer).__name__}; the file format "
                f"holds {', '.join(_OPTIMIZERS)} from nncore.optim"
            )
        state_dict = optimizer.state_dict()
        if state_dict["dtype"] not in (None, model.dtype.name):
            raise ValueError(
                f"model.optimizer works in {state_dict['dtype']} but the model is "
                f"{model.dtype.name}; set model.optimizer = None to save the model without it"
            )
        state = dict(state_dict["state"])
        step = int(state.pop("step"))
        for name, vector in state.items():
            if vector.shape != (n_parameters,):
                raise ValueError(
                    f"model.optimizer holds state for {vector.size} parameters, the model has "
                    f"{n_parameters}; call model.optimizer.reset() or set model.optimizer = None"
                )
            arrays.append((f"optimizer.{name}", np.asarray(vector).astype(dtype, copy=False)))
        optimizer_header = {
            "class": class_name,
            "dtype": state_dict["dtype"],
            "hyperparameters": state_dict["hyperparameters"],
            "step": step,
            "state_names": list(state),
        }

    history = model.history
    history_header = None
    if history is not None:
        if not isinstance(history, History):
            raise TypeError(
                f"model.history must be a History or None, got {type(history).__name__}"
            )
        history_header, series = _encode_history(history)
        arrays += series
    metadata = model.metadata
    if not isinstance(metadata, dict):
        raise TypeError(f"model.metadata must be a dict, got {type(metadata).__name__}")
    _check_json(metadata, "model.metadata")
    if not isinstance(model.metadata_arrays, dict):
        raise TypeError(
            f"model.metadata_arrays must be a dict, got {type(model.metadata_arrays).__name__}"
        )
    for name, value in model.metadata_arrays.items():
        arrays.append((f"metadata.{_check_metadata_name(name)}", _metadata_array(name, value)))

    random_state = [str(int(word)) for word in model._random.state]
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "nncore_version": __version__,
        "architecture": {
            "layer_sizes": list(model.layer_sizes),
            "activations": list(model.activations),
            "use_bias": model.use_bias,
            "dtype": model.dtype.name,
            "leaky_relu_slope": model._leaky_relu_slope,
            "elu_alpha": model._elu_alpha,
            "dropout": [float(rate) for rate in model.dropout],
            "init": model._init,
        },
        "seed": str(model.seed),
        "random_state": random_state,
        "optimizer": optimizer_header,
        "history": history_header,
        "metadata": metadata,
        "arrays": {
            name: {"dtype": array.dtype.str, "shape": list(array.shape)} for name, array in arrays
        },
    }
    try:
        text = json.dumps(header, separators=(",", ":"))
    except (TypeError, ValueError) as error:  # e.g. a circular reference in metadata
        raise TypeError(f"model.metadata cannot be written as JSON: {error}") from None
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_HEADER_BYTES:
        raise ValueError(
            f"the model's JSON header (architecture, optimizer and metadata) takes {len(encoded)} "
            f"bytes, more than the format's {MAX_HEADER_BYTES}; put large values in "
            "model.metadata_arrays"
        )
    return encoded, arrays


def _encode_history(history: History) -> tuple[dict[str, Any], list[tuple[str, Array]]]:
    """The header's ``"history"`` entry and the ``history.<series>`` members of ``history``,
    checked as ``load`` will check them (a saved file always loads)."""
    epochs = history.epochs
    members: list[tuple[str, Array]] = []
    for name in SERIES:
        try:
            values = np.asarray(getattr(history, name))
        except (TypeError, ValueError, OverflowError):
            values = np.asarray(None)
        if values.ndim != 1 or values.dtype.kind not in "fiu":
            raise TypeError(f"model.history.{name} must be a list of numbers")
        optional = name.startswith("validation")
        if len(values) != epochs and not (optional and len(values) == 0):
            raise ValueError(
                f"model.history.{name} has {len(values)} values, the history {epochs} epochs; "
                f"the file format needs one value per epoch{' (or none)' if optional else ''}"
            )
        members.append((f"history.{name}", values.astype(_SERIES_DTYPE)))
    stop_reason, best = history.stop_reason, history.best_epoch
    if not isinstance(stop_reason, str) or stop_reason not in STOP_REASONS:
        raise ValueError(
            f"model.history.stop_reason must be one of {', '.join(STOP_REASONS)}, got "
            f"{stop_reason!r:.60}"
        )
    if not isinstance(history.metric_name, str):
        raise TypeError("model.history.metric_name must be a string")
    if best is not None and (not _is_int(best) or not 1 <= best <= epochs):
        raise ValueError(
            f"model.history.best_epoch must be None or an int in [1, {epochs}], got {best!r:.60}"
        )
    header = {
        "stop_reason": stop_reason,
        "epochs": epochs,
        "best_epoch": best,
        "metric_name": history.metric_name,
    }
    return header, members


def _check_json(value: Any, where: str, containers: frozenset[int] = frozenset()) -> None:
    """Raise ``TypeError`` unless ``value`` is made of what JSON holds, with string keys
    (``ValueError`` for a container that contains itself)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple, dict)):
        if id(value) in containers:
            raise ValueError(f"{where} contains itself; JSON cannot hold a circular reference")
        containers = containers | {id(value)}
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]", containers)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; JSON objects have string keys only")
            _check_json(item, f"{where}[{key!r}]", containers)
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}, which JSON cannot hold (use None, bool, int, "
        "float, str, lists and dicts; arrays go into model.metadata_arrays)"
    )


def _check_metadata_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"model.metadata_arrays keys must be strings, got {name!r}")
    if not _METADATA_NAME.fullmatch(name):
        raise ValueError(
            f"model.metadata_arrays key {name!r} is not a valid name: 1 to 128 characters from "
            "A-Z a-z 0-9 _ . -, not starting with '.' or '-'"
        )
    return name


def _metadata_array(name: str, value: Any) -> Array:
    array = np.asarray(value)
    little = array.dtype if array.dtype.byteorder == "|" else array.dtype.newbyteorder("<")
    if little.str not in _METADATA_DTYPES and not _UNICODE_DTYPE.fullmatch(little.str):
        raise TypeError(
            f"model.metadata_arrays[{name!r}] has dtype {array.dtype}; the file format holds "
            "bool, integer, floating, complex and fixed-width unicode arrays"
        )
    if array.ndim > _MAX_NDIM:
        raise ValueError(f"model.metadata_arrays[{name!r}] has more than {_MAX_NDIM} dimensions")
    result: Array = np.asarray(array, dtype=little, order="C")
    return result


def _write_archive(file: IO[bytes], header: bytes, arrays: list[tuple[str, Array]]) -> None:
    members = [("header", np.frombuffer(header, dtype=np.uint8)), *arrays]
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in members:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            large = array.nbytes + _NPY_HEADER_ROOM > zipfile.ZIP64_LIMIT
            with archive.open(info, "w", force_zip64=large) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _save_atomic(path: str, header: bytes, arrays: list[tuple[str, Array]]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = None  # a new file: os.open below applies the umask to 0o666
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    base = os.path.basename(path)
    for _ in range(100):
        temporary = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            descriptor = os.open(temporary, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"could not create a temporary file in {directory!r}")
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write_archive(file, header, arrays)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# ===================================================================================== loading
def load(file: File) -> MLP:
    """The model saved in ``file`` (a path or a readable binary file object) by ``MLP.save``.

    The file is checked completely and nothing in it is executed (module docstring), so files from
    untrusted sources are safe to load. Raises ``ValueError`` naming the file and the problem for
    anything that is not a valid model file (damaged, truncated, another format, a newer format
    version, hostile sizes, ...); ``FileNotFoundError``, ``IsADirectoryError``,
    ``PermissionError`` and other ``OSError`` of the file system come through as they are.
    """
    if isinstance(file, (str, os.PathLike)):
        path = os.fsdecode(file)
        with open(path, "rb") as stream:
            return _load_stream(stream, repr(path))
    if isinstance(file, (bytes, bytearray, memoryview)):  # type: ignore[unreachable]
        raise TypeError("load takes a path or a binary file; for bytes use io.BytesIO(data)")
    if not _is_binary_file(file, "read"):
        raise TypeError(
            "file must be a path (str or os.PathLike) or a binary file object opened for "
            f"reading, got {type(file).__name__}"
        )
    name = getattr(file, "name", None)
    display = repr(name) if isinstance(name, str) else "the file object"
    if not (callable(getattr(file, "seekable", None)) and file.seekable()):
        file = io.BytesIO(file.read())
    return _load_stream(file, display)


def _load_stream(stream: IO[bytes], display: str) -> MLP:
    try:
        return _read_model(stream)
    except _Invalid as error:
        raise ValueError(f"cannot load {display}: {error}") from None
    except _DAMAGE as error:
        raise ValueError(
            f"cannot load {display}: the file is damaged or not an nncore model file "
            f"({type(error).__name__}: {error})"
        ) from error
    except OSError as error:
        # A seek to an offset a damaged directory points to; real I/O errors come through.
        if type(error) is OSError and error.errno == errno.EINVAL:
            raise ValueError(
                f"cannot load {display}: the file is damaged (invalid offset: {error})"
            ) from error
        raise


def _read_model(stream: IO[bytes]) -> MLP:
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    if size == 0:
        raise _Invalid("the file is empty")
    if stream.read(4) != b"PK\x03\x04":
        raise _Invalid(
            "not an nncore model file: it does not start with the ZIP signature (a model file is "
            "an uncompressed NumPy .npz archive)"
        )
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as error:
        raise _Invalid(
            f"not a complete ZIP archive ({error}); the file may be truncated or damaged"
        ) from None
    with archive:
        members = _check_members(archive.infolist(), size)
        if "header" not in members:
            raise _Invalid("the archive has no header member (header.npy)")
        header = _read_header(archive, members["header"])
        spec = _Spec(header)
        declared = set(spec.arrays)
        present = set(members) - {"header"}
        if present - declared:
            raise _Invalid(
                f"member(s) {_names(present - declared)} are not declared in the header's arrays"
            )
        if declared - present:
            raise _Invalid(
                f"member(s) {_names(declared - present)} declared in the header are missing"
            )
        parameters = _read_array(archive, members["parameters"], "parameters", spec)
        vectors = {
            name: _read_array(archive, members[f"optimizer.{name}"], f"optimizer.{name}", spec)
            for name in spec.state_names
        }
        series = {
            name: _read_array(archive, members[f"history.{name}"], f"history.{name}", spec)
            for name in (SERIES if spec.history is not None else ())
        }
        metadata_arrays = {
            member[len("metadata.") :]: _read_array(archive, members[member], member, spec)
            for member in spec.arrays
            if member.startswith("metadata.")
        }
    return spec.build(parameters, vectors, series, metadata_arrays)


def _names(names: Iterable[str]) -> str:
    return ", ".join(repr(f"{name}.npy") for name in sorted(names))


def _check_members(infos: list[zipfile.ZipInfo], size: int) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by name (without ``.npy``), after checking names and sizes."""
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.orig_filename
        match = _MEMBER.fullmatch(name)
        if match is None:
            raise _Invalid(
                f"unexpected member {name!r} in the archive (a model file holds header.npy, "
                "parameters.npy, optimizer.<name>.npy, history.<series>.npy and "
                "metadata.<name>.npy only)"
            )
        key = name[: -len(".npy")]
        if match["group"] == "optimizer" and not _STATE_NAME.fullmatch(match["name"]):
            raise _Invalid(f"unexpected member {name!r} (not an optimizer state name)")
        if match["group"] == "history" and match["name"] not in SERIES:
            raise _Invalid(
                f"unexpected member {name!r} (the history's series are {', '.join(SERIES)})"
            )
        if key in members:
            raise _Invalid(f"the archive holds the member {name!r} twice")
        if info.flag_bits & 0x1:
            raise _Invalid(f"member {name!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise _Invalid(
                f"member {name!r} is compressed (method {info.compress_type}); model files store "
                "their members uncompressed"
            )
        if info.file_size != info.compress_size or info.file_size > size:
            raise _Invalid(
                f"member {name!r} claims {info.file_size} bytes, which the {size}-byte file "
                "cannot hold"
            )
        total += info.file_size
        members[key] = info
    if total > size:
        raise _Invalid(
            f"the members claim {total} bytes together, more than the file's {size} "
            "(overlapping members)"
        )
    return members


def _open_npy(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str
) -> tuple[Any, np.dtype[Any], tuple[int, ...], int]:
    """Open a ``.npy`` member and parse its header: ``(stream, dtype, shape, data_bytes)``."""
    stream = archive.open(info)
    try:
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise _Invalid(f"{what}: unsupported .npy format version {version[0]}.{version[1]}")
        except (ValueError, TypeError, SyntaxError, RecursionError, TokenError) as error:
            raise _Invalid(f"{what}: not a valid .npy array ({error})") from None
        if fortran_order:
            raise _Invalid(f"{what}: the array is stored in Fortran order; C order is required")
        data_bytes = info.file_size - stream.tell()
    except BaseException:
        stream.close()
        raise
    return stream, dtype, tuple(shape), data_bytes


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    if info.file_size > MAX_HEADER_BYTES + _NPY_HEADER_ROOM:
        raise _Invalid(
            f"the header member is {info.file_size} bytes, over the limit of {MAX_HEADER_BYTES}"
        )
    stream, dtype, shape, data_bytes = _open_npy(archive, info, "header")
    with stream:
        if dtype != np.dtype(np.uint8):
            raise _Invalid(f"the header member has dtype {dtype}, expected uint8")
        if len(shape) != 1:
            raise _Invalid(f"the header member has shape {shape}, expected a 1-D array")
        if shape[0] > MAX_HEADER_BYTES:
            raise _Invalid(
                f"the header member declares {shape[0]} bytes, over the limit of {MAX_HEADER_BYTES}"
            )
        data = _read_exactly(stream, shape[0], data_bytes, "header")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Invalid(f"the header is not UTF-8 text ({error})") from None
    try:
        header = json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as error:
        raise _Invalid(f"the header is not valid JSON ({type(error).__name__}: {error})") from None
    if not isinstance(header, dict):
        raise _Invalid(f"the header is JSON but not an object (got {type(header).__name__})")
    return header


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r:.60} appears twice in one object")
        result[key] = value
    return result


def _read_exactly(stream: IO[bytes], expected: int, available: int, what: str) -> bytes:
    """The ``expected`` data bytes of a member that holds ``available`` after its .npy header."""
    if expected != available:
        raise _Invalid(
            f"{what}: the .npy header declares {expected} bytes of data but the member holds "
            f"{available}"
        )
    data = stream.read(expected)
    if len(data) != expected or stream.read(1):  # the last read also checks the CRC
        raise _Invalid(f"{what}: the member is truncated")
    return data


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, spec: _Spec) -> Array:
    """A member's array, after checking its .npy header against the JSON header (``spec``)."""
    expected_dtype, expected_shape = spec.arrays[what]
    stream, dtype, shape, data_bytes = _open_npy(archive, info, what)
    with stream:
        if dtype.hasobject or dtype.str != expected_dtype.str:
            raise _Invalid(
                f"{what}: the array has dtype {dtype.str!r}, the header declares "
                f"{expected_dtype.str!r}"
            )
        if shape != expected_shape:
            raise _Invalid(
                f"{what}: the array has shape {shape}, the header declares {expected_shape}"
            )
        data = _read_exactly(stream, math.prod(shape) * dtype.itemsize, data_bytes, what)
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    result: Array = array.astype(dtype.newbyteorder("="), copy=True)
    return result


# ===================================================================================== the header
def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _keys(value: Any, expected: tuple[str, ...], where: str) -> dict[str, Any]:
    """``value`` as a JSON object with exactly the ``expected`` keys."""
    if not isinstance(value, dict):
        raise _Invalid(f"{where} must be a JSON object, got {_json_type(value)}")
    missing = [key for key in expected if key not in value]
    if missing:
        raise _Invalid(f"{where} lacks {', '.join(map(repr, missing))}")
    unknown = [key for key in value if key not in expected]
    if unknown:
        raise _Invalid(f"{where} has unknown entries {', '.join(map(repr, unknown))}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), f"the number {value!r}" if _is_number(value) else repr(value))


def _list(value: Any, where: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(f"{where} must be a list, got {_json_type(value)}")
    if length is not None and len(value) != length:
        raise _Invalid(f"{where} must have {length} entries, got {len(value)}")
    return value


def _u64(value: Any, where: str) -> int:
    if not isinstance(value, str) or not _DECIMAL_U64.fullmatch(value) or int(value) >= 1 << 64:
        raise _Invalid(
            f"{where} must be a decimal string of an integer in [0, 2**64), got {value!r:.60}"
        )
    return int(value)


def _finite(value: Any, where: str, minimum: float, strict: bool = False) -> float:
    if not _is_number(value) or not math.isfinite(value):
        raise _Invalid(f"{where} must be a finite number, got {_json_type(value):.60}")
    if value < minimum or (strict and value == minimum):
        raise _Invalid(f"{where} must be {'>' if strict else '>='} {minimum}, got {value}")
    return float(value)


class _Spec:
    """A checked JSON header: everything ``load`` needs besides the arrays."""

    def __init__(self, header: dict[str, Any]) -> None:
        # Format and version first: a newer file may differ in everything else.
        if header.get("format") != FORMAT_NAME:
            raise _Invalid(
                f"not an nncore model file (its header's format is {header.get('format')!r:.60}, "
                f"expected {FORMAT_NAME!r})"
            )
        version = header.get("format_version")
        if not _is_int(version) or version < 1:
            raise _Invalid(f"invalid format_version {version!r:.60}")
        if version > FORMAT_VERSION:
            raise _Invalid(
                f"written by a newer nncore (format version {version}); this nncore reads "
                f"version {FORMAT_VERSION} — upgrade nncore to load it"
            )
        _keys(header, _HEADER_KEYS, "the header")
        if not isinstance(header["nncore_version"], str):
            raise _Invalid("the header's nncore_version must be a string")
        self._architecture(_keys(header["architecture"], _ARCHITECTURE_KEYS, "architecture"))
        self.seed = _u64(header["seed"], "seed")
        words = _list(header["random_state"], "random_state", 4)
        state = [_u64(word, f"random_state[{i}]") for i, word in enumerate(words)]
        self.random_state = (state[0], state[1], state[2], state[3])
        if not any(self.random_state):
            raise _Invalid("random_state must not be all zeros (xoshiro256** would be stuck)")
        self._optimizer(header["optimizer"])
        self._history(header["history"])
        if not isinstance(header["metadata"], dict):
            raise _Invalid(f"metadata must be a JSON object, got {_json_type(header['metadata'])}")
        self.metadata: dict[str, Any] = header["metadata"]
        self._arrays(header["arrays"])

    def _architecture(self, arch: dict[str, Any]) -> None:
        sizes = _list(arch["layer_sizes"], "architecture.layer_sizes")
        if len(sizes) < 2:
            raise _Invalid(f"architecture.layer_sizes needs at least 2 entries, got {len(sizes)}")
        for i, size in enumerate(sizes):
            if not _is_int(size) or size < 1:
                raise _Invalid(
                    f"architecture.layer_sizes[{i}] must be an integer >= 1, got "
                    f"{_json_type(size):.60}"
                )
        n_layers = len(sizes) - 1
        activations = _list(arch["activations"], "architecture.activations", n_layers)
        for i, name in enumerate(activations):
            allowed = ACTIVATIONS if i == n_layers - 1 else tuple(set(ACTIVATIONS) - {"softmax"})
            if not isinstance(name, str) or name not in allowed:
                where = "the output layer" if i == n_layers - 1 else f"hidden layer {i + 1}"
                raise _Invalid(
                    f"architecture.activations[{i}]: unknown activation {name!r:.60} for {where}"
                )
        if not isinstance(arch["use_bias"], bool):
            raise _Invalid("architecture.use_bias must be true or false")
        if not isinstance(arch["dtype"], str) or arch["dtype"] not in _DTYPES:
            raise _Invalid(
                f"architecture.dtype must be 'float32' or 'float64', got {arch['dtype']!r:.60}"
            )
        dropout = _list(arch["dropout"], "architecture.dropout", n_layers - 1)
        for i, rate in enumerate(dropout):
            _finite(rate, f"architecture.dropout[{i}]", 0.0)
            if rate >= 1.0:
                raise _Invalid(f"architecture.dropout[{i}] must be below 1, got {rate}")
        if not isinstance(arch["init"], str) or arch["init"] not in INITIALIZERS:
            raise _Invalid(f"architecture.init: unknown initializer {arch['init']!r:.60}")
        self.layer_sizes: list[int] = sizes
        self.activations: list[str] = activations
        self.use_bias: bool = arch["use_bias"]
        self.dtype_name: str = arch["dtype"]
        self.dtype = _DTYPES[self.dtype_name]
        self.leaky_relu_slope = _finite(
            arch["leaky_relu_slope"], "architecture.leaky_relu_slope", 0.0
        )
        self.elu_alpha = _finite(arch["elu_alpha"], "architecture.elu_alpha", 0.0, strict=True)
        self.dropout = [float(rate) for rate in dropout]
        self.init: str = arch["init"]
        self.n_parameters = sum(
            n_in * n_out + (n_out if self.use_bias else 0) for n_in, n_out in pairwise(sizes)
        )

    def _optimizer(self, value: Any) -> None:
        self.optimizer: dict[str, Any] | None = None
        self.state_names: list[str] = []
        if value is None:
            return
        spec = _keys(value, _OPTIMIZER_KEYS, "optimizer")
        if not isinstance(spec["class"], str) or spec["class"] not in _OPTIMIZERS:
            raise _Invalid(
                f"optimizer: unknown class {spec['class']!r:.60}; expected one of "
                f"{', '.join(_OPTIMIZERS)}"
            )
        if spec["dtype"] not in (None, self.dtype_name):
            raise _Invalid(
                f"optimizer.dtype must be null or the model's {self.dtype_name!r}, got "
                f"{spec['dtype']!r:.60}"
            )
        if not isinstance(spec["hyperparameters"], dict):
            raise _Invalid("optimizer.hyperparameters must be a JSON object")
        step = spec["step"]
        if not _is_int(step) or not 0 <= step < _MAX_STEP:
            raise _Invalid(f"optimizer.step must be an integer in [0, 2**62), got {step!r:.60}")
        names = _list(spec["state_names"], "optimizer.state_names")
        for name in names:
            if not isinstance(name, str) or not _STATE_NAME.fullmatch(name):
                raise _Invalid(f"optimizer.state_names: invalid name {name!r:.60}")
        if len(set(names)) != len(names):
            raise _Invalid("optimizer.state_names lists a name twice")
        if spec["dtype"] is None and (step != 0 or names):
            raise _Invalid("an optimizer without dtype must have step 0 and no state")
        self.optimizer = spec
        self.state_names = names

    def _history(self, value: Any) -> None:
        """The history's scalars (its series are the ``history.<series>`` members)."""
        self.history: dict[str, Any] | None = None
        self.epochs = 0
        if value is None:
            return
        spec = _keys(value, _HISTORY_SCALARS, "history")
        epochs = spec["epochs"]
        if not _is_int(epochs) or not 0 <= epochs < _MAX_STEP:
            raise _Invalid(f"history.epochs must be an integer in [0, 2**62), got {epochs!r:.60}")
        if not isinstance(spec["stop_reason"], str) or spec["stop_reason"] not in STOP_REASONS:
            raise _Invalid(f"history.stop_reason: unknown reason {spec['stop_reason']!r:.60}")
        if not isinstance(spec["metric_name"], str):
            raise _Invalid("history.metric_name must be a string")
        best = spec["best_epoch"]
        if best is not None and (not _is_int(best) or not 1 <= best <= epochs):
            raise _Invalid(f"history.best_epoch must be null or in [1, {epochs}], got {best!r:.60}")
        self.history = spec
        self.epochs = epochs

    def _arrays(self, value: Any) -> None:
        if not isinstance(value, dict):
            raise _Invalid(f"arrays must be a JSON object, got {_json_type(value)}")
        if "parameters" not in value:
            raise _Invalid("arrays lacks 'parameters'")
        series = {} if self.history is None else {f"history.{name}": name for name in SERIES}
        expected = {"parameters", *(f"optimizer.{name}" for name in self.state_names), *series}
        self.arrays: dict[str, tuple[np.dtype[Any], tuple[int, ...]]] = {}
        for name, entry in value.items():
            where = f"arrays[{name!r:.60}]"
            entry = _keys(entry, ("dtype", "shape"), where)
            dims = _list(entry["shape"], f"{where}.shape")
            if len(dims) > _MAX_NDIM or not all(_is_int(d) and 0 <= d < _MAX_STEP for d in dims):
                raise _Invalid(f"{where}.shape must be at most {_MAX_NDIM} integers >= 0")
            shape = tuple(dims)
            if name in series:
                # One value per epoch; the validation series may be empty (no validation data).
                dtype = _SERIES_DTYPE
                shapes = [(self.epochs,)]
                if series[name].startswith("validation") and self.epochs:
                    shapes.append((0,))
                if entry["dtype"] != dtype.str or shape not in shapes:
                    allowed = " or ".join(map(repr, shapes))
                    raise _Invalid(
                        f"{where} declares {entry['dtype']!r:.20} {shape!r:.60}, but "
                        f"history.epochs implies {dtype.str!r} {allowed}"
                    )
            elif name in expected:
                dtype = self.dtype
                if entry["dtype"] != dtype.str or shape != (self.n_parameters,):
                    raise _Invalid(
                        f"{where} declares {entry['dtype']!r:.20} {shape!r:.60}, but the "
                        f"architecture implies {dtype.str!r} ({self.n_parameters},)"
                    )
            elif name.startswith("metadata.") and _METADATA_NAME.fullmatch(name[9:]):
                code = entry["dtype"]
                if not isinstance(code, str) or not (
                    code in _METADATA_DTYPES or _UNICODE_DTYPE.fullmatch(code)
                ):
                    raise _Invalid(f"{where}.dtype {code!r:.60} is not a supported array dtype")
                dtype = np.dtype(code)
            else:
                raise _Invalid(f"arrays declares the unexpected member {name!r:.60}")
            self.arrays[name] = (dtype, shape)
        missing = expected - set(self.arrays)
        if missing:
            raise _Invalid(f"arrays lacks {', '.join(sorted(missing))}")

    def build(
        self,
        parameters: Array,
        vectors: dict[str, Array],
        series: dict[str, Array],
        metadata_arrays: dict[str, Array],
    ) -> MLP:
        """The model (its arrays have been read and checked against this header)."""
        if not np.isfinite(parameters).all():
            raise _Invalid("parameters: the values are not all finite (NaN or infinity)")
        for name, vector in vectors.items():
            if not np.isfinite(vector).all():
                raise _Invalid(f"optimizer.{name}: the values are not all finite")
        try:
            model = MLP(
                self.layer_sizes,
                activation=self.activations[:-1],
                output_activation=self.activations[-1],
                dtype=self.dtype_name,
                seed=self.seed,
                use_bias=self.use_bias,
                init=self.init,
                leaky_relu_slope=self.leaky_relu_slope,
                elu_alpha=self.elu_alpha,
                dropout=self.dropout,
            )
        except (ValueError, TypeError) as error:
            raise _Invalid(f"architecture: {error}") from None
        model._network.parameters[...] = parameters
        model._random.state = self.random_state
        if self.optimizer is not None:
            spec = self.optimizer
            rule = _OPTIMIZERS[spec["class"]]
            state_dict = {
                "name": rule.name,
                "dtype": spec["dtype"],
                "hyperparameters": spec["hyperparameters"],
                "state": {"step": spec["step"], **vectors},
            }
            try:
                model.optimizer = optim.Optimizer.from_state_dict(state_dict)
            except (ValueError, TypeError) as error:
                raise _Invalid(f"optimizer: {error}") from None
        model.history = None if self.history is None else self._build_history(series)
        model.metadata = self.metadata
        model.metadata_arrays = metadata_arrays
        return model

    def _build_history(self, series: dict[str, Array]) -> History:
        """The ``History`` of the scalars in the header and the series members (checked)."""
        assert self.history is not None
        spec = self.history
        history = History([], spec["stop_reason"], spec["metric_name"], spec["best_epoch"])
        # The series are History's per-epoch lists of floats (SERIES), set directly rather than
        # through per-epoch records: a quarter of the memory and time for a long history.
        for name in SERIES:
            setattr(history, name, series[name].tolist())
        return history
