"""How NNCF's int8 model is made: on OpenVINO's fused graph, so that SiLU stays
one activation OpenVINO fuses into the int8 convolution (unfused, every SiLU
ran as separate passes and int8 was slower than fp32), and with depthwise
convolutions kept in fp32 on a CPU without int8 dot products. With real
weights on real images the int8 features then pass the project's fidelity
check. Skips without OpenVINO and NNCF (the openvino extra) or the fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from allgui.core.model.classifier import ModelConfig, build_model
from allgui.core.train import openvino_engine as ov_engine
from allgui.core.train import runtime as R
from allgui.core.train.augment import model_input
from allgui.core.train.features import weights_fingerprint

pytestmark = pytest.mark.skipif(not ov_engine.int8_installed(),
                                reason="OpenVINO and NNCF are not installed (the openvino extra)")
CPU = torch.device("cpu")
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
LITE0 = FIXTURES / "weights" / "tf_efficientnet_lite0.safetensors"
SMEARS = FIXTURES / "realdata" / "aria_all"


def _inputs(op) -> list[str]:
    return [v.get_node().get_type_name() for v in op.input_values()]


def _source(value):
    """The node behind ``value``, through any FakeQuantize."""
    node = value.get_node()
    while node.get_type_name() == "FakeQuantize":
        node = node.input_value(0).get_node()
    return node


def _silu_cut(sigmoid) -> bool:
    """x * sigmoid(x) with a quantizer between (a SE block's gate is not x's own)."""
    x = sigmoid.input_value(0).get_node()
    for target in sigmoid.output(0).get_target_inputs():
        fq = target.get_node()
        if fq.get_type_name() != "FakeQuantize":
            continue
        for use in fq.output(0).get_target_inputs():
            mul = use.get_node()
            if mul.get_type_name() == "Multiply" and any(
                    _source(v) is x or _source(v).get_friendly_name() == x.get_friendly_name()
                    for v in mul.input_values()):
                return True
    return False


def test_silu_stays_one_fused_activation_and_depthwise_follows_the_cpu():
    torch.set_num_threads(1)
    model = build_model(ModelConfig(backbone="test_efficientnet", weights="none", hidden=8))
    calibration = np.random.default_rng(0).normal(size=(8, 3, 64, 64)).astype(np.float32)
    q = ov_engine.quantized(R.export_backbone(model, 64), calibration, None)
    ops = list(q.get_ordered_ops())
    cut = [op for op in ops if op.get_type_name() == "Sigmoid" and _silu_cut(op)]
    assert cut == []
    assert any(op.get_type_name() == "Swish" for op in ops)
    depthwise = [op for op in ops if op.get_type_name() == "GroupConvolution"]
    assert depthwise
    quantized_dw = [op for op in depthwise if "FakeQuantize" in _inputs(op)]
    if ov_engine.int8_dot_products():
        assert quantized_dw
    else:
        assert quantized_dw == []
    compiled = R.ov_engine.compile_model(q, 1, "int8")
    out = compiled(torch.from_numpy(calibration[:2]))
    assert out.shape == (2, model.num_features) and torch.isfinite(out).all()


@pytest.mark.skipif(not (LITE0.is_file() and SMEARS.is_dir()),
                    reason="needs the fixtures' lite0 weights and real smear images")
def test_int8_of_real_weights_passes_the_fidelity_check_on_real_images(tmp_path):
    """tf_efficientnet_lite0's ImageNet weights, 64 real smear images checked
    (4 classes) and 64 others calibrating, at 160 px: int8 is used, not refused."""
    from PIL import Image

    torch.set_num_threads(2)
    R.forget_sessions()
    files = sorted(SMEARS.rglob("*.jpg"))[::6][:128]
    classes = sorted({p.parent.name for p in files})
    labels = np.array([classes.index(p.parent.name) for p in files])
    images = np.stack([np.asarray(Image.open(p).convert("RGB").resize((160, 160)))
                       for p in files])
    model = build_model(ModelConfig(backbone="tf_efficientnet_lite0", weights=str(LITE0)))
    x = model_input(images, model.mean, model.std, "cpu")
    check = x[:4]
    runtime = R.choose_runtime(model.eval(), CPU, check, weights=weights_fingerprint(model),
                               choice="openvino", cache_dir=tmp_path, precision="int8",
                               sample=x[0::2], labels=labels[0::2], calibration=x[1::2])
    assert runtime.path.notice == "", runtime.path.notice
    assert runtime.path.name == "openvino-int8" and runtime.path.fidelity is not None
