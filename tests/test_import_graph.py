"""``python/nncore`` has no import cycle: every ``import`` of every module, at module level or in
a function, read with ``ast``, makes a graph of modules without a cycle (dependencies go one way:
``mlp`` imports ``model_file``, which imports ``serialization``, never back)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "nncore"


def _module_name(path: Path) -> str:
    parts = ["nncore", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    """Every module of the package; compiled ones (``_cpu``, the ``_core_<level>`` variants) by
    their ``.pyi`` stubs, whose imports are for type checkers only: they are leaves."""
    stubs = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.pyi"))}
    return {**stubs, **{_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of the package that ``name`` imports anywhere in its source."""
    if path.suffix == ".pyi":
        return set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            submodules = {f"{source}.{alias.name}" for alias in node.names} & modules.keys()
            found.update(submodules)
            if len(submodules) < len(node.names) or source != package:
                # a name defined in ``source`` itself (``from . import __version__``) needs it
                # executed; ``from . import x`` of submodules only needs the (parent) package
                # in sys.modules, which Python imports before any of its submodules
                found.add(source)
    return {module for module in found if module in modules and module != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (a list of modules, the first repeated at the end), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_graph_sees_the_imports_it_must_see() -> None:
    graph = _graph()
    assert "nncore.model_file" in graph["nncore.mlp"]  # module level
    assert "nncore.serialization" in graph["nncore.model_file"]
    assert "nncore.bench" in graph["nncore.cli"]  # inside a function
    assert "nncore._core" in graph["nncore.optim"]  # from . import _core
    assert "nncore.reference.numpy_reference" in graph["nncore.reference"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_nncore_has_no_import_cycle() -> None:
    assert _cycle(_graph()) is None


def test_the_format_module_imports_no_model() -> None:
    graph = _graph()
    for module in ("nncore.serialization", "nncore.model_file"):
        assert not {"nncore.mlp", "nncore.sklearn", "nncore"} & graph[module], module
