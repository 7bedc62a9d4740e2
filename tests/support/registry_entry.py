"""A registry module with one more entry, as a developer would add it: the
module's own source with the entry's text added at the end of its table,
loaded in a fresh interpreter before anything else imports it. What the
script then prints (JSON) says what every consumer made of the entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

_RUNNER = '''
import importlib, importlib.util, json, sys
name, path, source, script = json.loads(sys.stdin.read())
parent, _, leaf = name.rpartition(".")
package = importlib.import_module(parent)
spec = importlib.util.spec_from_file_location(name, path)
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
exec(compile(source, path, "exec"), module.__dict__)
setattr(package, leaf, module)
exec(compile(script, "<consumers>", "exec"), {})
'''


def with_entry(module: str, table: str, entry: str, script: str) -> dict:
    """Run ``script`` (which prints one JSON object) with ``entry`` added as
    the last item of the tuple ``table`` (``NAME: type = (``) in ``module``."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin)
    source = path.read_text(encoding="utf-8")
    start = source.index(f"\n{table}")
    end = source.index("\n)\n", start)
    source = source[:end] + "\n" + textwrap.indent(textwrap.dedent(entry).strip(), "    ") + \
        source[end:]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps([module, str(path), source, textwrap.dedent(script)]),
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
