"""The classifier, its weights sources and its checkpoints (tiny timm test backbone, CPU)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from allgui.core.errors import AllguiError, ModelFileError, WeightsError
from allgui.core.model.checkpoint import load_checkpoint, save_checkpoint
from allgui.core.model.classifier import ModelConfig, build_model

torch.set_num_threads(1)
TINY = ModelConfig(backbone="test_efficientnet", weights="none", hidden=8, n_classes=2)


def test_head_order_and_shapes():
    model = build_model(TINY)
    names = [name for name, _ in model.head.named_children()]
    assert names == ["dropout1", "fc1", "relu", "dropout2", "fc2"]
    assert model.head.fc1.in_features == model.num_features
    assert model.head.fc1.out_features == 8
    assert model.head.fc2.out_features == 2
    x = torch.randn(3, 3, 32, 32)
    model.eval()
    assert model.forward_features(x).shape[:2] == (3, model.num_features)
    assert model(x).shape == (3, 2)
    # Normalisation comes from the backbone's own data config.
    assert len(model.mean) == 3 and len(model.std) == 3 and len(model.input_size) == 3


def test_frozen_backbone_stays_in_eval_mode_and_untrainable():
    model = build_model(TINY)
    model.train()
    assert not model.backbone.training
    assert model.head.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def test_finetune_last_stages_unfreezes_only_those():
    model = build_model(dataclasses.replace(TINY, finetune_stages=1))
    trainable = [n for n, p in model.backbone.named_parameters() if p.requires_grad]
    frozen = [n for n, p in model.backbone.named_parameters() if not p.requires_grad]
    assert trainable and frozen
    assert not any(n.startswith("conv_stem") for n in trainable)


def _save_backbone(path, seed=1):
    torch.manual_seed(seed)
    source = build_model(TINY)
    state = source.backbone.state_dict()
    if str(path).endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save({"state_dict": state}, str(path))
    return state


@pytest.mark.parametrize("name", ["weights.safetensors", "weights.pth"])
def test_local_weights_file_loads(tmp_path, name):
    path = tmp_path / name
    state = _save_backbone(path)
    model = build_model(dataclasses.replace(TINY, weights=str(path)))
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_a_compiled_models_weights_load_and_ema_weights_are_preferred(tmp_path):
    # torch.compile saves its weights as "_orig_mod.NAME" (under DDP, "module."
    # too); a training script with EMA keeps both sets and the EMA ones are the
    # better model: timm's reader takes those.
    ema = _save_backbone(tmp_path / "ignored.pth", seed=2)
    plain = _save_backbone(tmp_path / "ignored.pth", seed=3)
    path = tmp_path / "compiled.pth"
    torch.save({"state_dict": {f"_orig_mod.module.{k}": v for k, v in plain.items()},
                "state_dict_ema": {f"module._orig_mod.{k}": v for k, v in ema.items()}},
               str(path))
    model = build_model(dataclasses.replace(TINY, weights=str(path)))
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, ema[key]), key


def test_bad_weights_files_give_weights_error(tmp_path):
    missing = tmp_path / "nothing.pth"
    with pytest.raises(WeightsError, match="does not exist"):
        build_model(dataclasses.replace(TINY, weights=str(missing)))
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"this is not a weights file")
    with pytest.raises(WeightsError, match="cannot be read"):
        build_model(dataclasses.replace(TINY, weights=str(corrupt)))
    other = tmp_path / "resnet.pth"
    torch.save(build_model(dataclasses.replace(TINY, backbone="test_resnet")).backbone.state_dict(),
               str(other))
    with pytest.raises(WeightsError):
        build_model(dataclasses.replace(TINY, weights=str(other)))


def test_unreachable_hub_names_the_offline_option(monkeypatch, tmp_path):
    import huggingface_hub.constants as hf

    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(WeightsError) as info:
        build_model(ModelConfig(backbone="mobilenetv3_small_050", weights="imagenet"))
    assert "local weights file" in info.value.message


def test_unknown_backbone_is_a_plain_error():
    with pytest.raises(AllguiError, match="not a backbone"):
        build_model(dataclasses.replace(TINY, backbone="no_such_net"))


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(3)
    model = build_model(TINY)
    path = tmp_path / "runs" / "model.pt"
    save_checkpoint(path, model, TINY, {"seed": 3, "val_loss": 0.5},
                    class_names=("all", "hem"), image_size=32)
    loaded, info = load_checkpoint(path)
    assert info.class_names == ("all", "hem")
    assert info.image_size == 32
    assert info.extra == {"seed": 3, "val_loss": 0.5}
    assert info.model_config == TINY
    assert info.mean == model.mean
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(loaded(x), model(x))


def test_damaged_checkpoint_is_a_model_file_error(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ModelFileError):
        load_checkpoint(path)
    with pytest.raises(ModelFileError):
        load_checkpoint(tmp_path / "absent.pt")
