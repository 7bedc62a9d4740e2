"""``allgui evaluate`` under the rules every command follows (issue 25, cases
2, 6 and 16): the model's own decision rule in every figure, a threshold no
model may carry refused when read, never a user's file or a run's files
replaced, a folder of its own beside the model by default, and one class
said plainly."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from allgui.cli import main
from allgui.core.errors import DatasetError, ModelFileError
from allgui.core.infer import Classifier, read_model_info
from allgui.core.validation.external import evaluate_model
from tests.support.onnx_models import export_tiny, handmade_model


@pytest.fixture()
def labelled(tmp_path, cnmc_samples):
    root = tmp_path / "centre"
    for label in ("all", "hem"):
        (root / label).mkdir(parents=True)
        for p in sorted((cnmc_samples / label).glob("*.bmp")):
            shutil.copy(p, root / label / p.name)
    return root


def test_evaluate_scores_with_the_threshold_classify_applies(tmp_path, labelled):
    images = sorted(labelled.rglob("*.bmp"))
    truth = [p.parent.name for p in images]
    model, plain = export_tiny(tmp_path / "plain.onnx")
    argmax = [p.label for p in Classifier(plain.path).classify_many(images, heatmap=False)]
    # a threshold that changes the answers, whatever this tiny model leans to
    threshold = 1 - 1e-6 if set(argmax) == {"all"} else 1e-6
    _, strict = export_tiny(tmp_path / "strict.onnx", model, decision_threshold=threshold)
    answers = [p.label for p in Classifier(strict.path).classify_many(images, heatmap=False)]
    assert answers != argmax
    result = evaluate_model(strict.path, labelled, device="cpu", resamples=50)
    right = sum(a == t for a, t in zip(answers, truth, strict=True))
    assert result.metrics.accuracy == pytest.approx(right / len(images))
    by_path = dict(zip(map(str, images), answers, strict=True))
    predicted = [result.classes[int(i)] for i in result.rule.predict(result.probabilities)]
    assert predicted == [by_path[p] for p in result.paths]  # the gallery's answers too
    out = tmp_path / "report"
    assert main(["evaluate", strict.path, str(labelled), "--out", str(out), "--device", "cpu",
                 "--resamples", "50"]) == 0
    assert json.loads((out / "evaluation.json").read_text())["decision_threshold"] == threshold
    rows = (out / "predictions.csv").read_text().splitlines()[1:]
    assert sorted(r.split(",")[3] for r in rows) == sorted(answers)


def test_a_threshold_no_model_may_carry_is_refused_when_read(tmp_path, labelled, capsys):
    for bad in (1.5, 0.0, -0.2):
        path = handmade_model(tmp_path / f"t{bad}.onnx", decision_threshold=bad)
        with pytest.raises(ModelFileError, match="decision threshold"):
            read_model_info(path)
        assert main(["evaluate", str(path), str(labelled), "--out", str(tmp_path / "o")]) != 0
        assert "decision threshold" in capsys.readouterr().err
        assert main(["classify", str(path), str(labelled)]) != 0
        assert "decision threshold" in capsys.readouterr().err


def test_evaluate_never_replaces_a_users_files_or_a_runs_files(tmp_path, labelled, capsys):
    _, exported = export_tiny(tmp_path / "m.onnx")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "predictions.csv").write_text("my own work\n")
    args = ["evaluate", exported.path, str(labelled), "--device", "cpu", "--resamples", "50"]
    assert main([*args, "--out", str(mine)]) != 0
    assert (mine / "predictions.csv").read_text() == "my own work\n"
    assert "--force" in capsys.readouterr().err
    run = tmp_path / "project" / "runs" / "20260101-000000" / "run-1"
    run.mkdir(parents=True)
    (run.parent / "batch.json").write_text("{}")
    (run / "predictions.csv").write_text("the run's own\n")
    assert main([*args, "--out", str(run), "--force"]) != 0
    assert (run / "predictions.csv").read_text() == "the run's own\n"
    assert main([*args, "--out", str(mine), "--force"]) == 0  # asked for: replaced
    assert (mine / "evaluation.json").is_file()


def test_evaluate_dot_writes_a_new_folder_beside_the_model_each_time(tmp_path, labelled,
                                                                     monkeypatch):
    _, exported = export_tiny(tmp_path / "models" / "m.onnx")
    monkeypatch.chdir(labelled)
    for _ in range(2):
        assert main(["evaluate", exported.path, ".", "--device", "cpu",
                     "--resamples", "50"]) == 0
    made = sorted(p.name for p in (tmp_path / "models").iterdir() if p.is_dir())
    assert made == ["evaluation-m", "evaluation-m-2"]
    assert all((tmp_path / "models" / m / "evaluation.json").is_file() for m in made)
    assert not [p for p in labelled.iterdir() if p.name.startswith("evaluation")]


def test_evaluate_on_one_class_says_so_plainly(tmp_path, labelled, capsys):
    _, exported = export_tiny(tmp_path / "m.onnx")
    shutil.rmtree(labelled / "hem")
    with pytest.raises(DatasetError, match="all of class 'all'") as caught:
        evaluate_model(exported.path, labelled, device="cpu")
    assert "split" not in caught.value.message and "'hem'" in caught.value.message
    assert main(["evaluate", exported.path, str(labelled), "--device", "cpu"]) != 0
    assert not os.path.exists(tmp_path / "evaluation-m")  # its new folder went again
