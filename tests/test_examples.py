"""The scripts in examples/ run as a newcomer runs them (``python examples/x.py`` in a fresh
directory), with few epochs (``NNCORE_EXAMPLE_EPOCHS``) so that the whole file takes seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMEOUT = 120


def run_example(
    name: str, tmp_path: Path, epochs: int, *args: str, warnings: str = "error"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NNCORE_EXAMPLE_EPOCHS": str(epochs), "PYTHONWARNINGS": warnings}
    env.pop("MPLBACKEND", None)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def line_with(text: str, output: str) -> str:
    return next(line for line in output.splitlines() if text in line)


def test_every_example_is_tested() -> None:
    tested = {
        "xor.py",
        "spiral.py",
        "regression.py",
        "digits_sklearn.py",
        "low_level_loop.py",
        "dask_grid_search.py",  # run by test_dask_search.py
    }
    assert {path.name for path in EXAMPLES.glob("*.py")} == tested


def test_xor_learns_the_truth_table(tmp_path: Path) -> None:
    # XOR's four points train in milliseconds: the default epochs, the full result
    result = run_example("xor.py", tmp_path, 2000)
    assert "error after one step" in result.stdout
    assert line_with("predictions:", result.stdout) == "predictions: [0, 1, 1, 0] (correct)"


def test_xor_with_few_epochs(tmp_path: Path) -> None:
    result = run_example("xor.py", tmp_path, 3)
    assert "after 3 epochs" in result.stdout
    assert "predictions:" in result.stdout


def test_low_level_loop(tmp_path: Path) -> None:
    result = run_example("low_level_loop.py", tmp_path, 20)
    assert "epoch     1  error" in result.stdout
    assert "stopped after 20 epochs (out of epochs)" in result.stdout
    assert "final accuracy:" in result.stdout


def test_low_level_loop_reaches_the_target_error(tmp_path: Path) -> None:
    result = run_example("low_level_loop.py", tmp_path, 3000)
    assert "(the error is small enough)" in result.stdout
    accuracy = float(line_with("final accuracy:", result.stdout).split()[-1])
    assert accuracy > 0.95


def test_regression(tmp_path: Path) -> None:
    result = run_example("regression.py", tmp_path, 10)
    assert "trained 10 epochs" in result.stdout
    assert "MSE against the clean sine:" in result.stdout
    assert "R² on the training data:" in result.stdout


def test_spiral_saves_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    result = run_example("spiral.py", tmp_path, 5)
    assert "test accuracy:" in result.stdout
    assert "saved the plot to spiral.png" in result.stdout
    assert (tmp_path / "spiral.png").read_bytes().startswith(b"\x89PNG")
    result = run_example("spiral.py", tmp_path, 2, "--out", "other.png")
    assert (tmp_path / "other.png").read_bytes().startswith(b"\x89PNG")


def _sklearn_interface_missing() -> str | None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return "scikit-learn is not installed"
    try:
        import nncore.sklearn  # noqa: F401
    except ImportError as error:
        return f"nncore.sklearn is not importable yet ({error})"
    return None


@pytest.mark.skipif(
    _sklearn_interface_missing() is not None, reason=str(_sklearn_interface_missing())
)
def test_digits_sklearn(tmp_path: Path) -> None:
    # a few epochs do not converge: the ConvergenceWarning ("Stochastic Optimizer: Maximum
    # iterations ... reached") is expected here, every other warning is an error
    warnings = "error,ignore:Stochastic Optimizer"
    result = run_example("digits_sklearn.py", tmp_path, 10, warnings=warnings)
    accuracy = float(line_with("test accuracy:", result.stdout).split()[-1])
    assert accuracy > 0.5
