"""Resident memory stays flat over repeated fit/predict/save/load (and refused calls).

After a warm-up (allocator pools, import-time caches), ``ROUNDS`` more rounds of every operation
may grow the resident set (VmRSS, /proc/self/status) by at most ``BOUND_BYTES``. One round
allocates ~1 MiB of model and data, so a per-round leak of even 1% of it would exceed the bound.
The native side is also checked by valgrind (``tools/leakcheck.py``, README "Reliability").
"""

from __future__ import annotations

import gc
import io
import sys

import numpy as np
import pytest

import nncore
from nncore import _core

ROUNDS = 150
BOUND_BYTES = 4 << 20

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status"),
    pytest.mark.skipif(
        _core._sanitized, reason="ASan's quarantine holds freed memory: RSS is not flat under it"
    ),
]


def resident_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def one_round(X: np.ndarray, y: np.ndarray, seed: int) -> None:
    model = nncore.MLP([16, 64, 4], output_activation="softmax", seed=seed)
    model.fit(X, y, epochs=2, optimizer="adam", validation_split=0.2)
    model.predict(X)
    model.backward(X, y)
    buffer = io.BytesIO()
    model.save(buffer)
    clone = nncore.load(io.BytesIO(buffer.getvalue()))
    clone.predict_proba(X)
    for bad in (X[:, :3], np.full_like(X, np.nan), X.astype(complex)):
        with pytest.raises((TypeError, ValueError)):
            clone.fit(bad, y)
    with pytest.raises(ValueError):
        nncore.load(io.BytesIO(buffer.getvalue()[:-100]))


def test_resident_memory_stays_flat() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 16)).astype(np.float32)
    y = rng.integers(0, 4, size=512)
    for seed in range(30):  # warm-up
        one_round(X, y, seed)
    gc.collect()
    before = resident_bytes()
    for seed in range(ROUNDS):
        one_round(X, y, seed)
    gc.collect()
    growth = resident_bytes() - before
    assert growth <= BOUND_BYTES, f"resident memory grew by {growth} bytes over {ROUNDS} rounds"
