"""The house rules of ``release/``: imports go down the floors, no cycle, no module over 500 lines.

The floors, top to bottom: the entry points (``release/cli.py``, ``release/executor.py``),
``commands``, ``pipeline``, ``steps``, ``run``, ``core``. A module may import its own floor
and the floors below; a step package may import itself but no other step package. Every
import counts: at module level, inside functions, and under ``TYPE_CHECKING`` (a deferred
import that goes up is still a name on the wrong floor).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RELEASE = Path(__file__).resolve().parents[2] / "release"
FLOORS = {"core": 0, "run": 1, "steps": 2, "pipeline": 3, "commands": 4}
TOP = 5  # release/__init__.py, cli.py, executor.py
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(RELEASE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(RELEASE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The modules of ``release`` that module ``name`` imports, anywhere in its text."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    found = {m for m in found if m in MODULES}
    found.discard(name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def floor(name: str) -> int:
    parts = name.split(".")
    return FLOORS.get(parts[1], TOP) if len(parts) > 1 else TOP


def step_package(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "steps" else None


def test_the_import_graph_is_read_from_every_module():
    assert "release.run.catalog" in MODULES and "release.core.version" in MODULES
    assert "release.core.version" in GRAPH["release.run.plan"]
    # Deferred imports count: the checks of upload import the index client inside a function.
    assert any(m.startswith("release.steps.pypi.") for m in GRAPH["release.steps.pypi.checks"])


def test_imports_only_go_down_the_floors():
    upward = [
        f"{name} (floor {floor(name)}) imports {target} (floor {floor(target)})"
        for name, targets in GRAPH.items()
        for target in sorted(targets)
        if floor(target) > floor(name)
    ]
    assert upward == []


def test_a_step_package_imports_no_other_step_package():
    across = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        for target in sorted(targets)
        if step_package(name) and step_package(target) not in (None, step_package(name))
    ]
    assert across == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_release_has_no_import_cycle():
    assert find_cycle(GRAPH) is None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_passes_500_lines(name: str):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines: split it by concern"
