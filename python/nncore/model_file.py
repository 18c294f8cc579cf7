"""Model files: ``save(model, file)`` (``MLP.save``) and ``load(file)`` (``nncore.load``).

A model describes itself through public accessors: ``config()`` and ``from_config(config)`` (its
constructor's arguments), ``count_parameters(config)``, ``parameters`` (the flat parameter vector),
``generator_state``, ``optimizer`` (``state_dict``/``Optimizer.from_state_dict``), ``history``,
``metadata`` and ``metadata_arrays``. This module turns them into a JSON header and named arrays
and back; ``nncore.serialization`` (the format module) writes and reads those.

The header names the model's kind (``"MLP"``), a class of ``MODELS``: every model class registers
itself there with ``register_model``, so this module imports no model class (no import cycle) and
a file can make nothing else be instantiated. Files of format version 1 (nncore 0.1-0.3, MLPs
only) are read too.

The header (format version 2)
=============================

Between the format's own entries (``format``, ``format_version``, ``nncore_version`` first,
``arrays`` last; see ``nncore.serialization``), every key required, no other allowed::

    "model": "MLP",                           # a class of MODELS
    "config": {...},                          # model.config(): MLP's constructor arguments
    "random_state": ["…", "…", "…", "…"],     # generator_state: 4 decimal strings (< 2**64),
                                              # not all zero (JSON numbers lose precision > 2**53)
    "optimizer": null or {
        "name": "adam",                       # a name of nncore.optim.OPTIMIZERS
        "dtype": "float32",                   # null (never used) or the model's dtype
        "hyperparameters": {...},             # Optimizer.hyperparameters(): constructor arguments
        "step": 120,                          # the update count t (0 <= t < 2**62)
        "state_names": ["exp_avg", "exp_avg_sq"]   # one optimizer.<name> array each
    },
    "history": null or {                      # the History of the last fit, without its series
        "stop_reason": "max_epochs",          # one of nncore.history.STOP_REASONS
        "epochs": 120,                        # 0 <= epochs < 2**62: each series' length
        "best_epoch": null,                   # null or in [1, epochs]
        "metric_name": "r2"                   # a string
    },
    "metadata": {...}                         # model.metadata (a JSON object)

The arrays: ``parameters`` (1-D, ``<f4`` or ``<f8``: the model's dtype, ``count_parameters``
long); ``optimizer.<state name>`` (as ``parameters``); ``state.<name>`` for every entry of
``model.state`` (a BatchNorm's ``"2.running_mean"``, of the model's dtype and shape, finite;
none for a model without state, an MLP); with a history, ``history.<series>`` for
every series of ``nncore.history.SERIES`` (``<f8``, one value per epoch; the validation series
may be empty) and ``history.scores.<entry>`` for every entry of ``history.scores`` (the scores of
``fit(metrics=[...])``, ``<f8``, one value per epoch); ``metadata.<name>`` for every entry of
``metadata_arrays`` (``<name>``: 1–128 characters from ``A–Z a–z 0–9 _ . -``, not starting
with ``.`` or ``-``).

Format version 1 had ``"architecture"`` (``layer_sizes``, ``activations`` with the output's
last, ``use_bias``, ``dtype``, ``leaky_relu_slope``, ``elu_alpha``, ``dropout``, ``init``) and
``"seed"`` (a decimal string) instead of ``"model"`` and ``"config"``, and the optimizer's
``"class"`` (``"Adam"``) instead of its ``"name"``; ``load`` reads it as the MLP it describes.

What is restored: the model (predictions are bit-identical), the generator state and the optimizer
(rule, hyper-parameters including the base learning rate, step count and state vectors), so that
``fit(...)`` on the loaded model continues exactly as it would have on the saved one; ``history``,
``metadata`` and ``metadata_arrays``. The parameters and the optimizer state must be finite (the
history may hold NaN). Saving from a ``fit`` callback writes the state at that epoch's end, with
the history so far (``stop_reason`` ``"running"``); saving while *another thread* runs ``fit``
on the same model gives an undefined mixture of states: don't.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from ._json import Invalid, check_json, is_int, json_list, json_type, keys, u64
from .history import SERIES, STOP_REASONS, History, is_score
from .optim import OPTIMIZERS, Optimizer

if TYPE_CHECKING:  # the format module (zipfile, json, ...) is imported by the first save/load:
    from .serialization import File  # `import nncore` and a fit do not need it

__all__ = ["MODELS", "dumps", "load", "loads", "register_model", "save"]

Array = npt.NDArray[Any]


class Model(Protocol):
    """What a model class offers the model file (``Sequential`` and ``MLP`` do). A model may also
    offer ``named_parameters()`` (each parameter array with its name, tiling ``parameters`` in
    order), which the messages about non-finite values then use."""

    optimizer: Optimizer | None
    history: History | None
    metadata: dict[str, Any]
    metadata_arrays: dict[str, Any]
    generator_state: tuple[int, int, int, int]

    @property
    def parameters(self) -> Array: ...

    @property
    def state(self) -> dict[str, Array]: ...  # the non-trainable buffers, as views

    def config(self) -> dict[str, Any]: ...

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model: ...

    @classmethod
    def count_parameters(cls, config: dict[str, Any]) -> int: ...


M = TypeVar("M", bound=type[Model])

#: Every kind of model a file may hold, by the class name its header gives.
MODELS: dict[str, type[Model]] = {}


def register_model(cls: M) -> M:
    """Class decorator: files may hold models of ``cls``, under its name (``@register_model``
    above ``class MLP``). Raises ``TypeError`` if another class has that name."""
    name = cls.__name__
    if MODELS.get(name, cls) is not cls:
        raise TypeError(f"a model class named {name!r} is registered already")
    MODELS[name] = cls
    return cls


_HEADER_ENTRIES = ("model", "config", "random_state", "optimizer", "history", "metadata")
_OPTIMIZER_ENTRIES = ("name", "dtype", "hyperparameters", "step", "state_names")
_HISTORY_ENTRIES = ("stop_reason", "epochs", "best_epoch", "metric_name")
_METADATA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_STATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_PARAMETER_DTYPES = ("<f4", "<f8")
#: The prefix of the members holding ``history.scores`` (``fit(metrics=[...])``).
_SCORES = "history.scores."
#: The dtype of the history's series.
_SERIES_DTYPE = np.dtype("<f8")
_MAX_COUNT = 1 << 62


# ===================================================================================== saving
def save(model: Model, file: File) -> None:
    """Write ``model`` to ``file`` (a path, written atomically, or a writable binary file object);
    ``load`` gives it back. Everything is checked before the file system is touched.

    Raises ``TypeError`` for a model of no class of ``MODELS``, an optimizer of no class of
    ``nncore.optim.OPTIMIZERS``, ``metadata`` that JSON cannot hold, ``metadata_arrays`` of an
    unsupported dtype or a ``history`` whose series are not numbers; ``ValueError`` when the header
    would exceed 1 MiB, the parameters or the optimizer's state hold NaN or an infinity (naming
    the array and the position, ``model.weights[1][0, 2]``; ``load`` refuses such files), the
    optimizer's state does not fit the model or the history is inconsistent (a series of the wrong
    length, an unknown ``stop_reason``, ``best_epoch`` out of range); ``OSError`` from the file
    system. A refused call writes nothing. Saving to a path is atomic: whatever interrupts it (a
    ``KeyboardInterrupt`` at any point included, which comes through as itself) leaves no
    temporary file and the target as it was, or complete once renamed.
    """
    kind = next((c.__name__ for c in type(model).__mro__ if MODELS.get(c.__name__) is c), None)
    if kind is None:
        raise TypeError(
            f"save needs a model of {', '.join(f'nncore.{name}' for name in MODELS)}, got "
            f"{type(model).__name__}"
        )
    parameters = model.parameters
    _refuse_non_finite(model, parameters)
    arrays: dict[str, Any] = {"parameters": parameters}
    optimizer, vectors = _optimizer_entry(model, parameters)
    arrays.update(vectors)
    arrays.update(_state_members(model))
    history = model.history
    if history is not None and not isinstance(history, History):
        raise TypeError(f"model.history must be a History or None, got {type(history).__name__}")
    history_entry = None
    if history is not None:
        history_entry, series = _history_entry(history)
        arrays.update(series)
    if not isinstance(model.metadata, dict):
        raise TypeError(f"model.metadata must be a dict, got {type(model.metadata).__name__}")
    check_json(model.metadata, "model.metadata")
    arrays.update(_metadata_members(model.metadata_arrays))
    header = {
        "model": kind,
        "config": model.config(),
        "random_state": [str(int(word)) for word in model.generator_state],
        "optimizer": optimizer,
        "history": history_entry,
        "metadata": model.metadata,
    }
    from . import serialization

    serialization.write(file, header, arrays)


def dumps(model: Model) -> bytes:
    """The bytes of ``model``'s file (for pickling and copying); raises as ``save`` does."""
    buffer = io.BytesIO()
    save(model, buffer)
    return buffer.getvalue()


def _refuse_non_finite(model: Model, vector: Array, state: str | None = None) -> None:
    """Raise ``ValueError`` if ``vector`` — ``model.parameters``, or the optimizer's ``state``
    vector laid out as they are — holds NaN or an infinity (``load`` refuses them), naming the
    parameter array (``model.named_parameters()``: the layer and ``W`` or ``b``) and the
    position of the first."""
    finite = np.isfinite(vector)
    if finite.all():
        return
    index = int(np.argmin(finite))
    where = _parameter_at(model, index)
    count = f"{finite.size - np.count_nonzero(finite)} of {finite.size} values are NaN or infinite"
    if state is None:
        raise ValueError(
            f"cannot save a model with non-finite parameters: {where} is {vector[index]} "
            f"({count}); the file format holds finite parameters only"
        )
    raise ValueError(
        f"cannot save a model with non-finite optimizer state: model.optimizer's {state} for "
        f"{where} is {vector[index]} ({count}); call model.optimizer.reset() or set "
        "model.optimizer = None to save the model without it"
    )


def _state_members(model: Model) -> dict[str, Array]:
    """The ``state.<name>`` arrays of ``model.state`` (a BatchNorm's running statistics), which
    must be finite: ``ValueError`` naming the first value that is not."""
    members = {}
    for name, array in model.state.items():
        finite = np.isfinite(array)
        if not finite.all():
            position = np.unravel_index(int(np.argmin(finite)), array.shape)
            raise ValueError(
                f"cannot save a model with non-finite state: model.state[{name!r}]"
                f"[{', '.join(map(str, position))}] is {array[position]}; the file format holds "
                "finite state only"
            )
        members[f"state.{name}"] = array
    return members


def _parameter_at(model: Model, index: int) -> str:
    """The entry of ``model.named_parameters()`` that holds ``model.parameters[index]``:
    ``"model.weights[1][0, 2]"``; ``"model.parameters[index]"`` for a model without names."""
    named = getattr(model, "named_parameters", None)
    start = 0
    for name, array in named() if callable(named) else ():
        if index < start + array.size:
            position = np.unravel_index(index - start, array.shape)
            return f"model.{name}[{', '.join(map(str, position))}]"
        start += array.size
    return f"model.parameters[{index}]"


def _optimizer_entry(
    model: Model, parameters: Array
) -> tuple[dict[str, Any] | None, dict[str, Array]]:
    """The header's ``"optimizer"`` entry and the ``optimizer.<state name>`` arrays."""
    optimizer = model.optimizer
    if optimizer is None:
        return None, {}
    name = getattr(optimizer, "name", None)
    if not isinstance(optimizer, Optimizer) or OPTIMIZERS.get(str(name)) is not type(optimizer):
        raise TypeError(
            f"cannot save an optimizer of class {type(optimizer).__name__}; the file format "
            f"holds the rules of nncore.optim.OPTIMIZERS ({', '.join(OPTIMIZERS)})"
        )
    state_dict = optimizer.state_dict()
    dtype_name = parameters.dtype.name
    if state_dict["dtype"] not in (None, dtype_name):
        raise ValueError(
            f"model.optimizer works in {state_dict['dtype']} but the model is {dtype_name}; set "
            "model.optimizer = None to save the model without it"
        )
    state = dict(state_dict["state"])
    step = int(state.pop("step"))
    for key, vector in state.items():
        if vector.shape != parameters.shape:
            raise ValueError(
                f"model.optimizer holds state for {vector.size} parameters, the model has "
                f"{parameters.size}; call model.optimizer.reset() or set model.optimizer = None"
            )
        _refuse_non_finite(model, vector, key)
    entry = {
        "name": state_dict["name"],
        "dtype": state_dict["dtype"],
        "hyperparameters": state_dict["hyperparameters"],
        "step": step,
        "state_names": list(state),
    }
    return entry, {f"optimizer.{key}": vector for key, vector in state.items()}


def _history_entry(history: History) -> tuple[dict[str, Any], dict[str, Array]]:
    """The header's ``"history"`` entry and the ``history.<series>`` arrays, checked as ``load``
    will check them (a saved file always loads)."""
    epochs = history.epochs
    series: dict[str, Array] = {}
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
        series[f"history.{name}"] = values.astype(_SERIES_DTYPE)
    series.update(_score_series(history))
    stop_reason, best = history.stop_reason, history.best_epoch
    if not isinstance(stop_reason, str) or stop_reason not in STOP_REASONS:
        raise ValueError(
            f"model.history.stop_reason must be one of {', '.join(STOP_REASONS)}, got "
            f"{stop_reason!r:.60}"
        )
    if not isinstance(history.metric_name, str):
        raise TypeError("model.history.metric_name must be a string")
    if best is not None and (not is_int(best) or not 1 <= best <= epochs):
        raise ValueError(
            f"model.history.best_epoch must be None or an int in [1, {epochs}], got {best!r:.60}"
        )
    entry = {
        "stop_reason": stop_reason,
        "epochs": epochs,
        "best_epoch": best,
        "metric_name": history.metric_name,
    }
    return entry, series


def _score_series(history: History) -> dict[str, Array]:
    """The ``history.scores.<entry>`` arrays of ``history.scores`` (checked)."""
    scores = history.scores
    if not isinstance(scores, dict):
        raise TypeError(f"model.history.scores must be a dict, got {type(scores).__name__}")
    series: dict[str, Array] = {}
    for name, values in scores.items():
        if not isinstance(name, str) or not is_score(name):
            raise ValueError(
                f"model.history.scores: {name!r:.60} is not a score of fit(metrics=[...])"
            )
        try:
            array = np.asarray(values)
        except (TypeError, ValueError, OverflowError):
            array = np.asarray(None)
        if array.ndim != 1 or array.dtype.kind not in "fiu" or len(array) != history.epochs:
            raise ValueError(
                f"model.history.scores[{name!r}] must be {history.epochs} numbers, one per epoch"
            )
        series[f"{_SCORES}{name}"] = array.astype(_SERIES_DTYPE)
    return series


def _metadata_members(metadata_arrays: Any) -> dict[str, Array]:
    """The ``metadata.<name>`` arrays of ``model.metadata_arrays`` (checked)."""
    if not isinstance(metadata_arrays, dict):
        raise TypeError(
            f"model.metadata_arrays must be a dict, got {type(metadata_arrays).__name__}"
        )
    members = {}
    for name, value in metadata_arrays.items():
        if not isinstance(name, str):
            raise TypeError(f"model.metadata_arrays keys must be strings, got {name!r}")
        if not _METADATA_NAME.fullmatch(name):
            raise ValueError(
                f"model.metadata_arrays key {name!r} is not a valid name: 1 to 128 characters "
                "from A-Z a-z 0-9 _ . -, not starting with '.' or '-'"
            )
        where = f"model.metadata_arrays[{name!r}]"
        from .serialization import member_array

        members[f"metadata.{name}"] = member_array(value, where)
    return members


# ===================================================================================== loading
def load(file: File) -> Any:
    """The model saved in ``file`` (a path or a readable binary file object) by ``save``
    (``model.save``): an instance of the class of ``MODELS`` its header names (``nncore.MLP``).

    The file is checked completely and nothing in it is executed, so files from untrusted sources
    are safe to load (``nncore.serialization``). Raises ``ValueError`` naming the file and the
    problem, never an empty reason, for anything that is not a valid model file (damaged,
    truncated, another format, a newer format version, an unknown model kind, hostile sizes,
    ``.npy`` headers or dtypes, non-finite parameters or optimizer state, ...) and for a path that
    names a FIFO, socket or device, which is refused before it is read, without blocking (a
    non-seekable file object is read into memory first); ``TypeError`` for ``file`` of another
    type; ``FileNotFoundError``, ``IsADirectoryError``, ``PermissionError`` and other ``OSError``
    of the file system come through as they are.
    """
    from . import serialization

    return serialization.read(file, _decode)


def loads(data: bytes) -> Any:
    """The model in ``data``, the bytes of a model file (``dumps``)."""
    from . import serialization

    return serialization.read(io.BytesIO(data), _decode, "the pickled model")


def _decode(header: dict[str, Any], arrays: dict[str, Array]) -> Model:
    """The model of a file's header and arrays (which the format module has read and checked)."""
    if header["format_version"] == 1:
        header = _from_version_1(header)
    keys(
        header,
        (*_HEADER_ENTRIES, "format", "format_version", "nncore_version", "arrays"),
        "the header",
    )
    kind = header["model"]
    cls = MODELS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise Invalid(
            f"unknown model kind {kind!r:.60}; this nncore reads {', '.join(MODELS)} "
            "(a newer nncore may read it)"
        )
    config = header["config"]
    if not isinstance(config, dict):
        raise Invalid(f"config must be a JSON object, got {json_type(config)}")
    try:
        n_parameters = cls.count_parameters(config)
    except (TypeError, ValueError) as error:
        raise Invalid(str(error)) from None
    random_state = _random_state(header["random_state"])
    optimizer = _optimizer_spec(header["optimizer"])
    history = _history_spec(header["history"])
    if not isinstance(header["metadata"], dict):
        raise Invalid(f"metadata must be a JSON object, got {json_type(header['metadata'])}")
    _check_arrays(arrays, n_parameters, optimizer, history)
    try:
        model = cls.from_config(config)
    except (TypeError, ValueError) as error:
        raise Invalid(str(error)) from None
    parameters = arrays["parameters"]
    if parameters.dtype != model.parameters.dtype:
        raise Invalid(
            f"parameters: the array has dtype {parameters.dtype.str!r}, the config's model "
            f"{model.parameters.dtype.str!r}"
        )
    model.parameters[...] = parameters
    _restore_state(model, arrays)
    model.generator_state = random_state
    if optimizer is not None:
        model.optimizer = _build_optimizer(optimizer, arrays)
    model.history = None if history is None else _build_history(history, arrays)
    model.metadata = header["metadata"]
    model.metadata_arrays = {
        name[len("metadata.") :]: array
        for name, array in arrays.items()
        if name.startswith("metadata.")
    }
    return model


def _restore_state(model: Model, arrays: dict[str, Array]) -> None:
    """Write the ``state.<name>`` arrays into the new model's ``state``: exactly the names, dtype
    and shapes its config implies, finite."""
    state = model.state
    given = {name[len("state.") :] for name in arrays if name.startswith("state.")}
    if given != state.keys():
        expected = ", ".join(f"state.{name}" for name in state) or "none"
        found = ", ".join(f"state.{name}" for name in sorted(given)) or "none"
        raise Invalid(f"the config implies the state arrays {expected}; the file has {found}")
    for name, target in state.items():
        array = arrays[f"state.{name}"]
        if array.dtype != target.dtype or array.shape != target.shape:
            raise Invalid(
                f"state.{name}: the array is {array.dtype.str!r} {array.shape!r:.60}, the config "
                f"implies {target.dtype.str!r} {target.shape!r}"
            )
        if not np.isfinite(array).all():
            raise Invalid(f"state.{name}: the values are not all finite (NaN or infinity)")
        target[...] = array


def _random_state(value: Any) -> tuple[int, int, int, int]:
    words = json_list(value, "random_state", 4)
    state = [u64(word, f"random_state[{i}]") for i, word in enumerate(words)]
    if not any(state):
        raise Invalid("random_state must not be all zeros (xoshiro256** would be stuck)")
    return state[0], state[1], state[2], state[3]


def _optimizer_spec(value: Any) -> dict[str, Any] | None:
    """The header's ``"optimizer"`` entry, checked (its hyper-parameters and state are checked
    by ``Optimizer.from_state_dict``)."""
    if value is None:
        return None
    spec = keys(value, _OPTIMIZER_ENTRIES, "optimizer")
    if not isinstance(spec["name"], str) or spec["name"] not in OPTIMIZERS:
        raise Invalid(
            f"optimizer: unknown name {spec['name']!r:.60}; expected one of {', '.join(OPTIMIZERS)}"
        )
    if not isinstance(spec["hyperparameters"], dict):
        raise Invalid("optimizer.hyperparameters must be a JSON object")
    step = spec["step"]
    if not is_int(step) or not 0 <= step < _MAX_COUNT:
        raise Invalid(f"optimizer.step must be an integer in [0, 2**62), got {step!r:.60}")
    names = json_list(spec["state_names"], "optimizer.state_names")
    for name in names:
        if not isinstance(name, str) or not _STATE_NAME.fullmatch(name):
            raise Invalid(f"optimizer.state_names: invalid name {name!r:.60}")
    if len(set(names)) != len(names):
        raise Invalid("optimizer.state_names lists a name twice")
    if spec["dtype"] is None and (step != 0 or names):
        raise Invalid("an optimizer without dtype must have step 0 and no state")
    return spec


def _history_spec(value: Any) -> dict[str, Any] | None:
    """The header's ``"history"`` entry (the scalars; the series are arrays), checked."""
    if value is None:
        return None
    spec = keys(value, _HISTORY_ENTRIES, "history")
    epochs = spec["epochs"]
    if not is_int(epochs) or not 0 <= epochs < _MAX_COUNT:
        raise Invalid(f"history.epochs must be an integer in [0, 2**62), got {epochs!r:.60}")
    if not isinstance(spec["stop_reason"], str) or spec["stop_reason"] not in STOP_REASONS:
        raise Invalid(f"history.stop_reason: unknown reason {spec['stop_reason']!r:.60}")
    if not isinstance(spec["metric_name"], str):
        raise Invalid("history.metric_name must be a string")
    best = spec["best_epoch"]
    if best is not None and (not is_int(best) or not 1 <= best <= epochs):
        raise Invalid(f"history.best_epoch must be null or in [1, {epochs}], got {best!r:.60}")
    return spec


def _check_arrays(
    arrays: dict[str, Array],
    n_parameters: int,
    optimizer: dict[str, Any] | None,
    history: dict[str, Any] | None,
) -> None:
    """Every array is one the header implies, of the dtype and shape it implies, and none is
    missing."""
    state_names = [] if optimizer is None else optimizer["state_names"]
    vectors = {"parameters", *(f"optimizer.{name}" for name in state_names)}
    epochs = None if history is None else history["epochs"]
    series = {} if epochs is None else {f"history.{name}": name for name in SERIES}
    for name, array in arrays.items():
        declared = f"arrays[{name!r:.60}] declares {array.dtype.str!r} {array.shape!r:.60}, but"
        if name in series:
            # One value per epoch; the validation series may be empty (no validation data).
            shapes = [(epochs,)]
            if series[name].startswith("validation") and epochs:
                shapes.append((0,))
            if array.dtype != _SERIES_DTYPE or array.shape not in shapes:
                allowed = " or ".join(map(repr, shapes))
                raise Invalid(f"{declared} history.epochs implies {_SERIES_DTYPE.str!r} {allowed}")
        elif name.startswith(_SCORES) and epochs is not None and is_score(name[len(_SCORES) :]):
            if array.dtype != _SERIES_DTYPE or array.shape != (epochs,):
                shape = (epochs,)
                raise Invalid(f"{declared} history.epochs implies {_SERIES_DTYPE.str!r} {shape!r}")
        elif name in vectors:
            if array.dtype.str not in _PARAMETER_DTYPES or array.shape != (n_parameters,):
                raise Invalid(f"{declared} the config implies '<f4' or '<f8' ({n_parameters},)")
        elif name.startswith("state."):
            pass  # checked against the model the config builds (_restore_state)
        elif not (name.startswith("metadata.") and _METADATA_NAME.fullmatch(name[9:])):
            raise Invalid(f"arrays declares the unexpected member {name!r:.60}")
    missing = (vectors | series.keys()) - arrays.keys()
    if missing:
        raise Invalid(f"arrays lacks {', '.join(sorted(missing))}")
    dtype = arrays["parameters"].dtype
    for name in sorted(vectors):
        if arrays[name].dtype != dtype:
            raise Invalid(
                f"{name}: the array has dtype {arrays[name].dtype.str!r}, the parameters "
                f"{dtype.str!r}"
            )
        if not np.isfinite(arrays[name]).all():
            raise Invalid(f"{name}: the values are not all finite (NaN or infinity)")
    if optimizer is not None and optimizer["dtype"] not in (None, dtype.name):
        raise Invalid(
            f"optimizer.dtype must be null or the model's {dtype.name!r}, got "
            f"{optimizer['dtype']!r:.60}"
        )


def _build_optimizer(spec: dict[str, Any], arrays: dict[str, Array]) -> Optimizer:
    state_dict = {
        "name": spec["name"],
        "dtype": spec["dtype"],
        "hyperparameters": spec["hyperparameters"],
        "state": {
            "step": spec["step"],
            **{name: arrays[f"optimizer.{name}"] for name in spec["state_names"]},
        },
    }
    try:
        return Optimizer.from_state_dict(state_dict)
    except (ValueError, TypeError) as error:
        raise Invalid(f"optimizer: {error}") from None


def _build_history(spec: dict[str, Any], arrays: dict[str, Array]) -> History:
    """The ``History`` of the scalars in the header and the series arrays (checked)."""
    history = History([], spec["stop_reason"], spec["metric_name"], spec["best_epoch"])
    # The series are History's per-epoch lists of floats (SERIES), set directly rather than
    # through per-epoch records: a quarter of the memory and time for a long history.
    for name in SERIES:
        setattr(history, name, arrays[f"history.{name}"].tolist())
    history.scores = {
        name[len(_SCORES) :]: array.tolist()
        for name, array in sorted(arrays.items())
        if name.startswith(_SCORES)
    }
    return history


# ===================================================================================== version 1
_VERSION_1_ENTRIES = ("architecture", "seed", "random_state", "optimizer", "history", "metadata")
_VERSION_1_ARCHITECTURE = (
    "layer_sizes",
    "activations",
    "use_bias",
    "dtype",
    "leaky_relu_slope",
    "elu_alpha",
    "dropout",
    "init",
)


def _from_version_1(header: dict[str, Any]) -> dict[str, Any]:
    """A header of format version 1 (nncore 0.1-0.3) as the version 2 header of the same MLP."""
    own = {key: header[key] for key in ("format", "format_version", "nncore_version", "arrays")}
    entries = keys(
        {k: v for k, v in header.items() if k not in own}, _VERSION_1_ENTRIES, "the header"
    )
    arch = keys(entries["architecture"], _VERSION_1_ARCHITECTURE, "architecture")
    activations = json_list(arch["activations"], "architecture.activations")
    if not activations:
        raise Invalid("architecture.activations must have an entry per layer, got none")
    config = {
        "layer_sizes": arch["layer_sizes"],
        "activation": activations[:-1],
        "output_activation": activations[-1],
        "dtype": arch["dtype"],
        "seed": u64(entries["seed"], "seed"),
        "use_bias": arch["use_bias"],
        "init": arch["init"],
        "leaky_relu_slope": arch["leaky_relu_slope"],
        "elu_alpha": arch["elu_alpha"],
        "dropout": arch["dropout"],
    }
    optimizer = entries["optimizer"]
    if isinstance(optimizer, dict) and "class" in optimizer:
        classes = {rule.__name__: name for name, rule in OPTIMIZERS.items()}
        if not isinstance(optimizer["class"], str) or optimizer["class"] not in classes:
            raise Invalid(
                f"optimizer: unknown class {optimizer['class']!r:.60}; expected one of "
                f"{', '.join(classes)}"
            )
        optimizer = {("name" if k == "class" else k): v for k, v in optimizer.items()}
        optimizer["name"] = classes[optimizer["name"]]
    return {
        **own,
        "model": "MLP",
        "config": config,
        "random_state": entries["random_state"],
        "optimizer": optimizer,
        "history": entries["history"],
        "metadata": entries["metadata"],
    }
