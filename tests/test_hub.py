"""ImageNet weights when the hub cannot be reached: the cache, or a plain
error at once. Nothing here touches the network."""

from __future__ import annotations

import pytest
import torch

from allgui.core.errors import WeightsError
from allgui.core.model import weights as hub
from allgui.core.model.classifier import ModelConfig, build_model

BACKBONE = "test_efficientnet"
REPO = "models--timm--test_efficientnet.r160_in1k"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No hub, and an empty hub cache of our own."""
    from huggingface_hub import constants

    monkeypatch.setattr(hub, "hub_reachable", lambda timeout_s=0: False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    # Online as far as the library knows (conftest switches it off for all tests).
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return tmp_path / "hub"


def cache_weights(cache, state: dict) -> None:
    """Lay out a file as the hub library caches it after a download."""
    from safetensors.torch import save_file

    snapshot = cache / REPO / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(snapshot / "model.safetensors"))
    (cache / REPO / "refs").mkdir()
    (cache / REPO / "refs" / "main").write_text("0" * 40)


def test_offline_without_cache_is_a_plain_error(offline):
    from huggingface_hub import constants

    with pytest.raises(WeightsError, match="Could not get ImageNet weights") as info:
        build_model(ModelConfig(backbone=BACKBONE, weights="imagenet"))
    assert "local weights file" in info.value.message
    assert constants.HF_HUB_OFFLINE is False  # the switch is put back


def test_offline_uses_weights_cached_on_an_online_day(offline):
    import timm

    torch.manual_seed(5)
    state = timm.create_model(BACKBONE, pretrained=False).state_dict()
    cache_weights(offline, state)
    model = build_model(ModelConfig(backbone=BACKBONE, weights="imagenet"))
    loaded = model.backbone.state_dict()
    name = "conv_stem.weight"
    assert torch.equal(loaded[name], state[name])


def test_a_closed_port_is_unreachable(monkeypatch):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    for variable in hub._PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert hub.hub_reachable(timeout_s=1.0) is False


def test_a_listening_endpoint_is_reachable(monkeypatch):
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        for variable in hub._PROXY_VARIABLES:
            monkeypatch.delenv(variable, raising=False)
        assert hub.hub_reachable(timeout_s=1.0) is True
