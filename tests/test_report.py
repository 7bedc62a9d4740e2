"""Reports: the HTML parses and holds the tables and embedded pictures, the
PDF opens with the expected pages and text, and a project's report after a
tiny search and batch is complete."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from pypdf import PdfReader

from allgui import RESEARCH_NOTICE
from allgui.core.report import figures as F
from allgui.core.report.document import Document, Heading, Paragraph, Picture, table, table_text
from allgui.core.report.html import render_html, write_html
from allgui.core.report.pdf import write_pdf

torch.set_num_threads(1)


class _Tables(HTMLParser):
    """Collects captions, tables (rows of cell texts) and image sources."""

    def __init__(self) -> None:
        super().__init__()
        self.captions: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self._in_caption = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "p" and a.get("class") == "caption":
            self._in_caption = True
            self.captions.append("")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(a.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_caption = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in_caption:
            self.captions[-1] += data
        if self._cell is not None:
            self._cell.append(data)


def _parse(html: str) -> _Tables:
    p = _Tables()
    p.feed(html)
    return p


def _document(rows: int = 80) -> Document:
    curves = [F.RocCurve(f"run {i}", [0, 0.2, 1], [0, 0.7 + 0.05 * i, 1], 0.8) for i in range(3)]
    return Document("Report <test> & co", RESEARCH_NOTICE, (
        Heading("Figures"),
        Paragraph("A <script>alert('x')</script> paragraph & more. " * 5),
        table("Metrics on the <official> test set", ["Figure", "Run 1", "Mean"],
              [[f"row {i}", f"{i / rows:.4f}", "0.5"] for i in range(rows)], note="n = 3"),
        Picture("ROC of three runs", F.roc_figure(curves, "all", "test set")),
        Picture("history", F.optimisation_history_figure([(0, 0.5), (1, 0.7)], "accuracy")),
    ))


def test_html_is_self_contained_escaped_and_holds_the_tables(tmp_path):
    doc = _document()
    html = render_html(doc)
    parsed = _parse(html)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert parsed.captions == ["Metrics on the <official> test set"]
    header, *rows = parsed.tables[0]
    assert header == ["Figure", "Run 1", "Mean"] and len(rows) == 80 and rows[3][0] == "row 3"
    assert len(parsed.images) == 2
    for src in parsed.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "src=\"http" not in html and "<link" not in html  # nothing fetched from outside
    assert RESEARCH_NOTICE in "".join(parsed.text)
    path = write_html(doc, tmp_path / "r.html")
    assert path.read_text(encoding="utf-8") == html


def test_pdf_pages_and_text(tmp_path):
    short = write_pdf(_document(rows=3), tmp_path / "short.pdf")
    long = write_pdf(_document(rows=200), tmp_path / "long.pdf")
    short_pages = PdfReader(short).pages
    long_pages = PdfReader(long).pages
    assert len(long_pages) > len(short_pages) >= 1
    first = short_pages[0].extract_text()
    assert "Research use only, not for diagnosis" in first
    text = "\n".join(p.extract_text() for p in long_pages)
    assert "Metrics on the <official> test set (continued)" in text
    assert "row 199" in text and "n = 3" in text
    assert "page 2" in long_pages[1].extract_text()


def test_text_table_for_the_terminal():
    t = table("Caption", ["A", "Longer header"], [["x", "1.0000"], ["yy", "n/a"]], note="note")
    lines = table_text(t).splitlines()
    assert lines[0] == "Caption" and lines[1].startswith("A   Longer header")
    assert lines[3].startswith("x   1.0000") and lines[-1] == "note"


def test_figures_need_no_pyplot_and_work_on_a_worker_thread():
    code = (
        "import sys\n"
        "from allgui.core.report import figures as F\n"
        "fig = F.confusion_figure([('r', [[3, 1], [0, 4]])], ['all', 'hem'], 't')\n"
        "F.figure_png(fig)\n"
        "F.learning_curves_figure([F.Curves('r', [1, .5], [1, .7], [.5, .8], [.5, .6], 2)])\n"
        "F.importances_figure({'lr': .7, 'hidden': .3}, 'fANOVA')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    out = []
    t = threading.Thread(target=lambda: out.append(F.figure_png(
        F.importances_figure({"lr": 1.0}, "PED-ANOVA"))))
    t.start()
    t.join()
    assert out and out[0][:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def validated_project(tmp_path_factory, make_tiny_project):
    import optuna

    from allgui.core.validation import ValidationSettings, run_batch

    project = make_tiny_project(tmp_path_factory.mktemp("report"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="search", storage=project.storage_url,
                                direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    study.set_user_attr("objective_label", "validation balanced accuracy")
    rng = np.random.default_rng(0)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
        hidden = trial.suggest_categorical("hidden", [8, 16])
        d1 = trial.suggest_float("dropout1", 0.1, 0.5)
        trial.set_user_attr("epochs_run", 2)
        trial.set_user_attr("settings", {"backbone": "mobilenetv3_small_050", "weights": "none",
                                         "finetune_stages": 0})  # as the search records it
        return float(np.log10(lr) / 10 + hidden / 100 + d1 / 20 + rng.normal(0, 0.01) + 0.5)

    study.optimize(objective, n_trials=6)
    batch = run_batch(project, ValidationSettings(runs=2, epochs=2,
                                                  baseline={"lr": 1e-3, "hidden": 8}))
    return project, batch, study


def test_project_report_is_complete(validated_project, tmp_path):
    from allgui.core.events import EventLog, JobFinished
    from allgui.core.report.build import write_report

    project, batch, study = validated_project
    log = EventLog()
    files = write_report(project, resamples=200, sink=log)
    assert files.html.parent == project.reports_dir and isinstance(log.events[-1], JobFinished)
    parsed = _parse(files.html.read_text(encoding="utf-8"))
    captions = parsed.captions
    tables = dict(zip(captions, parsed.tables, strict=True))

    def find(start: str) -> list[list[str]]:
        hits = [c for c in captions if c.startswith(start)]
        assert hits, f"no table '{start}' in {captions}"
        return tables[hits[0]]

    metrics = find("Test-set figures of the tuned configuration")
    assert batch.test_set in [c for c in captions if c.startswith("Test-set figures")][0]
    assert metrics[0][-5:-1] == ["Mean", "SD", "CV", "95% over seeds (t)"]
    assert metrics[0][-1].startswith("95% over test")
    labels = [r[0] for r in metrics[1:]]
    assert "F1, weighted by class support (C-NMC metric)" in labels
    assert "Recall (sensitivity), class 'all'" in labels and "Specificity, class 'hem'" in labels
    f1 = next(r for r in metrics[1:] if r[0].startswith("F1, weighted"))
    runs = batch.runs_of("tuned")
    assert f1[1] == f"{runs[0].metrics.weighted_f1:.4f}"
    assert float(f1[3]) == pytest.approx(np.mean([r.metrics.weighted_f1 for r in runs]), abs=1e-4)
    find("Test-set figures of the baseline")
    find("Tuned against baseline on the same test images")
    find("McNemar")
    find("AUC-ROC of each run with its 95% interval over the test images")
    best = find("Best trials")
    assert best[1][1] == str(study.best_trial.number)
    importances = find("Parameter importances: fANOVA, mean \u00b1 SD over 5 seeds")
    assert importances[0] == ["Parameter", "fANOVA mean", "fANOVA SD", "PED-ANOVA"]
    find("Split used: method 'patient'")
    find("Search space and sampler settings")
    record = {r[0]: r[1] for r in find("Software, machine, seeds and data")[1:]}
    assert record["Dataset content hash"] == batch.dataset_fingerprint
    assert record["torch"] == torch.__version__.split("+")[0]
    for key in ("allgui", "timm", "optuna", "device", "Seeds", "Report written"):
        assert record[key]
    chosen = batch.chosen_run()
    assert record["Run for export"].startswith(batch.selection_note(chosen))
    assert "the test set played no part" in record["Run for export"]
    assert any(f"The model to export is run {chosen.index}" in t for t in parsed.text)
    # history, importances, ROC, confusion matrices, learning curves, and (issue 16)
    # the reliability diagrams and the coverage-accuracy curve
    assert len(parsed.images) == 7
    assert "SYNTHETIC DEMO DATA" in "".join(parsed.text)

    reader = PdfReader(files.pdf)
    assert len(reader.pages) >= 4
    assert "Research use only, not for diagnosis" in reader.pages[0].extract_text()
    text = "\n".join(p.extract_text() for p in reader.pages)
    for needle in ("Test-set figures of the tuned configuration", "Reproducibility record",
                   batch.dataset_fingerprint, "Best trials", "F1, weighted by class support"):
        assert needle in text

    only_html = write_report(project, pdf=False, out_dir=tmp_path, resamples=50)
    assert only_html.pdf is None and only_html.html.parent == tmp_path


def test_dollar_signs_in_names_are_drawn_as_themselves(tmp_path):
    # '$^$' is mathtext that cannot be parsed: drawn as mathtext it breaks the report.
    odd = "cost$^$x"
    assert F.plain_text(odd) == r"cost\$^\$x"
    figures = [
        F.roc_figure([F.RocCurve(odd, [0, 1], [0, 1], 0.5)], odd, odd),
        F.confusion_figure([(odd, [[1, 0], [0, 1]])], [odd, "hem"], odd),
        F.learning_curves_figure([F.Curves(odd, [1, 0.5], [1, 0.6])]),
        F.optimisation_history_figure([(0, 0.5)], odd),
        F.importances_figure({odd: 1.0}, odd),
    ]
    for fig in figures:
        assert F.figure_png(fig)[:4] == b"\x89PNG"
    doc = Document(f"Report {odd}", RESEARCH_NOTICE, (
        Heading(odd), Paragraph(f"Classes: {odd}, hem"),
        table(odd, ["Class", odd], [[odd, "1"]], note=odd),
    ))
    text = PdfReader(write_pdf(doc, tmp_path / "r.pdf")).pages[0].extract_text()
    assert "Classes: cost$^$x, hem" in text
