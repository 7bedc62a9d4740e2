"""A model file from anyone: opening it cannot hang, fill the memory or
read files outside its folder, running it cannot take for ever, and numbers
that are not probabilities give no label (issue 13, cases 9-12)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import onnx
import pytest
from PIL import Image

from allgui.cli import main
from allgui.core.errors import ModelFileError
from allgui.core.infer import Classifier, read_model_info

from support.onnx_models import export_tiny, handmade_model

BLANK = np.zeros((40, 40, 3), np.uint8)


def _finishes(fn, seconds: float):
    """Run ``fn`` on a thread; what it returned or raised, or a failure if it hangs."""
    box: dict = {}

    def call():
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s"
    return box


POSIX = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and SIGINT to a child: POSIX")


@POSIX
def test_a_fifo_in_place_of_the_model_is_refused_at_once(tmp_path):
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    box = _finishes(lambda: read_model_info(fifo), 10)
    assert isinstance(box.get("error"), ModelFileError)
    assert "not an ordinary file" in box["error"].message


def test_a_3_gb_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import onnxruntime

    huge = tmp_path / "huge.onnx"
    with open(huge, "wb") as fh:
        fh.truncate(3 * 2**30)  # sparse: no disk space, no time

    def no_loading(*args, **kwargs):
        raise AssertionError("the model file was loaded")

    monkeypatch.setattr(onnxruntime, "InferenceSession", no_loading)
    with pytest.raises(ModelFileError, match="larger than any ONNX model can be"):
        read_model_info(huge)


def test_a_model_that_never_ends_is_stopped(tmp_path):
    path = handmade_model(tmp_path / "loop.onnx", loop=10**15)
    clf = Classifier(path, device="cpu", run_seconds=0.5)
    box = _finishes(lambda: clf.classify(BLANK), 60)  # a hang guard, not a speed check
    assert isinstance(box.get("error"), ModelFileError)
    assert "took longer than 0.5 s" in box["error"].message
    with pytest.raises(ModelFileError, match="took longer"):  # and stays refused
        clf.classify(BLANK)


@POSIX
def test_ctrl_c_stops_a_model_that_never_ends(tmp_path):
    """The real command, a real SIGINT (twice: the first asks to stop after the
    images in hand, the second quits at once): it ends within seconds."""
    path = handmade_model(tmp_path / "loop.onnx", loop=10**15)
    image = tmp_path / "cell.png"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(image)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "allgui", "classify", str(path), str(image), "--device",
         "cpu"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:  # the model is open once its summary is printed
            if "runs on:" in line:
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err


def test_model_with_its_data_file_beside_it_opens_from_any_folder(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    inline = tmp_path / "inline.onnx"
    export_tiny(inline)
    proto = onnx.load(str(inline))
    onnx.save_model(proto, str(folder / "tiny.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="tiny.onnx.data", size_threshold=0)
    assert (folder / "tiny.onnx.data").stat().st_size > 1000
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    external = Classifier(folder / "tiny.onnx", device="cpu").classify(BLANK, heatmap=False)
    expected = Classifier(inline, device="cpu").classify(BLANK, heatmap=False)
    assert external.probabilities == pytest.approx(expected.probabilities, abs=1e-6)


@POSIX
@pytest.mark.parametrize("where", ["../w.data", "absolute", "link"])
def test_data_files_outside_the_model_folder_are_refused(tmp_path, monkeypatch, where):
    folder = tmp_path / "models"
    folder.mkdir()
    planted = tmp_path / "w.data"
    planted.write_bytes(np.asarray([0.1, 0.9], np.float32).tobytes())
    location = {"../w.data": "../w.data", "absolute": str(planted), "link": "w.data"}[where]
    if where == "link":  # written beside it, then replaced by a link pointing out
        path = handmade_model(folder / "m.onnx", external="w.data")
        (folder / "w.data").unlink()
        (folder / "w.data").symlink_to(planted)
    else:
        path = handmade_model(folder / "m.onnx", external=location)
    monkeypatch.chdir(tmp_path)  # where a model opened from bytes would look
    with pytest.raises(ModelFileError, match="outside its own folder|leads outside"):
        read_model_info(path)


@pytest.mark.parametrize(
    "probabilities",
    [(float("nan"), float("nan")), (2.0, -1.0), (0.3, 0.3), (float("inf"), 0.0)],
    ids=["nan", "out-of-range", "not-summing-to-1", "infinite"],
)
def test_invalid_probabilities_give_no_label(tmp_path, capsys, probabilities):
    path = handmade_model(tmp_path / "bad.onnx", probabilities)
    with pytest.raises(ModelFileError, match="gives invalid probabilities"):
        Classifier(path, device="cpu").classify(BLANK)
    folder = tmp_path / "cells"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(np.full((40, 40, 3), 50 * k, np.uint8)).save(folder / f"c{k}.png")
    out_csv = tmp_path / "out.csv"
    assert main(["classify", str(path), str(folder), "--csv", str(out_csv)]) == 2
    captured = capsys.readouterr()
    assert "gives invalid probabilities, so no image was labelled" in captured.err
    assert "hem" not in captured.out.split("runs on:")[-1]  # no result rows
    assert not out_csv.exists()


def test_good_probabilities_pass(tmp_path):
    path = handmade_model(tmp_path / "good.onnx", (0.2, 0.8))
    assert Classifier(path, device="cpu").classify(BLANK).label == "hem"


def test_a_stored_nan_threshold_is_refused(tmp_path):
    path = handmade_model(tmp_path / "nan.onnx", decision_threshold=float("nan"))
    with pytest.raises(ModelFileError, match="nan.onnx is damaged or was altered: the decision threshold must be"):
        Classifier(path, device="cpu")


def test_model_files_in_a_copied_folder_keep_working(tmp_path):
    """A legitimate external-data model moved with its data file still opens."""
    first = tmp_path / "a"
    first.mkdir()
    handmade_model(first / "m.onnx", (0.6, 0.4), external="m.data")
    moved = tmp_path / "b"
    shutil.copytree(first, moved)
    assert Classifier(moved / "m.onnx", device="cpu").classify(BLANK).label == "all"


@POSIX
def test_a_fifo_named_like_an_image_is_skipped_not_waited_on(tmp_path):
    clf = Classifier(handmade_model(tmp_path / "m.onnx"), device="cpu")
    fifo = tmp_path / "cell.png"
    os.mkfifo(fifo)
    from allgui.core.infer import classify_files

    box = _finishes(lambda: classify_files(clf, [fifo]), 10)
    assert box["value"].rows[0].error == "not an ordinary file"
