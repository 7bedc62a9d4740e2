"""Make the self-test bundle a built app checks itself against.

    python packaging/make_selftest.py OUT_DIR

Writes into OUT_DIR a tiny exported model (``model.onnx``: a small backbone,
random but seeded weights, allgui's metadata inside), a synthetic cell image
(``cell.png``, drawn by the demo-data painter) and ``expected.json``: the
class and probabilities torch computed for that image at build time. The
built app's ``--self-test`` classifies the image with onnxruntime alone and
must reproduce that answer, which proves that the frozen app carries a
working classification path (decoding, preprocessing, model, providers).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from allgui.core.dataset.demo import CellPainter, patient_style
from allgui.core.dataset.imaging import prepare_image
from allgui.core.export.onnx import ExportMetadata, export_onnx
from allgui.core.files.atomic import atomic_write_text
from allgui.core.model.classifier import ModelConfig, build_model

SIZE = 64
BACKBONE = "mobilenetv3_small_050"


def make(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cell = CellPainter(SIZE * 2).cell(rng, "all", patient_style(rng))
    Image.fromarray(cell).save(out / "cell.png")

    model = build_model(ModelConfig(backbone=BACKBONE, weights="none", hidden=32)).eval()
    meta = ExportMetadata(
        classes=("all", "hem"),
        positive_class="all",
        test_set="none: an untrained self-test model, not a classifier",
        source="packaging/make_selftest.py",
    )
    export_onnx(model, out / "model.onnx", meta, [out / "cell.png"], input_size=SIZE)

    pixels = torch.from_numpy(prepare_image(out / "cell.png", SIZE)).permute(2, 0, 1)[None]
    x = (pixels.float() / 255 - torch.tensor(model.mean)[:, None, None]) / torch.tensor(
        model.std
    )[:, None, None]
    with torch.inference_mode():
        probs = torch.softmax(model(x), dim=1)[0].tolist()
    expected = {
        "image": "cell.png",
        "model": "model.onnx",
        "classes": ["all", "hem"],
        "probabilities": probs,
        "class": ["all", "hem"][int(np.argmax(probs))],
        "tolerance": 1e-4,
    }
    atomic_write_text(out / "expected.json", json.dumps(expected, indent=2))
    return expected


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(json.dumps(make(Path(sys.argv[1])), indent=2))
