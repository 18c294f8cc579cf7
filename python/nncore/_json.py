"""Checks of JSON values: what a model file's header may hold when written, and what a header read
from an untrusted file must be (``Invalid`` names the entry and the problem). Shared by the format
module (``serialization``) and the model file (``model_file``)."""

from __future__ import annotations

import math
import re
from typing import Any, TypeGuard

from ._validation import check_keys

_DECIMAL_U64 = re.compile(r"0|[1-9][0-9]{0,19}")


class Invalid(Exception):
    """A problem with a file's contents (``serialization.read`` reports it as a ``ValueError``
    naming the file)."""


# ----------------------------------------------------------------------------- writing
def check_json(value: Any, where: str, containers: frozenset[int] = frozenset()) -> None:
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
            check_json(item, f"{where}[{index}]", containers)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; JSON objects have string keys only")
            check_json(item, f"{where}[{key!r}]", containers)
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}, which JSON cannot hold (use None, bool, int, "
        "float, str, lists and dicts; arrays go into model.metadata_arrays)"
    )


# ----------------------------------------------------------------------------- reading
def is_int(value: Any) -> TypeGuard[int]:
    """An integer of JSON (Python's ``json`` reads ``true`` as a bool, which is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_type(value: Any) -> str:
    """What ``value`` is, in JSON's words, for messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), f"the number {value!r}" if is_number(value) else repr(value))


def keys(value: Any, expected: tuple[str, ...], where: str) -> dict[str, Any]:
    """``value`` as a JSON object with exactly the ``expected`` keys."""
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be a JSON object, got {json_type(value)}")
    check_keys(value, expected, where, Invalid)
    return value


def json_list(value: Any, where: str, length: int | None = None) -> list[Any]:
    """``value`` as a JSON list (of ``length`` entries when given)."""
    if not isinstance(value, list):
        raise Invalid(f"{where} must be a list, got {json_type(value)}")
    if length is not None and len(value) != length:
        raise Invalid(f"{where} must have {length} entries, got {len(value)}")
    return value


def u64(value: Any, where: str) -> int:
    """A 64-bit unsigned integer written as a decimal string (JSON numbers lose precision above
    2**53 in many readers)."""
    if not isinstance(value, str) or not _DECIMAL_U64.fullmatch(value) or int(value) >= 1 << 64:
        raise Invalid(
            f"{where} must be a decimal string of an integer in [0, 2**64), got {value!r:.60}"
        )
    return int(value)


def finite(value: Any, where: str, minimum: float, strict: bool = False) -> float:
    """A finite number ``>= minimum`` (``> minimum`` when ``strict``)."""
    if not is_number(value) or not math.isfinite(value):
        raise Invalid(f"{where} must be a finite number, got {json_type(value):.60}")
    if value < minimum or (strict and value == minimum):
        raise Invalid(f"{where} must be {'>' if strict else '>='} {minimum}, got {value}")
    return float(value)
