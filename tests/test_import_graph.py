"""The import graph of the kernel and the plugins has no cycle, counting every import the code can run: module
level and inside functions alike (a function-level import hides a cycle; it does not remove
it). Read from the source with ``ast``, so nothing is imported to check it."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# each folder of the repository and the package it installs as (pyproject's package-dir)
PACKAGES = {"animakit": "animakit", "portrait": "animakit.portrait", "video": "animakit.video",
            "editing": "animakit.editing", "dit": "animakit.dit"}


def module_name(path: Path, folder: Path, package: str) -> str:
    """``folder/media/video.py`` -> ``package.media.video``; a package's ``__init__`` is the
    package itself."""
    parts = list(path.relative_to(folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def modules_in(folder: Path, package: str) -> dict[str, Path]:
    return {module_name(p, folder, package): p for p in sorted(folder.rglob("*.py"))}


def is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None) if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth, except under ``if TYPE_CHECKING:`` (never run)."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if is_type_checking_block(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def absolute_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from ... import`` reads from, relative levels resolved."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[:len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules among ``known`` that ``module`` imports. ``from pkg import name`` is an
    edge to ``pkg.name`` when that is a module, else to ``pkg``. (The parent packages Python
    initialises on the way are not edges: a package is always initialised before its
    children, so they cannot close a cycle that is not there already.)"""
    is_package = path.name == "__init__.py"
    edges: set[str] = set()
    for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            edges |= {a.name for a in node.names if a.name in known}
            continue
        base = absolute_base(node, module, is_package)
        for alias in node.names:
            target = f"{base}.{alias.name}"
            edges.add(target if target in known else base)
    return (edges & known) - {module}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    known = set(modules)
    return {m: imported_modules(m, p, known) for m, p in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}                      # 1: on the current path, 2: finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_checker_finds_a_function_level_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from .a import f\n")
    graph = import_graph(modules_in(pkg, "pkg"))
    assert graph["pkg.c"] == set()
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
    (pkg / "b.py").write_text("def f():\n    pass\n")
    assert find_cycle(import_graph(modules_in(pkg, "pkg"))) is None


def test_no_import_cycle_in_the_kernel_or_the_plugins():
    modules: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        modules.update(modules_in(ROOT / folder, package))
    graph = import_graph(modules)
    assert "animakit.jobs" in graph and "animakit.dit.pipeline" in graph
    assert "animakit.render" in graph["animakit.dit.pipeline"]        # plugin -> kernel edges
    assert "animakit.cli" not in graph["animakit.jobs"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
