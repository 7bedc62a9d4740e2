"""``allgui --self-test``: prove that an installed (or frozen) app works.

Opens the main window offscreen, loads the bundled self-test model into the
Classify tab the way a user's drop would, classifies the bundled cell image
and compares the answer with the one torch gave when the bundle was made
(``packaging/make_selftest.py``). Prints each check; exit code 0 when all
pass. Touches none of the user's settings.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

BUNDLE_NAME = "allgui_selftest"


def default_bundle() -> Path:
    """Inside a frozen app the bundle sits beside the code; in a checkout the
    build leaves it in build/selftest."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / BUNDLE_NAME
    return Path(__file__).resolve().parents[2] / "build" / "selftest"


def _wait(app, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def run_self_test(bundle: str | Path | None = None, timeout_s: float = 60.0) -> int:
    started = time.perf_counter()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    bundle = Path(bundle) if bundle else default_bundle()
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str = "") -> bool:
        checks.append((name, ok, detail))
        print(f"[{'ok' if ok else 'FAILED'}] {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    expected_path = bundle / "expected.json"
    if not check("self-test bundle present", expected_path.is_file(), str(bundle)):
        return 1
    expected = json.loads(expected_path.read_text(encoding="utf-8"))

    from allgui.gui.app import make_application
    from allgui.gui.device import has_training_engine
    from allgui.gui.main_window import MainWindow
    from allgui.gui.settings import AppSettings

    app = make_application()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(AppSettings(Path(tmp) / "selftest.ini"), probe_device=False)
        window.show()
        check("window opened", window.isVisible(), f"Qt platform {app.platformName()}")
        check("training engine", True,
              "present (full build)" if has_training_engine() else
              "absent: classify-only build, other tabs off")
        tab = window.classify_tab
        tab.classify_paths([str(bundle / expected["model"]), str(bundle / expected["image"])])
        done = _wait(app, lambda: bool(tab.results) and tab.job is None, timeout_s)
        ok = check("model loaded and image classified", done and tab.classifier is not None,
                   "" if done else f"no answer within {timeout_s:.0f} s")
        if ok:
            clf = tab.classifier
            check("execution providers", bool(clf.providers), ", ".join(clf.providers))
            pred = tab.results[0].prediction
            got = [float(pred.probabilities[c]) for c in expected["classes"]] if pred else []
            worst = max((abs(a - b) for a, b in zip(got, expected["probabilities"], strict=False)),
                        default=1.0)
            check("class as at build time", pred is not None and pred.label == expected["class"],
                  f"{getattr(pred, 'label', tab.results[0].error)} (expected {expected['class']})")
            check("probabilities as at build time", len(got) == len(expected["probabilities"])
                  and worst <= expected["tolerance"],
                  f"largest difference {worst:.1e} (allowed {expected['tolerance']:.0e})")
        window.close()
        app.processEvents()
    passed = all(ok for _, ok, _ in checks)
    print(f"self-test {'passed' if passed else 'FAILED'} in {time.perf_counter() - started:.1f} s")
    return 0 if passed else 1
