"""The header of a ``.npy`` array, read from an untrusted file without evaluating it.

NumPy's reader (``numpy.lib.format.read_array_header_1_0``) parses the header text with
``ast.literal_eval``, whose parser recurses: a header of thousands of nested ``-`` or ``(`` makes it
raise ``MemoryError`` or ``RecursionError``. This reader checks the header's length first (at most
``MAX_HEADER_BYTES``), then makes one pass over it with a flat tokenizer and a loop, no recursion,
and accepts exactly what NumPy writes for an array::

    b"\\x93NUMPY" major minor     format version 1.0 or 2.0
    header length                 uint16 (1.0) or uint32 (2.0), little-endian
    {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }    latin-1, then spaces and "\\n"

(the three keys in any order, quoted with ``'`` or ``"``, the trailing comma optional). Anything
else raises ``Invalid``. A structured dtype (a ``descr`` list) is read as its text, for the
caller to refuse by name.
"""

from __future__ import annotations

import re
import struct
from typing import IO, NamedTuple

from ._json import Invalid

#: The longest header text read (NumPy's own reader refuses longer ones by default too).
MAX_HEADER_BYTES = 10_000
_MAGIC = b"\x93NUMPY"
#: The format versions read, with the struct format of their header length.
_LENGTH_FORMATS = {(1, 0): "<H", (2, 0): "<I"}
_KEYS = ("descr", "fortran_order", "shape")
# One token: a quoted string (no escapes), an integer (one optional minus sign), a bool, or a mark.
_TOKEN = re.compile(
    r"""(?P<string>'[^'\\]*'|"[^"\\]*")|(?P<int>-?[0-9]{1,20})(?![0-9A-Za-z_.])"""
    r"""|(?P<bool>True|False)(?![0-9A-Za-z_])|(?P<mark>[{}()\[\]:,])"""
)
_NON_SPACE = re.compile(r"\S")
_OPENING, _CLOSING = ("[", "("), ("]", ")")


class Header(NamedTuple):
    """A ``.npy`` header: ``descr`` is the dtype string (``'<f8'``), or the text of a structured
    dtype's list; ``shape`` holds integers as written (possibly negative)."""

    descr: str
    fortran_order: bool
    shape: tuple[int, ...]


def read(stream: IO[bytes], what: str) -> Header:
    """Read the magic string, version and header of the ``.npy`` array at the start of ``stream``,
    leaving ``stream`` at its first data byte. Raises ``Invalid`` naming ``what``."""
    prefix = stream.read(len(_MAGIC) + 2)
    if len(prefix) != len(_MAGIC) + 2 or prefix[: len(_MAGIC)] != _MAGIC:
        raise Invalid(f"{what}: not a valid .npy array (no .npy magic string)")
    version = (prefix[-2], prefix[-1])
    length_format = _LENGTH_FORMATS.get(version)
    if length_format is None:
        raise Invalid(f"{what}: unsupported .npy format version {version[0]}.{version[1]}")
    length_bytes = stream.read(struct.calcsize(length_format))
    if len(length_bytes) != struct.calcsize(length_format):
        raise Invalid(f"{what}: not a valid .npy array (truncated before its header)")
    (length,) = struct.unpack(length_format, length_bytes)
    if length > MAX_HEADER_BYTES:
        raise Invalid(
            f"{what}: not a valid .npy array (its header claims {length} bytes, more than "
            f"{MAX_HEADER_BYTES})"
        )
    text = stream.read(length)
    if len(text) != length:
        raise Invalid(f"{what}: not a valid .npy array (its header is truncated)")
    try:
        return _parse(text.decode("latin-1"))
    except Invalid as error:
        raise Invalid(f"{what}: not a valid .npy array ({error})") from None


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """``(kind, text, offset)`` of each token of ``text``; ``Invalid`` at anything else."""
    tokens = []
    position = _skip_space(text, 0)
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise Invalid(f"unexpected {text[position : position + 20]!r} at offset {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(), position))
        position = _skip_space(text, match.end())
    return tokens


def _skip_space(text: str, position: int) -> int:
    """The offset of the first non-space character of ``text`` from ``position`` on."""
    match = _NON_SPACE.search(text, position)
    return len(text) if match is None else match.start()


def _parse(text: str) -> Header:
    """The dictionary ``{'descr': …, 'fortran_order': …, 'shape': (…), }`` of a header's text."""
    tokens = _tokens(text)
    tokens.append(("end", "", len(text)))
    entries: dict[str, object] = {}
    index = _expect(tokens, 0, "{")
    while tokens[index][1] != "}":
        kind, key, _ = tokens[index]
        if kind != "string" or key[1:-1] not in _KEYS or key[1:-1] in entries:
            raise Invalid(f"the header's keys must be {', '.join(_KEYS)}, once each; got {key!r}")
        index = _expect(tokens, index + 1, ":")
        entries[key[1:-1]], index = _value(text, tokens, index)
        if tokens[index][1] != "}":
            index = _expect(tokens, index, ",")
    if tokens[index + 1][0] != "end":
        raise Invalid(f"text after the header's dictionary at offset {tokens[index + 1][2]}")
    missing = [key for key in _KEYS if key not in entries]
    if missing:
        raise Invalid(f"the header lacks {', '.join(missing)}")
    descr, fortran_order, shape = (entries[key] for key in _KEYS)
    if not isinstance(descr, str):
        raise Invalid(f"descr must be a dtype string, got {descr!r:.60}")
    if not isinstance(fortran_order, bool):
        raise Invalid(f"fortran_order must be True or False, got {fortran_order!r:.60}")
    if not isinstance(shape, tuple):
        raise Invalid(f"shape must be a tuple of integers, got {shape!r:.60}")
    return Header(descr, fortran_order, shape)


def _expect(tokens: list[tuple[str, str, int]], index: int, mark: str) -> int:
    """The index after ``tokens[index]``, which must be ``mark``."""
    kind, token, offset = tokens[index]
    if kind != "mark" or token != mark:
        raise Invalid(f"expected {mark!r} at offset {offset} of the header, got {token!r:.20}")
    return index + 1


def _value(text: str, tokens: list[tuple[str, str, int]], index: int) -> tuple[object, int]:
    """The value starting at ``tokens[index]`` and the index after it: a string (without its
    quotes), an int, a bool, a tuple of ints, or for a list (a structured dtype) its text."""
    kind, token, offset = tokens[index]
    if kind == "string":
        return token[1:-1], index + 1
    if kind == "int":
        return int(token), index + 1
    if kind == "bool":
        return token == "True", index + 1
    if token == "(":  # a shape: (), (n,), (n, m), ... with an optional trailing comma
        dims: list[int] = []
        index += 1
        while tokens[index][1] != ")":
            if tokens[index][0] != "int":
                raise Invalid(f"a shape holds integers; got {tokens[index][1]!r:.20}")
            dims.append(int(tokens[index][1]))
            if tokens[index + 1][1] != ")":
                _expect(tokens, index + 1, ",")
                index += 1
            index += 1
        return tuple(dims), index + 1
    if token == "[":  # a structured dtype: skip to the matching "]", counting depth
        depth = 0
        for end, (kind, mark, last) in enumerate(tokens[index:-1], start=index):
            if kind == "mark":
                depth += (mark in _OPENING) - (mark in _CLOSING)
            if depth == 0:
                return text[offset : last + 1], end + 1
    raise Invalid(f"unexpected {token!r:.20} at offset {offset} of the header")
