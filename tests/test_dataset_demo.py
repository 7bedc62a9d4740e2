"""The synthetic demo data: C-NMC layout and naming, deterministic, marked
synthetic, with a class signal; and prepare_project_data on it."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from allgui.core.dataset.demo import make_demo_dataset
from allgui.core.dataset.discover import discover
from allgui.core.dataset.prepared import prepare_project_data
from allgui.core.dataset.summary import summarize
from allgui.core.errors import DatasetError
from allgui.core.project import DatasetSettings, Project, ProjectSettings, SplitSettings

SMALL = dict(patients_all=4, patients_hem=2, images_per_patient=6, size=48)


def tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_dataset(tmp_path_factory.mktemp("demo") / "data", seed=7, **SMALL)


def test_demo_is_discovered_as_synthetic_cnmc(demo):
    index = discover(demo)
    assert index.layout == "cnmc" and index.synthetic and index.positive_class == "all"
    summary = summarize(index, workers=1)
    assert summary.patients_per_subset["train"] == {"all": 4, "hem": 2}
    assert summary.patients_per_subset["test"] == {"all": 2, "hem": 1}
    train = summary.per_subset["train"]
    assert 0.62 < train["all"] / (train["all"] + train["hem"]) < 0.74
    assert summary.count("unlabelled") > 0
    assert summary.sizes == {"48 x 48": summary.n_images}
    assert not summary.bad_files and not summary.identical
    names = [r.path.rsplit("/", 1)[-1] for r in index.records if r.subset == "train"]
    assert all(n.startswith("UID_") and n.endswith(("_all.bmp", "_hem.bmp")) for n in names)
    assert all(r.original_name for r in index.records if r.subset == "test")


def test_same_seed_same_files_other_seed_other_files(demo, tmp_path):
    again = make_demo_dataset(tmp_path / "again", seed=7, **SMALL)
    assert tree_digest(again) == tree_digest(demo)
    other = make_demo_dataset(tmp_path / "other", seed=8, **SMALL)
    assert tree_digest(other) != tree_digest(demo)


def test_a_new_demo_set_replaces_an_old_one(tmp_path):
    make_demo_dataset(tmp_path / "d", seed=1, **SMALL)
    fewer = dict(SMALL, patients_all=2)
    make_demo_dataset(tmp_path / "d", seed=1, **fewer)
    assert tree_digest(tmp_path / "d") == tree_digest(
        make_demo_dataset(tmp_path / "fresh", seed=1, **fewer)
    )


def test_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not empty"):
        make_demo_dataset(tmp_path, **SMALL)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_default_size_is_cnmc_size(tmp_path):
    root = make_demo_dataset(tmp_path / "d", patients_all=1, patients_hem=1,
                             images_per_patient=1, test_patients_all=0, test_patients_hem=0,
                             unlabelled_images=0)
    from PIL import Image

    with Image.open(next(root.rglob("*.bmp"))) as img:
        assert img.size == (450, 450) and img.format == "BMP"


def test_prepared_data_for_a_project(demo, tmp_path):
    project = Project.create(
        tmp_path / "proj",
        ProjectSettings(dataset=DatasetSettings(str(demo), image_size=24),
                        split=SplitSettings(seed=1)),
    )
    data = prepare_project_data(project)
    assert data.classes == ("all", "hem") and data.positive_class == "all"
    assert not data.audit.leaky and data.split.test_source == "official"
    for part in (data.train, data.val, data.test):
        assert part.images.shape[1:] == (24, 24, 3) and part.images.dtype == np.uint8
        assert len(part.labels) == len(part.images) == len(part.patients) > 0
    assert not set(data.train.patients) & set(data.val.patients)
    # The class signal: blasts (label 0) have larger, darker-filled cells than lymphocytes.
    x, y = data.train.images.astype(float), data.train.labels
    coverage = (x.sum(axis=3) > 30).mean(axis=(1, 2))
    assert coverage[y == 0].mean() > coverage[y == 1].mean() * 1.2
    assert any((project.cache_dir / "images").rglob("*.u8"))
