"""Classifying a folder: every image gets a CSV row, bad files are listed
with their reason and never stop the run, patients are summed up."""

from __future__ import annotations

import csv
import shutil
import sys
import threading

import pytest
from PIL import Image

from allgui.core.dataset.patients import patient_from_name, patient_sort_key
from allgui.core.errors import Cancelled
from allgui.core.events import EventLog, JobFinished, Notice, Progress
from allgui.core.infer import Classifier, classify_folder
from allgui.core.infer.classifier import Prediction
from allgui.core.infer.folder import FolderRow, classify_files, summarise_patients


def _prediction(source: str) -> Prediction:
    return Prediction(source, "all", 0, {"all": 0.9, "hem": 0.1}, 0.8, False)


@pytest.fixture(scope="module")
def clf(tmp_path_factory, tiny_models):
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    tiny_models.export(path)
    return Classifier(path, device="cpu")


@pytest.fixture
def folder(tmp_path, cnmc_samples):
    """The six real cells (two patients, one in a subfolder) and four bad files."""
    root = tmp_path / "cells"
    (root / "more").mkdir(parents=True)
    for f in sorted(cnmc_samples.rglob("*.bmp")):
        shutil.copy(f, root / ("more" if "hem" in f.name else "") / f.name)
    (root / "notes.bmp").write_text("a text file with an image's name")
    (root / "empty.png").write_bytes(b"")
    (root / "cut.bmp").write_bytes((cnmc_samples / "all" / "UID_1_3_1_all.bmp").read_bytes()[:999])
    (root / "readme.txt").write_text("not an image by name: ignored")
    (root / ".hidden.bmp").write_text("hidden files are left out")
    Image.new("LA", (40, 30)).save(root / "gray_alpha.png")  # odd but valid
    return root


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_folder_to_csv_with_bad_files(clf, folder, tmp_path):
    log = EventLog()
    out = tmp_path / "results" / "cells.csv"
    heat = tmp_path / "heatmaps"
    result = classify_folder(clf, folder, out, heatmaps_dir=heat, batch_size=3, sink=log)

    rows = read_csv(out)
    assert [r["path"] for r in rows] == sorted(r["path"] for r in rows)
    assert len(rows) == 10 and len(result.classified) == 7 and len(result.bad) == 3
    assert list(rows[0]) == ["path", "class", "p_all", "p_hem", "margin", "uncertain",
                             "patient", "heatmap", "error"]
    by_path = {r["path"]: r for r in rows}
    assert "not an image" in by_path["notes.bmp"]["error"]
    assert "empty" in by_path["empty.png"]["error"]
    assert "truncated" in by_path["cut.bmp"]["error"]
    for bad in ("notes.bmp", "empty.png", "cut.bmp"):
        assert by_path[bad]["class"] == "" and by_path[bad]["p_all"] == ""
    good = by_path["more/UID_H6_5_1_hem.bmp"]
    assert good["class"] in ("all", "hem") and good["error"] == "" and good["patient"] == "H6"
    assert float(good["p_all"]) + float(good["p_hem"]) == pytest.approx(1.0, abs=1e-3)
    assert good["uncertain"] in ("yes", "no")
    assert by_path["gray_alpha.png"]["patient"] == ""
    assert result.ignored == ("readme.txt",)

    # one heatmap per classified image, mirroring the folder
    pngs = sorted(p.relative_to(heat).as_posix() for p in heat.rglob("*.png"))
    assert len(pngs) == 7 and "more/UID_H6_5_1_hem.bmp.png" in pngs
    assert Image.open(heat / "more" / "UID_H6_5_1_hem.bmp.png").size[1] > 450

    patients = read_csv(result.patients_csv_path)
    assert [p["patient"] for p in patients] == ["1", "H6"]
    assert [int(p["images"]) for p in patients] == [3, 3]
    assert all(int(p["n_all"]) + int(p["n_hem"]) == 3 for p in patients)

    assert len(log.of_type(Notice)) == 3
    assert log.of_type(Progress)[-1].done == 10
    assert log.of_type(JobFinished)[0].message == "7 classified, 3 skipped"


def test_heatmap_names_never_collide(clf, cnmc_samples, tmp_path):
    """a.bmp and a.png are two heatmaps; files given by path keep their folders."""
    cell = next(cnmc_samples.rglob("*.bmp"))
    for sub in ("x", "y"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        shutil.copy(cell, tmp_path / "in" / sub / "a.bmp")
        Image.open(cell).save(tmp_path / "in" / sub / "a.png")
    heat = tmp_path / "heat"
    result = classify_folder(clf, tmp_path / "in", heatmaps_dir=heat)
    pngs = sorted(p.relative_to(heat).as_posix() for p in heat.rglob("*.png"))
    assert pngs == ["x/a.bmp.png", "x/a.png.png", "y/a.bmp.png", "y/a.png.png"]
    assert sorted(r.heatmap_path for r in result.rows) == [str(heat / p) for p in pngs]

    files = sorted((tmp_path / "in").rglob("a.*"))
    heat2 = tmp_path / "heat2"
    classify_files(clf, [f.resolve() for f in files], heatmaps_dir=heat2)
    assert sorted(p.relative_to(heat2).as_posix() for p in heat2.rglob("*.png")) == pngs


def test_stop_keeps_finished_rows(clf, folder, tmp_path):
    stop = threading.Event()

    def sink(event):
        if isinstance(event, Progress):
            stop.set()  # press Stop after the first batch

    out = tmp_path / "partial.csv"
    with pytest.raises(Cancelled, match="results so far were saved"):
        classify_folder(clf, folder, out, batch_size=2, sink=sink, cancel=stop)
    rows = read_csv(out)
    assert 2 <= len(rows) < 10


def test_no_csv_requested_writes_nothing(clf, folder, tmp_path):
    result = classify_folder(clf, folder)
    assert result.csv_path is None and len(result.rows) == 10
    assert not list(tmp_path.glob("*.csv"))


def test_patient_summaries_are_listed_in_the_one_patient_order():
    rows = [
        FolderRow(name, patient_from_name(name), _prediction(name))
        for name in ("UID_H2_1_1_hem.bmp", "UID_10_1_1_all.bmp", "UID_2_1_1_all.bmp", "x.bmp")
    ]
    summaries = summarise_patients(rows, ("all", "hem"))
    assert [s.patient for s in summaries] == sorted(["H2", "10", "2"], key=patient_sort_key)
    assert [s.patient for s in summaries] == ["2", "10", "H2"]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_eight_huge_images_with_heatmaps_stay_within_memory(tmp_path, tiny_models):
    """Issue 13 case 25: eight 9000 x 9000 px images with heatmaps took 9.4 GB;
    now one image is decoded at a time and the rest is kept small."""
    import os
    import subprocess

    folder = tmp_path / "scans"
    folder.mkdir()
    Image.new("RGB", (9000, 9000), (130, 80, 150)).save(folder / "scan0.png", compress_level=1)
    for k in range(1, 8):
        shutil.copy(folder / "scan0.png", folder / f"scan{k}.png")
    model = tmp_path / "tiny.onnx"
    tiny_models.export(model)
    # VmHWM, the peak of this process's own memory (ru_maxrss would carry the
    # parent's peak across fork and exec)
    code = (
        "from allgui.cli import main\n"
        f"code = main(['classify', {str(model)!r}, {str(folder)!r}, '--device', 'cpu',\n"
        f"             '--heatmaps', {str(tmp_path / 'heat')!r}])\n"
        "peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print('PEAK_KB', peak, code)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=600).stdout
    peak_kb, exit_code = out.split("PEAK_KB")[1].split()
    assert exit_code == "0"
    assert int(peak_kb) < 1.5 * 2**20, f"peak {int(peak_kb) / 2**20:.1f} GB"
    assert len(list((tmp_path / "heat").glob("*.png"))) == 8
