"""What the window has open: the project and what is known about it.

A plain holder for now; the tabs read it through the window.
"""

from __future__ import annotations

from dataclasses import dataclass

from allgui.core.project import Project


@dataclass
class Session:
    project: Project | None = None
    synthetic: bool = False  # the project's data are generated (the demo), not real cells
    engine_ready: bool = False  # the engine's libraries are imported (see device.warm_up_engine)

    def open(self, project: Project | None) -> None:
        self.project = project
        self.synthetic = False
