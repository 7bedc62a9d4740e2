"""The one rule for output paths (issue 13): never an input, not a model or a
file allgui did not write without force, folders checked before the work."""

from __future__ import annotations

import pytest

from allgui.core.files.outputs import (
    OutputError,
    check_folder_writable,
    check_output,
    starts_with,
)


def test_an_input_is_never_an_output_even_through_links(tmp_path):
    image = tmp_path / "cells" / "a.bmp"
    image.parent.mkdir()
    image.write_bytes(b"BM")
    link = tmp_path / "link.bmp"
    link.symlink_to(image)
    for alias in (image, link, tmp_path / "cells" / ".." / "cells" / "a.bmp"):
        with pytest.raises(OutputError, match="one of this command's inputs"):
            check_output(alias, inputs=[image], force=True)
    assert image.read_bytes() == b"BM"


def test_existing_files_need_force_unless_allgui_wrote_them(tmp_path):
    ours = tmp_path / "results.csv"
    ours.write_text("path,class,p_all\n")
    theirs = tmp_path / "notes.csv"
    theirs.write_text("mine\n")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    is_ours = starts_with(b"path,class,")
    assert check_output(ours, ours=is_ours) == ours
    assert check_output(tmp_path / "new.csv", ours=is_ours) == tmp_path / "new.csv"
    with pytest.raises(OutputError, match="not written by allgui"):
        check_output(theirs, ours=is_ours)
    with pytest.raises(OutputError, match="is a model file"):
        check_output(model, ours=lambda p: True)
    assert check_output(theirs, force=True) == theirs
    assert check_output(model, force=True) == model


def test_folders_and_devices_are_not_files(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        check_output(tmp_path, force=True)
    with pytest.raises(OutputError, match="not an ordinary file"):
        check_output("/dev/null", force=True)


def test_a_folder_that_cannot_take_files_is_named(tmp_path):
    assert check_folder_writable(tmp_path / "a" / "b").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_folder_writable(blocker, "the heatmaps")
    with pytest.raises(OutputError, match="The heatmaps cannot be saved in"):
        check_folder_writable(blocker / "sub", "the heatmaps")
    assert blocker.read_text() == "x"
