"""No import circles inside ``ditic_lite``: every import counts, at module level or in a function.

The graph is read from the source with ``ast`` (nothing is imported): relative imports are
resolved against the importing module, ``from . import x`` / ``from .pkg import x`` mean the
submodule ``x`` when there is one and the package itself otherwise.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "ditic_lite"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE


def module_names(package_dir: Path = PACKAGE_DIR, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted name -> source file of every module of the package (``__init__`` is the package)."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom, modules: dict[str, Path]) -> str:
    """The absolute module named by a ``from ... import`` statement (before its imported names)."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not _is_package(importer, modules):
        base.pop()  # a module's relative imports start from its package
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _inside(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` itself if it is a module of the package, else its closest enclosing module."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(importer: str, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``importer`` imports anywhere in its source."""
    tree = ast.parse(modules[importer].read_text(), filename=str(modules[importer]))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(importer, node, modules)
            # `from pkg import x` imports submodule x if there is one, else a name of pkg
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                       for alias in node.names]
        else:
            continue
        found |= {m for t in targets if (m := _inside(t, modules)) is not None}
    found.discard(importer)
    return found


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    modules = modules or module_names()
    return {name: imports_of(name, modules) for name in modules}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Closed import paths (first module repeated at the end): a shortest one through each module
    of every strongly connected group, each circle listed once."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    found: dict[tuple[str, ...], list[str]] = {}
    for group in groups:
        for start in group:
            path = _closed_path(start, set(group), graph)
            turn = path.index(min(path))  # the same circle read from another module: kept once
            circle = path[turn:-1] + path[:turn]
            found.setdefault(tuple(circle), [*circle, circle[0]])
    return list(found.values())


def _closed_path(start: str, members: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from ``start`` back to itself through ``members`` (a circle of imports)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is on no cycle inside {sorted(members)}")


def test_the_graph_reads_relative_and_function_level_imports():
    modules = module_names()
    graph = import_graph(modules)
    assert "ditic_lite.zoo" in graph["ditic_lite"]  # __init__: from .zoo import load
    assert "ditic_lite.container" in graph["ditic_lite.codec"]  # from . import container (a submodule)
    assert "ditic_lite.official" in graph["ditic_lite.zoo"]  # imported inside load()


def test_cycle_finder_reports_a_closed_path():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": {"a", "c"}, "c": {"b"}}) == [["a", "b", "a"], ["b", "c", "b"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles in ditic_lite:\n" + "\n".join(" -> ".join(c) for c in found)
