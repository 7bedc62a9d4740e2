"""The architecture's habits that a reader cannot see from one file
(ARCHITECTURE.md, "Rules"): small modules, frozen dataclasses in the engine."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "allgui"

# Modules aim at about 400 lines; above this one a module is two modules.
MAX_LINES = 400
# Over the limit today, each being split; remove an entry when its module is
# back under (the test fails until the list says so).
KNOWN_LONG: set[str] = set()


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_is_too_long():
    long = {
        p.relative_to(PACKAGE).as_posix(): _lines(p)
        for p in PACKAGE.rglob("*.py")
        if _lines(p) > MAX_LINES
    }
    assert {k: n for k, n in long.items() if k not in KNOWN_LONG} == {}
    assert KNOWN_LONG - set(long) == set(), "back under the limit: remove it from KNOWN_LONG"


def _is_dataclass_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Name) and target.id == "dataclass") or (
        isinstance(target, ast.Attribute) and target.attr == "dataclass"
    )


def _frozen(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and any(
        k.arg == "frozen" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in node.keywords
    )


def _unfrozen_dataclasses(source: str) -> list[str]:
    return [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef)
        for d in node.decorator_list
        if _is_dataclass_decorator(d) and not _frozen(d)
    ]


def test_engine_dataclasses_are_frozen():
    """Configs, results and events in the engine are values: nobody changes one
    that another part holds (``dataclasses.replace`` makes a new one)."""
    unfrozen = {
        p.relative_to(PACKAGE).as_posix(): names
        for p in (PACKAGE / "core").rglob("*.py")
        if (names := _unfrozen_dataclasses(p.read_text(encoding="utf-8")))
    }
    assert unfrozen == {}


def test_unfrozen_dataclass_is_found():
    source = (
        "from dataclasses import dataclass\nimport dataclasses\n"
        "@dataclass\nclass A: x: int\n"
        "@dataclasses.dataclass(order=True)\nclass B: x: int\n"
        "@dataclass(frozen=True)\nclass C: x: int\n"
    )
    assert _unfrozen_dataclasses(source) == ["A", "B"]


def layout_paths(layout: str) -> set[str]:
    """The module paths (relative to allgui/) that ARCHITECTURE.md's layout
    names: a folder line (``name/``) opens a folder for the lines indented
    under it; a ``name.py`` belongs to the folder its line sits in, or to the
    folder that opens the line (``export/   onnx.py, from_run.py``)."""
    import re

    stack: list[tuple[int, str]] = []  # (indentation, folder path) of the open folders
    paths = set()
    for line in layout.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        first = line.split()[0]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        if first.endswith("/"):
            folder = parent + first
            stack.append((indent, folder))
            parent = folder
        for name in re.findall(r"\b[A-Za-z_]\w*\.py\b", line):
            paths.add(parent + name)
    return {p.removeprefix("allgui/") for p in paths
            if p.startswith("allgui/") and not p.rsplit("/", 1)[-1].startswith("__")}


def test_layout_paths_follow_the_folders():
    layout = ("allgui/   the package\n  core/   the engine\n    a.py   x, see b.py\n"
              "             wrapped, c.py\n    sub/   d.py, e.py\n      f.py\n  g.py\n"
              "tests/   conftest.py\n")
    assert layout_paths(layout) == {"core/a.py", "core/b.py", "core/c.py", "core/sub/d.py",
                                    "core/sub/e.py", "core/sub/f.py", "g.py"}


def test_architecture_names_every_module_by_its_path():
    """ARCHITECTURE.md's layout is the map: every module of the package is named
    in it at its own path (a module of the same name elsewhere does not count)."""
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    layout = text.split("## Layout", 1)[1].split("```")[1]
    named = layout_paths(layout)
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
               if p.stem not in ("__init__", "__main__")}
    assert sorted(modules - named) == [], "not in ARCHITECTURE.md's layout"
    assert sorted(named - modules) == [], "in ARCHITECTURE.md's layout, but no such module"
