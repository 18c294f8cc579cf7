"""The training benchmark runs end to end on tiny sizes and writes the expected JSON/Markdown.

Only the structure of the output is checked: timings are never asserted on.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_training.py"
MEASUREMENT_KEYS = {
    "samples_per_s",
    "repeats_samples_per_s",
    "repeats_seconds",
    "epochs_per_repeat",
    "samples_per_epoch",
    "batch_size",
    "warmup_seconds",
    "note",
}


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_training", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_script_writes_json_and_markdown(tmp_path: Path) -> None:
    json_path = tmp_path / "out.json"
    md_path = tmp_path / "out.md"
    command = [
        sys.executable,
        str(SCRIPT),
        "--sizes",
        "T,S",
        "--samples-scale",
        "0.001",
        "--repeats",
        "2",
        "--min-time",
        "0",
        "--peers",
        "none",
        "--json",
        str(json_path),
        "--markdown",
        str(md_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr

    report = json.loads(json_path.read_text())
    assert {"config", "machine", "workloads", "created", "command"} <= report.keys()
    assert report["config"]["repeats"] == 2
    assert report["config"]["peers"] == []
    machine = report["machine"]
    for key in ("cpu_model", "platform", "python", "numpy", "nncore", "env", "numpy_blas"):
        assert key in machine
    assert {"OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"} <= machine["env"].keys()

    assert list(report["workloads"]) == ["T", "S"]
    for entry in report["workloads"].values():
        results, skipped = entry["results"], entry["skipped"]
        for name in ("nncore", "numpy_reference", "pure_python"):
            assert results[name].keys() >= MEASUREMENT_KEYS
            assert len(results[name]["repeats_samples_per_s"]) == 2
            assert results[name]["samples_per_s"] > 0
        assert skipped == {}
        assert set(results) == {"nncore", "numpy_reference", "pure_python"}
        assert entry["ratios"]["nncore_over_numpy_reference"] > 0
        assert entry["ratios"]["best_other"] in results

    markdown = md_path.read_text()
    assert "| T |" in markdown and "| S |" in markdown
    assert "nncore / NumPy ref" in markdown
    assert "nncore / NumPy ref" in done.stdout  # the table also goes to stdout


def test_peers_none_and_pure_python_subset() -> None:
    bench = load_benchmark()
    args = bench.parse_args(["--peers", "none", "--sizes", "t,s"])
    assert args.peers == [] and args.sizes == ["T", "S"]

    workload = bench.Workload("X", (3, 4, 2), 4, 12, 5)
    problem = bench.make_problem(workload, 1.0, "float32", 0)
    assert problem.X.dtype == np.float32 and problem.X.shape == (12, 3)
    measurement = bench.bench_pure_python(problem, repeats=1, min_time=0.0)
    assert measurement.samples_per_epoch == 5
    assert "subset" in measurement.note
    entry = bench.run_workload(problem, [], repeats=1, min_time=0.0, log=lambda _: None)
    assert set(entry["results"]) == {"nncore", "numpy_reference", "pure_python"}
    assert entry["skipped"] == {}


def tiny_problem(bench: ModuleType, outputs: int) -> object:
    workload = bench.Workload("X", (3, 4, outputs), 4, 12, 12)
    return bench.make_problem(workload, 1.0, "float32", 0)


@pytest.mark.parametrize("outputs", [1, 2])
def test_torch_peer(outputs: int) -> None:
    pytest.importorskip("torch")
    bench = load_benchmark()
    measurement = bench.bench_torch(tiny_problem(bench, outputs), 1, 0.0, threads=1)
    assert measurement.samples_per_epoch == 12 and measurement.extra["threads"] == 1


@pytest.mark.parametrize("outputs", [1, 2])
def test_sklearn_peer(outputs: int) -> None:
    pytest.importorskip("sklearn.neural_network")
    bench = load_benchmark()
    measurement = bench.bench_sklearn(tiny_problem(bench, outputs), 1, 0.0)
    assert measurement.samples_per_epoch == 12 and measurement.batch_size == 4


def test_missing_peer_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_benchmark()
    monkeypatch.setitem(sys.modules, "torch", None)  # makes "import torch" raise ImportError
    monkeypatch.setitem(sys.modules, "sklearn.neural_network", None)
    problem = tiny_problem(bench, 1)
    with pytest.raises(bench.Skip):
        bench.bench_torch(problem, 1, 0.0, threads=1)
    entry = bench.run_workload(problem, ["torch", "sklearn"], 1, 0.0, log=lambda _: None)
    assert set(entry["skipped"]) == {"torch_1_thread", "torch_2_threads", "sklearn"}
    assert "torch_best" not in entry["results"]


def test_toolkit_benchmark_runs_on_a_tiny_size() -> None:
    """benchmarks/bench_toolkit.py runs end to end on a tiny scale (no timing is asserted)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_toolkit.py"
    spec = importlib.util.spec_from_file_location("bench_toolkit", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.main(["--repeats", "1", "--scale", "0.01", "--sizes", "T,S"])
    assert set(report["adam"]) == {"T", "S"}
    assert all(rate > 0 for rates in report["adam"].values() for rate in rates.values())
    assert report["overhead"]["plain_s"] > 0
