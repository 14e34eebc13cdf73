"""The package's layout rules, read from its source: no import cycles, a core without host code, short functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PY = Path(__file__).resolve().parents[2] / "py"
PACKAGE = PY / "async_kernel"
#: the kernel core: no I/O, no process-wide state (see py/async_kernel/hosts/__init__.py)
CORE = ("kernel", "scheduler", "protocol", "interfaces")
MAX_FUNCTION_LINES = 40


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PY).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports, anywhere in it (type-checking and function-level too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    # `from . import context` names a module; `from .kernel import Kernel` names the module kernel
    return {module for module in found if module in known and module != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    # every module imports the package itself first; that edge is no cycle
    return {name: deps - {"async_kernel"} for name, deps in graph.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (depth-first search; each as the path that closes it)."""
    cycles: list[list[str]] = []
    state = dict.fromkeys(graph, 0)  # 0 new, 1 on the current path, 2 done

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state[dep] == 1:
                cycles.append([*trail[trail.index(dep) :], dep])
            elif state[dep] == 0:
                visit(dep, [*trail, dep])
        state[name] = 2

    for name in graph:
        if state[name] == 0:
            visit(name, [name])
    return cycles


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _graph()
    assert "async_kernel.protocol" in graph["async_kernel.kernel"]  # the graph is read at all
    assert _cycles(graph) == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]  # and a cycle is found


@pytest.mark.parametrize("module", CORE)
def test_the_core_has_no_host_code(module: str) -> None:
    """No output streams, signals, environment or working directory in the core: hosts own those."""
    source = (PACKAGE / f"{module}.py").read_text()
    for forbidden in ("sys.stdout", "sys.stderr", "import signal", "os.environ", "os.chdir", "import os"):
        assert forbidden not in source, f"{module}.py: {forbidden}"


def test_transports_hold_no_kernel_logic() -> None:
    for path in (PACKAGE / "transports").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & {"kernel", "shell", "comm", "streams", "hosts"}, path.name


def test_no_function_is_longer_than_forty_lines() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - start + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PY)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []
