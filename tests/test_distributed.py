"""``nncore.distributed``: data-parallel training over MPI, run as users run it
(``mpiexec -n K python script.py``, the scripts are in tests/mpi/), plus ``shard_rows`` and
``load_shard`` in this process. Skipped with a reason when mpi4py or mpiexec is missing
(``pip install -r requirements/test.txt`` installs both: mpi4py and the mpich wheels)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nncore

SCRIPTS = Path(__file__).resolve().parent / "mpi"
TIMEOUT = 120  # seconds: a hang fails the test instead of the run


def find_mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"  # the mpich wheel installs it here
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MPIEXEC = find_mpiexec()
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="needs mpi4py and mpiexec (pip install 'nncore[mpi]')",
)


def mpirun(ranks: int, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert MPIEXEC is not None
    env = {**os.environ, "PYTHONWARNINGS": "error", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [MPIEXEC, "-n", str(ranks), sys.executable, str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=env,
    )
    return result


class FakeComm:
    """The two methods of an MPI communicator that ``shard_rows`` asks."""

    def __init__(self, rank: int, size: int) -> None:
        self.rank, self.size = rank, size

    def Get_rank(self) -> int:
        return self.rank

    def Get_size(self) -> int:
        return self.size


# ----------------------------------------------------------------------------- in process


def test_importing_nncore_does_not_import_mpi() -> None:
    code = "import sys, nncore; assert 'mpi4py' not in sys.modules; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize(("n_rows", "size"), [(0, 3), (1, 3), (10, 3), (12, 4), (1001, 7)])
def test_shard_rows_partitions_the_rows_in_balanced_blocks(n_rows: int, size: int) -> None:
    from nncore.distributed import shard_rows

    slices = [shard_rows(n_rows, FakeComm(rank, size)) for rank in range(size)]
    covered = np.concatenate([np.arange(n_rows)[s] for s in slices])
    np.testing.assert_array_equal(covered, np.arange(n_rows))  # in order, each row once
    lengths = [s.stop - s.start for s in slices]
    assert max(lengths) - min(lengths) <= 1
    assert lengths == sorted(lengths, reverse=True)


@pytest.mark.parametrize("bad", [-1, 2.5, "3", True])
def test_shard_rows_rejects_bad_counts(bad: object) -> None:
    from nncore.distributed import shard_rows

    with pytest.raises((TypeError, ValueError), match="n_rows"):
        shard_rows(bad, FakeComm(0, 2))  # type: ignore[arg-type]


def test_load_shard_returns_this_ranks_rows(tmp_path: Path) -> None:
    from nncore.distributed import load_shard

    data = np.arange(23 * 3, dtype=np.float32).reshape(23, 3)
    np.save(tmp_path / "data.npy", data)
    parts = [load_shard(tmp_path / "data.npy", FakeComm(rank, 4)) for rank in range(4)]
    assert all(type(part) is np.ndarray and part.flags.owndata for part in parts)
    np.testing.assert_array_equal(np.concatenate(parts), data)


def test_load_shard_reads_only_its_slice(tmp_path: Path) -> None:
    # A 128 MB file, 8 ranks: the peak resident memory of a fresh process that loads one
    # rank's 16 MB slice must grow by far less than the file, while loading the whole file
    # (the control, proving the measurement can see it) grows it by at least the file.
    path = tmp_path / "big.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(2048, 8192))
    big[:] = 1.0
    big.flush()
    del big
    code = textwrap.dedent(
        f"""
        import sys, numpy as np
        from nncore.distributed import load_shard

        class Comm:
            def Get_rank(self): return 3
            def Get_size(self): return 8

        def peak():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        before = peak()
        if sys.argv[1] == "shard":
            part = load_shard({str(path)!r}, Comm())
            assert part.shape == (256, 8192) and part.sum() == 256 * 8192
        else:
            whole = np.load({str(path)!r})
        print(peak() - before)
        """
    )
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc/self/status (Linux) to measure the peak resident memory")
    growth = {}
    for mode in ("shard", "whole"):
        result = subprocess.run(
            [sys.executable, "-c", code, mode],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        growth[mode] = int(result.stdout.strip())
    file_bytes = path.stat().st_size
    assert growth["whole"] >= 0.9 * file_bytes  # the control (RSS counts whole pages, roughly)
    assert growth["shard"] < file_bytes / 3  # slice (16 MB) + its mapped pages, not the file


def test_fit_without_mpi4py_says_how_to_install_it() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["mpi4py"] = None  # as if not installed
        import numpy as np, nncore
        from nncore import distributed
        model = nncore.MLP([2, 1], seed=0)
        try:
            distributed.fit(model, np.zeros((4, 2)), np.zeros(4))
        except ImportError as error:
            print(error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert "nncore[mpi]" in result.stdout, result.stderr


def test_distributed_is_exported_lazily() -> None:
    assert nncore.distributed.fit is not None  # attribute access imports the module


# ----------------------------------------------------------------------------- under mpiexec


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_equivalent_to_single_process_training(ranks: int) -> None:
    result = mpirun(ranks, "equivalence.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(f"ok K={ranks} ") == 12, result.stdout


@needs_mpi
def test_running_statistics_end_the_same_on_every_rank() -> None:
    result = mpirun(2, "batch_norm.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok K=2 batch norm" in result.stdout, result.stdout


@needs_mpi
def test_shuffled_training_is_reproducible_for_a_given_number_of_ranks() -> None:
    runs = [mpirun(2, "shuffling.py") for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    digests = [line for run in runs for line in run.stdout.splitlines() if "digest" in line]
    assert len(digests) == 2 and digests[0] == digests[1]


@needs_mpi
@pytest.mark.parametrize(
    ("mode", "ranks", "expected"),
    [
        ("setup", 2, "ValueError: on rank 1: X"),
        ("step", 3, "ValueError: on rank 1: X contains NaN or infinity"),
        ("callback", 2, "KeyError: \"on rank 1: 'a callback failed'"),
        ("architecture", 2, "ValueError: the models or fit arguments differ across ranks"),
        ("arguments", 2, "ValueError: the models or fit arguments differ across ranks (epochs"),
    ],
)
def test_an_error_on_one_rank_stops_every_rank(mode: str, ranks: int, expected: str) -> None:
    result = mpirun(ranks, "faults.py", mode)
    assert result.returncode == 0, result.stdout + result.stderr
    # The ranks' outputs may interleave: count the reports, not the lines.
    reports = re.findall(r"rank (\d+) raised (.*?)(?=rank \d+ raised|\n|$)", result.stdout)
    assert sorted(int(rank) for rank, _ in reports) == list(range(ranks)), result.stdout
    for _, report in reports:
        assert expected in report, report


@needs_mpi
def test_bad_arguments_are_rejected_by_name_on_a_single_rank() -> None:
    assert MPIEXEC is not None
    code = textwrap.dedent(
        """
        import numpy as np, nncore
        from nncore import distributed
        model = nncore.MLP([2, 3, 1], seed=0)
        before = model._network.parameters.copy()
        X, y = np.zeros((6, 2)), np.zeros(6)
        for kwargs, model_ in [({"epoch": 3}, model), ({"batch_size": 0}, model), ({}, "m")]:
            try:
                distributed.fit(model_, X, y, **kwargs)
            except (TypeError, ValueError) as error:
                print(type(error).__name__, error)
        assert (model._network.parameters == before).all()
        """
    )
    result = subprocess.run(
        [MPIEXEC, "-n", "1", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "TypeError on rank 0: fit got unexpected keyword arguments: epoch"
    assert lines[1].startswith("ValueError on rank 0: batch_size")
    assert (
        lines[2] == "TypeError on rank 0: model must be an nncore.Sequential or nncore.MLP, got str"
    )


@needs_mpi
@pytest.mark.parametrize("ranks", [1, 2])
def test_a_refused_distributed_fit_changes_neither_model_nor_optimizer(ranks: int) -> None:
    """test_failed_calls.py's family (every way fit can fail before training, an optimizer made
    for another model, a fit already running) through distributed.fit: refused on every rank,
    and nothing changes on any rank."""
    assert MPIEXEC is not None
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_failed_calls import (
            FAILURES, RULES, X_GOOD, Y_GOOD, assert_unchanged, failing_fit, fit_running,
            trained_model,
        )
        from nncore import distributed

        def fit(model, X, y, **kwargs):
            return distributed.fit(model, X, y, **kwargs)

        for rule in RULES:
            for name, arguments, error in FAILURES:
                model, optimizer = trained_model(), rule()
                assert_unchanged(
                    lambda: failing_fit(fit, model, optimizer, arguments), error, model, optimizer
                )
            m1, m2, optimizer = trained_model(hidden=4), trained_model(hidden=7), rule()
            fit(m1, X_GOOD, Y_GOOD, epochs=1, batch_size=4, optimizer=optimizer)
            assert_unchanged(
                lambda: failing_fit(fit, m2, optimizer, {{}}), ValueError, m2, optimizer
            )
            with fit_running(m1):
                assert_unchanged(
                    lambda: failing_fit(fit, m1, optimizer, {{}}), RuntimeError, m1, optimizer
                )
        print("ok")
        """
    )
    result = subprocess.run(
        [MPIEXEC, "-n", str(ranks), sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("ok") == ranks, result.stdout


# ----------------------------------------------------------------------------- benchmark


@needs_mpi
def test_benchmark_script_writes_json_and_markdown(tmp_path: Path) -> None:
    # A smoke run on tiny sizes: only the structure of the output is checked, never timings.
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_distributed.py"
    json_path, md_path = tmp_path / "d.json", tmp_path / "d.md"
    command = [sys.executable, str(script), "--samples", "512", "--epochs", "1", "--repeats", "1"]
    result = subprocess.run(
        [*command, "--json", str(json_path), "--markdown", str(md_path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(json_path.read_text())
    runs = report["runs"]
    assert runs["mpiexec -n 2, 1 thread each"]["processes"] == 2
    assert runs["mpiexec -n 2, 1 thread each"]["local_batch"] == 128
    assert runs["1 process, 1 thread"]["samples_per_s"] > 0
    paper = {row["workload"]: row for row in report["on_paper"]}
    assert paper["M"]["parameters"] == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    # ring all-reduce: 2(K−1)/K of the float32 gradient per rank and step
    assert paper["M"]["bytes_sent_per_rank_K8"] == pytest.approx(2 * 7 / 8 * 4 * 269_322)
    assert "| mpiexec -n 2, 1 thread each | 128 |" in md_path.read_text()
