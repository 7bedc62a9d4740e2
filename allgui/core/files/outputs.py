"""The one rule for every file allgui writes where the user said.

An output never replaces one of the command's inputs (not even with
``--force``: ``classify M img.bmp --csv img.bmp`` must not turn the image
into CSV text), and replaces a model or a file allgui did not write only
when the user adds ``--force``. A file allgui wrote itself (recognised by
``ours``) may be rewritten, as re-running a command does. Folders are
checked for writing before the work starts, so a long run does not end with
nothing saved.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from allgui.core.errors import AllguiError
from allgui.core.files.text import terminal_text

# Files that hold a model or its weights: never replaced without --force.
MODEL_SUFFIXES = frozenset({".onnx", ".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".data"})


class OutputError(AllguiError):
    """An output path that would destroy something, or cannot be written."""


class Inputs:
    """The files a command reads, to tell at once whether a path is one of them
    (through links and ``..``): by device and inode where they exist, else by
    resolved name."""

    def __init__(self, paths: Iterable[str | os.PathLike]) -> None:
        self._ids: set[tuple[int, int]] = set()
        self._names: set[str] = set()  # inputs that do not exist (yet)
        for path in paths:
            try:
                info = os.stat(path)
            except OSError:
                self._names.add(os.path.realpath(path))
            else:
                self._ids.add((info.st_dev, info.st_ino))

    def __contains__(self, path: object) -> bool:
        target = os.fspath(path)  # type: ignore[call-overload]
        try:
            info = os.stat(target)
        except OSError:
            return os.path.realpath(target) in self._names
        return (info.st_dev, info.st_ino) in self._ids


def check_output(
    path: str | os.PathLike,
    *,
    inputs: Inputs | Iterable[str | os.PathLike] = (),
    force: bool = False,
    ours: Callable[[Path], bool] = lambda p: False,
    what: str = "the output",
) -> Path:
    """Refuse ``path`` as a place to write ``what`` when it is one of ``inputs``
    (always), a folder or device, or an existing model or file not ``ours``
    (unless ``force``). Returns the path."""
    target = Path(path)
    shown = terminal_text(target)
    if not isinstance(inputs, Inputs):
        inputs = Inputs(inputs)
    if target in inputs:
        raise OutputError(
            f"{shown} is one of this command's inputs; allgui never writes {what} over "
            "it. Choose another name."
        )
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(f"Cannot write {what} to {shown}: {exc.strerror or exc}.") from exc
    if stat.S_ISDIR(mode):
        raise OutputError(f"{shown} is a folder; give a file name for {what}.")
    if not stat.S_ISREG(mode):
        raise OutputError(f"{shown} is not an ordinary file; give a file name for {what}.")
    if force:
        return target
    if target.suffix.lower() in MODEL_SUFFIXES:
        raise OutputError(
            f"{shown} already exists and is a model file; choose another name for {what}, "
            "or add --force to replace it."
        )
    if not ours(target):
        raise OutputError(
            f"{shown} already exists and was not written by allgui; choose another name "
            f"for {what}, or add --force to replace it."
        )
    return target


def check_folder_writable(folder: str | os.PathLike, what: str = "the output") -> Path:
    """Make ``folder`` (with its parents) and write a scrap file in it, so a
    folder that cannot take ``what`` is named before any work is done."""
    target = Path(folder)
    shown = terminal_text(target)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{shown} is a file, not a folder; choose a folder for {what}.")
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, scrap = tempfile.mkstemp(prefix=".allgui-write-check.", dir=target)
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(scrap)
    except OSError as exc:
        raise OutputError(
            f"{what[:1].upper() + what[1:]} cannot be saved in {shown}: "
            f"{exc.strerror or exc}. Choose another folder.",
            details=str(exc),
        ) from exc
    return target


def starts_with(prefix: bytes) -> Callable[[Path], bool]:
    """An ``ours`` test: the file begins with ``prefix`` (a CSV header, a marker)."""

    def test(path: Path) -> bool:
        try:
            with open(path, "rb") as fh:
                return fh.read(len(prefix)) == prefix
        except OSError:
            return False

    return test
