"""Settings that cannot work are refused before anything is saved or run,
in a sentence naming the setting (issue 13, cases 20 and 22)."""

from __future__ import annotations

import pytest
import torch

from allgui.cli import main
from allgui.core.checks import SettingError
from allgui.core.dataset.demo import make_demo_dataset
from allgui.core.project import ModelSettings
from allgui.core.train.device import resolve_device
from allgui.core.validation.run import ValidationSettings

torch.set_num_threads(1)


@pytest.fixture()
def project(tmp_path, capsys):
    data = make_demo_dataset(tmp_path / "demo", patients_all=3, patients_hem=3,
                             images_per_patient=4, size=32, unlabelled_images=0, folds=1)
    assert main(["new", str(tmp_path / "proj"), "--data", str(data), "--image-size", "32"]) == 0
    capsys.readouterr()
    return tmp_path / "proj"


@pytest.mark.parametrize(("extra", "words"), [
    (["--backbone", "no_such_net"], "The backbone 'no_such_net' is not one timm knows"),
    (["--backbone", "efficientnet_b22"], "Did you mean 'efficientnet_b2'"),
    (["--weights", "missing.safetensors"], "The weights file missing.safetensors does not exist"),
    (["--finetune-stages", "99"], "model.finetune_stages must be between 0 and 16, not 99"),
    (["--backbone", "test_efficientnet", "--finetune-stages", "9", "--mode", "online"],
     "'test_efficientnet' has 6 stages, so finetune_stages must be between 0 and 6, not 9"),
    # A transformer: no heatmap, no export. Refused before the search, not at export.
    (["--backbone", "test_vit", "--weights", "none"], "'test_vit' gives no spatial feature map"),
])
def test_a_model_that_cannot_work_is_never_saved(project, capsys, extra, words):
    toml = (project / "project.toml").read_bytes()
    assert main(["optimize", str(project), *extra, "--trials", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert words in err and "unexpected" not in err
    assert (project / "project.toml").read_bytes() == toml
    assert not (project / "study.db").exists()


def test_a_project_that_names_a_transformer_is_refused_before_any_training(project, capsys):
    from allgui.core.project import Project

    Project.open(project).update(model=ModelSettings("test_vit", "none"))  # by hand, say
    assert main(["optimize", str(project), "--trials", "1", "--device", "cpu"]) == 2
    assert "'test_vit' gives no spatial feature map" in capsys.readouterr().err
    assert not (project / "study.db").exists()


def test_the_window_lists_the_registrys_backbones_and_each_can_serve_the_whole_path():
    from allgui.core.model.backbones import CHOICES, capabilities

    assert CHOICES[0] == "efficientnet_b2"  # the paper's
    for name in CHOICES:
        caps = capabilities(name)
        assert caps.spatial_map and caps.stages, name


def test_after_a_refused_backbone_a_plain_optimize_still_works(project, capsys):
    from allgui.core.project import Project

    Project.open(project).update(model=ModelSettings("test_efficientnet", "none"))
    for bad in (["--backbone", "no_such_net"], ["--weights", "missing.pt"],
                ["--finetune-stages", "9", "--mode", "online"]):
        assert main(["optimize", str(project), *bad]) == 2
    assert main(["optimize", str(project), "--trials", "1", "--epochs", "1", "--views", "1",
                 "--device", "cpu"]) == 0  # plain: nothing to fix by hand
    assert "Best trials of study 'search'" in capsys.readouterr().out
    assert Project.open(project).settings.model == ModelSettings("test_efficientnet", "none")


@pytest.mark.parametrize(("extra", "words"), [
    (["--device", "tpu"], "The device 'tpu' is not one allgui knows; use 'auto', 'cpu'"),
    (["--seed", "-1"], "The seed must be a whole number from 0 to"),
    (["--params", "lr=nan"], "learning rate: nan is not a finite number"),
    (["--runs", "0"], "The number of runs must be at least 1, not 0"),
    (["--patience", "0"], "The patience must be at least 1, not 0"),
])
def test_validate_names_the_setting_it_refuses(project, capsys, extra, words):
    assert main(["validate", str(project), *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and "unexpected" not in err
    assert not (project / "runs").exists() or not any((project / "runs").iterdir())


def test_settings_given_in_code_are_checked_too():
    with pytest.raises(SettingError, match="configuration's learning rate: nan"):
        ValidationSettings(params={"lr": float("nan")})
    with pytest.raises(SettingError, match="names 'lrr', which is not a setting"):
        ValidationSettings(params={"lrr": 1e-3})
    with pytest.raises(SettingError, match="validation.epochs must be a whole number"):
        ValidationSettings(epochs="40")  # type: ignore[arg-type]
    with pytest.raises(SettingError, match="mode must be 'cached' or 'online'"):
        ValidationSettings(mode="fast")
    assert ModelSettings("no_such_net").backbone == "no_such_net"  # checked when it is used


@pytest.mark.parametrize("device", ["tpu", "xla", "cuda:x", "CPU", " cpu", "cuda:99"])
def test_any_bad_device_gets_a_plain_message(device):
    from allgui.core.errors import AllguiError

    with pytest.raises(AllguiError) as caught:
        resolve_device(device)
    assert repr(device) in caught.value.message or "GPU" in caught.value.message
