"""The architecture's import rules, checked on the code as it is."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "allgui"


def _imports(path: Path, module_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_qt():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in (PACKAGE / "core").rglob("*.py")
        if _imports(p, module_level_only=False) & {"PySide6", "PyQt5", "PyQt6", "shiboken6"}
    ]
    assert offenders == []


def test_cli_never_imports_qt():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in (PACKAGE / "cli").rglob("*.py")
        if _imports(p, module_level_only=False) & {"PySide6", "PyQt5", "PyQt6"}
    ]
    assert offenders == []


def test_gui_has_no_module_level_torch():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in (PACKAGE / "gui").rglob("*.py")
        if _imports(p, module_level_only=True) & {"torch", "timm", "optuna"}
    ]
    assert offenders == []


def test_classification_path_loads_without_torch():
    """Importing the classification path must not pull torch, timm or optuna in
    (what makes a classify-only desktop build possible)."""
    code = (
        "import sys, allgui.core.infer, allgui.core.dataset.imaging;"
        "bad = sorted(m for m in ('torch', 'timm', 'optuna') if m in sys.modules);"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


@pytest.mark.gui  # imports every window module (PySide6)
def test_window_modules_and_search_settings_load_without_torch():
    """Every window module, and the search settings the window builds on its own
    thread, import without torch, timm or optuna (each would freeze the window)."""
    names = sorted(
        ".".join(("allgui", *p.relative_to(PACKAGE).with_suffix("").parts))
        for p in (PACKAGE / "gui").rglob("*.py")
        if p.stem != "__init__"
    )
    assert "allgui.gui.optimize.tab" in names
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "from allgui.core.search.settings import SearchSettings, check_resume\n"
        "check_resume('s', SearchSettings().to_dict(), SearchSettings())\n"
        "from allgui.core.model.params import untuned_defaults\n"
        "untuned_defaults()\n"
        "import allgui.core.validation.run, allgui.core.export.from_run  # the Validate tab's\n"
        "bad = sorted(m for m in ('torch', 'timm', 'optuna') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    assert out == ""


# Cycles that exist today, each closed by a lazy import inside a function; the
# import that should go is named first. Remove an entry when its cycle is gone
# (the test fails until the list says so).
KNOWN_CYCLES: set[frozenset[str]] = set()


def _import_cycles(graph: grimp.ImportGraph) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.add(frozenset(component))

    for m in modules:
        if m not in index:
            visit(m)
    return cycles


def test_no_import_cycle_between_modules():
    """Every import counts, lazy ones inside functions too; only imports made
    for type checkers (under ``if TYPE_CHECKING:``) do not, as they never run."""
    graph = grimp.build_graph("allgui", exclude_type_checking_imports=True, cache_dir=None)
    cycles = _import_cycles(graph)
    assert {c for c in cycles if c not in KNOWN_CYCLES} == set()
    assert KNOWN_CYCLES - cycles == set(), "a known cycle is gone: remove it from KNOWN_CYCLES"


def test_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert _import_cycles(graph) == {frozenset({"p.a", "p.b"})}
