"""Fuzzing the two parsers of untrusted files: the model loader (``nncore.load``) and the CSV
reader (``nncore.csv_data``).

Each input is a file of the committed corpus (``tests/data/corrupt_models/*.nncore`` plus a valid
model; ``tests/data/corrupt_csv/*.csv``) mutated by Hypothesis: bit flips, truncations, inserted
or duplicated chunks, overwritten little-endian integers (the zip sizes, offsets and counts),
digits written over numbers (huge shapes in the ``.npy`` headers and the JSON header). For every
input, in-process:

- the only exception is the documented one: ``ValueError`` whose message starts with
  ``cannot load`` for the loader; ``CSVError`` (a ``ValueError``) for the CSV reader;
- a model that loads is usable: finite parameters, finite predictions;
- memory: the peak of Python-visible allocations (``tracemalloc``, which sees NumPy's buffers)
  stays below ``MEMORY_FACTOR`` × the file size + ``MEMORY_SLACK`` (the file could not justify
  more), and the native parameter buffer is no larger than the parameters member of the file;
- no hang: a watchdog (``faulthandler``) kills the run if one input takes ``HANG_SECONDS``.

Budget: ``FUZZ_EXAMPLES`` inputs per target under the "ci" Hypothesis profile (15x the profile's
``max_examples``); ``NNCORE_HYPOTHESIS=thorough`` for a long local run (README, Reliability).
"""

from __future__ import annotations

import faulthandler
import io
import os
import struct
import tempfile
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import nncore
from nncore import csv_data

DATA = Path(__file__).parent / "data"
MEMORY_FACTOR = 8
MEMORY_SLACK = 4 << 20  # interpreter and library overhead of one load (JSON, zipfile, NumPy)
HANG_SECONDS = 60.0
FUZZ_EXAMPLES = 15 * settings().max_examples


def _valid_model() -> bytes:
    model = nncore.MLP([3, 5, 2], activation="tanh", dtype="float64", seed=0)
    X = np.random.default_rng(0).normal(size=(16, 3))
    model.fit(X, X[:, :2], optimizer="adam", epochs=2, validation_split=0.25)
    model.metadata = {"source": "fuzz"}
    model.metadata_arrays = {"mean": np.arange(3.0)}
    buffer = io.BytesIO()
    model.save(buffer)
    return buffer.getvalue()


MODEL_CORPUS = [_valid_model()] + [
    path.read_bytes() for path in sorted((DATA / "corrupt_models").glob("*.nncore"))
]
CSV_CORPUS = [path.read_bytes() for path in sorted((DATA / "corrupt_csv").glob("*.csv"))]


def test_the_corpora_are_there() -> None:
    assert len(MODEL_CORPUS) > 100 and len(CSV_CORPUS) >= 20


# --------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------

MUTATIONS = ["flip", "truncate", "insert", "duplicate", "integer", "digits", "delete"]
INTERESTING_INTEGERS = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**31, 2**63]


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(MUTATIONS))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "integer" and len(data) >= at + 8:
            value, width = (
                draw(st.sampled_from(INTERESTING_INTEGERS)),
                draw(st.sampled_from([2, 4, 8])),
            )
            data[at : at + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
        elif kind == "digits":  # a number overwritten by a huge one (shapes, sizes, counts)
            digits = draw(
                st.sampled_from([b"99999999999999999999", b"4294967296", b"-1", b"1e309"])
            )
            data[at : at + len(digits)] = digits
    return bytes(data)


@contextmanager
def watched() -> Iterator[None]:
    """Kill the run (with every thread's traceback) if the body hangs."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@contextmanager
def memory_bound(size: int) -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    limit = MEMORY_FACTOR * size + MEMORY_SLACK
    assert peak <= limit, f"peak {peak} bytes for a file of {size} bytes (limit {limit})"


# --------------------------------------------------------------------------------------------
# The model loader
# --------------------------------------------------------------------------------------------


def check_model_file(data: bytes) -> bool:
    """Load ``data``: True for a usable model, False for the documented ValueError."""
    with watched(), memory_bound(len(data)):
        try:
            model = nncore.load(io.BytesIO(data))
        except ValueError as error:
            assert str(error).startswith("cannot load "), error
            return False
    parameters = model._network.parameters
    assert parameters.nbytes <= len(data), "the model holds more parameters than the file"
    assert np.isfinite(parameters).all()
    assert np.isfinite(model.forward(np.ones((2, model.n_features)))).all()
    return True


def test_every_corpus_file_loads_or_is_refused() -> None:
    outcomes = [check_model_file(data) for data in MODEL_CORPUS]
    assert outcomes[0], "the valid model of the corpus must load"
    assert not any(outcomes[1:]), "a corrupt file of the corpus loaded"


@settings(max_examples=FUZZ_EXAMPLES, database=None)
@given(mutated(MODEL_CORPUS))
def test_fuzz_model_loader(data: bytes) -> None:
    check_model_file(data)


def _patch_npy_shape(data: bytes, shape: bytes) -> bytes:
    """The first .npy header's shape replaced (CRCs stay stale: the loader must notice both)."""
    start = data.find(b"'shape': (")
    if start < 0:
        return data
    end = data.index(b")", start)
    return data[: start + 10] + shape + data[end:]


@settings(max_examples=max(20, FUZZ_EXAMPLES // 10), database=None)
@given(
    st.sampled_from(MODEL_CORPUS[:1]),
    st.sampled_from([b"4294967296,", b"99999999999999999999,", b"-1,", b"65536, 65536", b""]),
    st.integers(0, 2**32 - 1),
)
def test_fuzz_huge_declared_shapes(data: bytes, shape: bytes, crc: int) -> None:
    patched = bytearray(_patch_npy_shape(data, shape))
    local = patched.find(b"PK\x03\x04")
    if local >= 0:
        patched[local + 14 : local + 18] = struct.pack("<I", crc)  # a CRC that may even match
    check_model_file(bytes(patched))


# --------------------------------------------------------------------------------------------
# The CSV reader
# --------------------------------------------------------------------------------------------

CSV_DIRECTORY = tempfile.mkdtemp(prefix="nncore-fuzz-csv-")


def check_csv_file(data: bytes) -> None:
    """Read ``data`` as the command line does; only ``CSVError`` may come out."""
    path = os.path.join(CSV_DIRECTORY, "input.csv")
    with open(path, "wb") as handle:
        handle.write(data)
    with watched(), memory_bound(64 * len(data)):  # lists of str: ~60 bytes per one-byte cell
        try:
            table = csv_data.read_csv(path)
        except csv_data.CSVError as error:
            assert str(error).startswith(path), error
            return
        for column in table.columns:
            values = table.column(column)
            try:
                numbers = table.numeric([column])
                assert np.isfinite(numbers).all()
            except csv_data.CSVError as error:
                assert repr(column) in str(error)
            task = csv_data.infer_task(values)
            assert task in ("classify", "regress")
            classes = csv_data.class_names(values)
            codes = csv_data.encode_classes(table, column, classes)
            assert codes.shape == (table.n_rows,) and (codes < len(classes)).all()


def test_every_csv_corpus_file_is_read_or_refused() -> None:
    for data in CSV_CORPUS:
        check_csv_file(data)


@settings(max_examples=FUZZ_EXAMPLES // 2, database=None)  # each input is a file on disk
@given(mutated(CSV_CORPUS))
def test_fuzz_csv_reader(data: bytes) -> None:
    check_csv_file(data)
