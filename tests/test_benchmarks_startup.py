"""benchmarks/bench_startup.py: every library's fresh process trains the digits and the report
has the expected structure. The check of each task is its training accuracy (≥ 0.9 after the 20
epochs; all four reach about 0.98-0.99), never a time."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_benchmarks import load_module


def test_startup_benchmark_trains_every_library(tmp_path: Path) -> None:
    pytest.importorskip("sklearn.datasets", reason="the digits come from scikit-learn")
    bench = load_module("bench_startup")
    libraries = ["nncore", "sklearn"]
    if importlib.util.find_spec("jax") is not None:
        libraries.append("jax")  # PyTorch's task is left out here: it takes the longest
    files = ["--json", str(tmp_path / "s.json"), "--markdown", str(tmp_path / "s.md")]
    arguments = ["--runs", "1", "--warm-up", "0", "--libraries", ",".join(libraries), *files]
    report = bench.main(arguments)
    assert list(report["results"]) == libraries and report["skipped"] == {}
    for result in report["results"].values():
        assert result["accuracy"] >= bench.MIN_ACCURACY
        assert set(result["phase_seconds_median"]) == {"import", "train", "predict"}
        assert result["wall_seconds"] > sum(result["phase_seconds_median"].values()) > 0
        assert len(result["runs"]) == 1
    ratios = report["ratios"]
    assert ratios["fastest_peer"] in libraries[1:] and ratios["target"] == bench.TARGET_RATIO
    assert ratios["met"] == (ratios["ratio"] >= bench.TARGET_RATIO)
    assert json.loads((tmp_path / "s.json").read_text())["config"]["epochs"] == 20
    markdown = (tmp_path / "s.md").read_text()
    assert "| nncore |" in markdown and "nncore / fastest peer" in markdown


def test_startup_arguments_and_missing_library(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_module("bench_startup")
    args = bench.parse_args(["--libraries", "torch,NNCORE"])
    assert args.libraries == ["nncore", "torch"]  # the table's order
    assert args.warm_up == 1
    bad_arguments = (["--libraries", "keras"], ["--runs", "0"], ["--timeout", "0"])
    for bad in (*bad_arguments, ["--warm-up", "-1"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)
    assert bench.ratios({"sklearn": {"wall_seconds": 1.0}}) == {}
    ratios = bench.ratios({"nncore": {"wall_seconds": 0.5}, "jax": {"wall_seconds": 5.0}})
    assert ratios["fastest_peer"] == "jax" and ratios["ratio"] == 10.0 and ratios["met"]


def test_startup_task_rejects_a_bad_library() -> None:
    tasks = load_module("startup_tasks")
    with pytest.raises(SystemExit, match="usage"):
        tasks.main(["keras", "data.npz"])


def test_startup_children_write_bytecode_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The children run without PYTHONDONTWRITEBYTECODE (as an installed package, with .pyc),
    and the warm-up rounds run before the timed ones and are not reported."""
    bench = load_module("bench_startup")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    calls: list[dict[str, str]] = []

    def fake_run(command: list[str], **options: object) -> object:
        environment = options["env"]
        assert isinstance(environment, dict)
        calls.append(environment)
        child = {"seconds": {"import": 0.1, "train": 0.2, "predict": 0.0}, "accuracy": 1.0}
        return subprocess.CompletedProcess(command, 0, json.dumps(child), "")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    monkeypatch.setattr(bench, "digits", lambda: (np.zeros((4, 64), np.float32), np.zeros(4)))
    results = bench.measure(["nncore", "sklearn"], runs=2, timeout=10.0, warm_up=1)
    assert len(calls) == 6  # 1 warm-up round + 2 timed rounds, of 2 libraries each
    assert all("PYTHONDONTWRITEBYTECODE" not in environment for environment in calls)
    assert all(environment.get("PATH") == os.environ.get("PATH") for environment in calls)
    assert [len(result["runs"]) for result in results.values()] == [2, 2]
