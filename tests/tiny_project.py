"""A tiny demo project for engine tests: 7 patients, 32-px images, a small
backbone with random weights, cached features with 2 views."""

from __future__ import annotations

from pathlib import Path

from allgui.core.dataset.demo import make_demo_dataset
from allgui.core.project import DatasetSettings, ModelSettings, Project, ProjectSettings


def tiny_demo_project(root: Path) -> Project:
    make_demo_dataset(root / "data", patients_all=4, patients_hem=3, images_per_patient=6,
                      size=48, test_patients_all=1, test_patients_hem=1, unlabelled_images=0)
    return Project.create(root / "project", ProjectSettings(
        dataset=DatasetSettings(str(root / "data"), 32),
        model=ModelSettings(backbone="mobilenetv3_small_050", weights="none"),
        search={"views": 2},
    ))
