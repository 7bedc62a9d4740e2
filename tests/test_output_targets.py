"""``export`` and ``report`` follow the one output rule: never over an input,
over a model or a file allgui did not write only with --force (issue 13, the
rule behind case 2, for every command that writes where the user says)."""

from __future__ import annotations

import pytest
import torch

from allgui.cli import main
from allgui.core.report.document import Document, Paragraph
from allgui.core.validation.run import ValidationSettings, run_batch

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def validated(tmp_path_factory, make_tiny_project):
    project = make_tiny_project(tmp_path_factory.mktemp("outputs"))
    batch = run_batch(project, ValidationSettings(
        runs=1, epochs=1, params={"lr": 3e-3, "hidden": 16, "batch_size": 16}))
    return project, batch


def _export(project, *extra):
    return main(["export", str(project.root), *extra])


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_export_never_writes_over_its_checkpoint_or_batch(validated, capsys, force):
    project, batch = validated
    run = batch.runs[0]
    for target in (run.checkpoint, batch.path / "batch.json", run.predictions_path):
        before = target.read_bytes()
        assert _export(project, "--out", str(target), *force) == 2
        assert "is one of this command's inputs" in capsys.readouterr().err
        assert target.read_bytes() == before
    before = run.checkpoint.read_bytes()
    assert _export(project, "--checkpoint", str(run.checkpoint), "--out", str(run.checkpoint),
                   *force) == 2
    assert "is one of this command's inputs" in capsys.readouterr().err
    assert run.checkpoint.read_bytes() == before


def test_export_replaces_a_foreign_file_or_a_model_only_with_force(validated, capsys, tmp_path):
    project, batch = validated
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    assert _export(project, "--out", str(notes)) == 2
    assert "was not written by allgui" in capsys.readouterr().err and notes.read_text() == "my notes"
    assert _export(project, "--out", str(tmp_path)) == 2
    assert "is a folder" in capsys.readouterr().err
    # the models/ folder: a file of the default name is another model, kept without --force
    project.models_dir.mkdir(exist_ok=True)
    taken = project.models_dir / f"{batch.batch_id}-run-1.onnx"
    taken.write_bytes(b"someone's model")
    assert _export(project) == 2
    err = capsys.readouterr().err
    assert "is a model file" in err and "--force" in err and taken.read_bytes() == b"someone's model"


def test_report_keeps_a_file_it_did_not_write(validated, capsys, tmp_path):
    project, batch = validated
    out = tmp_path / "reports"
    out.mkdir()
    mine = out / f"report-{batch.batch_id}.html"
    mine.write_text("<html><title>my own page</title></html>")
    args = ["report", str(project.root), "--html", "--out", str(out)]
    assert main(args) == 2
    assert "was not written by allgui" in capsys.readouterr().err
    assert mine.read_text() == "<html><title>my own page</title></html>"
    from allgui.core.report.targets import written_by_allgui

    assert main([*args, "--force"]) == 0 and written_by_allgui(mine)
    assert main(args) == 0  # its own report: rewritten as running it again does
    assert main(["report", str(project.root), "--html", "--out", str(mine)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_reports_are_recognised_by_what_allgui_writes_in_them(tmp_path):
    from allgui.core.report.html import write_html
    from allgui.core.report.pdf import write_pdf
    from allgui.core.report.targets import written_by_allgui

    doc = Document("allgui report: p", "notice", (Paragraph("text"),))
    assert written_by_allgui(write_html(doc, tmp_path / "r.html"))
    assert written_by_allgui(write_pdf(doc, tmp_path / "r.pdf"))
    foreign = tmp_path / "f.pdf"
    foreign.write_bytes(b"%PDF-1.4\n/Creator (LibreOffice)\n%%EOF")
    assert not written_by_allgui(foreign)
