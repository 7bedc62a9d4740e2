"""Opening a model file: allgui models open; anything else gets a plain message,
and the classification path never loads torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from allgui import RESEARCH_NOTICE
from allgui.core.errors import ModelFileError
from allgui.core.infer import Classifier, available_providers, open_session, read_model_info


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, tiny_models):
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    tiny_models.export(path)
    return path


def _rewrite(src, dst, change):
    proto = onnx.load(str(src))
    meta = {p.key: p.value for p in proto.metadata_props}
    meta = change(meta)
    del proto.metadata_props[:]
    if meta:
        onnx.helper.set_model_props(proto, meta)
    onnx.save(proto, str(dst))
    return dst


def test_opens_on_cpu_and_reports_providers(model_path):
    opened = open_session(model_path, device="cpu")
    assert opened.providers == ("CPUExecutionProvider",)
    assert not opened.on_gpu
    assert "CPUExecutionProvider" in available_providers()
    assert opened.info.research_notice == RESEARCH_NOTICE


def test_auto_uses_gpu_only_when_it_works(model_path):
    clf = Classifier(model_path)  # 'auto'
    if "CUDAExecutionProvider" not in available_providers():
        assert clf.providers == ("CPUExecutionProvider",)
    assert clf.providers[-1] == "CPUExecutionProvider"
    # whatever was chosen answers
    assert clf.classify(np.zeros((50, 40, 3), np.uint8)).label in clf.classes


def test_asking_for_a_missing_gpu_says_so(model_path):
    opened = open_session(model_path, device="gpu")
    if opened.on_gpu:
        pytest.skip("this machine has a working GPU")
    assert "CPU" in opened.note and opened.providers == ("CPUExecutionProvider",)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        read_model_info(tmp_path / "nothing.onnx")
    with pytest.raises(ModelFileError, match="is a folder"):
        read_model_info(tmp_path)


@pytest.mark.parametrize(
    "content", [b"this is a text file, not a model\n", bytes(range(256)) * 10, b"\x00"]
)
def test_not_an_onnx_file(tmp_path, content):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="is not an ONNX model, or it is damaged") as err:
        read_model_info(path)
    assert "onnxruntime" in err.value.details


def test_onnx_from_elsewhere_is_refused(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ModelFileError, match="not one exported by allgui"):
        read_model_info(path)


def test_allgui_model_with_metadata_stripped(model_path, tmp_path):
    path = _rewrite(model_path, tmp_path / "stripped.onnx", lambda meta: {})
    with pytest.raises(ModelFileError, match="carries no allgui metadata"):
        Classifier(path)


def test_metadata_disagreeing_with_the_input_size(model_path, tmp_path):
    path = _rewrite(model_path, tmp_path / "resized.onnx", lambda m: {**m, "input_size": "64"})
    with pytest.raises(ModelFileError, match="takes 96 x 96 px images but its metadata says 64"):
        read_model_info(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: {**m, "allgui_format": "99"}, "newer allgui"),
        (lambda m: {**m, "classes": json.dumps(["all", "b", "c"])}, "3 classes"),
        (lambda m: {**m, "positive_class": json.dumps("blast")}, "'blast' as positive"),
        (lambda m: {**m, "mean": "[0.5,"}, "damaged"),
        (lambda m: {k: v for k, v in m.items() if k != "std"}, "incomplete"),
    ],
)
def test_damaged_metadata(model_path, tmp_path, change, message):
    path = _rewrite(model_path, tmp_path / "edited.onnx", change)
    with pytest.raises(ModelFileError, match=message):
        read_model_info(path)


def test_classification_needs_no_torch(model_path, cnmc_samples):
    """Import, open, classify a file and draw its heatmap: torch, timm and
    optuna never load."""
    image = sorted(cnmc_samples.rglob("*.bmp"))[0]
    code = textwrap.dedent(
        f"""
        import sys
        import allgui.core.infer as infer
        from allgui.core.infer.heatmap import heatmap_figure
        from allgui.core.infer.folder import classify_folder
        clf = infer.Classifier({str(model_path)!r})
        p = clf.classify({str(image)!r})
        heatmap_figure(clf.prepare({str(image)!r}).original, p.heatmap)
        print(p.label, ",".join(m for m in ("torch", "timm", "optuna") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] in ("all", "hem") and out[1:] == []
