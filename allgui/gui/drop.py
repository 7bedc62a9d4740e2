"""Files dropped on the window: a project folder opens, a dataset folder goes
to the Dataset tab when it is shown, anything else (images, folders of
images, an .onnx model) to the Classify tab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent


class DropRouting:
    """Mixed into the main window (which has the tabs and ``open_project``)."""

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.handle_dropped_paths(paths)

    def handle_dropped_paths(self, paths: list[str]) -> None:
        """A folder dropped on the Dataset tab opens as a dataset (or project);
        anything else goes to the Classify tab."""
        w: Any = self  # the MainWindow: its tabs and open_project
        if len(paths) == 1 and Path(paths[0]).is_dir():
            folder = Path(paths[0])
            if (folder / "project.toml").is_file():
                w.open_project(folder)
                return
            if w.tabs.currentWidget() is w.dataset_tab \
                    and w.tabs.isTabEnabled(w.tabs.indexOf(w.dataset_tab)):
                w.dataset_tab.open_dataset(str(folder))
                return
        w.tabs.setCurrentWidget(w.classify_tab)
        w.classify_tab.classify_paths(paths)
