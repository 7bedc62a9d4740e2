"""``allgui demo``: the whole headless path on synthetic data."""

from __future__ import annotations

import csv

from allgui.cli import main


def test_demo_walks_from_synthetic_data_to_classified_images(tmp_path, capsys):
    root = tmp_path / "demo"
    code = main(["demo", str(root), "--trials", "3", "--runs", "1", "--epochs", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    for step in range(1, 6):
        assert f"Step {step}/5" in out
    assert "SYNTHETIC" in out
    models = list((root / "models").glob("*.onnx"))
    assert len(models) == 1
    with open(root / "demo-classified.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert {row["class"] for row in rows} <= {"all", "hem"}
    assert all(row["error"] == "" for row in rows)
    assert len(list((root / "heatmaps").rglob("*.png"))) == 4
