"""Two installations of nncore on the training workloads: a portable wheel against a native build.

Each interpreter (a virtual environment with its own nncore) trains every size at 1 and 2 threads
in its own subprocess, the two taking turns round after round so that the machine's drift falls
on both alike; the median over rounds of each one's best thread setting is compared. The issue's
requirement: the portable build reaches at least 90% of the native build on every size.

    python benchmarks/compare_builds.py --baseline /path/native/bin/python \\
        --candidate /path/portable/bin/python --sizes T,S,M,L --rounds 3

Writes JSON and Markdown (``benchmarks/results/builds.{json,md}`` by default).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REQUIRED_RATIO = 0.90

# Runs in the interpreter under test: one size, nncore at 1 and 2 threads, prints JSON.
CHILD = """
import json, sys
sys.path.insert(0, {here!r})
import nncore
import bench_training as bt
size, repeats, min_time, scale = {size!r}, {repeats}, {min_time}, {scale}
problem = bt.make_problem(bt.WORKLOADS[size], scale, "float32", 0)
timed = [bt.setup_nncore(problem, t) for t in (1, 2)]
rates = {{t: m.samples_per_s for t, m in zip((1, 2), bt.time_rounds(timed, repeats, min_time))}}
config = nncore.config()
print(json.dumps({{"rates": rates, "isa": config["isa"], "blas": config.get("blas"),
                  "file": nncore._core._variant.__file__}}))
"""


def measure(python: str, size: str, repeats: int, min_time: float, scale: float) -> dict[str, Any]:
    code = CHILD.format(here=str(HERE), size=size, repeats=repeats, min_time=min_time, scale=scale)
    result = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=False, cwd=str(HERE)
    )
    if result.returncode != 0:
        raise RuntimeError(f"{python} failed on {size}:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="python of the native build")
    parser.add_argument("--candidate", required=True, help="python of the portable wheel")
    parser.add_argument("--sizes", default="T,S,M,L")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--samples-scale", type=float, default=1.0)
    parser.add_argument("--json", default=str(HERE / "results" / "builds.json"))
    parser.add_argument("--markdown", default=str(HERE / "results" / "builds.md"))
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    builds = {"baseline": args.baseline, "candidate": args.candidate}

    runs: dict[str, dict[str, list[dict[str, Any]]]] = {s: {b: [] for b in builds} for s in sizes}
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    for round_ in range(args.rounds):
        for size in sizes:
            order = list(builds) if round_ % 2 == 0 else list(reversed(builds))
            for build in order:
                run = measure(builds[build], size, args.repeats, args.min_time, args.samples_scale)
                runs[size][build].append(run)
                best = max(run["rates"].values())
                print(f"round {round_ + 1} {size} {build:9} {best:14,.0f} samples/s", flush=True)

    report: dict[str, Any] = {
        "command": "python " + " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "started": started,
        "required_ratio": REQUIRED_RATIO,
        "builds": builds,
        "sizes": {},
    }
    lines = [
        "Portable wheel against native build: nncore training samples/s, best of 1 and 2 threads,",
        f"median of {args.rounds} alternating rounds; required: candidate ≥ "
        f"{REQUIRED_RATIO:.0%} of baseline.",
        "",
        "| size | baseline (ISA) | candidate (ISA) | candidate / baseline | |",
        "|---|---:|---:|---:|---|",
    ]
    for size in sizes:
        medians = {
            b: statistics.median(max(r["rates"].values()) for r in runs[size][b]) for b in builds
        }
        ratio = medians["candidate"] / medians["baseline"]
        isa = {b: runs[size][b][0]["isa"] for b in builds}
        report["sizes"][size] = {"median": medians, "ratio": ratio, "runs": runs[size]}
        mark = "✓" if ratio >= REQUIRED_RATIO else "✗"
        lines.append(
            f"| {size} | {medians['baseline']:,.0f} ({isa['baseline']}) | "
            f"{medians['candidate']:,.0f} ({isa['candidate']}) | {ratio:.2f}× | {mark} |"
        )
    lines += ["", f"- Command: `{report['command']}`", f"- Started: {started}"]
    for build in builds:
        first = runs[sizes[0]][build][0]
        lines.append(f"- {build}: `{builds[build]}` → `{first['file']}`; BLAS: {first['blas']}")
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    Path(args.markdown).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
