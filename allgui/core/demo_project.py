"""A ready-made demo project: synthetic C-NMC-shaped data and settings small
enough that a laptop CPU goes from search to a classified image in minutes.

The window's "Try with demo data" and the headless ``allgui demo`` both use
this, so the two walk the same path. Backbone weights are 'none' (random
initialisation): the demo must work offline, and the synthetic cells are
easy enough that a random frozen backbone still separates them.
"""

from __future__ import annotations

import threading
from pathlib import Path

from allgui.core.dataset.demo import make_demo_dataset
from allgui.core.errors import ProjectError
from allgui.core.events import Sink, null_sink
from allgui.core.project import (
    CONFIG_NAME,
    DatasetSettings,
    ModelSettings,
    Project,
    ProjectSettings,
)

DEMO_IMAGE_SIZE = 64
DEMO_BACKBONE = "mobilenetv3_small_050"
# Small enough to search on a laptop CPU in a few minutes; tests pass smaller.
DEMO_OPTIONS = {"size": 96, "images_per_patient": 16}
# A short search: the paper's space, fewer trials.
DEMO_SEARCH = {"trials": 8, "epochs": 10, "startup_trials": 4}


def make_demo_project(
    root: str | Path,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    options: dict | None = None,
) -> Path:
    """Create a project at ``root`` whose synthetic dataset lies in ``root/data``."""
    root = Path(root)
    data = root / "data"
    # Refused before anything is written: an existing project keeps its data.
    if (root / CONFIG_NAME).exists():
        raise ProjectError(f"{root} already holds a project; open it, or choose a new folder "
                           "for the demo project.")
    if root.exists() and not root.is_dir():
        raise ProjectError(f"{root} is a file; choose a new folder for the demo project.")
    if root.is_dir() and any(p.name != "data" for p in root.iterdir()):
        raise ProjectError(f"{root} is not empty; choose an empty or new folder for the "
                           "demo project, so nothing of yours is mixed with it.")
    make_demo_dataset(data, sink=sink, cancel=cancel, **(options or DEMO_OPTIONS))
    settings = ProjectSettings(
        dataset=DatasetSettings(path=str(data.resolve()), image_size=DEMO_IMAGE_SIZE),
        model=ModelSettings(backbone=DEMO_BACKBONE, weights="none"),
        search=dict(DEMO_SEARCH),
    )
    Project.create(root, settings)
    return root
