"""Export to ONNX: the file reproduces the trained model, carries its
metadata, explains itself like torch's Grad-CAM, and is all-or-nothing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import onnx
import pytest
import torch

from allgui import RESEARCH_NOTICE, __version__
from allgui.core.dataset.imaging import prepare_image
from allgui.core.errors import AllguiError
from allgui.core.export.onnx import ExportMetadata, Tolerance, check_images, export_onnx
from allgui.core.infer import Classifier, read_model_info
from allgui.core.model.checkpoint import save_checkpoint
from allgui.core.train.augment import model_input


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_models):
    path = tmp_path_factory.mktemp("export") / "tiny.onnx"
    model, result = tiny_models.export(
        path,
        metrics={"weighted_f1": 0.81, "balanced_accuracy": 0.79},
        test_set="C-NMC preliminary test set (1,867 images)",
        study="demo-study",
        trial=7,
        run=2,
        decision_threshold=0.4,
        uncertain_margin=0.3,
    )
    return model, result, path


def autograd_gradcam(model, images: np.ndarray) -> np.ndarray:
    """Grad-CAM the textbook way: backpropagate each logit to the last feature map."""
    x = model_input(images, model.mean, model.std, "cpu").requires_grad_(True)
    fmap = model.forward_features(x)  # the backbone is frozen: grads flow from the input
    fmap.retain_grad()
    logits = model.forward_head(model.pool(fmap))
    cams = []
    for c in range(logits.shape[1]):
        fmap.grad = None
        logits[:, c].sum().backward(retain_graph=True)
        alpha = fmap.grad.mean(dim=(2, 3), keepdim=True)
        cams.append(torch.relu((alpha * fmap).sum(dim=1)).detach().numpy())
    return np.stack(cams, axis=1)


def test_round_trip_within_tolerance(exported, tiny_models):
    model, result, path = exported
    tol = result.tolerance
    assert path.is_file() and result.size_bytes == path.stat().st_size
    assert result.max_diff_probabilities <= tol.probabilities
    assert result.max_diff_cam <= tol.cam
    assert result.exporter.startswith("torch.onnx TorchScript")
    onnx.checker.check_model(onnx.load(str(path)))

    images = check_images(None, tiny_models.size, count=5)
    clf = Classifier(path, device="cpu")
    probs, _ = clf.run(images, heatmap=False)
    with torch.no_grad():
        expected = torch.softmax(model(model_input(images, model.mean, model.std, "cpu")), 1)
    np.testing.assert_allclose(probs, expected.numpy(), atol=tol.probabilities)


def test_metadata_read_back(exported, tiny_models):
    model, _, path = exported
    info = read_model_info(path)
    assert info.classes == tiny_models.classes and info.positive_class == "all"
    assert info.input_size == tiny_models.size and info.heatmap_size == (3, 3)
    assert info.mean == pytest.approx(model.mean) and info.std == pytest.approx(model.std)
    assert info.decision_threshold == 0.4 and info.uncertain_margin == 0.3
    assert info.metrics == {"weighted_f1": 0.81, "balanced_accuracy": 0.79}
    assert info.test_set.startswith("C-NMC preliminary")
    assert (info.study, info.trial, info.run) == ("demo-study", 7, 2)
    assert info.allgui_version == __version__
    assert info.research_notice == RESEARCH_NOTICE
    assert info.backbone == "test_efficientnet"
    created = dt.datetime.fromisoformat(info.created)
    assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 3600
    text = "\n".join(info.summary_lines())
    assert RESEARCH_NOTICE in text and "weighted_f1 0.810" in text and "trial 7" in text


def test_gradcam_matches_torch_autograd(exported, cnmc_samples, tiny_models):
    model, _, path = exported
    files = sorted(cnmc_samples.rglob("*.bmp"))
    images = np.stack([prepare_image(f, tiny_models.size) for f in files])
    _, cam = Classifier(path, device="cpu").run(images, heatmap=True)
    expected = autograd_gradcam(model, images)
    assert cam.shape == expected.shape == (len(files), 2, 3, 3)
    assert (expected.max(axis=(2, 3)) > 0).any(axis=1).all()  # every image has a heatmap
    scale = expected.max(axis=(2, 3), keepdims=True) + 1e-6
    np.testing.assert_allclose(cam / scale, expected / scale, atol=1e-4)


def test_training_and_onnx_preprocessing_agree(exported, cnmc_samples, tiny_models):
    model, _, path = exported
    clf = Classifier(path, device="cpu")
    files = sorted(cnmc_samples.rglob("*.bmp"))
    # The training path: prepare_image, then training's own uint8 -> float conversion.
    batch = np.stack([prepare_image(f, tiny_models.size) for f in files])
    with torch.no_grad():
        train_probs = torch.softmax(
            model(model_input(batch, model.mean, model.std, "cpu")), 1
        ).numpy()
    onnx_probs = np.array(
        [[p.probabilities[c] for c in tiny_models.classes] for p in clf.classify_many(files, heatmap=False)]
    )
    assert np.ptp(train_probs[:, 0]) > 1e-3  # the images really get different answers
    np.testing.assert_allclose(onnx_probs, train_probs, atol=1e-5)


def test_batches_give_the_same_answers_as_single_images(exported, cnmc_samples):
    _, _, path = exported
    clf = Classifier(path, device="cpu")
    files = sorted(cnmc_samples.rglob("*.bmp"))
    together = clf.classify_many(files, batch_size=4)
    alone = [clf.classify(f) for f in files]
    for a, b in zip(together, alone, strict=True):
        assert a.label == b.label
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)
        np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-4)


def test_failed_check_writes_nothing(tmp_path, tiny_models):
    out = tmp_path / "models" / "never.onnx"
    with pytest.raises(AllguiError, match="nothing was written") as err:
        export_onnx(
            tiny_models.model(),
            out,
            ExportMetadata(classes=tiny_models.classes),
            input_size=64,
            tolerance=Tolerance(probabilities=-1.0),
        )
    assert "probabilities differ" in err.value.details
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_export_from_checkpoint_takes_its_metadata(tmp_path, cnmc_samples, tiny_models):
    model = tiny_models.model(seed=3)
    ckpt = tmp_path / "checkpoint.pt"
    save_checkpoint(
        ckpt,
        model,
        model.config,
        {"positive_class": "all", "metrics": {"weighted_f1": 0.5, "note": "text is dropped"},
         "test_set": "held-out patients", "trial": 4},
        class_names=tiny_models.classes,
        image_size=64,
    )
    samples = sorted(cnmc_samples.rglob("*.bmp"))[:2]
    result = export_onnx(ckpt, tmp_path / "m.onnx", sample_images=samples)
    info = result.info
    assert result.images_checked == 4
    assert info.classes == tiny_models.classes and info.positive_class == "all" and info.input_size == 64
    assert info.metrics == {"weighted_f1": 0.5}
    assert (info.test_set, info.trial, info.source) == ("held-out patients", 4, str(ckpt))


def test_wrong_class_names_are_refused(tmp_path, tiny_models):
    with pytest.raises(AllguiError, match="3 class names"):
        export_onnx(tiny_models.model(), tmp_path / "m.onnx", ExportMetadata(classes=("a", "b", "c")))
    assert not (tmp_path / "m.onnx").exists()
