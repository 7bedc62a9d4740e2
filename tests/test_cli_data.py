"""``allgui demo-data``, ``allgui data scan|split`` and ``allgui new`` as a user runs them."""

from __future__ import annotations

import json

import pytest

from allgui.cli import main
from allgui.core.project import Project


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "demo"
    assert main(["demo-data", str(root), "--patients-all", "4", "--patients-hem", "2",
                 "--images-per-patient", "5", "--size", "32"]) == 0
    return root


def test_demo_data_then_scan(demo, capsys):
    capsys.readouterr()
    assert main(["data", "scan", str(demo)]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "Patients in train: 6 (4 all, 2 hem)" in out
    assert main(["data", "scan", str(demo), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["synthetic"] is True and data["per_subset"]["train"] == {"all": 20, "hem": 10}
    assert data["default_split"]["audit"]["leaky"] is False


def test_scan_and_split_full_cnmc_tree(cnmc_tree, capsys):
    tree = cnmc_tree
    assert main(["data", "scan", str(tree)]) == 0
    out = capsys.readouterr().out
    assert "Patients in train: 73 (47 all, 26 hem)" in out
    for figure in ("7,272", "3,389", "1,867", "Files that cannot be used: none"):
        assert figure in out
    assert "Default split" in out and "No leakage found" in out
    assert main(["data", "split", str(tree), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["audit"]["leaky"] is False and data["sizes"]["test"] == 1867
    assert data["counts"]["train"]["patients"] + data["counts"]["val"]["patients"] == 73


def test_image_split_warns_and_audit_shows_leak(demo, capsys):
    assert main(["data", "split", str(demo), "--method", "image", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "WARNING" in out and "LEAKAGE" in out


def test_errors_are_plain_messages(tmp_path, capsys):
    assert main(["data", "scan", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_new_project(demo, tmp_path, capsys):
    target = tmp_path / "study1"
    assert main(["new", str(target), "--data", str(demo), "--image-size", "64",
                 "--split", "patient", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "No leakage found" in out and "Project created" in out
    settings = Project.open(target).settings
    assert settings.dataset.image_size == 64 and settings.dataset.path == str(demo)
    assert (settings.split.method, settings.split.seed) == ("patient", 3)
    assert main(["new", str(target), "--data", str(demo)]) == 2
    assert "already holds a project" in capsys.readouterr().err


def test_a_dataset_path_that_is_not_utf8_is_refused_before_anything_is_made(
    demo, tmp_path, capsys
):
    import os
    import shutil

    odd = tmp_path / os.fsdecode(b"caf\xe9-data")
    shutil.copytree(demo, odd)
    target = tmp_path / "parent" / "study"
    assert main(["new", str(target), "--data", str(odd)]) == 2
    err = capsys.readouterr().err
    assert "not valid text (UTF-8)" in err and "caf\\xe9-data" in err and "Rename" in err
    assert not (tmp_path / "parent").exists()


def test_fingerprint_hashes_names_as_bytes(demo, tmp_path):
    import hashlib
    import os
    import shutil

    from allgui.core.dataset.discover import discover

    index = discover(demo)
    # A valid name hashes exactly as before (saved studies keep matching).
    h = hashlib.sha256("|".join(index.classes).encode())
    root = index.root.rstrip("/\\")
    for r in sorted(index.records, key=lambda r: r.path):
        rel = r.path[len(root):].lstrip("/\\")
        h.update(f"\n{rel}\t{r.label}\t{r.patient}\t{r.subset}".encode())
    assert index.fingerprint() == h.hexdigest()[:16]
    data = tmp_path / "data"
    shutil.copytree(demo, data)
    first = next(data.rglob("*.bmp"))
    first.rename(first.with_name(os.fsdecode(b"\xff" + os.fsencode(first.name))))
    odd = discover(data)
    assert any("\udcff" in r.path for r in odd.records)
    assert len(odd.fingerprint()) == 16 and odd.fingerprint() != index.fingerprint()


def test_a_project_that_cannot_be_written_leaves_no_folder(demo, tmp_path, capsys, monkeypatch):
    import errno

    def disk_full(self):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.config_path))

    monkeypatch.setattr(Project, "save", disk_full)
    target = tmp_path / "new" / "study"
    assert main(["new", str(target), "--data", str(demo)]) == 2
    assert "The disk is full" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
