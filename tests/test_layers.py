"""The architecture's import rules, checked on the code as it is."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

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
