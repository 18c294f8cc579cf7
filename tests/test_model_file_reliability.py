"""The model file's reliability rules (issue 20, rules 1-4), each tested on a generated family:

1. loading raises ``ValueError`` with a reason whatever is in the file (nested ``.npy`` headers,
   huge or odd dtype strings, huge shapes, ...), and ``nncore info`` prints that reason;
2. loading never blocks on a path: a FIFO, socket, device or directory (or a symbolic link to
   one) is refused before it is read; a non-seekable file object is read into memory;
3. an interrupt at any step of ``save`` leaves no temporary file, the target as it was (or, once
   renamed, complete) and comes through as the ``KeyboardInterrupt`` it is;
4. ``save``, ``pickle``, ``copy.deepcopy`` refuse a model with non-finite parameters or optimizer
   state, naming the array, and write nothing, as ``load`` refuses such files.
"""

from __future__ import annotations

import builtins
import copy
import gc
import io
import os
import pickle
import secrets
import signal
import socket
import sys
import tempfile
import threading
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nncore
from conftest import corrupt_model_maker
from nncore import _npy_header, model_file, serialization
from nncore._json import Invalid
from nncore.cli import main

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX special files")


MAKER = corrupt_model_maker()


def _trained(dtype: str = "float32", optimizer: Any = "adam", use_bias: bool = True) -> Any:
    rng = np.random.default_rng(5)
    model = nncore.MLP([3, 5, 4, 2], activation="tanh", dtype=dtype, seed=5, use_bias=use_bias)
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    model.fit(X, y, optimizer=optimizer, epochs=2, batch_size=4)
    return model


def _refused(data: bytes) -> str:
    """The reason ``nncore.load`` gives for ``data`` (it must be a ValueError with one)."""
    with pytest.raises(ValueError) as info:
        nncore.load(io.BytesIO(data))
    message = str(info.value)
    prefix = "cannot load the file object: "
    assert message.startswith(prefix), message
    reason = message[len(prefix) :]
    assert reason.strip() and not reason.endswith(("()", ": ", "( )")), message
    return reason


# ============================================================ rule 1: loading raises ValueError
_VALID_NPY = "{'descr': '<f8', 'fortran_order': False, 'shape': (13,), }"


def _nested(depth: int) -> dict[str, str]:
    """Headers of nested unary minus, parentheses, brackets, tuples and dicts, ``depth`` deep."""
    return {
        "minus": _VALID_NPY.replace("(13,)", "(" + "-" * depth + "13,)"),
        "parentheses": _VALID_NPY.replace("(13,)", "(" * depth + "13," + ")" * depth),
        "tuples": _VALID_NPY.replace("(13,)", "(" * depth + "13" + ",)" * depth),
        "brackets": _VALID_NPY.replace("'<f8'", "[" * depth + "'<f8'" + "]" * depth),
        "lists_in_shape": _VALID_NPY.replace("(13,)", "[" * depth + "13" + "]" * depth),
        "dicts": _VALID_NPY.replace("(13,)", "{'a': " * depth + "13" + "}" * depth),
        "not": _VALID_NPY.replace("False", "not " * depth + "False"),
        "calls": _VALID_NPY.replace("'<f8'", "f(" * depth + ")" * depth),
    }


HOSTILE_NPY_HEADERS = {
    **{
        f"{kind}_{depth}": text
        for depth in (2, 60, 3_000, 9_000)
        for kind, text in _nested(depth).items()
    },
    **{
        f"descr_{i}": _VALID_NPY.replace("'<f8'", repr(descr))
        for i, descr in enumerate(
            [
                "<U999999999",
                "<U" + "9" * 400,
                "<f" + "8" * 5_000,
                "|O",
                "|V8",
                "<M8[ns]",
                "",
                "é",
                "<f8\n",
            ]
        )
    },
    **{
        f"shape_{i}": _VALID_NPY.replace("(13,)", shape)
        for i, shape in enumerate(
            [
                f"({10**30},)",
                f"({2**63},)",
                f"({10**3000},)",
                "(" + f"{2**62}, " * 32 + ")",
                "(1, " * 64 + ")",
                "(13.0,)",
                "(0x0d,)",
                "(1_3,)",
                "(13L,)",
                "(True,)",
                "('13',)",
                "(13 13)",
                "(,)",
                "13",
                "None",
            ]
        )
    },
    "empty": "",
    "spaces": " " * 200,
    "code": "__import__('os').system('echo pwned')",
    "missing_key": "{'descr': '<f8', 'shape': (13,), }",
    "duplicate_key": "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (13,)}",
    "extra_key": "{'descr': '<f8', 'fortran_order': False, 'shape': (13,), 'x': 1}",
    "trailing_text": _VALID_NPY + " 1",
    "unclosed": "{'descr': '<f8', 'fortran_order': False, 'shape': (13,",
    "unclosed_string": "{'descr': '<f8, 'fortran_order': False, 'shape': (13,), }",
    "escape": "{'descr': '<f\\x38', 'fortran_order': False, 'shape': (13,), }",
    "fortran_number": _VALID_NPY.replace("False", "0"),
    "descr_number": _VALID_NPY.replace("'<f8'", "8"),
    "shape_string": _VALID_NPY.replace("(13,)", "'13'"),
}


def _parameters_member(member: bytes) -> bytes:
    return MAKER.model_file(members={"parameters": member})


@pytest.mark.parametrize("name", sorted(HOSTILE_NPY_HEADERS))
def test_hostile_npy_headers_are_refused_with_a_reason(name: str) -> None:
    text = HOSTILE_NPY_HEADERS[name]
    version = (1, 0) if len(text) < 60_000 else (2, 0)
    data = MAKER.PARAMETERS.tobytes()
    for file in (
        _parameters_member(MAKER.raw_npy(text, data, version)),
        MAKER.model_file(  # the same header on a metadata array and on the header member
            declare={"metadata.x": {"dtype": "<f8", "shape": [13]}},
            members={"metadata.x": MAKER.raw_npy(text, data, version)},
        ),
    ):
        reason = _refused(file)
        assert "not a valid .npy array" in reason or "the array has" in reason, reason


def test_nested_headers_are_refused_without_recursion_or_allocation() -> None:
    nncore.load(io.BytesIO(MAKER.valid_file()))  # warm up imports and caches
    for text in _nested(9_000).values():
        file = _parameters_member(MAKER.raw_npy(text, MAKER.PARAMETERS.tobytes()))
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(120)  # a recursive parser would fail here, the reader does not
        tracemalloc.start()
        try:
            _refused(file)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            sys.setrecursionlimit(limit)
        assert peak < 1_000_000, peak


@pytest.mark.parametrize("version", [(1, 0), (2, 0)])
def test_npy_versions_header_lengths_and_truncations(version: tuple[int, int]) -> None:
    data = MAKER.PARAMETERS.tobytes()
    member = MAKER.raw_npy(_VALID_NPY, data, version)
    loaded = nncore.load(io.BytesIO(_parameters_member(member)))
    assert np.array_equal(loaded.parameters, MAKER.PARAMETERS)
    for other in [(3, 0), (0, 9), (2, 1), (255, 255)]:
        changed = member[:6] + bytes(other) + member[8:]
        expected = f"unsupported .npy format version {other[0]}.{other[1]}"
        assert expected in _refused(_parameters_member(changed))
    # A header length beyond the limit, or beyond the member, is refused before it is read.
    length_bytes = 2 if version == (1, 0) else 4
    for length in (_npy_header.MAX_HEADER_BYTES + 1, 2 ** (8 * length_bytes) - 1):
        claim = member[:8] + length.to_bytes(length_bytes, "little") + b"{" + data
        assert "not a valid .npy array" in _refused(_parameters_member(claim))
    for cut in range(0, 8 + length_bytes + len(_VALID_NPY)):
        assert "not a valid .npy array" in _refused(_parameters_member(member[:cut]))


DTYPE_CODES = [
    "<U999999999",
    "<U536870912",
    "<U" + "9" * 30,
    "<U0",
    "<U-1",
    "<f16",
    "|O",
    "|V8",
    "<M8",
    ">f8",
    "f8",
    "",
    " <f8",
]


@pytest.mark.parametrize("code", DTYPE_CODES)
@pytest.mark.parametrize("shape", [[0], [0, 2**61, 2**61], []])
def test_declared_dtypes_numpy_cannot_make_are_refused(code: str, shape: list[int]) -> None:
    member = MAKER.raw_npy(MAKER.npy_header(code, tuple(shape)), b"")
    file = MAKER.model_file(
        declare={"metadata.x": {"dtype": code, "shape": shape}}, members={"metadata.x": member}
    )
    assert f"arrays['metadata.x'].dtype {code!r} is not a supported array dtype" in _refused(file)


@pytest.mark.parametrize(
    "shape", [[2**62], [-1], [1.5], [True], ["1"], [1] * 33, [0, 2**61, 2**61], [0] + [2**61] * 31]
)
def test_declared_shapes_are_refused_or_loaded(shape: list[Any]) -> None:
    """Shapes the header may not declare are refused; a consistent empty array of huge
    dimensions is refused by NumPy's reshape, as a ValueError too."""
    npy_shape = tuple(s if isinstance(s, int) else 0 for s in shape)
    member = MAKER.raw_npy(MAKER.npy_header("<f8", npy_shape), b"")
    file = MAKER.model_file(
        declare={"metadata.x": {"dtype": "<f8", "shape": shape}}, members={"metadata.x": member}
    )
    _refused(file)


def test_the_largest_unicode_dtype_numpy_makes_is_written_and_loads(tmp_path: Path) -> None:
    model = _trained()
    model.metadata_arrays = {"empty": np.empty((0, 3), dtype="<U536870911")}
    model.save(tmp_path / "m.nncore")
    loaded = nncore.load(tmp_path / "m.nncore")
    assert loaded.metadata_arrays["empty"].dtype == np.dtype("<U536870911")
    assert loaded.metadata_arrays["empty"].shape == (0, 3)


NPY_DTYPES = [*sorted(serialization._DTYPES), "<U1", "<U77"]  # what the format holds


@settings(max_examples=min(200, settings().max_examples), deadline=None)  # ~3 ms an example
@given(
    dtype=st.sampled_from(NPY_DTYPES),
    shape=st.lists(st.integers(0, 3), max_size=32).map(tuple)
    | st.lists(st.integers(0, 2**62), min_size=1, max_size=4).map(tuple),
    version=st.sampled_from([(1, 0), (2, 0)]),
)
def test_the_header_reader_agrees_with_numpy_on_what_numpy_writes(
    dtype: str, shape: tuple[int, ...], version: tuple[int, int]
) -> None:
    """The reference is NumPy's own reader, on headers NumPy's own writer makes."""
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header) if version == (1, 0) else (
        np.lib.format.write_array_header_2_0(buffer, header)
    )
    for fortran in (False, True):
        data = buffer.getvalue()
        if fortran:
            data = data.replace(b"False", b"True ")
        expected = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else (np.lib.format.read_array_header_2_0)
        )
        stream = io.BytesIO(data)
        np.lib.format.read_magic(stream)
        shape_np, fortran_np, dtype_np = expected(stream)
        ours = _npy_header.read(io.BytesIO(data), "x")
        assert ours == (dtype_np.str, fortran_np, shape_np)
        assert io.BytesIO(data).seek(0, os.SEEK_END) == stream.tell()


def test_the_header_reader_accepts_what_other_writers_may_write() -> None:
    """Either quote, keys in any order, no trailing comma, no padding; nothing evaluated."""
    for text in (
        '{"shape": (2, 3), "descr": "<f4", "fortran_order": False}',
        "{'fortran_order':False,'shape':(),'descr':'|b1'}",
        "{ 'descr' : '<U5' , 'fortran_order' : False , 'shape' : ( 4 , ) , }\n",
    ):
        raw = text.encode("latin-1")
        data = b"\x93NUMPY\x01\x00" + len(raw).to_bytes(2, "little") + raw
        header = _npy_header.read(io.BytesIO(data), "x")
        assert not header.fortran_order and header.descr in ("<f4", "|b1", "<U5")
        assert header.shape in ((2, 3), (), (4,))
    with pytest.raises(Invalid, match=r"x: not a valid \.npy array"):
        _npy_header.read(io.BytesIO(b"\x93NUMPY\x01\x00\x02\x00{}"), "x")


@pytest.mark.parametrize("name", ["minus_9000", "descr_0", "parentheses_3000", "code"])
def test_nncore_info_prints_the_reason(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hostile.nncore"
    text = HOSTILE_NPY_HEADERS[name]
    path.write_bytes(_parameters_member(MAKER.raw_npy(text, MAKER.PARAMETERS.tobytes())))
    assert main(["info", str(path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nncore: error: "), lines
    reason = lines[0].split("parameters: ", 1)[1]
    assert reason.strip() and not reason.endswith("()"), reason
    # The CLI's fallback for an exception without a message names its type.
    empty = tmp_path / "empty-reason.nncore"
    empty.write_bytes(b"")

    def fail(file: Any) -> None:
        raise MemoryError

    monkeypatch.setattr(nncore, "load", fail)
    assert main(["info", str(empty)]) == 1
    assert capsys.readouterr().err.strip().endswith("cannot load the model: MemoryError")


# ============================================================ rule 2: loading never blocks
def _run_briefly(function: Callable[[], Any], unblock: Callable[[], None]) -> BaseException:
    """The exception ``function()`` raises within 20 s; fails (after ``unblock()``, to free
    the thread) if it blocks instead."""
    outcome: list[BaseException] = []

    def target() -> None:
        try:
            function()
        except BaseException as error:  # handed to the test
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():
        unblock()
        thread.join(20)
        pytest.fail("loading blocked")
    assert outcome, "loading a special file succeeded"
    return outcome[0]


def _open_fifo_for_writing(path: str) -> None:
    descriptor = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # a writer: unblocks a reader's open
    os.close(descriptor)


@pytest.fixture
def special_files() -> Iterator[dict[str, str]]:
    """One path of each kind of file a user can make that is not a regular file, and a symbolic
    link (and a link to a link) to each, in a short directory (socket paths are short)."""
    directory = tempfile.mkdtemp(prefix="nn")
    paths = {"fifo": os.path.join(directory, "p.nncore"), "directory": os.path.join(directory, "d")}
    os.mkfifo(paths["fifo"])
    os.mkdir(paths["directory"])
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    paths["socket"] = os.path.join(directory, "s")
    server.bind(paths["socket"])
    paths["character device"] = os.devnull
    for kind, target in list(paths.items()):
        link = os.path.join(directory, f"link-{kind.replace(' ', '-')}")
        os.symlink(target, link)
        paths[f"link to {kind}"] = link
        os.symlink(link, link + "-2")
        paths[f"link to link to {kind}"] = link + "-2"
    try:
        yield paths
    finally:
        server.close()
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            (os.rmdir if os.path.isdir(path) and not os.path.islink(path) else os.unlink)(path)
        os.rmdir(directory)


KINDS = {
    "fifo": "a FIFO (named pipe)",
    "socket": "a socket",
    "character device": "a character device",
    "directory": None,
}


@POSIX
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("link", ["", "link to ", "link to link to "])
def test_special_files_are_refused_without_blocking(
    kind: str, link: str, special_files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = special_files[link + kind]
    fifo = special_files["fifo"]
    error = _run_briefly(lambda: nncore.load(path), lambda: _open_fifo_for_writing(fifo))
    if KINDS[kind] is None:
        assert isinstance(error, IsADirectoryError) and error.filename == path
    else:
        assert type(error) is ValueError
        assert str(error).startswith(
            f"cannot load {path!r}: it is {KINDS[kind]}, not a regular file"
        )
    code = _run_briefly(
        lambda: sys.exit(main(["info", path])), lambda: _open_fifo_for_writing(fifo)
    )
    assert isinstance(code, SystemExit) and code.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and path in lines[0], lines


@POSIX
def test_a_path_that_changes_between_stat_and_open_is_still_refused(
    special_files: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The type is checked again (fstat) on what was opened, which O_NONBLOCK let open."""
    regular = tmp_path / "regular.nncore"
    regular.write_bytes(MAKER.valid_file())
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: real_stat(regular))
    fifo = special_files["fifo"]
    error = _run_briefly(lambda: nncore.load(fifo), lambda: _open_fifo_for_writing(fifo))
    assert type(error) is ValueError and "it is a FIFO (named pipe)" in str(error)


@POSIX
def test_a_non_seekable_stream_is_read_into_memory() -> None:
    data = model_file.dumps(_trained())
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    with os.fdopen(read_end, "rb") as pipe:
        assert not pipe.seekable()
        loaded = nncore.load(pipe)
    writer.join()
    assert model_file.dumps(loaded) == data


def test_a_stream_whose_read_gives_no_bytes_is_a_type_error() -> None:
    class Text(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> Any:
            return "PK\x03\x04 text"

    with pytest.raises(TypeError, match="must return bytes"):
        nncore.load(Text())


# ============================================================ rule 3: Ctrl-C during save
class _Injector:
    """Counts the calls ``save`` makes of the patched functions and raises ``KeyboardInterrupt``
    at one of them, ``before`` it runs or ``after`` it ran. What the interrupted call leaves
    open (a descriptor it opened, one it did not close) is kept, for the test to release."""

    def __init__(self, target: tuple[str, int] | None = None, mode: str = "before") -> None:
        self.target, self.mode = target, mode
        self.calls: list[str] = []
        self.left_open: list[Any] = []

    def call(self, name: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.calls.append(name)
        hit = self.target == (name, self.calls.count(name) - 1)
        if hit and self.mode == "before":
            if name in ("os.close", "file.close"):  # what it would have closed
                self.left_open.append(function if name == "file.close" else lambda: os.close(*args))
            raise KeyboardInterrupt
        try:
            result = function(*args, **kwargs)
        except Exception:
            if not hit:
                raise
            result = None  # it failed (os.stat of a new file), then the interrupt came
        if hit:
            if result is not None and name in (
                "os.open",
                "open",
            ):  # what it opened, which save never saw
                self.left_open.append(result.close if name == "open" else lambda: os.close(result))
            raise KeyboardInterrupt
        return result


class _File:
    """The temporary file as ``save`` sees it, every call of it counted by the injector."""

    def __init__(self, file: Any, injector: _Injector) -> None:
        self._file, self._injector = file, injector

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._file, name)
        if name in ("write", "flush", "seek", "tell", "fileno", "close"):
            return lambda *args: self._injector.call(f"file.{name}", attribute, *args)
        return attribute

    def __enter__(self) -> _File:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _patch_save_calls(monkeypatch: pytest.MonkeyPatch, injector: _Injector) -> None:
    """Route every call ``save`` makes through ``injector``: the file system's (``os``), the
    temporary file's methods, the random name, the zip writer's and NumPy's array writer."""

    def route(owner: Any, attribute: str, name: str) -> None:
        function = getattr(owner, attribute)
        monkeypatch.setattr(
            owner, attribute, lambda *a, **k: injector.call(name, function, *a, **k)
        )

    for attribute in ("open", "fsync", "replace", "close", "chmod", "stat", "unlink"):
        route(os, attribute, f"os.{attribute}")
    real_open = builtins.open
    monkeypatch.setattr(
        builtins, "open", lambda *a, **k: _File(injector.call("open", real_open, *a, **k), injector)
    )
    route(secrets, "token_hex", "secrets.token_hex")
    route(np.lib.format, "write_array", "write_array")
    for attribute in ("__init__", "open"):
        route(zipfile.ZipFile, attribute, f"ZipFile.{attribute}")
    close = zipfile.ZipFile.close

    def close_archive(archive: zipfile.ZipFile) -> None:
        if archive.fp is None:  # closed already: the call of ZipFile.__del__, which does nothing
            return
        injector.call("ZipFile.close", close, archive)

    monkeypatch.setattr(zipfile.ZipFile, "close", close_archive)
    for attribute in ("write", "close"):
        route(zipfile._ZipWriteFile, attribute, f"ZipWriteFile.{attribute}")


def _save_calls(model: Any, path: Path) -> list[str]:
    """The calls one uninterrupted ``save`` makes, in order."""
    injector = _Injector()
    with pytest.MonkeyPatch.context() as monkeypatch:
        _patch_save_calls(monkeypatch, injector)
        model.save(path)
    return injector.calls


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()


@pytest.mark.parametrize("existing", [True, False], ids=["over an old file", "a new file"])
def test_an_interrupt_at_any_step_of_save_leaves_nothing_behind(
    tmp_path: Path, existing: bool
) -> None:
    model = _trained()
    path = tmp_path / "model.nncore"
    model.save(path)
    old = path.read_bytes()
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1)  # the model now differs from the file
    new = model_file.dumps(model)

    def prepare() -> None:
        if existing:
            path.write_bytes(old)
        elif path.exists():
            path.unlink()

    prepare()
    calls = _save_calls(model, path)
    assert {"os.open", "os.replace", "ZipWriteFile.close", "file.write"} <= set(calls)
    renamed_at = calls.index("os.replace")
    steps = [(name, calls[:i].count(name)) for i, name in enumerate(calls)]
    for position, step in enumerate(steps):
        for mode in ("before", "after"):
            prepare()
            descriptors = _open_descriptors()
            injector = _Injector(step, mode)
            with pytest.MonkeyPatch.context() as monkeypatch:
                _patch_save_calls(monkeypatch, injector)
                with pytest.raises(KeyboardInterrupt) as info:
                    model.save(path)
            for release in injector.left_open:
                release()
            where = f"{step} {mode}"
            assert type(info.value) is KeyboardInterrupt, where
            assert info.value.__context__ is None, f"{where}: {info.value.__context__!r}"
            renamed = position > renamed_at or (position == renamed_at and mode == "after")
            expected = new if renamed else old if existing else None
            assert os.listdir(tmp_path) == (["model.nncore"] if expected else []), where
            if expected is not None:
                assert path.read_bytes() == expected, where
            assert _open_descriptors() == descriptors, where


@pytest.mark.parametrize(
    "name", ["write_array", "ZipFile.open", "ZipWriteFile.close", "ZipFile.close"]
)
def test_an_interrupt_while_writing_to_a_file_object_is_a_keyboard_interrupt(name: str) -> None:
    model = _trained()
    for index in range(3 if name != "ZipFile.close" else 1):
        buffer = io.BytesIO()
        injector = _Injector((name, index))
        with pytest.MonkeyPatch.context() as monkeypatch:
            _patch_save_calls(monkeypatch, injector)
            with pytest.raises(KeyboardInterrupt) as info:
                model.save(buffer)
        assert type(info.value) is KeyboardInterrupt and info.value.__context__ is None
        assert not buffer.closed
        # What was abandoned (the archive, an open member) writes nothing into the caller's
        # file later, when the garbage collector finalizes it.
        written = buffer.getvalue()
        del info
        gc.collect()
        assert buffer.getvalue() == written, f"{name} {index}"
    model.save(buffer := io.BytesIO())  # the model is unchanged and saves
    assert buffer.getvalue() == model_file.dumps(model)


# ============================================================ rule 3b: Ctrl-C during load
#: The calls ``load`` makes of the file system, each the place a Ctrl-C may arrive.
_LOAD_CALLS = ("stat", "open", "fstat", "set_blocking", "read")


def _interrupt_load_at(monkeypatch: pytest.MonkeyPatch, name: str, when: str) -> None:
    """A real SIGINT (``signal.raise_signal``: Python's own handler, as for Ctrl-C) delivered
    just ``before`` the first call of ``os.<name>`` or just ``after`` it returned."""
    function = getattr(os, name)
    pending = [True]

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if pending and when == "before":
            pending.clear()
            signal.raise_signal(signal.SIGINT)
        result = function(*args, **kwargs)
        if pending:
            pending.clear()
            signal.raise_signal(signal.SIGINT)  # the descriptor os.open made is only in result
        return result

    monkeypatch.setattr(os, name, interrupted)


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """Python's own SIGINT handler (``KeyboardInterrupt``), whatever an imported package or an
    earlier test installed, for the length of a test."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("python_sigint")
@pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signal.raise_signal")
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("name", _LOAD_CALLS)
def test_a_ctrl_c_at_any_step_of_load_closes_the_file_once(
    tmp_path: Path, name: str, when: str
) -> None:
    """Whichever call of ``load`` a Ctrl-C lands beside, it comes through as the plain
    ``KeyboardInterrupt`` it is, and the descriptor ``load`` opened (if it had) is closed, once
    (a second ``close`` would fail with EBADF, or close another file's descriptor)."""
    path = tmp_path / "model.nncore"
    _trained().save(path)
    descriptors = _open_descriptors()
    with pytest.MonkeyPatch.context() as monkeypatch:
        if name == "read":  # load reads through its file object: interrupt that object's read
            real_open = builtins.open

            def opened(*args: Any, **kwargs: Any) -> Any:
                stream = real_open(*args, **kwargs)
                read = stream.read

                def interrupted_read(*a: Any) -> Any:
                    if when == "before":
                        signal.raise_signal(signal.SIGINT)
                    data = read(*a)
                    signal.raise_signal(signal.SIGINT)
                    return data

                stream.read = interrupted_read
                return stream

            monkeypatch.setattr(builtins, "open", opened)
        else:
            _interrupt_load_at(monkeypatch, name, when)
        with pytest.raises(KeyboardInterrupt) as info:
            nncore.load(path)
    assert type(info.value) is KeyboardInterrupt
    assert info.value.__context__ is None, repr(info.value.__context__)
    del info
    gc.collect()
    assert _open_descriptors() == descriptors
    assert nncore.load(path).n_parameters == _trained().n_parameters  # the file is unharmed


@pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signal.raise_signal")
def test_load_leaves_a_programs_own_sigint_handler_in_charge(tmp_path: Path) -> None:
    """Ctrl-C is held back only from Python's default handler: a program's own handler runs at
    once, where the signal arrived, and ``load`` goes on."""
    path = tmp_path / "model.nncore"
    _trained().save(path)
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            _interrupt_load_at(monkeypatch, "open", "after")
            model = nncore.load(path)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.SIGINT]
    assert np.array_equal(model.parameters, nncore.load(path).parameters)


# ============================================================ rule 4: non-finite models
def _locations(model: Any) -> list[tuple[str, tuple[int, ...]]]:
    """A few positions of every parameter array: its first and last entry."""
    found = []
    for layer, weight in enumerate(model.weights):
        found += [
            (f"weights[{layer}]", (0, 0)),
            (f"weights[{layer}]", tuple(np.array(weight.shape) - 1)),
        ]
    for layer, bias in enumerate(model.biases):
        found += [(f"biases[{layer}]", (0,)), (f"biases[{layer}]", (bias.size - 1,))]
    return found


def _array(model: Any, name: str) -> Any:
    kind, layer = name.rstrip("]").split("[")
    return getattr(model, kind)[int(layer)]


def _assert_refused_everywhere(model: Any, pattern: str, tmp_path: Path) -> None:
    """``save`` (to a new path, over a file, to a file object), ``pickle`` and the copies raise
    ``ValueError`` matching ``pattern`` and write nothing."""
    over = tmp_path / "over.nncore"
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    buffer = io.BytesIO(b"untouched")
    for action in (
        lambda: model.save(tmp_path / "new.nncore"),
        lambda: model.save(over),
        lambda: model.save(buffer),
        lambda: model_file.dumps(model),
        lambda: pickle.dumps(model),
        lambda: copy.deepcopy(model),
        lambda: copy.copy(model),
    ):
        with pytest.raises(ValueError, match=pattern):
            action()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert buffer.getvalue() == b"untouched"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters_are_refused_by_save_pickle_and_copy(
    dtype: str, value: float, tmp_path: Path
) -> None:
    model = _trained(dtype)
    (tmp_path / "over.nncore").write_bytes(model_file.dumps(model))
    good = model_file.dumps(model)
    for name, position in _locations(model):
        array = _array(model, name)
        kept = array[position]
        array[position] = value
        where = f"model.{name}[{', '.join(map(str, position))}]".replace("[", r"\[").replace(
            "]", r"\]"
        )
        _assert_refused_everywhere(model, f"non-finite parameters: {where} is {value}", tmp_path)
        # load refuses the file that holds these parameters, which save would not write
        header, arrays = serialization.read(io.BytesIO(good), lambda h, a: (h, a))
        arrays["parameters"] = model.parameters.copy()
        own = ("format", "format_version", "nncore_version", "arrays")
        crafted = io.BytesIO()
        serialization.write(crafted, {k: v for k, v in header.items() if k not in own}, arrays)
        assert "parameters: the values are not all finite" in _refused(crafted.getvalue())
        array[position] = kept
    assert model_file.dumps(model) == good  # finite again: it saves, and the file loads
    assert model_file.dumps(nncore.load(io.BytesIO(good))) == good


STATEFUL = {
    "sgd": lambda: nncore.SGD(learning_rate=0.01, momentum=0.9),
    "adam": nncore.Adam,
    "adamw": nncore.AdamW,
    "rmsprop": lambda: nncore.RMSProp(centered=True),
    "adagrad": nncore.Adagrad,
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rule", sorted(STATEFUL))
def test_non_finite_optimizer_state_is_refused(
    dtype: str, rule: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _trained(dtype, STATEFUL[rule]())
    state_dict = model.optimizer.state_dict()
    names = [key for key in state_dict["state"] if key != "step"]
    assert names
    offsets = np.cumsum([0] + [array.size for _, array in model.named_parameters()])
    for key in names:
        for (name, array), offset in zip(model.named_parameters(), offsets[:-1], strict=True):
            for value in (np.nan, np.inf):
                crafted = copy.deepcopy(state_dict)
                crafted["state"][key][offset + array.size - 1] = value
                monkeypatch.setattr(model.optimizer, "state_dict", lambda c=crafted: c)
                last = ", ".join(str(n - 1) for n in array.shape)
                where = f"model.optimizer's {key} for model.{name}[{last}] is {value}"
                _assert_refused_everywhere(
                    model, where.replace("[", r"\[").replace("]", r"\]"), tmp_path
                )
    monkeypatch.undo()
    nncore.load(io.BytesIO(model_file.dumps(model)))  # the real state is finite: saves, loads


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rule", ["adam", "rmsprop", "adagrad"])
def test_an_optimizer_state_that_overflowed_is_refused_and_reset_saves(
    dtype: str, rule: str, tmp_path: Path
) -> None:
    """A huge finite gradient overflows the squared averages while the parameters stay finite
    (the update is g/√v → 0): such a model is refused until its optimizer is reset."""
    model = _trained(dtype, rule)
    gradient = np.zeros_like(model.parameters)
    gradient[-1] = 1e30 if dtype == "float32" else 1e200
    model.optimizer.step(model.parameters, gradient)
    assert np.isfinite(model.parameters).all()
    last = model.named_parameters()[-1]
    where = f"model.{last[0]}[{last[1].size - 1}] is inf".replace("[", r"\[").replace("]", r"\]")
    _assert_refused_everywhere(model, f"non-finite optimizer state: .* for {where}", tmp_path)
    model.optimizer.reset()
    clone = copy.deepcopy(model)
    assert np.array_equal(clone.parameters, model.parameters)


def test_named_parameters_tile_the_parameters() -> None:
    for use_bias in (True, False):
        model = _trained(use_bias=use_bias)
        named = model.named_parameters()
        expected = []
        for layer in range(model.n_layers):
            expected.append(f"weights[{layer}]")
            if use_bias:
                expected.append(f"biases[{layer}]")
        assert [name for name, _ in named] == expected
        assert [a.shape for _, a in named] == [_array(model, name).shape for name in expected]
        flat = np.concatenate([array.ravel() for _, array in named])
        assert np.array_equal(flat, model.parameters)
        assert all(np.shares_memory(array, model.parameters) for _, array in named)


def test_a_model_without_named_parameters_is_refused_by_its_flat_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``named_parameters`` is optional for a model class: the message then gives the position
    in ``model.parameters``."""
    model = _trained()
    index = model.parameters.size - 2
    model.parameters[index] = np.nan
    monkeypatch.delattr(nncore.MLP, "named_parameters")
    monkeypatch.delattr(nncore.Sequential, "named_parameters")
    pattern = rf"non-finite parameters: model\.parameters\[{index}\] is nan \(1 of "
    _assert_refused_everywhere(model, pattern, tmp_path)
