"""The Validate tab: a batch after a tiny search, metrics table and figures,
export to ONNX (the Classify tab takes it) and the report."""

from __future__ import annotations

import pytest

from support.gui import tiny_search_form, wait_jobs, wait_until

pytestmark = pytest.mark.gui


def test_validate_export_report_then_classify(window, qtbot, tmp_path, captured, make_demo_project):
    project = make_demo_project(tmp_path / "demo")
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    tiny_search_form(window.optimize_tab, trials=2, epochs=2)
    window.optimize_tab.start()
    wait_jobs(qtbot, window, timeout=120_000)

    tab = window.validate_tab
    assert tab.run_button.isEnabled() and not tab.export_button.isEnabled()
    tab.runs.setValue(2)
    tab.epochs.setValue(2)
    tab.baseline.setCurrentIndex(tab.baseline.findData("default"))
    tab.start()
    wait_jobs(qtbot, window, timeout=180_000)
    assert not captured.errors, captured.errors
    assert tab.view is not None and tab.table.rowCount() > 3
    # the headers whole on hover (shown on two short lines)
    headers = [tab.table.horizontalHeaderItem(c).toolTip() for c in range(tab.table.columnCount())]
    assert {"Mean", "SD", "CV", "95% over seeds (t)"} <= set(headers)
    assert any(h.startswith("95% over test") for h in headers)
    labels = [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]
    assert any("weighted" in t for t in labels)
    assert "test set" in tab.summary.text()
    # the trial named with its study (a project may hold several)
    assert f"(best of the study) of the study <b>{window.session.study}</b>" in tab.summary.text()
    assert "Tuned against baseline" in tab.note.text()
    assert tab._roc_holder.count() == 1 and tab._cm_holder.count() == 1

    tab.export_model()
    # an export runs to its end: no Stop offered that would not stop it
    assert tab.job is not None and not tab.stop_button.isEnabled()
    assert not tab.progress.stop_button.isEnabled()
    wait_jobs(qtbot, window, timeout=120_000)
    assert not captured.errors, captured.errors
    assert tab.exported is not None and tab.exported.parent == project.models_dir
    # the same file as 'allgui export': chosen on validation, full metadata
    from allgui.core.infer import read_model_info

    chosen = tab.view.batch.chosen_run()
    assert tab.exported.name == f"{tab.view.batch.batch_id}-{chosen.name}.onnx"
    info = read_model_info(tab.exported)
    assert info.run == chosen.index and "no part" in info.selection
    assert set(info.metrics) == set(chosen.metrics.headline())  # every figure, not four
    assert info.batch_metrics["weighted_f1"]["runs"] == 2
    assert "Model to export" in tab.summary.text()
    wait_until(lambda: window.classify_tab.classifier is not None, 30_000)
    wait_jobs(qtbot, window)

    # The chosen run's cell of correct 'all' answers, with heatmaps from its exported model.
    from allgui.core.validation.predictions import read_predictions
    from allgui.gui.validate.mistakes import Selection

    classes = tab.view.batch.classes
    preds = read_predictions(chosen.predictions_path, classes)
    cell = classes[0]
    expected = {p for p, t, q in zip(preds.paths, preds.labels, preds.predicted, strict=True)
                if t == 0 and q == 0}
    tab.open_gallery(chosen, Selection("cell", cell, cell))
    wait_until(lambda: tab.gallery is not None, 30_000)
    assert set(tab.gallery.paths()) == expected
    if expected:
        assert tab.gallery.contents.model == tab.exported.name
        assert all(p.heat is not None for p in tab.gallery.contents.pictures)
    tab.gallery.close()

    tab.write_report()
    wait_jobs(qtbot, window, timeout=120_000)
    assert not captured.errors, captured.errors
    assert list(project.reports_dir.glob("*.html")) and list(project.reports_dir.glob("*.pdf"))

    # Reopening the project shows the latest batch again.
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    assert tab.view is not None and tab.export_button.isEnabled()


def test_the_validate_tab_runs_the_projects_protocol(window, qtbot, tmp_path, make_demo_project):
    """What the tab does not show (views, probe, patience) and the baseline it
    starts with are the project's [validation] settings, as its protocol set them."""
    project = make_demo_project(tmp_path / "demo")
    project.update(**{k: v for k, v in vars(project.settings.with_protocol("paper")).items()
                      if k in ("protocol", "validation")})
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    tab = window.validate_tab
    assert tab.baseline.currentData() == "none"
    settings = tab.validation_settings()
    assert settings.fresh_views and not settings.probe and settings.baseline is None
    window.project.update(validation={**window.project.settings.validation, "probe": True,
                                      "patience": 4})
    settings = tab.validation_settings()
    assert settings.probe and settings.patience == 4
