"""Input checks at the door: every array and hyper-parameter is checked here, before the native
core (or the model) is touched, and a bad one raises ``ValueError``/``TypeError`` naming it."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core


def _own_names(names: dict[str, str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """The registry ``{name: own name}`` of the core as (own names in order, {alias: own name})."""
    own = tuple(dict.fromkeys(names.values()))
    return own, {name: target for name, target in names.items() if name != target}


#: The activations of the core (``cpp/src/activation.cpp`` holds the list), and the aliases users
#: may type instead (``"silu"`` for ``"swish"``).
ACTIVATIONS, ACTIVATION_ALIASES = _own_names(_core.activation_names())
#: The losses of the core (``cpp/src/loss.cpp`` holds the list), and their aliases (``"mse"``...).
LOSSES, LOSS_ALIASES = _own_names(_core.loss_names())
#: The output activation each fused loss needs: the cross-entropies', and poisson's identity (its
#: input is the log-rate z; the rate is e^z).
LOSS_OUTPUT = {
    "binary_cross_entropy": "sigmoid",
    "categorical_cross_entropy": "softmax",
    "poisson": "identity",
}
INITIALIZERS = ("auto", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Rows checked for finiteness at a time, so that the check allocates O(chunk), not O(data).
_FINITE_CHECK_ELEMENTS = 1 << 16


def check_dtype(dtype: Any) -> np.dtype[Any]:
    """``"float32"``/``"float64"`` (or the NumPy types) as a ``np.dtype``; else ``ValueError``."""
    try:
        result: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        error = ValueError if isinstance(dtype, str) else TypeError
        raise error(f"dtype must be 'float32' or 'float64', got {dtype!r}") from None
    if result not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return result


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(choices)}; got {value!r}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
    return value


def check_keys(
    value: dict[str, Any], expected: tuple[str, ...], where: str, error: type[Exception]
) -> None:
    """Raise ``error`` naming the keys of ``expected`` that ``value`` lacks, or its keys beyond
    them (a config, a file's JSON object)."""
    missing = [key for key in expected if key not in value]
    if missing:
        raise error(f"{where} lacks {', '.join(map(repr, missing))}")
    unknown = [key for key in value if key not in expected]
    if unknown:
        raise error(f"{where} has unknown entries {', '.join(map(repr, unknown))}")


def check_loss(loss: Any, output_activation: str) -> str:
    """The canonical loss name for ``loss`` (``None`` picks the one fused with the output)."""
    if loss is None:
        return {"sigmoid": "binary_cross_entropy", "softmax": "categorical_cross_entropy"}.get(
            output_activation, "mean_squared_error"
        )
    if isinstance(loss, str):
        loss = LOSS_ALIASES.get(loss, loss)
    name = check_choice(loss, "loss", LOSSES)
    required = LOSS_OUTPUT.get(name)
    if required is not None and output_activation != required:
        raise ValueError(
            f"loss {name!r} needs a {required} output layer; this model's output activation "
            f"is {output_activation!r}"
        )
    return name


# The integer limits of the native core's types. Every integer that crosses into C++ is checked
# against its type's limit here (``check_int``) first, so that an out-of-range value is a
# ``ValueError`` naming the argument, never pybind11's ``RuntimeError: Unable to cast``.
#: The widest layer the native core builds (its bound keeps parameter counts from overflowing).
MAX_LAYER_SIZE = 2**24
#: The largest count the native core takes (its ``Index`` is a signed 64-bit integer): epochs,
#: batch sizes, ``n_iter_no_change``, and the schedules' epoch counts.
INDEX_MAX = 2**63 - 1
#: The largest seed (the generator is seeded from an unsigned 64-bit integer).
UINT64_MAX = 2**64 - 1
#: The largest optimizer step count ``t`` accepted: the core counts in a signed 64-bit integer,
#: and a quarter of its range leaves room to count on without overflow.
MAX_STEP_COUNT = 2**62 - 1
#: The most threads ``set_num_threads`` starts (the core's pool takes an ``int``).
MAX_THREADS = 1024


def check_int(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """An integer (not a bool; Python's or NumPy's) ``>= minimum`` and ``<= maximum`` (when
    given): ``TypeError`` for anything else (floats such as ``2.0`` included), ``ValueError``
    naming ``name`` and the bounds for a value out of range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    result = int(value)
    if result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return result


def check_float(value: Any, name: str, minimum: float | None = None, strict: bool = False) -> float:
    """A finite real number (not a bool), ``> minimum`` if strict else ``>= minimum``. An integer
    too large for a float (``10**400``) is a ``ValueError`` too."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    try:
        result = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got a number too large for a float") from None
    if not np.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (result <= minimum if strict else result < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    return result


def _rounding_limits(dtype: np.dtype[Any]) -> tuple[float, float]:
    """``(overflow, zero)``: a float64 ``|v| >= overflow`` rounds to infinity in ``dtype`` and a
    nonzero ``|v| <= zero`` to 0 (halfway to the next value, rounding to even; float64 itself:
    ``(inf, 0)``)."""
    info = np.finfo(dtype)
    top_spacing = float(np.spacing(np.nextafter(info.max, 0)))  # that of the largest value too
    return float(info.max) + top_spacing / 2, float(info.smallest_subnormal) / 2


_ROUNDING_LIMITS = {dtype: _rounding_limits(dtype) for dtype in DTYPES}


def check_representable(value: float, name: str, dtype: np.dtype[Any]) -> None:
    """``ValueError`` unless the finite ``value`` stays finite, and nonzero if it is, when the
    core rounds it to ``dtype`` (float32 holds magnitudes from about 1.4e-45 to 3.4e38)."""
    overflow, zero = _ROUNDING_LIMITS[dtype]
    if abs(value) >= overflow:
        raise ValueError(f"{name}={value!r} overflows {dtype} (the model's dtype)")
    if value != 0 and abs(value) <= zero:
        raise ValueError(f"{name}={value!r} is 0 in {dtype} (the model's dtype)")


def _numeric_array(value: Any, name: str) -> npt.NDArray[Any]:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} could not be read as a numeric array: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (bool, integer or floating dtype), got dtype "
            f"{array.dtype}"
        )
    return array


def check_finite(array: npt.NDArray[Any], name: str) -> None:
    """``ValueError`` if any element is NaN or infinite (checked in chunks: no large temporary)."""
    if array.size <= _FINITE_CHECK_ELEMENTS:
        if np.isfinite(array).all():
            return
        raise ValueError(
            f"{name} contains NaN or infinity (in {array.dtype}); clean or scale it first"
        )
    flat = array.reshape(-1) if array.flags.c_contiguous else array
    if flat.ndim == 1:
        for start in range(0, flat.size, _FINITE_CHECK_ELEMENTS):
            if not np.isfinite(flat[start : start + _FINITE_CHECK_ELEMENTS]).all():
                break
        else:
            return
    elif np.isfinite(array).all():
        return
    raise ValueError(f"{name} contains NaN or infinity (in {array.dtype}); clean or scale it first")


def as_float_array(
    value: Any, name: str, dtype: np.dtype[Any], ndim: int, check_values: bool = True
) -> npt.NDArray[Any]:
    """``value`` as an aligned, C-contiguous array of ``dtype`` with ``ndim`` dimensions.

    An array that already is one is returned as it is (no copy); anything else is converted once.
    Raises ``TypeError`` for non-numeric data and ``ValueError`` for a wrong rank, an empty
    dimension or a non-finite value (including values that overflow ``dtype``). With
    ``check_values=False`` the values are left to the native core, which checks them too.
    """
    if (  # the common case, ready as it is: only the values need checking
        type(value) is np.ndarray
        and value.dtype == dtype
        and value.ndim == ndim
        and value.size != 0
        and value.flags.c_contiguous
        and value.flags.aligned
    ):
        if check_values:
            check_finite(value, name)
        return value
    array = _numeric_array(value, name)
    if array.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D, got a {array.ndim}-D array of shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        array = np.require(array, dtype=dtype, requirements=["C", "A"])
    check_finite(array, name)
    return array


def as_sample_weight(
    sample_weight: Any, n_samples: int, dtype: np.dtype[Any], name: str = "sample_weight"
) -> npt.NDArray[Any]:
    """Sample weights as a 1-D array of ``dtype``, ``n_samples`` long, non-negative, with a
    finite sum above 0 (empty for None: all ones)."""
    if sample_weight is None:
        return np.empty(0, dtype=dtype)
    weights = as_float_array(sample_weight, name, dtype, ndim=1)
    if weights.shape[0] != n_samples:
        raise ValueError(f"{name} must have {n_samples} entries, got {weights.shape[0]}")
    if weights.min() < 0:
        raise ValueError(f"{name} must be >= 0")
    with np.errstate(over="ignore"):
        total = weights.sum()
    if not np.isfinite(total):
        raise ValueError(f"{name} sums to infinity in {dtype}; scale the weights down")
    if not total > 0:
        raise ValueError(f"{name} must not sum to 0")
    return weights


def as_features(
    X: Any, dtype: np.dtype[Any], n_features: int, name: str = "X", check_values: bool = True
) -> npt.NDArray[Any]:
    """``X`` as a ``(n_samples, n_features)`` array of ``dtype`` (see ``as_float_array``)."""
    array = as_float_array(X, name, dtype, ndim=2, check_values=check_values)
    if array.shape[1] != n_features:
        raise ValueError(
            f"{name} must have {n_features} features (columns), got shape {array.shape}"
        )
    return array


def as_targets(
    y: Any, loss: str, n_outputs: int, n_samples: int, dtype: np.dtype[Any], name: str = "y"
) -> npt.NDArray[Any]:
    """The dense target matrix ``Y`` of shape ``(n_samples, n_outputs)`` for ``loss``.

    - mean_squared_error: ``y`` of shape ``(n_samples, n_outputs)``, or ``(n_samples,)`` when
      there is one output.
    - binary_cross_entropy: the same shapes, values 0/1 labels or probabilities in [0, 1].
    - poisson: the same shapes, values >= 0 (counts or rates).
    - categorical_cross_entropy: class indices ``(n_samples,)`` in ``0..n_outputs-1`` (converted
      to one-hot rows), or rows of probabilities ``(n_samples, n_outputs)`` that sum to 1.
    """
    raw = _numeric_array(y, name)
    if raw.ndim == 0 or raw.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {raw.shape}")
    if raw.shape[0] != n_samples:
        raise ValueError(f"{name} has {raw.shape[0]} rows but X has {n_samples}")
    if loss == "categorical_cross_entropy" and raw.ndim == 1:
        labels = as_float_array(raw, name, np.dtype(np.float64), ndim=1)
        if (
            not np.array_equal(labels, np.round(labels))
            or labels.min() < 0
            or (labels.max() >= n_outputs)
        ):
            raise ValueError(
                f"{name} holds class labels outside the classes 0..{n_outputs - 1} "
                f"(the model has {n_outputs} outputs)"
            )
        Y = np.zeros((n_samples, n_outputs), dtype=dtype)
        Y[np.arange(n_samples), labels.astype(np.intp)] = 1
        return Y
    if raw.ndim == 1:
        if n_outputs != 1:
            raise ValueError(
                f"{name} is 1-D but the model has {n_outputs} outputs; pass shape "
                f"({n_samples}, {n_outputs})"
            )
        raw = raw.reshape(-1, 1)
    if raw.shape[1] != n_outputs:
        raise ValueError(f"{name} must have {n_outputs} columns, got shape {raw.shape}")
    Y = as_float_array(raw, name, dtype, ndim=2)
    if loss == "poisson" and Y.min() < 0:
        raise ValueError(f"{name} for poisson must be >= 0 (counts or rates), got min {Y.min()}")
    if loss in ("binary_cross_entropy", "categorical_cross_entropy") and (
        Y.min() < 0 or Y.max() > 1
    ):
        raise ValueError(
            f"{name} for {loss} must hold 0/1 labels or probabilities in [0, 1], got values in "
            f"[{Y.min()}, {Y.max()}]"
        )
    if loss == "categorical_cross_entropy":
        tolerance = 1e-4 if dtype == np.float32 else 1e-8
        if not np.allclose(Y.sum(axis=1), 1.0, rtol=0.0, atol=tolerance):
            raise ValueError(f"rows of {name} for categorical_cross_entropy must sum to 1")
    return Y
