"""``allgui --self-test`` against a self-test bundle made here."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.gui  # the self-test opens the window


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location(
        "make_selftest", REPO / "packaging" / "make_selftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("selftest")
    module.make(out)
    return out


def test_self_test_passes_on_a_good_bundle(bundle, capsys):
    from allgui.cli import main

    assert main(["--self-test", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "self-test passed" in out
    assert "CPUExecutionProvider" in out


def test_self_test_fails_when_the_answer_differs(bundle, tmp_path, capsys):
    from allgui.gui.selftest import run_self_test

    changed = tmp_path / "bundle"
    changed.mkdir()
    for f in bundle.iterdir():
        (changed / f.name).write_bytes(f.read_bytes())
    expected = json.loads((changed / "expected.json").read_text())
    expected["probabilities"] = [p + 0.01 for p in expected["probabilities"]]
    (changed / "expected.json").write_text(json.dumps(expected))
    assert run_self_test(changed) == 1
    assert "[FAILED] probabilities as at build time" in capsys.readouterr().out


def test_self_test_without_a_bundle_says_so(tmp_path, capsys):
    from allgui.gui.selftest import run_self_test

    assert run_self_test(tmp_path / "nothing") == 1
    assert "[FAILED] self-test bundle present" in capsys.readouterr().out
