"""Issue 13: project.toml always reads back; settings are checked before they
are saved; demo commands never delete or overwrite what they did not make."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allgui.cli import main
from allgui.core.checks import SettingError
from allgui.core.dataset.demo import make_demo_dataset
from allgui.core.demo_project import make_demo_project
from allgui.core.errors import DatasetError, ProjectError
from allgui.core.files.tomlio import TomlWriteError, dumps, loads
from allgui.core.project import (
    DatasetSettings,
    ModelSettings,
    Project,
    ProjectSettings,
    SplitSettings,
)
from allgui.core.search.settings import SearchError, SearchSettings

SMALL = dict(patients_all=1, patients_hem=1, images_per_patient=2, size=16,
             test_patients_all=1, test_patients_hem=1, unlabelled_images=1, folds=1)

# Any text a user can type: every code point but lone surrogates (not text).
typed = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(path=typed, study=typed, key=typed, value=typed)
def test_any_typed_string_round_trips_through_project_toml(path, study, key, value):
    data = {"storage": value, "dataset": {"path": path, "image_size": 224},
            "search": {"study_name": study, key: value, "lr": {"low": 1e-5, "log": True}}}
    assert loads(dumps(data)) == data


def test_a_control_character_in_a_folder_or_study_name_is_saved_readably(tmp_path):
    """Case 5: project.toml stays readable; the study name is refused by name."""
    data = tmp_path / "a\x01b\x1b[2Jc"
    project = Project.create(tmp_path / "p", ProjectSettings(
        dataset=DatasetSettings(path=str(data))))
    assert Project.open(project.root).settings.dataset.path == str(data)
    with pytest.raises(SearchError, match="control characters"):
        SearchSettings(study_name="a\x01b")


def test_text_that_is_not_utf8_is_refused_by_name_before_saving(tmp_path):
    """A surrogate-escaped (non-UTF-8) path cannot be written to TOML: the save
    is refused naming the setting, and the old file stays as it was."""
    project = Project.create(tmp_path / "p", ProjectSettings())
    before = project.config_path.read_bytes()
    bad = DatasetSettings(path="data-\udcff")
    with pytest.raises(ProjectError, match="dataset.path"):
        project.update(dataset=bad)
    assert project.config_path.read_bytes() == before
    with pytest.raises(TomlWriteError):
        dumps({"dataset": {"path": "\udcff"}})


@pytest.mark.parametrize("section,text,word", [
    ("dataset", "image_size = 'big'", "dataset.image_size"),
    ("split", "seed = -1", "split.seed"),
    ("split", "val_fraction = 2.0", "split.val_fraction"),
    ("model", "finetune_stages = 'all'", "model.finetune_stages"),
    ("model", "backbone = 3", "model.backbone"),
    ("split", "use_official_test = 1", "split.use_official_test"),
])
def test_wrong_types_in_project_toml_are_named(tmp_path, section, text, word):
    """Case 20: the message names the setting, not a generic failure."""
    project = Project.create(tmp_path / "p", ProjectSettings())
    key = text.split(" = ")[0]
    head, _, rest = project.config_path.read_text().partition(f"[{section}]\n")
    rest = re.sub(rf"^{key} = .*$", text, rest, count=1, flags=re.M)
    project.config_path.write_text(f"{head}[{section}]\n{rest}")
    with pytest.raises(ProjectError, match=word.replace(".", r"\.")):
        Project.open(project.root)


def test_settings_refuse_bad_values_with_their_names():
    with pytest.raises(SettingError, match="split.seed"):
        SplitSettings(seed=-1)
    with pytest.raises(SettingError, match="model.finetune_stages"):
        ModelSettings(finetune_stages=99)
    with pytest.raises(SearchError, match="seed"):
        SearchSettings(seed=-1)
    with pytest.raises(SearchError, match="'tpu'"):
        SearchSettings(device="tpu")
    with pytest.raises(SearchError, match="search.trials"):
        SearchSettings(trials="many")  # type: ignore[arg-type]


def test_optimize_refuses_seed_and_device_naming_them(tmp_path, capsys):
    project = Project.create(tmp_path / "p", ProjectSettings())
    before = project.config_path.read_bytes()
    for argv, word in ((["--seed", "-1"], "seed"), (["--device", "tpu"], "'tpu'")):
        code = main(["optimize", str(project.root), *argv])
        err = capsys.readouterr().err
        assert code == 2 and word in err, err
    assert project.config_path.read_bytes() == before


def _tree(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_demo_data_again_never_deletes_a_users_file(tmp_path, capsys):
    """Case 3: a file the user added under training_data/ is kept; the command
    refuses, exits non-zero and deletes nothing."""
    root = make_demo_dataset(tmp_path / "d", **SMALL)
    mine = root / "training_data" / "fold_0" / "all" / "my_cell.bmp"
    mine.write_bytes(b"my own image")
    before = _tree(root)
    code = main(["demo-data", str(root), "--size", "16", "--images-per-patient", "2",
                 "--patients-all", "1", "--patients-hem", "1"])
    assert code != 0
    assert "did not generate" in capsys.readouterr().err
    assert _tree(root) == before


def test_demo_data_refuses_a_changed_generated_file(tmp_path):
    root = make_demo_dataset(tmp_path / "d", **SMALL)
    victim = next((root / "training_data").rglob("*.bmp"))
    victim.write_bytes(b"replaced by the user")
    with pytest.raises(DatasetError, match="did not generate"):
        make_demo_dataset(root, **SMALL)
    assert victim.read_bytes() == b"replaced by the user"


def test_demo_data_after_a_stop_can_be_made_again(tmp_path):
    import threading

    cancel = threading.Event()
    cancel.set()
    from allgui.core.errors import Cancelled

    with pytest.raises(Cancelled):
        make_demo_dataset(tmp_path / "d", cancel=cancel, **SMALL)
    assert _tree(make_demo_dataset(tmp_path / "d", **SMALL)) == _tree(
        make_demo_dataset(tmp_path / "fresh", **SMALL))


def test_demo_on_an_existing_project_refuses_before_writing(tmp_path):
    """Case 4: nothing under the project (its data included) changes."""
    root = make_demo_project(tmp_path / "demo", options=SMALL)
    before = _tree(root)
    with pytest.raises(ProjectError, match="already holds a project"):
        make_demo_project(root, options=SMALL)
    assert _tree(root) == before
    code = main(["demo", str(root), "--trials", "1"])
    assert code != 0
    assert _tree(root) == before


def test_a_relative_sqlite_storage_lives_in_the_project(tmp_path, monkeypatch, capsys):
    """Case 6: `--storage sqlite:///s.db` is the project's s.db wherever the
    command runs; a later command from another folder finds the study and
    leaves no empty s.db behind."""
    import optuna

    data = make_demo_dataset(tmp_path / "demo", patients_all=3, patients_hem=3,
                             images_per_patient=4, size=32, unlabelled_images=0, folds=1)
    assert main(["new", str(tmp_path / "proj"), "--data", str(data), "--image-size", "32"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["optimize", str(tmp_path / "proj"), "--storage", "sqlite:///s.db",
                 "--backbone", "test_efficientnet", "--weights", "none", "--trials", "1",
                 "--epochs", "1", "--views", "1", "--startup-trials", "1",
                 "--device", "cpu"]) == 0
    assert (tmp_path / "proj" / "s.db").is_file()
    third = tmp_path / "third"
    third.mkdir()
    monkeypatch.chdir(third)
    project = Project.open(tmp_path / "proj")
    assert project.sqlite_path == tmp_path / "proj" / "s.db"
    assert optuna.study.get_all_study_names(project.storage_url) == ["search"]
    assert list(elsewhere.iterdir()) == [] and list(third.iterdir()) == []


def test_a_project_deleted_mid_run_is_not_said_to_be_kept(tmp_path, monkeypatch, capsys):
    """Case 24: the message says the folder went, not 'finished work was kept'."""
    import shutil

    import allgui.cli.report as report_cli

    project = Project.create(tmp_path / "p", ProjectSettings())

    def run_while_deleted(args):
        shutil.rmtree(project.root)
        raise FileNotFoundError(2, "No such file or directory", str(project.root / "runs"))

    monkeypatch.setattr(report_cli, "run", run_while_deleted)
    assert main(["report", str(project.root)]) == 2
    err = capsys.readouterr().err
    assert "deleted or moved" in err and "kept" not in err
