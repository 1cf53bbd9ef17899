"""The import graph, read from the source: no cycles, and arrows only point down the layers.

Layers, bottom to top: the foundations (settings, errors, io, stats, memo, device, the catalog and
loading, core/data, core/transformer, core/viz); core/tasks and core/attention; core/training and
core/bench; the command lines and the start-up sweep; ui/; pages/ and the router. Imports inside
functions count as much as those at the top: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict

from conftest import ROOT

PACKAGES = ("core", "ui")


def _module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, object]:
    found = {}
    for folder in ("core", "ui", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            if "metrics" in path.parts:  # evaluate's metric scripts, loaded by path, import nothing of ours
                continue
            found[_module_name(path)] = path
    found["streamlit_app"] = ROOT / "streamlit_app.py"
    return found


def _imports(path, known: set[str]) -> set[str]:
    """Our modules that a file imports (a package import counts as its __init__)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES and name in known:
                out.add(name)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, known) - {name} for name, path in modules.items()}


def layer(module: str) -> int:
    if module.startswith("pages") or module == "streamlit_app":
        return 5
    if module.startswith("ui"):
        return 4
    if module in ("core.train", "core.bench.__main__", "core.housekeeping"):
        return 3
    if module.startswith(("core.training", "core.bench")):
        return 2
    if module.startswith("core.tasks") or module == "core.attention":
        return 1
    return 0


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_one_of_a_higher_layer():
    upward = [f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"
              for source, targets in _graph().items() for target in sorted(targets) if layer(target) > layer(source)]  # fmt: skip
    assert upward == []


def test_no_import_cycles_between_modules():
    assert _cycles(_graph()) == []


def test_no_import_cycles_between_packages():
    """core.training and core.bench sit side by side: one may use the other, not both ways."""
    packages: dict[str, set[str]] = defaultdict(set)
    for source, targets in _graph().items():
        for target in targets:
            a, b = ".".join(source.split(".")[:2]), ".".join(target.split(".")[:2])
            if a != b:
                packages[a].add(b)
    assert _cycles(packages) == []


def test_the_checker_sees_imports_inside_functions():
    graph = _graph()
    assert "core.loading" in graph["core.attention"]  # a top-level import
    assert any(target.startswith("core.tasks") for target in graph["ui.models"])  # imported in a function


def test_no_function_of_the_app_runs_over_sixty_lines():
    """Long functions were split along their seams (data, model, fit, score, card); keep it that way."""
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long, long


def test_no_module_of_the_app_runs_over_four_hundred_lines():
    """A module that grows past 400 lines holds two responsibilities: split it where they meet."""
    long = [f"{name}: {count} lines" for name, path in _modules().items()
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > 400]  # fmt: skip
    assert not long, long
