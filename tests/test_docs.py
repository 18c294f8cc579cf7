"""Every code example of the README and of the documentation site runs, so neither can drift from
the code.

The examples are the fenced blocks of ``README.md`` and ``docs/**/*.md``:

- a ```python block is run with ``exec`` in a fresh namespace (``__name__ == "__main__"``); a
  block that imports ``mpi4py`` is a script for ``mpiexec`` and runs as one, on two ranks;
- a ```console block holds ``nncore`` commands only (``$ nncore ...`` lines, nothing else, so no
  unchecked output is shown); each runs through ``nncore.cli.main`` and must exit with 0;
- a block that only quotes a file of the repository (``--8<--`` lines) is not run: the file is
  the package's own code, run by the rest of the suite. Blocks in other languages (``bash`` for
  installing, building, ``mpiexec``) are shown, not run.

The blocks of one page run in order in one temporary directory, as a reader following the page
would run them: a file one block writes is there for the next. Running one block runs the blocks
before it on its page first (once per test session). A block that needs an optional package that
is missing (scikit-learn, matplotlib, mpi4py and ``mpiexec``, onnx, onnxruntime, skl2onnx,
torch) skips with the reason, and so do the
blocks after it on its page. The examples use small data and few epochs: the whole file takes
a few seconds.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ >]*)(?P<fence>`{3,})(?P<language>[\w-]*)(?P<options>.*)$")
RUN_LANGUAGES = ("python", "console")
#: What an import (or a use) of these modules needs, and how a user gets it.
OPTIONAL = {
    "sklearn": ("sklearn", 'pip install "nncore[sklearn]"'),
    "nncore.sklearn": ("sklearn", 'pip install "nncore[sklearn]"'),
    "matplotlib": ("matplotlib", 'pip install "nncore[plot]"'),
    "nncore.plot": ("matplotlib", 'pip install "nncore[plot]"'),
    "mpi4py": ("mpi4py", 'pip install "nncore[mpi]"'),
    "nncore.distributed": ("mpi4py", 'pip install "nncore[mpi]"'),
    "pandas": ("pandas", "pip install pandas"),
    "onnx": ("onnx", 'pip install "nncore[onnx]"'),
    "nncore.onnx_export": ("onnx", 'pip install "nncore[onnx]"'),
    "to_onnx": ("onnx", 'pip install "nncore[onnx]"'),
    "onnxruntime": ("onnxruntime", "pip install onnxruntime"),
    "skl2onnx": ("skl2onnx", "pip install skl2onnx"),
    "nncore.onnx_sklearn": ("skl2onnx", "pip install skl2onnx"),
    "torch": ("torch", "pip install torch"),
    "nncore.torch_convert": ("torch", "pip install torch"),
    "nncore.from_torch": ("torch", "pip install torch"),
    "to_torch": ("torch", "pip install torch"),
}
MPI_RANKS = 2
TIMEOUT = 120


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the first line of code, 1-based
    language: str
    code: str

    @property
    def name(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"


def read_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, with their indentation removed."""
    blocks, lines = [], page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        index += 1
        if opening is None:
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        start, body = index, []
        while index < len(lines) and lines[index][indent:].rstrip() != fence:
            body.append(lines[index][indent:])
            index += 1
        if index == len(lines):
            raise AssertionError(f"{page}:{start}: a code block is not closed")
        index += 1
        blocks.append(Block(page, start + 1, opening["language"], "\n".join(body) + "\n"))
    return blocks


def quotes_a_file(block: Block) -> bool:
    return all(line.startswith("--8<--") for line in block.code.split("\n") if line.strip())


def runnable(page: Path) -> list[Block]:
    return [
        block
        for block in read_blocks(page)
        if block.language in RUN_LANGUAGES and not quotes_a_file(block)
    ]


def needed_packages(block: Block) -> list[tuple[str, str]]:
    """The optional packages (module, install hint) that a python block imports or uses."""
    if block.language != "python":
        found = [("matplotlib", 'pip install "nncore[plot]"')] if "--plot" in block.code else []
        if "$ nncore export" in block.code:
            found.append(OPTIONAL["onnx"])
        return found
    names = set(
        re.findall(
            r"\bnncore\.(?:sklearn|plot|distributed|onnx_export|onnx_sklearn|torch_convert|"
            r"from_torch)\b",
            block.code,
        )
    )
    names.update(re.findall(r"(?<=\.)(?:to_onnx|to_torch)(?=\()", block.code))
    for node in ast.walk(ast.parse(block.code)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    found = set()
    for name in names:
        for prefix, package in OPTIONAL.items():
            if name == prefix or name.startswith(prefix + "."):
                found.add(package)
    return sorted(found)


def missing_requirement(block: Block) -> str | None:
    for module, hint in needed_packages(block):
        if importlib.util.find_spec(module) is None:
            return f"{block.name} needs {module} ({hint})"
    if block.language == "python" and uses_mpi(block) and mpiexec() is None:
        return f'{block.name} needs mpiexec (pip install "nncore[mpi]" brings one)'
    return None


def uses_mpi(block: Block) -> bool:
    return ("mpi4py", 'pip install "nncore[mpi]"') in needed_packages(block)


def mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"  # where the mpich wheel installs it
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def run_python(block: Block, directory: Path) -> None:
    # Blank lines first, so that a traceback's line numbers are the page's.
    source = "\n" * (block.line - 1) + block.code
    if uses_mpi(block):
        script = directory / f"block_{block.line}.py"
        script.write_text(source, encoding="utf-8")
        env = {**os.environ, "NNCORE_NUM_THREADS": "1", "PYTHONWARNINGS": "error"}
        command = [mpiexec(), "-n", str(MPI_RANKS), sys.executable, "-m", "mpi4py", script.name]
        result = subprocess.run(
            command, cwd=directory, capture_output=True, text=True, timeout=TIMEOUT, env=env
        )
        assert result.returncode == 0, f"{block.name} failed:\n{result.stdout}\n{result.stderr}"
        return
    code = compile(source, str(block.page), "exec")
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, {"__name__": "__main__"})


def run_console(block: Block) -> None:
    from nncore.cli import main

    for line in block.code.strip().split("\n"):
        assert line.startswith("$ "), (
            f"{block.name}: a console block holds '$ nncore ...' commands only, got {line!r}"
        )
        words = shlex.split(line[2:])
        if words[:3] == ["python", "-m", "nncore"]:
            words = ["nncore", *words[3:]]
        assert words[0] == "nncore", f"{block.name}: only nncore commands run here: {line!r}"
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(words[1:])
        assert status == 0, f"{block.name}: {line!r} exited with {status}"


class PageRun:
    """The blocks of one page run in order in one directory, each at most once."""

    def __init__(self, page: Path, directory: Path) -> None:
        self.blocks = runnable(page)
        self.directory = directory
        self.outcome: dict[int, str] = {}  # block index -> "passed", "failed" or a skip reason

    def run(self, index: int) -> None:
        if index in self.outcome:  # run already, before a later block of the page
            self.report(index)
            return
        for earlier in range(index):
            if earlier not in self.outcome:
                with contextlib.suppress(Exception, pytest.skip.Exception):
                    self.run(earlier)
            if self.outcome[earlier] != "passed":
                pytest.skip(
                    f"{self.blocks[index].name}: the block before it at "
                    f"{self.blocks[earlier].name} did not run: {self.outcome[earlier]}"
                )
        block = self.blocks[index]
        reason = missing_requirement(block)
        if reason is not None:
            self.outcome[index] = reason
            pytest.skip(reason)
        self.outcome[index] = "failed: see its own test"
        previous = Path.cwd()
        os.chdir(self.directory)
        try:
            if block.language == "python":
                run_python(block, self.directory)
            else:
                run_console(block)
        finally:
            os.chdir(previous)
        self.outcome[index] = "passed"

    def report(self, index: int) -> None:
        outcome = self.outcome[index]
        if outcome.startswith("failed"):
            pytest.fail(f"{self.blocks[index].name} failed when a later block ran it first")
        if outcome != "passed":
            pytest.skip(outcome)


@pytest.fixture(scope="module")
def page_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, PageRun]:
    return {}


@pytest.fixture
def quiet_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")  # plots go to files, never to a window


EXAMPLES = [(page, index) for page in PAGES for index in range(len(runnable(page)))]


@pytest.mark.usefixtures("quiet_environment")
@pytest.mark.parametrize(
    ("page", "index"), EXAMPLES, ids=[runnable(page)[i].name for page, i in EXAMPLES]
)
def test_example_runs(
    page: Path, index: int, page_runs: dict[Path, PageRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    if page not in page_runs:
        page_runs[page] = PageRun(page, tmp_path_factory.mktemp(page.stem))
    page_runs[page].run(index)


def test_every_page_has_its_examples_found() -> None:
    # The README and the guide's first pages show code: if none is found, the parser is broken.
    for name in ("README.md", "docs/getting-started.md", "docs/learning-process.md"):
        assert runnable(ROOT / name), f"no runnable example found in {name}"


def test_a_broken_example_fails(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text(
        "Text.\n\n```python\nx = 1\n```\n\n- item\n\n    ```python\n    assert x == 2\n    ```\n"
    )
    blocks = runnable(page)
    assert [(block.line, block.code) for block in blocks] == [
        (4, "x = 1\n"),
        (10, "assert x == 2\n"),
    ]
    run_python(blocks[0], tmp_path)
    with pytest.raises(NameError):  # a fresh namespace: x of the first block is not there
        run_python(blocks[1], tmp_path)


def test_a_console_block_runs_nncore_commands_only(tmp_path: Path) -> None:
    page = tmp_path / "console.md"
    page.write_text("```console\n$ nncore --version\n```\n\n```console\n$ ls\n```\n")
    first, second = runnable(page)
    with pytest.raises(SystemExit) as exit_status:  # argparse's --version exits with 0
        run_console(first)
    assert exit_status.value.code == 0
    with pytest.raises(AssertionError, match="only nncore commands"):
        run_console(second)
