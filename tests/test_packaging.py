"""The wheel's package list is whole, and test-only code stays out of the runtime."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SOURCE_FOLDERS = ("animakit", "portrait", "video", "editing", "dit")


def package_dirs() -> dict[str, Path]:
    """Import name -> repository folder, from ``[tool.setuptools.package-dir]``."""
    return {name: ROOT / folder
            for name, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items()}


def import_name(folder: Path) -> str:
    """The name a repository folder installs as (``portrait/pose`` -> ``animakit.portrait.pose``)."""
    for name, root in sorted(package_dirs().items(), key=lambda kv: -len(kv[1].parts)):
        if folder == root or root in folder.parents:
            return ".".join([name, *folder.relative_to(root).parts])
    raise AssertionError(f"{folder} is under no package-dir entry")


def source_packages() -> set[str]:
    """Every folder with an ``__init__.py`` under the kernel and plugin folders, by import name."""
    return {import_name(init.parent)
            for top in SOURCE_FOLDERS for init in (ROOT / top).rglob("__init__.py")
            if "__pycache__" not in init.parts}


def test_packages_list_names_every_subpackage():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    missing = sorted(source_packages() - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_every_listed_package_exists():
    dirs = package_dirs()
    for name in PYPROJECT["tool"]["setuptools"]["packages"]:
        top = max((n for n in dirs if name == n or name.startswith(n + ".")), key=len)
        folder = dirs[top].joinpath(*name[len(top):].split(".")[1:])
        assert folder.is_dir(), f"{name} -> {folder} does not exist"


def imported_modules(path: Path) -> set[str]:
    """Absolute module names ``path`` imports (relative imports are left out)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def test_runtime_imports_no_test_code():
    """Only animakit/testing.py may import pytest; nothing installed imports benchmarks/,
    tests/ or animakit.testing."""
    offenders = []
    for top in SOURCE_FOLDERS:
        for path in (ROOT / top).rglob("*.py"):
            if path == ROOT / "animakit" / "testing.py":
                continue
            bad = {m for m in imported_modules(path)
                   if m.split(".")[0] in ("pytest", "benchmarks", "tests", "conftest")
                   or m == "animakit.testing"}
            if bad or "from .testing" in path.read_text() or "from ..testing" in path.read_text():
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad) or 'animakit.testing'}")
    assert not offenders, offenders
