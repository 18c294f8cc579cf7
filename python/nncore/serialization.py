"""The ``.nncore`` file format: a JSON header and named arrays in an uncompressed NumPy ``.npz``
archive, written atomically and read back with every check a hostile file needs.

This module knows archives, headers and arrays and nothing of models: what a model puts in the
header and the arrays is ``nncore.model_file``'s business (``docs/model-format.md`` specifies
both).

The archive
===========

A file is a ZIP archive whose members are ``.npy`` arrays, every one stored without compression
(``ZIP_STORED``), so a reader needs NumPy alone and never unpickles anything::

    import json, numpy as np
    with np.load("model.nncore", allow_pickle=False) as archive:
        header = json.loads(archive["header"].tobytes().decode("utf-8"))
        parameters = archive["parameters"]

``header.npy`` is a 1-D ``uint8`` array: the UTF-8 bytes of a JSON object of at most
``MAX_HEADER_BYTES`` (1 MiB; written as ASCII with other characters ``\\u``-escaped, compactly).
Every other member ``<name>.npy`` is an array declared in the header's ``arrays``; ``<name>`` is
1–200 characters from ``A–Z a–z 0–9 _ . -`` not starting with ``.`` or ``-``. An array may have
any shape (at most 32 dimensions), C order, little-endian, of dtype bool, (un)signed integer of
1, 2, 4 or 8 bytes, float16/32/64, complex64/128 or fixed-width unicode (``<U…``).

The header
==========

A JSON object whose first entries are the format's own (``write`` adds them, ``read`` checks
them before anything else) and whose last is ``arrays``; the entries in between are the model
file's (``nncore.model_file``)::

    {"format": "nncore-model",          # always
     "format_version": 2,               # newer versions are refused by this reader
     "nncore_version": "0.3.0",         # the writer's version (information only)
     ...,                               # the model file's entries
     "arrays": {"parameters": {"dtype": "<f4", "shape": [n]}, ...}}   # every member but header

``format_version`` is increased by any change an older reader would misread; this reader reads
every version up to ``FORMAT_VERSION`` (version 1 files are the model files of nncore 0.1-0.3).
Floats are written as Python's ``json`` writes them (shortest round-trip decimal, so they come
back bit for bit); non-finite ones as ``NaN``, ``Infinity``, ``-Infinity``. Duplicate keys in a
JSON object are an error.

Reading untrusted files
=======================

Nothing in a file is executed (``allow_pickle=False``, no ``eval``) and memory use is bounded by a
small multiple of the file's size. ``read`` opens the archive with ``zipfile`` and refuses any
member name other than the above, compressed or encrypted members, and members whose sizes add up
to more than the file; reads the header only if it is at most 1 MiB; and parses every ``.npy``
member's own header (``nncore._npy_header``: at most 10,000 bytes, one flat pass, no recursion,
nothing evaluated), which must declare exactly the dtype and shape the JSON header declares, C
order, and as many data bytes as the member holds, all before its data is read. A path must name
a regular file: a FIFO, socket or device is refused without being opened for a blocking read.
Any problem is a ``ValueError`` naming the file and the problem, with a non-empty reason;
``FileNotFoundError``, ``IsADirectoryError`` and ``PermissionError`` come through as they are.

Writing
=======

Writing to a path is atomic: the archive is written to a temporary file in the target's
directory, flushed and ``fsync``-ed, then renamed onto the target with ``os.replace``; on any error
the temporary is removed and an existing file is left as it was. (A symbolic link at the target is
replaced by the file, not followed. The new file gets the mode of the file it replaces, else the
default for new files under the process's umask.) Writing to, or reading from, a binary file
object is also possible; then there is no atomicity and the object is not closed. Files with the
same header and arrays are byte-identical (fixed member order and timestamps).
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import re
import stat
import struct
import zipfile
from collections.abc import Callable, Iterable
from typing import IO, Any, TypeAlias, TypeVar, cast

import numpy as np
import numpy.typing as npt

from . import _npy_header
from ._atomic_file import write_atomic
from ._core import __version__
from ._interrupts import held_interrupts
from ._json import Invalid, check_json, is_int, json_list, json_type, keys

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MAX_HEADER_BYTES", "Invalid", "read", "write"]

#: The ``"format"`` entry of every file's header.
FORMAT_NAME = "nncore-model"
#: The version of the format this nncore writes and the newest it reads.
FORMAT_VERSION = 2
#: The largest JSON header a file may have (bytes).
MAX_HEADER_BYTES = 1 << 20

#: What ``write`` and ``read`` accept: a path, or a binary file object.
File: TypeAlias = "str | os.PathLike[str] | IO[bytes]"
Array = npt.NDArray[Any]
T = TypeVar("T")

#: The header's entries that belong to the format (``arrays`` comes last, the others first).
_OWN_ENTRIES = ("format", "format_version", "nncore_version", "arrays")
#: The type strings arrays may have (besides fixed-width unicode, ``<U…``).
_DTYPES = frozenset(
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
#: The longest fixed-width unicode string NumPy can make (its itemsize, 4 bytes a character, is a C
#: ``int``): ``np.dtype`` refuses ``"<U536870912"`` with a TypeError.
_MAX_UNICODE_LENGTH = (2**31 - 1) // 4
_ARRAY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")
_MAX_NDIM = 32
_MAX_DIMENSION = 1 << 62
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
    TypeError,
    MemoryError,
)


# ===================================================================================== writing
def write(file: File, header: dict[str, Any], arrays: dict[str, Any]) -> None:
    """Write ``header`` and ``arrays`` to ``file`` (a path, written atomically, or a writable
    binary file object) in this format.

    ``header`` holds the entries between the format's own, which ``write`` adds (``format``,
    ``format_version``, ``nncore_version`` first, ``arrays`` last); ``arrays`` maps member names
    to arrays (anything ``numpy.asarray`` takes), written in that order. Everything is checked
    before the file system is touched. Raises ``TypeError`` for a header JSON cannot hold or an
    array of a dtype the format does not hold, ``ValueError`` for an invalid array name, an array
    of more than 32 dimensions or a header over ``MAX_HEADER_BYTES``, and ``OSError`` from the
    file system, naming ``file`` (never the temporary file).
    """
    members = [(name, member_array(value, f"array {name!r}")) for name, value in arrays.items()]
    for name, _ in members:
        if not isinstance(name, str) or not _ARRAY_NAME.fullmatch(name) or name == "header":
            raise ValueError(f"{name!r} is not a valid array name for the file format")
    reserved = [key for key in header if key in _OWN_ENTRIES]
    if reserved:
        raise ValueError(f"the header entries {reserved} are the format's own")
    check_json(header, "the header")
    complete = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "nncore_version": __version__,
        **header,
        "arrays": {
            name: {"dtype": array.dtype.str, "shape": list(array.shape)} for name, array in members
        },
    }
    try:
        text = json.dumps(complete, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise TypeError(f"the header cannot be written as JSON: {error}") from None
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_HEADER_BYTES:
        raise ValueError(
            f"the JSON header takes {len(encoded)} bytes, more than the format's "
            f"{MAX_HEADER_BYTES}; put large values in arrays (model.metadata_arrays)"
        )
    if isinstance(file, (str, os.PathLike)):
        write_atomic(os.fsdecode(file), lambda out: _write_archive(out, encoded, members))
    elif _is_binary_file(file, "write"):
        _write_archive(file, encoded, members)
    else:
        raise TypeError(
            "file must be a path (str or os.PathLike) or a binary file object opened for "
            f"writing, got {type(file).__name__}"
        )


def member_array(value: Any, where: str) -> Array:
    """``value`` as the array the format writes: little-endian, C order (no copy when it is one
    already). Raises ``TypeError`` for a dtype the format does not hold and ``ValueError`` for
    more than 32 dimensions, naming ``where``."""
    array = np.asarray(value)
    little = array.dtype if array.dtype.byteorder == "|" else array.dtype.newbyteorder("<")
    if not _is_supported(little.str):
        raise TypeError(
            f"{where} has dtype {array.dtype}; the file format holds bool, integer, floating, "
            "complex and fixed-width unicode arrays"
        )
    if array.ndim > _MAX_NDIM:
        raise ValueError(f"{where} has more than {_MAX_NDIM} dimensions")
    result: Array = np.asarray(array, dtype=little, order="C")
    return result


def _is_supported(code: Any) -> bool:
    """Whether ``code`` is the type string (``dtype.str``) of a dtype the format holds."""
    if not isinstance(code, str):
        return False
    if code in _DTYPES:
        return True
    return _UNICODE_DTYPE.fullmatch(code) is not None and int(code[2:]) <= _MAX_UNICODE_LENGTH


def _is_binary_file(file: Any, method: str) -> bool:
    return callable(getattr(file, method, None)) and not isinstance(file, io.TextIOBase)


def _write_archive(file: IO[bytes], header: bytes, arrays: list[tuple[str, Array]]) -> None:
    members = [("header", np.frombuffer(header, dtype=np.uint8)), *arrays]
    archive = _Archive(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
    member: io.IOBase | None = None  # the open member (a zipfile._ZipWriteFile, an io.IOBase)
    try:
        for name, array in members:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            large = array.nbytes + _NPY_HEADER_ROOM > zipfile.ZIP64_LIMIT
            member = cast(io.IOBase, archive.open(info, "w", force_zip64=large))
            np.lib.format.write_array(member, array, allow_pickle=False)
            member.close()
        archive.close()
    except BaseException:
        # Abandon the archive and its open member, writing nothing more: closing them would write
        # after the failure, or raise (a member open) a ValueError that hides the error, a
        # KeyboardInterrupt say. io.IOBase.close only marks the member closed, so that neither
        # its own close nor the garbage collector's writes its sizes into the file later.
        if member is not None:
            io.IOBase.close(member)
        raise


class _Archive(zipfile.ZipFile):
    """A ``ZipFile`` that the garbage collector never closes: an archive abandoned after a
    failure (or an interrupt right after its creation) writes nothing later, when its file may be
    closed or removed, or be the caller's file object."""

    def __del__(self) -> None:
        pass


# ===================================================================================== reading
def read(
    file: File, decode: Callable[[dict[str, Any], dict[str, Array]], T], display: str | None = None
) -> T:
    """Read ``file`` (a path or a readable binary file object) and return
    ``decode(header, arrays)``: the checked JSON header (a dict, the format's own entries
    included) and every array by name, in the header's order (writable, native byte order).

    ``decode`` checks what the format does not know (the model file's entries) and raises
    ``Invalid`` for a problem, which ``read`` reports like its own: a ``ValueError`` naming the
    file (or ``display``) and the problem. A path must name a regular file (or a symbolic link to
    one): a FIFO, socket or device is refused with a ``ValueError`` before it is read, without
    blocking. A file object that is not seekable is read to its end into memory first.
    ``FileNotFoundError``, ``IsADirectoryError``, ``PermissionError`` and other ``OSError`` of
    the file system come through as they are.
    """
    if isinstance(file, (str, os.PathLike)):
        path = os.fsdecode(file)
        display = display or repr(path)
        with _open_regular(path, display) as stream:
            return _read_stream(stream, decode, display)
    if isinstance(file, (bytes, bytearray, memoryview)):  # type: ignore[unreachable]
        raise TypeError("load takes a path or a binary file; for bytes use io.BytesIO(data)")
    if not _is_binary_file(file, "read"):
        raise TypeError(
            "file must be a path (str or os.PathLike) or a binary file object opened for "
            f"reading, got {type(file).__name__}"
        )
    name = getattr(file, "name", None)
    if display is None:
        display = repr(name) if isinstance(name, str) else "the file object"
    if not (callable(getattr(file, "seekable", None)) and file.seekable()):
        data = file.read()
        if not isinstance(data, bytes):
            raise TypeError(f"file.read() must return bytes, got {type(data).__name__}")
        file = io.BytesIO(data)
    return _read_stream(file, decode, display)


#: What a path may name instead of a regular file: the ``stat`` test and its name for messages.
_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _open_regular(path: str, display: str) -> IO[bytes]:
    """``path`` opened for reading once it is known, without blocking, to be a regular file.

    ``open`` of a FIFO blocks until a writer comes, and a device may never end, so the type is
    checked with ``stat`` before opening and again with ``fstat`` on what was opened (the path
    may have changed in between), which is opened with ``O_NONBLOCK`` so that not even that
    ``open`` can block. The descriptor belongs to the file object from the moment it exists (a
    Ctrl-C during the ``open`` is held back until then), so an interrupt or failure at any step
    closes it, once.
    """
    _check_regular(os.stat(path).st_mode, path, display)
    flags = getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0)

    def opener(name: str, open_flags: int) -> int:
        return os.open(name, open_flags | flags)

    stream: IO[bytes] | None = None
    try:
        with held_interrupts():
            stream = open(path, "rb", opener=opener)  # noqa: SIM115 - returned, or closed below
        descriptor = stream.fileno()
        _check_regular(os.fstat(descriptor).st_mode, path, display)
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(descriptor, True)
        return stream
    except BaseException:
        if stream is not None:
            stream.close()
        raise


def _check_regular(mode: int, path: str, display: str) -> None:
    """Raise unless ``mode`` (``st_mode``) is a regular file's: ``IsADirectoryError`` for a
    directory (as ``open`` does), ``ValueError`` naming the kind of file for anything else."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
    raise ValueError(
        f"cannot load {display}: it is {kind}, not a regular file (a model file is read from a "
        "regular file; to read a stream, pass its open binary file object, which load reads into "
        "memory)"
    )


def _read_stream(
    stream: IO[bytes], decode: Callable[[dict[str, Any], dict[str, Array]], T], display: str
) -> T:
    try:
        return decode(*_read_archive(stream))
    except Invalid as error:
        raise ValueError(f"cannot load {display}: {error}") from None
    except _DAMAGE as error:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise ValueError(
            f"cannot load {display}: the file is damaged or not an nncore model file ({reason})"
        ) from error
    except OSError as error:
        # A seek to an offset a damaged directory points to; real I/O errors come through.
        if type(error) is OSError and error.errno == errno.EINVAL:
            raise ValueError(
                f"cannot load {display}: the file is damaged (invalid offset: {error})"
            ) from error
        raise


def _read_archive(stream: IO[bytes]) -> tuple[dict[str, Any], dict[str, Array]]:
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    if size == 0:
        raise Invalid("the file is empty")
    if stream.read(4) != b"PK\x03\x04":
        raise Invalid(
            "not an nncore model file: it does not start with the ZIP signature (a model file is "
            "an uncompressed NumPy .npz archive)"
        )
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as error:
        raise Invalid(
            f"not a complete ZIP archive ({error}); the file may be truncated or damaged"
        ) from None
    with archive:
        members = _check_members(archive.infolist(), size)
        if "header" not in members:
            raise Invalid("the archive has no header member (header.npy)")
        header = _read_header(archive, members["header"])
        declared = _check_own_entries(header)
        present = set(members) - {"header"}
        if present - declared.keys():
            raise Invalid(
                f"member(s) {_names(present - declared.keys())} are not declared in the header's "
                "arrays"
            )
        if declared.keys() - present:
            raise Invalid(
                f"member(s) {_names(declared.keys() - present)} declared in the header are missing"
            )
        arrays = {
            name: _read_array(archive, members[name], name, dtype, shape)
            for name, (dtype, shape) in declared.items()
        }
    return header, arrays


def _names(names: Iterable[str]) -> str:
    return ", ".join(repr(f"{name}.npy") for name in sorted(names))


def _check_own_entries(header: dict[str, Any]) -> dict[str, tuple[np.dtype[Any], tuple[int, ...]]]:
    """Check the format's entries of a header; the declared arrays: name → (dtype, shape)."""
    # Format and version first: a newer file may differ in everything else.
    if header.get("format") != FORMAT_NAME:
        raise Invalid(
            f"not an nncore model file (its header's format is {header.get('format')!r:.60}, "
            f"expected {FORMAT_NAME!r})"
        )
    version = header.get("format_version")
    if not is_int(version) or version < 1:
        raise Invalid(f"invalid format_version {version!r:.60}")
    if version > FORMAT_VERSION:
        raise Invalid(
            f"written by a newer nncore (format version {version}); this nncore reads "
            f"versions up to {FORMAT_VERSION} — upgrade nncore to load it"
        )
    for key in ("nncore_version", "arrays"):
        if key not in header:
            raise Invalid(f"the header lacks {key!r}")
    if not isinstance(header["nncore_version"], str):
        raise Invalid("the header's nncore_version must be a string")
    value = header["arrays"]
    if not isinstance(value, dict):
        raise Invalid(f"arrays must be a JSON object, got {json_type(value)}")
    declared: dict[str, tuple[np.dtype[Any], tuple[int, ...]]] = {}
    for name, entry in value.items():
        where = f"arrays[{name!r:.60}]"
        if not _ARRAY_NAME.fullmatch(name) or name == "header":
            raise Invalid(f"{where}: {name!r:.60} is not a valid array name")
        entry = keys(entry, ("dtype", "shape"), where)
        code = entry["dtype"]
        if not _is_supported(code):
            raise Invalid(f"{where}.dtype {code!r:.60} is not a supported array dtype")
        dims = json_list(entry["shape"], f"{where}.shape")
        if len(dims) > _MAX_NDIM or not all(is_int(d) and 0 <= d < _MAX_DIMENSION for d in dims):
            raise Invalid(f"{where}.shape must be at most {_MAX_NDIM} integers >= 0")
        declared[name] = (np.dtype(code), tuple(dims))
    return declared


def _check_members(infos: list[zipfile.ZipInfo], size: int) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by name (without ``.npy``), after checking names and sizes."""
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.orig_filename
        if not name.endswith(".npy") or not _ARRAY_NAME.fullmatch(name[: -len(".npy")]):
            raise Invalid(
                f"unexpected member {name!r} in the archive (a model file holds header.npy and "
                "the <name>.npy arrays its header declares, names from A-Z a-z 0-9 _ . -)"
            )
        key = name[: -len(".npy")]
        if key in members:
            raise Invalid(f"the archive holds the member {name!r} twice")
        if info.flag_bits & 0x1:
            raise Invalid(f"member {name!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise Invalid(
                f"member {name!r} is compressed (method {info.compress_type}); model files store "
                "their members uncompressed"
            )
        if info.file_size != info.compress_size or info.file_size > size:
            raise Invalid(
                f"member {name!r} claims {info.file_size} bytes, which the {size}-byte file "
                "cannot hold"
            )
        total += info.file_size
        members[key] = info
    if total > size:
        raise Invalid(
            f"the members claim {total} bytes together, more than the file's {size} "
            "(overlapping members)"
        )
    return members


def _open_npy(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str
) -> tuple[Any, _npy_header.Header, int]:
    """Open a ``.npy`` member and parse its header: ``(stream, header, data_bytes)``."""
    stream = archive.open(info)
    try:
        header = _npy_header.read(stream, what)
        if header.fortran_order:
            raise Invalid(f"{what}: the array is stored in Fortran order; C order is required")
        data_bytes = info.file_size - stream.tell()
    except BaseException:
        stream.close()
        raise
    return stream, header, data_bytes


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    if info.file_size > MAX_HEADER_BYTES + _NPY_HEADER_ROOM:
        raise Invalid(
            f"the header member is {info.file_size} bytes, over the limit of {MAX_HEADER_BYTES}"
        )
    stream, npy, data_bytes = _open_npy(archive, info, "header")
    with stream:
        if npy.descr != "|u1":
            raise Invalid(f"the header member has dtype {npy.descr!r:.60}, expected '|u1' (uint8)")
        if len(npy.shape) != 1:
            raise Invalid(f"the header member has shape {npy.shape!r:.60}, expected a 1-D array")
        if npy.shape[0] > MAX_HEADER_BYTES:
            raise Invalid(
                f"the header member declares {npy.shape[0]} bytes, over the limit of "
                f"{MAX_HEADER_BYTES}"
            )
        data = _read_exactly(stream, npy.shape[0], data_bytes, "header")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Invalid(f"the header is not UTF-8 text ({error})") from None
    try:
        header = json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as error:
        raise Invalid(f"the header is not valid JSON ({type(error).__name__}: {error})") from None
    if not isinstance(header, dict):
        raise Invalid(f"the header is JSON but not an object (got {type(header).__name__})")
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
        raise Invalid(
            f"{what}: the .npy header declares {expected} bytes of data but the member holds "
            f"{available}"
        )
    data = stream.read(expected)
    if len(data) != expected or stream.read(1):  # the last read also checks the CRC
        raise Invalid(f"{what}: the member is truncated")
    return data


def _read_array(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    what: str,
    expected_dtype: np.dtype[Any],
    expected_shape: tuple[int, ...],
) -> Array:
    """A member's array, after checking its .npy header against the JSON header's declaration."""
    stream, npy, data_bytes = _open_npy(archive, info, what)
    with stream:
        if npy.descr != expected_dtype.str:
            raise Invalid(
                f"{what}: the array has dtype {npy.descr!r:.60}, the header declares "
                f"{expected_dtype.str!r}"
            )
        if npy.shape != expected_shape:
            raise Invalid(
                f"{what}: the array has shape {npy.shape!r:.200}, the header declares "
                f"{expected_shape}"
            )
        size = math.prod(expected_shape) * expected_dtype.itemsize
        data = _read_exactly(stream, size, data_bytes, what)
    array = np.frombuffer(data, dtype=expected_dtype).reshape(expected_shape)
    result: Array = array.astype(expected_dtype.newbyteorder("="), copy=True)
    return result
