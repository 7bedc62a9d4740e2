"""The About box: versions, licences, the C-NMC citation and the notice."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from allgui import RESEARCH_NOTICE, __version__
from allgui.gui.buildinfo import BuildInfo, build_info, dist_version, report

CNMC_CITATION = (
    "Gupta, A., & Gupta, R. (2019). ALL Challenge dataset of ISBI 2019 [Data set]. "
    "The Cancer Imaging Archive. https://doi.org/10.7937/tcia.2019.dc64i46r "
    "(licence: CC BY 3.0)"
)

# Distribution name -> licence, for the libraries the app ships with.
LICENCES = {
    "allgui": "MIT",
    "PySide6": "LGPL-3.0 (Qt for Python)",
    "torch": "BSD-3-Clause",
    "torchvision": "BSD-3-Clause",
    "timm": "Apache-2.0",
    "optuna": "MIT",
    "onnxruntime": "MIT",
    "onnx": "Apache-2.0",
    "numpy": "BSD-3-Clause",
    "scikit-learn": "BSD-3-Clause",
    "scipy": "BSD-3-Clause",
    "matplotlib": "Matplotlib licence (PSF-based)",
    "pillow": "MIT-CMU (HPND)",
}


def _version(dist: str, info: BuildInfo) -> str:
    if dist == "allgui":
        return __version__
    if dist == "PySide6":
        return f"{pyside_version} (Qt {qVersion()})"
    names = (dist, "onnxruntime-gpu") if dist == "onnxruntime" else (dist,)
    found = dist_version(*names)
    if found:
        return found
    return "not included in this build" if info.frozen else "not installed"


def _rows(cells: Sequence[Sequence[str]]) -> str:
    return "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                   for row in cells)


def about_html(info: BuildInfo | None = None) -> str:
    info = info or build_info()
    rows = _rows([(name, _version(name, info), lic) for name, lic in LICENCES.items()])
    return (
        f"<h2>allgui {html.escape(__version__)}</h2>"
        "<p>Build, tune, validate and use a classifier for acute lymphoblastic leukemia "
        "(ALL) in microscope images of single blood cells.</p>"
        f"<p style='color:#b00020'><b>{html.escape(RESEARCH_NOTICE)}</b></p>"
        "<h3>Data</h3>"
        "<p>Designed around the C-NMC 2019 dataset. If you use it, cite:<br>"
        f"{html.escape(CNMC_CITATION)}</p>"
        "<h3>This copy</h3>"
        f"<table cellspacing='6'>{_rows(report(info)[1:])}</table>"
        "<h3>Software</h3>"
        "<table cellspacing='6'><tr><th align='left'>Library</th><th align='left'>Version</th>"
        f"<th align='left'>Licence</th></tr>{rows}</table>"
    )


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About allgui")
        self.resize(620, 560)
        layout = QVBoxLayout(self)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(about_html())
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
