"""Ctrl-C held back across a step that must not be cut in two.

Python raises ``KeyboardInterrupt`` between any two bytecodes, including right after a call that
returned a resource (``os.open``'s descriptor) and before the caller could store it: that
descriptor would be lost. ``held_interrupts`` wraps such a step: a Ctrl-C that arrives inside it
is recorded, and raised as the same ``KeyboardInterrupt`` once the step is over, when whatever it
made is owned by an object that closes it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def held_interrupts() -> Iterator[None]:
    """Hold SIGINT back while the block runs; raise it (``KeyboardInterrupt``) at its end.

    Only where Python's own handler is installed and only in the main thread (the one that
    receives signals): a program's own SIGINT handler, or a call from another thread, runs the
    block as it is.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    received: list[FrameType | None] = []

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(frame)

    signal.signal(signal.SIGINT, record)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        signal.default_int_handler(signal.SIGINT, received[0])
