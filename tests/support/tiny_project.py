"""Tiny demo projects, made in seconds: 7 patients, 32-px images, small
backbones with random weights (behind the ``make_tiny_project`` and
``make_demo_project`` fixtures)."""

from __future__ import annotations

from pathlib import Path

from allgui.core.dataset.demo import make_demo_dataset
from allgui.core.project import DatasetSettings, ModelSettings, Project, ProjectSettings

TINY_BACKBONE = "test_efficientnet"
# The window tests' demo data (the Dataset tab's demo button makes the same).
DEMO_SMALL = dict(patients_all=4, patients_hem=3, images_per_patient=5, size=48,
                  test_patients_all=1, test_patients_hem=1, unlabelled_images=2)


def tiny_demo_project(root: Path) -> Project:
    """For engine tests: mobilenetv3_small_050, cached features with 2 views."""
    make_demo_dataset(root / "data", patients_all=4, patients_hem=3, images_per_patient=6,
                      size=48, test_patients_all=1, test_patients_hem=1, unlabelled_images=0)
    return Project.create(root / "project", ProjectSettings(
        dataset=DatasetSettings(str(root / "data"), 32),
        model=ModelSettings(backbone="mobilenetv3_small_050", weights="none"),
        search={"views": 2},
    ))


def make_demo_project(root: Path, image_size: int = 32) -> Project:
    """For window tests: the demo data above and the tiny test backbone."""
    data = make_demo_dataset(root / "data", **DEMO_SMALL)
    return Project.create(root, ProjectSettings(
        dataset=DatasetSettings(path=str(data), image_size=image_size),
        model=ModelSettings(backbone=TINY_BACKBONE, weights="none"),
    ))
