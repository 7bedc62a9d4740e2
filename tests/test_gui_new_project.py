"""File > New checks the backbone as every search does before training: a
transformer without a spatial feature map, or a name timm does not know, is
refused in the dialog with a sentence, not after a whole search at export."""

from __future__ import annotations

import pytest

from allgui.core.project import CONFIG_NAME

pytestmark = pytest.mark.gui


@pytest.fixture
def form(qtbot, tmp_path):
    from allgui.gui.new_project import NewProjectForm

    form = NewProjectForm(None, tmp_path / "projects")
    qtbot.addWidget(form)
    form.weights.setCurrentIndex(form.weights.findData("none"))
    return form


def _type_backbone(form, name: str) -> None:
    form.backbone.setEditText(name)
    form.backbone.lineEdit().editingFinished.emit()  # as pressing Enter or leaving the field


def test_a_transformer_is_refused_when_picked_and_on_create(form, tmp_path):
    _type_backbone(form, "test_vit")
    assert "gives no spatial feature map" in form.problem.text()
    assert "test_vit" in form.problem.text()

    form.try_accept()  # Create project
    assert not form.result() and "gives no spatial feature map" in form.problem.text()
    assert not (tmp_path / "projects" / "my-project" / CONFIG_NAME).exists()


def test_an_unknown_name_is_refused_with_the_names_timm_offers(form):
    _type_backbone(form, "efficientnet_b22")
    assert "is not one timm knows" in form.problem.text()
    assert "efficientnet_b2" in form.problem.text()  # the close match, to pick instead


def test_a_convolutional_backbone_clears_the_sentence_and_is_made(form):
    _type_backbone(form, "test_vit")
    assert form.problem.text()
    _type_backbone(form, "test_efficientnet")
    assert form.problem.text() == ""
    form.try_accept()
    assert form.result()
    _folder, settings = form.values()
    assert settings.model.backbone == "test_efficientnet"
