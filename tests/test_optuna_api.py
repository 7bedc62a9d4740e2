"""allgui uses Optuna through its public API only, within a tested range of
versions: a private name (a module under ``optuna.*._*``, an attribute such
as ``trial._trial_id``) may change in any Optuna release."""

from __future__ import annotations

import ast
import re
from importlib import metadata
from pathlib import Path

import optuna
from packaging.requirements import Requirement
from packaging.version import Version

from allgui.core.files.tomlio import loads as toml_loads

REPO = Path(__file__).resolve().parents[1]
OPTUNA = Path(optuna.__file__).resolve().parent
PRIVATE_MODULE = re.compile(r"\boptuna(\.\w+)*\._\w+")


def _private_names_defined_in(root: Path) -> set[str]:
    """Every ``_name`` a package defines: functions, classes, attributes set on self."""
    names: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _private_uses(path: Path) -> list[tuple[int, str]]:
    """Attributes read as ``x._name`` or ``getattr(x, "_name")``, and Optuna's
    private modules named in imports or strings."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            uses.append((node.lineno, node.attr))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr") \
                and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                and str(node.args[1].value).startswith("_"):
            uses.append((node.lineno, str(node.args[1].value)))
        elif isinstance(node, ast.ImportFrom) and PRIVATE_MODULE.search(node.module or ""):
            uses.append((node.lineno, node.module or ""))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and PRIVATE_MODULE.search(node.value):
            uses.append((node.lineno, node.value))
    return uses


def test_allgui_reads_no_private_name_of_optuna():
    optuna_private = _private_names_defined_in(OPTUNA)
    own = _private_names_defined_in(REPO / "allgui")
    found = [f"{path.relative_to(REPO)}:{line}: {name}"
             for path in sorted((REPO / "allgui").rglob("*.py"))
             for line, name in _private_uses(path)
             if PRIVATE_MODULE.search(name) or (name in optuna_private and name not in own)]
    assert found == []


def test_the_optuna_allgui_asks_for_has_an_upper_bound_and_holds_the_tested_one():
    project = toml_loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = next(Requirement(r) for r in project["dependencies"]
                  if Requirement(r).name == "optuna")
    assert any(spec.operator == "<" for spec in wanted.specifier)  # the next major may break
    assert wanted.specifier.contains(Version(metadata.version("optuna")))
