"""Run every performance benchmark of issue 5 with one command and write a summary.

In order, each writing its JSON/Markdown (and PNG chart where it has one) into ``--out-dir``
(default ``benchmarks/results/``):

1. ``bench_training.py`` in float32 on the sizes given (default T,S,M,L) -> ``latest.*``;
2. ``bench_training.py --dtype float64`` on the same sizes -> ``float64.*``;
3. ``bench_inference.py`` -> ``inference.*``;
4. ``bench_memory.py`` -> ``memory.*``;

then ``summary.md``: the four Markdown reports under one heading each, linking the charts (a part
left out with ``--skip`` keeps its earlier report there, marked as not rerun).
``--quick`` shrinks everything to a smoke test of a few seconds (the numbers mean nothing then).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bench_inference
import bench_memory
import bench_training

#: --quick: tiny data and a single untimed-length repeat everywhere.
QUICK = {
    "training": ["--samples-scale", "0.002", "--repeats", "1", "--min-time", "0"],
    "matmul": ["--matmul-size", "64"],
    "inference": ["--rows", "50", "--repeats", "1", "--min-time", "0", "--calls", "20"],
    "memory": ["--samples", "500", "--epochs", "1", "--runs", "1"],
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="T,S,M,L", help="sizes to run (default T,S,M,L)")
    parser.add_argument(
        "--peers",
        default=",".join(bench_training.PEERS),
        help=f"{','.join(bench_training.PEERS)} (default) or a subset, or none",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (default 3)")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per repeat at least")
    parser.add_argument(
        "--out-dir", type=Path, default=bench_training.RESULTS_DIR, help="where results go"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke test on tiny data")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to leave out: training, float64, inference, memory",
    )
    return parser.parse_args(argv)


def outputs(out_dir: Path, stem: str, png: bool = True) -> list[str]:
    """``--json/--markdown[/--png] out_dir/stem.*``, relative to the working directory when
    inside it (the commands recorded in the reports stay short and reproducible)."""
    with contextlib.suppress(ValueError):
        out_dir = out_dir.resolve().relative_to(Path.cwd())
    paths = ["--json", str(out_dir / f"{stem}.json"), "--markdown", str(out_dir / f"{stem}.md")]
    return paths + (["--png", str(out_dir / f"{stem}.png")] if png else [])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    common = ["--sizes", args.sizes, "--peers", args.peers]
    timing = ["--repeats", str(args.repeats), "--min-time", str(args.min_time)]
    quick = QUICK if args.quick else {key: [] for key in QUICK}
    if args.quick:
        timing = []  # --quick sets its own
    out = args.out_dir
    runs: list[tuple[str, str, Any, list[str]]] = [
        (
            "training",
            "Training, float32",
            bench_training.main,
            common + timing + quick["training"] + quick["matmul"] + outputs(out, "latest"),
        ),
        (
            "float64",
            "Training, float64",
            bench_training.main,
            common
            + timing
            + quick["training"]
            + quick["matmul"]
            + ["--dtype", "float64"]
            + outputs(out, "float64"),
        ),
        (
            "inference",
            "Inference",
            bench_inference.main,
            common + timing + quick["inference"] + outputs(out, "inference"),
        ),
        ("memory", "Memory", bench_memory.main, quick["memory"] + outputs(out, "memory", False)),
    ]
    reports: dict[str, Any] = {}
    sections = ["# nncore performance benchmarks", ""]
    command = " ".join(
        ["python", "benchmarks/run_all.py", *(sys.argv[1:] if argv is None else argv)]
    )
    sections += [f"Command: `{command}`", ""]
    for key, title, run, run_argv in runs:
        stem = Path(run_argv[run_argv.index("--markdown") + 1]).stem
        if key in skip:
            if not (out / f"{stem}.md").exists():
                continue
            # A part left out keeps the report of an earlier run in the summary, marked so.
            title += f" (not rerun: {stem}.md from an earlier run)"
        else:
            print(f"== {title}", file=sys.stderr, flush=True)
            reports[key] = run(run_argv)
        sections += [f"## {title}", ""]
        if "--png" in run_argv and (out / f"{stem}.png").exists():
            sections += [f"![{title}]({stem}.png)", ""]
        sections.append((out / f"{stem}.md").read_text(encoding="utf-8"))
    summary = out / "summary.md"
    summary.write_text("\n".join(sections), encoding="utf-8")
    print(f"wrote {summary}", file=sys.stderr)
    return reports


if __name__ == "__main__":
    main()
