"""The benchmarks run end to end on tiny sizes and write the expected JSON/Markdown/PNG.

Only the structure of the output is checked: timings are never asserted on. The careful NumPy
peer, which the benchmarks time, is checked for correctness against the NumPy reference.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "bench_training.py"
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


def load_module(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module (its folder on sys.path, as when run as a script)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # the scripts import their sibling modules
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_benchmark() -> ModuleType:
    return load_module("bench_training")


def expected_results(bench: ModuleType) -> set[str]:
    """The result keys of a run without peers (nncore's 2 threads only where it can)."""
    keys = {"nncore_1_thread", "nncore_best", "numpy_reference", "pure_python"}
    keys |= {"numpy_peer_1_thread", "numpy_peer_2_threads", "numpy_peer_best"}
    if bench.nncore_can_set_threads():
        keys.add("nncore_2_threads")
    return keys


def expected_skips(bench: ModuleType) -> set[str]:
    return set() if bench.nncore_can_set_threads() else {"nncore_2_threads"}


def test_a_script_run_by_itself_leaves_the_published_reports() -> None:
    """Without --json/--markdown/--png, bench_training (either dtype) and bench_inference write
    into benchmarks/results/local/, never over the reports run_all.py publishes."""
    bench = load_benchmark()
    inference = load_module("bench_inference")
    local = BENCHMARKS / "results" / "local"
    assert local == bench.LOCAL_DIR
    for argv, stem in ((["--sizes", "T"], "latest"), (["--dtype", "float64"], "float64")):
        args = bench.parse_args(argv)
        assert (args.json, args.markdown, args.png) == tuple(
            local / f"{stem}.{suffix}" for suffix in ("json", "md", "png")
        )
    given = bench.parse_args(["--json", "a.json", "--markdown", "a.md", "--png", "a.png"])
    assert (given.json, given.markdown, given.png) == (Path("a.json"), Path("a.md"), Path("a.png"))
    args = inference.parse_args([])
    assert (args.json, args.markdown, args.png) == tuple(
        local / f"inference.{suffix}" for suffix in ("json", "md", "png")
    )


def test_script_writes_json_and_markdown(tmp_path: Path) -> None:
    json_path = tmp_path / "out.json"
    md_path = tmp_path / "out.md"
    png_path = tmp_path / "out.png"
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
        "--matmul-size",
        "64",
        "--json",
        str(json_path),
        "--markdown",
        str(md_path),
        "--png",
        str(png_path),
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

    assert "nncore_config" in machine and "nncore_isa" in machine
    assert report["numpy_matmul"]["n"] == 64
    assert [run["threads"] for run in report["numpy_matmul"]["runs"]] == [1, 2]
    assert report["numpy_matmul"]["best_gflops"] > 0

    bench = load_benchmark()
    assert list(report["workloads"]) == ["T", "S"]
    for entry in report["workloads"].values():
        results, skipped = entry["results"], entry["skipped"]
        assert set(results) == expected_results(bench)
        assert set(skipped) == expected_skips(bench)
        for name, result in results.items():
            if name.endswith("_best"):
                assert result.keys() == {"samples_per_s", "threads"}
                continue
            assert result.keys() >= MEASUREMENT_KEYS | {"gflops"}
            assert len(result["repeats_samples_per_s"]) == 2
            assert result["samples_per_s"] > 0
        ratios = entry["ratios"]
        assert ratios["nncore_over_numpy_reference"] > 0
        assert ratios["nncore_over_numpy_peer_best"] > 0
        assert ratios["best_other"] in results and not ratios["best_other"].startswith("nncore")
        assert ratios["nncore_gflops_over_numpy_matmul"] > 0
        assert ratios["target"]["against"] == "best_other"
        assert ratios["target"]["met"] in (True, False)
    assert report["workloads"]["T"]["ratios"]["target"]["ratio"] == bench.TARGETS["T"] == 3.0

    markdown = md_path.read_text()
    assert "| T |" in markdown and "| S |" in markdown
    assert "nncore / best other" in markdown and "NumPy best 1-2T" in markdown
    assert "- nncore 2T / 1T (rule ≥ 1" in markdown and "nncore 2T / 1T" in done.stdout
    assert "nncore / best other" in done.stdout  # the table also goes to stdout
    if importlib.util.find_spec("matplotlib") is not None:
        assert png_path.read_bytes().startswith(b"\x89PNG")
    else:
        assert not png_path.exists() and "matplotlib" in done.stderr


def test_peers_none_and_pure_python_subset() -> None:
    bench = load_benchmark()
    args = bench.parse_args(["--peers", "none", "--sizes", "t,s"])
    assert args.peers == [] and args.sizes == ["T", "S"]

    workload = bench.Workload("X", (3, 4, 2), 4, 12, 5)
    problem = bench.make_problem(workload, 1.0, "float32", 0)
    assert problem.X.dtype == np.float32 and problem.X.shape == (12, 3)
    measurement = bench.measure(bench.setup_pure_python(problem), repeats=1, min_time=0.0)
    assert measurement.samples_per_epoch == 5
    assert "subset" in measurement.note
    entry = bench.run_workload(problem, [], repeats=1, min_time=0.0, log=lambda _: None)
    assert set(entry["results"]) == expected_results(bench)
    assert set(entry["skipped"]) == expected_skips(bench)
    assert "target" not in entry["ratios"]  # size "X" has none


def tiny_problem(bench: ModuleType, outputs: int) -> object:
    workload = bench.Workload("X", (3, 4, outputs), 4, 12, 12)
    return bench.make_problem(workload, 1.0, "float32", 0)


@pytest.mark.parametrize("outputs", [1, 2])
def test_torch_peer(outputs: int) -> None:
    pytest.importorskip("torch")
    bench = load_benchmark()
    measurement = bench.measure(bench.setup_torch(tiny_problem(bench, outputs), threads=1), 1, 0.0)
    assert measurement.samples_per_epoch == 12 and measurement.extra["threads"] == 1


@pytest.mark.parametrize("outputs", [1, 2])
def test_sklearn_peer(outputs: int) -> None:
    pytest.importorskip("sklearn.neural_network")
    bench = load_benchmark()
    timed = bench.setup_sklearn(tiny_problem(bench, outputs), threads=2)
    measurement = bench.measure(timed, 1, 0.0)
    assert measurement.samples_per_epoch == 12 and measurement.batch_size == 4
    assert measurement.extra["threads"] == 2


def test_missing_peer_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_benchmark()
    monkeypatch.setitem(sys.modules, "torch", None)  # makes "import torch" raise ImportError
    monkeypatch.setitem(sys.modules, "sklearn.neural_network", None)
    problem = tiny_problem(bench, 1)
    with pytest.raises(bench.Skip):
        bench.setup_torch(problem, threads=1)
    entry = bench.run_workload(problem, ["torch", "sklearn"], 1, 0.0, log=lambda _: None)
    peers = {"torch_1_thread", "torch_2_threads", "sklearn_1_thread", "sklearn_2_threads"}
    assert set(entry["skipped"]) == peers | expected_skips(bench)
    assert "torch_best" not in entry["results"] and "sklearn_best" not in entry["results"]


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


@pytest.mark.parametrize(
    ("dtype", "layers", "batch_size", "n", "tolerance"),
    [
        ("float64", (5, 7, 6, 3), 4, 18, 1e-12),  # last batch short (18 = 4·4 + 2)
        ("float64", (2, 16, 1), 1, 20, 1e-12),  # the T shape: batch of one
        ("float32", (8, 16, 16, 4), 5, 23, 1e-5),
    ],
)
@pytest.mark.parametrize("shuffle", [False, True])
def test_numpy_peer_trains_like_the_reference(
    dtype: str, layers: tuple[int, ...], batch_size: int, n: int, tolerance: float, shuffle: bool
) -> None:
    """The careful NumPy peer gives the reference's weights and losses after two epochs."""
    from nncore.reference import numpy_reference

    numpy_peer = load_module("numpy_peer")
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n, layers[0])).astype(dtype)
    Y = rng.standard_normal((n, layers[-1])).astype(dtype)
    weights = [rng.uniform(-0.5, 0.5, (a, b)).astype(dtype) for a, b in itertools.pairwise(layers)]
    biases = [rng.uniform(-0.1, 0.1, b).astype(dtype) for b in layers[1:]]
    activations = ["tanh"] * (len(layers) - 2) + ["identity"]
    expected_W, expected_b, expected_losses = numpy_reference.fit(
        weights, biases, X, Y, activations, "mean_squared_error", 0.05, 2, batch_size,
        shuffle=shuffle, seed=3,
    )  # fmt: skip
    model = numpy_peer.NumpyMLP(weights, biases, dtype)
    losses = model.fit_epochs(
        X, Y, 2, batch_size, 0.05, np.random.default_rng(3) if shuffle else None
    )
    assert model.parameters.dtype == np.dtype(dtype)
    assert expected_b is not None
    for got, want in zip(model.weights + model.biases, expected_W + expected_b, strict=True):
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(losses, expected_losses, rtol=tolerance)
    assert any(
        not np.array_equal(W, W0) for W, W0 in zip(model.weights, weights, strict=True)
    )  # it trained
    # predict is the reference's forward pass on the trained weights
    _, As = numpy_reference.forward(expected_W, expected_b, X, activations)
    np.testing.assert_allclose(model.predict(X), As[-1], rtol=tolerance, atol=tolerance)


def test_best_of_threads_targets_and_flops() -> None:
    bench = load_benchmark()
    assert bench.WORKLOADS["L"].flops_per_sample == 6 * (1024 * 2048 + 2048 * 2048 + 2048 * 1024)
    results = {
        "nncore_1_thread": {"samples_per_s": 50.0, "threads": 1},
        "numpy_peer_1_thread": {"samples_per_s": 30.0, "threads": 1},
        "numpy_peer_2_threads": {"samples_per_s": 40.0, "threads": 2},
        "numpy_reference": {"samples_per_s": 35.0},
        "torch_2_threads": {"samples_per_s": 45.0, "threads": 2},  # counted via torch_best only
    }
    bench.add_best_of_threads(results, "numpy_peer", "samples_per_s")
    assert results["numpy_peer_best"] == {"samples_per_s": 40.0, "threads": 2}
    assert bench.best_other(results, "samples_per_s") == ("numpy_peer_best", 40.0)
    bench.add_best_of_threads(results, "torch", "samples_per_s")
    assert bench.best_other(results, "samples_per_s") == ("torch_best", 45.0)
    assert bench.target_for("S", "float32") == (2.0, "best_other")
    assert bench.target_for("L", "float64") == (1.0, "numpy_peer_best")
    assert bench.target_for("X", "float32") is None


@pytest.mark.parametrize(("one", "two", "warned"), [(70.0, 140.0, False), (80.0, 88.0, True)])
def test_a_busy_core_is_flagged(one: float, two: float, warned: bool) -> None:
    """A 2-thread matmul hardly faster than the 1-thread one means a core was taken: the report
    says so (the 2-thread figures of such a run do not compare)."""
    bench = load_benchmark()
    runs = [
        {"threads": 1, "gflops": one, "threads_limited": True},
        {"threads": 2, "gflops": two, "threads_limited": True},
    ]
    report = {
        "numpy_matmul": {"n": 2048, "dtype": "float32", "runs": runs, "best_gflops": two},
        "workloads": {},
    }
    lines = bench.gemm_lines(report)
    assert any("Warning" in line for line in lines) == warned
    assert bench.matmul_scaling(report["numpy_matmul"]) == pytest.approx(two / one)


def test_the_thread_rule_marks_each_size() -> None:
    """nncore's 2-thread over 1-thread rate per size: ✓ from 1 − THREAD_RULE_NOISE up, ✗ below
    it; a size without both figures is left out."""
    bench = load_benchmark()
    assert bench.THREAD_RULE_NOISE == 0.05

    def workload(one: float | None, two: float) -> dict[str, object]:
        results = {"nncore_2_threads": {"samples_per_s": two}}
        if one is not None:
            results["nncore_1_thread"] = {"samples_per_s": one}
        return {"results": results}

    report = {
        "workloads": {
            "T": workload(100.0, 96.0),  # 0.96: noise
            "S": workload(100.0, 94.0),  # 0.94: slower
            "M": workload(100.0, 166.0),
            "L": workload(None, 50.0),
            "A": workload(10_000.0, 9_496.0),  # shown as 0.95: judged as shown
            "B": workload(10_000.0, 9_449.0),  # shown as 0.94
        }
    }
    (line,) = bench.thread_rule_lines(report)
    assert "T 0.96× ✓" in line and "S 0.94× ✗" in line and "M 1.66× ✓" in line
    assert "A 0.95× ✓" in line and "B 0.94× ✗" in line
    assert "L " not in line
    assert bench.thread_rule_lines({"workloads": {"L": workload(None, 50.0)}}) == []


def test_run_all_quick_writes_every_report(tmp_path: Path) -> None:
    """run_all.py --quick runs training (float32, float64), inference and memory end to end."""
    run_all = load_module("run_all")
    quick = ["--quick", "--sizes", "T", "--peers", "none", "--out-dir", str(tmp_path)]
    reports = run_all.main(quick)
    assert set(reports) == {"training", "float64", "inference", "memory"}
    assert reports["float64"]["config"]["dtype"] == "float64"
    float64_ratios = reports["float64"]["workloads"]["T"]["ratios"]
    assert float64_ratios["target"] == {
        "ratio": 1.0,
        "against": "numpy_peer_best",
        "met": float64_ratios["nncore_over_numpy_peer_best"] >= 1.0,
    }
    stems = ["latest", "float64", "inference", "memory"]
    for stem in stems:
        report = json.loads((tmp_path / f"{stem}.json").read_text())
        assert report["command"].startswith("python benchmarks/bench_")
        assert (tmp_path / f"{stem}.md").read_text().strip()
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("\n## ") == 4 and "python benchmarks/run_all.py --quick" in summary
    if importlib.util.find_spec("matplotlib") is not None:
        for stem in stems[:3]:
            assert (tmp_path / f"{stem}.png").read_bytes().startswith(b"\x89PNG")
            assert f"]({stem}.png)" in summary

    # A part left out keeps its earlier report in the summary, marked as such.
    run_all.main([*quick, "--skip", "training,float64,memory"])
    summary = (tmp_path / "summary.md").read_text()
    headings = [line for line in summary.splitlines() if line.startswith("## ")]
    assert len(headings) == 4 and sum("not rerun" in line for line in headings) == 3

    inference = reports["inference"]
    entry = inference["throughput"]["T"]
    assert {"nncore_1_thread", "nncore_best", "numpy_peer_best"} <= set(entry["results"])
    assert entry["results"]["nncore_best"]["samples_per_s"] > 0
    latency = inference["latency"]
    assert latency["size"] == "S" and latency["target_us"] == 10.0
    assert {"nncore_predict", "nncore_forward", "nncore_native_forward", "numpy_peer"} == set(
        latency["results"]
    )
    for result in latency["results"].values():
        assert 0 < result["p10_us"] <= result["median_us"] <= result["p90_us"]

    memory = reports["memory"]
    fit = memory["fit"]
    parts = fit["budget_parts_bytes"]
    assert parts["training_data"] == 500 * (784 + 10) * 4
    assert parts["parameters"] == (784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10) * 4
    assert fit["budget_bytes"] == sum(parts.values())
    assert fit["peak_bytes"] >= fit["rss_before_fit_bytes"] > parts["baseline_after_import"] > 0
    assert fit["peak_over_budget"] == fit["peak_bytes"] / fit["budget_bytes"]
    for case in ("bare_interpreter", "numpy_already_imported"):
        assert memory["import"][case]["seconds"] > 0
        assert memory["import"][case]["rss_added_mb"] > 0


def test_inference_peers(tmp_path: Path) -> None:
    """With the peers asked for, each is measured, or skipped with a reason when missing."""
    inference = load_module("bench_inference")
    files = ["--json", str(tmp_path / "i.json"), "--markdown", str(tmp_path / "i.md")]
    files += ["--png", str(tmp_path / "i.png")]
    tiny = ["--sizes", "T", "--rows", "10", "--repeats", "1", "--min-time", "0", "--calls", "4"]
    report = inference.main([*tiny, *files])
    entry = report["throughput"]["T"]
    for peer in ("torch", "sklearn"):
        module = "torch" if peer == "torch" else "sklearn.neural_network"
        keys = {f"{peer}_1_thread", f"{peer}_2_threads"}
        if importlib.util.find_spec(module.split(".")[0]) is not None:
            assert keys | {f"{peer}_best"} <= set(entry["results"])
        else:
            assert keys <= set(entry["skipped"])
    if "torch_best" in entry["results"]:
        ratio = entry["ratios"]["nncore_over_torch_best"]
        assert entry["ratios"]["meets_target"] == (ratio >= 1.0)
        assert "torch_1_thread" in report["latency"]["results"]
    assert "nncore / torch best" in (tmp_path / "i.md").read_text()


def test_compare_builds_runs_on_a_tiny_size(tmp_path: Path) -> None:
    # The same interpreter as both builds: the script's mechanics, not a speed.
    command = [
        sys.executable,
        str(BENCHMARKS / "compare_builds.py"),
        "--baseline",
        sys.executable,
        "--candidate",
        sys.executable,
        "--sizes",
        "T",
        "--rounds",
        "2",
        "--repeats",
        "1",
        "--min-time",
        "0.001",
        "--samples-scale",
        "0.01",
        "--json",
        str(tmp_path / "builds.json"),
        "--markdown",
        str(tmp_path / "builds.md"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "builds.json").read_text())
    entry = report["sizes"]["T"]
    assert len(entry["runs"]["baseline"]) == len(entry["runs"]["candidate"]) == 2
    assert entry["ratio"] > 0
    assert set(entry["runs"]["baseline"][0]["rates"]) == {"1", "2"}
    assert "| T |" in (tmp_path / "builds.md").read_text()
