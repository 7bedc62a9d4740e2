"""Tiny real models for the export and classification tests.

timm's ``test_efficientnet`` (random weights, no download) at 96 px gives a
3 x 3 feature map, enough for a heatmap with structure. The head is drawn
with larger weights than PyTorch's default so that different images get
clearly different probabilities (a test comparing two paths must be able
to see a difference).
"""

from __future__ import annotations

from pathlib import Path

import torch

from allgui.core.export.onnx import ExportMetadata, ExportResult, export_onnx
from allgui.core.model.classifier import AllClassifier, ModelConfig, build_model

SIZE = 96
CLASSES = ("all", "hem")


def tiny_model(seed: int = 0, n_classes: int = 2) -> AllClassifier:
    torch.manual_seed(seed)
    model = build_model(
        ModelConfig(backbone="test_efficientnet", weights="none", hidden=16, n_classes=n_classes)
    )
    with torch.no_grad():
        for layer in (model.head.fc1, model.head.fc2):
            layer.weight.normal_(0.0, 0.5)
            layer.bias.normal_(0.0, 0.1)
    return model.eval()


def export_tiny(
    path: Path, model: AllClassifier | None = None, size: int = SIZE, **metadata
) -> tuple[AllClassifier, ExportResult]:
    model = model or tiny_model()
    meta = ExportMetadata(
        classes=metadata.pop("classes", CLASSES),
        positive_class=metadata.pop("positive_class", "all"),
        **metadata,
    )
    torch.set_num_threads(1)
    return model, export_onnx(model, path, meta, input_size=size)


class TinyModels:
    """The ``tiny_models`` fixture: the tiny model, its export and their figures."""

    classes = CLASSES
    size = SIZE
    model = staticmethod(tiny_model)
    export = staticmethod(export_tiny)


def handmade_model(
    path: Path,
    probabilities: tuple[float, ...] = (0.7, 0.3),
    *,
    loop: int = 0,
    size: int = 32,
    external: str | None = None,
    **metadata,
) -> Path:
    """An allgui-shaped ONNX model built by hand with onnx.helper (no torch):
    it gives ``probabilities`` for every image and a flat heatmap.

    ``loop``: a Loop of that many iterations feeds the output (a model that
    never ends); ``external``: the constant is kept in an external-data file
    at that location (written beside the model when the location stays inside
    its folder)."""
    import numpy as np
    import onnx
    from onnx import TensorProto as T
    from onnx import helper, numpy_helper

    from allgui.core.infer.model_file import encode_metadata

    n = len(probabilities)
    const = numpy_helper.from_array(np.asarray([probabilities], np.float32), "probs")
    if external is not None:
        const.data_location = T.EXTERNAL
        for key, value in (("location", external), ("offset", "0"), ("length", str(4 * n))):
            entry = const.external_data.add()
            entry.key, entry.value = key, value
        target = Path(path).parent / external
        if ".." not in external and not Path(external).is_absolute():
            target.write_bytes(const.raw_data)
        const.ClearField("raw_data")
    inits = [
        const,
        numpy_helper.from_array(np.zeros((1, n, 3, 3), np.float32), "flat"),
        numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        numpy_helper.from_array(np.asarray([-1, 1], np.int64), "shape2"),
        numpy_helper.from_array(np.asarray([-1, 1, 1, 1], np.int64), "shape4"),
    ]
    nodes = [
        helper.make_node("Cast", ["image"], ["x"], to=T.FLOAT),
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["m", "zero"], ["m0"]),
    ]
    if loop:
        body = helper.make_graph(
            [helper.make_node("Identity", ["c_in"], ["c_out"]),
             helper.make_node("Add", ["v_in", "zero_b"], ["v_out"])],
            "body",
            [helper.make_tensor_value_info("i", T.INT64, []),
             helper.make_tensor_value_info("c_in", T.BOOL, []),
             helper.make_tensor_value_info("v_in", T.FLOAT, [])],
            [helper.make_tensor_value_info("c_out", T.BOOL, []),
             helper.make_tensor_value_info("v_out", T.FLOAT, [])],
            [helper.make_tensor("zero_b", T.FLOAT, [], [0.0])],
        )
        inits += [helper.make_tensor("trips", T.INT64, [], [loop]),
                  helper.make_tensor("go", T.BOOL, [], [True])]
        nodes += [helper.make_node("Loop", ["trips", "go", "zero"], ["v"], body=body),
                  helper.make_node("Add", ["m0", "v"], ["m1"])]
    else:
        nodes.append(helper.make_node("Identity", ["m0"], ["m1"]))
    nodes += [
        helper.make_node("Reshape", ["m1", "shape2"], ["col"]),
        helper.make_node("Add", ["col", "probs"], ["probabilities"]),
        helper.make_node("Reshape", ["m1", "shape4"], ["cell"]),
        helper.make_node("Add", ["cell", "flat"], ["cam"]),
    ]
    graph = helper.make_graph(
        nodes, "handmade",
        [helper.make_tensor_value_info("image", T.UINT8, ["batch", size, size, 3])],
        [helper.make_tensor_value_info("probabilities", T.FLOAT, ["batch", n]),
         helper.make_tensor_value_info("cam", T.FLOAT, ["batch", n, 3, 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    values = {
        "classes": list(metadata.pop("classes", CLASSES)),
        "positive_class": metadata.pop("positive_class", "all"),
        "input_size": size, "mean": [0.5] * 3, "std": [0.25] * 3, "heatmap_size": [3, 3],
        **metadata,
    }
    onnx.helper.set_model_props(model, encode_metadata(values))
    Path(path).write_bytes(model.SerializeToString())
    return Path(path)
