"""The command line: ``python -m nncore`` and the ``nncore`` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nncore

TIMEOUT = 60


def run(*args: str, executable: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    command = (executable or [sys.executable, "-m", "nncore"]) + list(args)
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, check=False, env=env
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Non-zero exit, no traceback, a single ``error:`` line (after argparse's usage line)."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1, result.stderr
    for word in words:
        assert word in error_lines[0], result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def test_demo_runs_and_reports_accuracy() -> None:
    result = run("demo", "--epochs", "30")
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout
    assert result.stderr == ""
    assert "Traceback" not in result.stdout


def test_demo_is_reproducible_with_seed() -> None:
    def accuracy_line(seed: str) -> str:
        result = run("demo", "--epochs", "5", "--seed", seed)
        assert result.returncode == 0, result.stderr
        return next(line for line in result.stdout.splitlines() if "accuracy" in line)

    assert accuracy_line("3") == accuracy_line("3")


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert nncore.__version__ in result.stdout
    assert result.stdout.strip() == f"nncore {nncore.__version__}"


@pytest.mark.parametrize("epochs", ["0", "-5"])
def test_demo_rejects_non_positive_epochs(epochs: str) -> None:
    assert_clean_error(run("demo", "--epochs", epochs), "--epochs")


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (("demo", "--epochs", "many"), "--epochs"),
        (("demo", "--seed", "x"), "--seed"),
        (("demo", "--bogus"), "--bogus"),
        (("train",), "train"),
    ],
)
def test_bad_arguments_give_one_line_error(args: tuple[str, ...], word: str) -> None:
    assert_clean_error(run(*args), word)


def test_no_command_exits_non_zero() -> None:
    result = run()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "usage" in result.stderr.lower()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_demo_help(flag: str) -> None:
    result = run("demo", flag)
    assert result.returncode == 0, result.stderr
    assert "--epochs" in result.stdout
    assert "--seed" in result.stdout
    assert "usage" in result.stdout.lower()


def test_top_level_help_lists_demo() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout
    assert "--version" in result.stdout


def test_main_function_returns_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    from nncore.__main__ import main

    assert main(["demo", "--epochs", "2"]) == 0
    assert "accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["demo", "--epochs", "0"])
    assert info.value.code != 0


CONSOLE_SCRIPT = Path(sys.executable).parent / "nncore"


@pytest.mark.skipif(
    not CONSOLE_SCRIPT.exists(), reason=f"no nncore console script next to {sys.executable}"
)
def test_console_script() -> None:
    version = run("--version", executable=[str(CONSOLE_SCRIPT)])
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"nncore {nncore.__version__}"
    demo = run("demo", "--epochs", "5", executable=[str(CONSOLE_SCRIPT)])
    assert demo.returncode == 0, demo.stderr
    assert "accuracy" in demo.stdout
    assert_clean_error(run("demo", "--epochs", "0", executable=[str(CONSOLE_SCRIPT)]), "--epochs")
