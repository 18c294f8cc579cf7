"""``nncore.distributed.fit`` runs the native loop with a reduction over the ranks
(``nncore/reduction.hpp``; in one process: test_reduction.py): cases beyond test_distributed.py's,
run under ``mpiexec`` as users run it (the scripts are in tests/mpi/)."""

from __future__ import annotations

import pytest

from test_distributed import mpirun, needs_mpi


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_validation_data_on_one_rank_only(ranks: int) -> None:
    result = mpirun(ranks, "validation_on_one_rank.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok K={ranks} validation on rank 0 only" in result.stdout, result.stdout


@needs_mpi
def test_sample_weights_on_one_rank_only() -> None:
    result = mpirun(2, "weights_on_one_rank.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok K=2 weights on rank 0 only" in result.stdout, result.stdout
