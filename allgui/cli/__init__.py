"""The ``allgui`` command: the window when run bare, subcommands for headless use.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed arguments and returning an exit code. Imports of
heavy libraries (torch, optuna) stay inside those functions so that
``allgui --help`` and ``allgui classify`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from allgui import RESEARCH_NOTICE
from allgui.core.errors import AllguiError
from allgui.core.files.text import safe_terminal
from allgui.core.plain_errors import plain_message, short_details

# Subcommand modules, in the order ``allgui --help`` lists them.
COMMAND_MODULES = (
    "data",
    "demo_data",
    "new",
    "protocol",
    "optimize",
    "worker",
    "validate",
    "report",
    "samplers",
    "leak",
    "export",
    "classify",
    "evaluate",
    "demo",
)


class _VersionAction(argparse.Action):
    """``--version``: what this copy is (flavour, platform, library versions,
    execution providers), gathered only when asked so other commands start fast."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from allgui.gui.buildinfo import version_text

        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="allgui",
        description="Build, tune, validate and use an ALL classifier for blood-cell images. "
        "Run without a command to open the window. " + RESEARCH_NOTICE,
    )
    parser.add_argument("--version", action=_VersionAction,
                        help="show the version, build, platform and library versions, and exit")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks instead of plain messages"
    )
    parser.add_argument(
        "--self-test",
        nargs="?",
        const="",
        metavar="BUNDLE",
        help="open the window offscreen, classify the bundled sample with the bundled model, "
        "check the answer and exit (0 = all checks passed)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"allgui.cli.{name}").register(sub)
    return parser


def _project_file(args: argparse.Namespace) -> Path | None:
    from allgui.core.project import CONFIG_NAME

    folder = getattr(args, "project", None)
    return Path(folder).expanduser() / CONFIG_NAME if isinstance(folder, str) else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test is not None:
        from allgui.gui.selftest import run_self_test

        return run_self_test(args.self_test or None)
    if args.command is None:
        from allgui.gui.app import run_app

        return run_app()
    # Every line a command prints may carry a file name or a model's metadata:
    # control characters and undecodable bytes are shown escaped, never obeyed.
    with safe_terminal():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    project_file = _project_file(args)
    had_project = project_file is not None and project_file.is_file()
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        # No traceback in the user's face: ordinary failures (a full disk, no
        # permission, memory or GPU memory running out) in plain words, with
        # one details line; --debug shows the traceback instead.
        if args.debug:
            raise
        message, _ = plain_message(exc)
        if had_project and not project_file.is_file():
            # Claiming "finished work was kept" would be false: it went with the folder.
            message = (f"The project folder {project_file.parent} was deleted or moved while "
                       "allgui was working; the work in it is gone with it.")
        details = short_details(exc)
        print(f"allgui: {message}", file=sys.stderr)
        if details:
            print(f"  details: {details}", file=sys.stderr)
        if not isinstance(exc, AllguiError):
            print("  (run again with --debug to see the full traceback)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("allgui: interrupted; files already written were kept.", file=sys.stderr)
        return 130
