"""Issue 28 item 4, issue 26 item 9, issue 25 item 10: ``evaluate`` says when
its images are ones the model already saw (and leaves them out of the
figures), when they are unlike the training images, and when the model
does no better than always answering the most common class or guessing; it
shows the model's own test figures beside the new ones."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from allgui.cli import main
from allgui.core.dataset.hashing import file_hash
from allgui.core.validation.external import evaluate_model
from tests.support.onnx_models import export_tiny, handmade_model


def _cells(folder, n, bright: bool, seed: int, kind: str = "disc"):
    """``n`` cell-like images: a disc on a pale background (or noise stripes)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:64, :64]
    paths = []
    for i in range(n):
        if kind == "disc":
            img = np.full((64, 64, 3), 225, np.uint8) + rng.integers(0, 20, (64, 64, 3),
                                                                     dtype=np.uint8)
            r = rng.integers(12, 22)
            cy, cx = rng.integers(24, 40, 2)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            img[disc] = (np.array([150, 60, 170]) + (60 if bright else 0)
                         + rng.integers(-15, 15, 3)).clip(0, 255)
        else:  # another acquisition altogether: saturated stripes
            img = np.zeros((64, 64, 3), np.uint8)
            img[:, :, rng.integers(0, 3)] = ((xx * rng.integers(3, 9)) % 64 * 4).astype(np.uint8)
        path = folder / f"{kind}{seed}_{i}.png"
        Image.fromarray(img).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model whose file records 12 training and 8 validation images."""
    tmp_path = tmp_path_factory.mktemp("trained")
    src = tmp_path / "source"
    train = [(p, 0) for p in _cells(src / "all", 6, False, 1)] + \
        [(p, 1) for p in _cells(src / "hem", 6, True, 2)]
    val = _cells(src / "val", 8, False, 3)
    hashes = tuple(sorted({file_hash(p) for p, _ in train} | {file_hash(p) for p in val}))
    _, result = export_tiny(tmp_path / "m.onnx", training_hashes=hashes,
                            feature_images=tuple(train), reference_images=tuple(val),
                            metrics={"accuracy": 0.9, "balanced_accuracy": 0.88},
                            batch_metrics={"accuracy": {"mean": 0.9, "runs": 3.0,
                                                        "test_low": 0.76, "test_high": 0.96}})
    return result.path, train


def test_images_the_model_was_trained_on_are_counted_and_left_out(tmp_path, trained):
    model, train = trained
    data = tmp_path / "data"
    for path, label in train[:3] + train[6:9]:  # 6 of its training images, copied
        (data / ("all" if label == 0 else "hem")).mkdir(parents=True, exist_ok=True)
        Image.open(path).save(data / ("all" if label == 0 else "hem") / f"copy-{label}"
                              f"{Image.open(path).size[0]}-{path[-6:]}")
    _cells(data / "all", 5, False, 10)
    _cells(data / "hem", 5, True, 11)
    result = evaluate_model(model, data, device="cpu", resamples=60)
    assert result.checks.known and result.checks.seen == 6 and result.checks.seen_left_out
    assert len(result.paths) == 10 and not any("copy-" in p for p in result.paths)
    assert result.to_dict()["checks"]["seen_images"] == 6
    kept = evaluate_model(model, data, device="cpu", resamples=60, include_seen=True)
    assert len(kept.paths) == 16 and kept.checks.seen == 6 and not kept.checks.seen_left_out


def test_a_folder_of_nothing_but_training_images_is_refused_in_words(tmp_path, capsys,
                                                                   trained):
    model, train = trained
    data = tmp_path / "data"
    for path, label in train:
        folder = data / ("all" if label == 0 else "hem")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / path.rsplit("/", 1)[1]).write_bytes(open(path, "rb").read())
    assert main(["evaluate", str(model), str(data), "--out", str(tmp_path / "rep")]) != 0
    err = capsys.readouterr().err
    assert "same content as an image the model was trained" in err and "Traceback" not in err


def test_images_unlike_the_training_images_are_flagged(tmp_path, trained):
    model, _ = trained
    alike, other = tmp_path / "alike", tmp_path / "other"
    _cells(alike / "all", 6, False, 20)
    _cells(alike / "hem", 6, True, 21)
    _cells(other / "all", 6, False, 22, kind="stripes")
    _cells(other / "hem", 6, True, 23, kind="stripes")
    near = evaluate_model(model, alike, device="cpu", resamples=60).checks.distance
    far = evaluate_model(model, other, device="cpu", resamples=60)
    d = far.checks.distance
    assert near is not None and d is not None
    assert d.median > near.median and d.beyond_p99 > near.beyond_p99
    assert d.warning and any("Out of distribution" in w for w in far.checks.warnings)
    assert not near.warning


def test_no_better_than_the_majority_class_or_chance_is_said(tmp_path, capsys):
    """A model that answers 'all' for every image, on 3 'all' and 9 'hem' cells."""
    model = handmade_model(tmp_path / "m.onnx", (0.7, 0.3), size=64)
    data = tmp_path / "data"
    _cells(data / "all", 3, False, 30)
    _cells(data / "hem", 9, True, 31)
    result = evaluate_model(model, data, device="cpu", resamples=100)
    base = result.checks.baselines
    assert base.majority_class == "hem" and base.majority_accuracy == 0.75
    assert base.chance_balanced_accuracy == 0.5
    words = " ".join(result.checks.warnings)
    assert "always answering 'hem'" in words and "At chance" in words
    assert not result.checks.known and result.checks.distance is None
    out = tmp_path / "report"
    assert main(["evaluate", str(model), str(data), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "WARNING: Below the majority class" in printed and "No skill" in printed
    assert "does not list its training images" in printed
    html = (out / "evaluation.html").read_text(encoding="utf-8")
    assert "Below the majority class" in html and "No skill" in html


def test_the_models_own_test_figures_stand_beside_the_new_ones(tmp_path, capsys, trained):
    model, _ = trained
    data = tmp_path / "data"
    _cells(data / "all", 5, False, 40)
    _cells(data / "hem", 5, True, 41)
    out = tmp_path / "report"
    assert main(["evaluate", str(model), str(data), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if "[0.7600, 0.9600]" in line)
    assert row.lstrip(" |").startswith("Accuracy") and "0.9000" in row
    assert "None of these images is one the model was trained" in printed


def test_the_progress_counts_every_image_seen_ones_too(tmp_path, trained):
    """Issue 26: a folder of mostly the model's own images sat silent for 27 s
    (800 smears hashed, 680 of them seen): images left out skipped the progress.
    Here the last images are seen ones: the bar still reaches the end."""
    from allgui.core.events import EventLog, Progress

    model, train = trained
    data = tmp_path / "data"
    _cells(data / "all", 3, False, 20)
    _cells(data / "hem", 3, True, 21)
    for i, (path, _) in enumerate(train[6:9]):  # hem training images, copied, sorted last
        Image.open(path).save(data / "hem" / f"zz-copy-{i}.png")
    log = EventLog()
    result = evaluate_model(model, data, device="cpu", resamples=30, sink=log)
    assert result.checks.seen == 3
    steps = [e for e in log.of_type(Progress) if e.phase == "classifying"]
    assert steps and steps[-1].done == steps[-1].total == 9
