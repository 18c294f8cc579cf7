"""A grid search over ``nncore.sklearn.MLPClassifier`` run by a Dask ``LocalCluster`` of two
worker processes (joblib's Dask backend) gives the same result as the same search run
sequentially. The search is the one of examples/dask_grid_search.py. Skipped when
dask.distributed or scikit-learn is missing (``pip install -r requirements/test.txt`` installs
both)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None or importlib.util.find_spec("sklearn") is None,
    reason="needs dask.distributed and scikit-learn (pip install 'nncore[dask]')",
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dask_grid_search.py"
TIMEOUT = 180


def test_dask_grid_search_equals_the_sequential_search() -> None:
    # The comparison runs in a child process: a LocalCluster starts worker processes and threads
    # whose warnings and shutdown must not leak into this test session.
    code = f"""
import sys, json, warnings
warnings.filterwarnings("ignore", message=".*Stochastic Optimizer.*")
from sklearn.datasets import load_digits
sys.path.insert(0, {str(EXAMPLE.parent)!r})
from dask_grid_search import search, search_on_cluster

if __name__ == "__main__":
    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]
    sequential = search(X, y).set_params(n_jobs=1).fit(X, y)
    grid = search_on_cluster(X, y)
    print(json.dumps({{
        "best": [str(sequential.best_params_), str(grid.best_params_)],
        "scores": [sequential.cv_results_["mean_test_score"].tolist(),
                   grid.cv_results_["mean_test_score"].tolist()],
        "split0": [sequential.cv_results_["split0_test_score"].tolist(),
                   grid.cv_results_["split0_test_score"].tolist()],
    }}))
"""
    env = {**os.environ, "NNCORE_EXAMPLE_EPOCHS": "5"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    import json

    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert "Dask cluster: 2 workers" in result.stdout
    assert out["best"][0] == out["best"][1]
    # Each fit is deterministic (random_state=0, float64): the same on a worker as here.
    np.testing.assert_allclose(out["scores"][1], out["scores"][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["split0"][1], out["split0"][0], rtol=0, atol=1e-12)
