"""Writing a file atomically: the new contents go to a temporary file beside the target, which
is then renamed onto it, so that a reader (or a crash, or Ctrl-C) sees the old file or the
complete new one, never half of either. Shared by model files (``nncore.serialization``) and
ONNX exports (``nncore.onnx_export``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from typing import IO


def write_atomic(path: str, contents: bytes | Callable[[IO[bytes]], None]) -> None:
    """Write ``contents`` (bytes, or a function that writes them to a binary file object) to a
    new temporary file beside ``path``, then rename it onto ``path``.

    Whatever fails or interrupts it (a ``KeyboardInterrupt`` between or inside any of its calls,
    including the ``open`` that creates the temporary), the temporary is removed, ``path``
    keeps its old contents (or is absent, or has the complete new ones once renamed) and the
    exception comes through as it was raised. An existing file keeps its permission bits.
    """
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    temporary = ""  # the name of a file of ours to remove if anything fails
    try:
        try:
            mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            mode = None  # a new file: open below applies the umask to 0o666
        for _ in range(100):
            temporary = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
            try:
                # One call makes the file (O_CREAT | O_EXCL) and its file object: no descriptor
                # to lose to an interrupt in between.
                file = open(temporary, "xb")  # noqa: SIM115 - the with below closes it
                break
            except FileExistsError:
                temporary = ""  # not ours
        else:  # pragma: no cover - 100 collisions of 48 random bits
            raise FileExistsError(f"could not create a temporary file in {directory!r}")
        with file:
            if isinstance(contents, bytes):
                file.write(contents)
            else:
                contents(file)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
        temporary = ""
    except BaseException as error:
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        if isinstance(error, OSError) and temporary and error.filename == temporary:
            raise _naming(error, path) from None  # e.g. a missing directory: name the path given
        raise
    _fsync_directory(directory)


def _naming(error: OSError, path: str) -> OSError:
    """The same error about ``path`` (the caller's name) instead of the temporary file."""
    return type(error)(error.errno, error.strerror, path)


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
