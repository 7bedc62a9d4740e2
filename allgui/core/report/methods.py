"""The report's "Methods as run": every training choice as the study and the
validation batch recorded it (never as the settings say now), in one table.

:func:`as_run` gathers the recorded values once, keyed as the protocols key
them (:mod:`allgui.core.protocols`), so the deviation table
(:mod:`allgui.core.report.deviations`) compares the same values this section
prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from allgui.core import protocols
from allgui.core.model.measures import short as measure_words
from allgui.core.project import Project
from allgui.core.report.document import Block, Heading, Paragraph, table
from allgui.core.report.study_facts import StudyFacts
from allgui.core.search.record import StudyRecord
from allgui.core.validation.batch import Batch

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class AsRun:
    """What a project's study and batch recorded, keyed as the protocols key it."""

    protocol: str
    values: Mapping[str, Any] = field(default_factory=dict)  # 'search.trials' -> 20, ...
    search: Mapping[str, Any] = field(default_factory=dict)  # the study's recorded settings
    sampler: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)  # the batch's recipe
    batch: Batch | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def _study_settings(study: StudyFacts | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if study is None:
        return {}, {}
    made = StudyRecord.from_attrs(study.name, study.settings).allgui or {}
    settings = made.get("settings")
    sampler = made.get("sampler")
    return (dict(settings) if isinstance(settings, dict) else {},
            dict(sampler) if isinstance(sampler, dict) else {})


def fresh(mode: str, views: Any, epochs: Any) -> bool:
    """Whether every epoch saw a fresh augmentation draw."""
    return mode == "online" or (isinstance(views, int) and isinstance(epochs, int)
                                and views >= epochs)


def as_run(project: Project, batch: Batch | None, study: StudyFacts | None) -> AsRun:
    """The recorded values: the study's for the search, the batch's for the
    final runs, the project's only where neither recorded them."""
    search, sampler = _study_settings(study)
    if not search:
        search = dict(project.settings.search)  # no study yet: what a search would use
    from allgui.core.search.settings import SearchSettings

    defaults = SearchSettings().to_dict()
    v: dict[str, Any] = {}
    for c in protocols.CHOICES:
        if c.section == "search":
            # Older studies lack the newer keys: allgui then did what its defaults say.
            v[c.key] = search.get(c.name, defaults.get(c.name))
    v["search.views"] = ("fresh" if fresh(str(search.get("mode") or "cached"),
                                          search.get("views"), search.get("epochs"))
                         else search.get("views"))
    training: dict[str, Any] = dict(batch.model.training) if batch else {}
    if batch is not None:
        v["split.method"] = batch.split.method or project.settings.split.method
        v["validation.runs"] = len(batch.seeds)
        v["validation.epochs"] = batch.max_epochs
        v["validation.patience"] = batch.patience
        v["validation.views"] = ("fresh" if fresh(batch.model.mode, batch.model.views,
                                                  batch.max_epochs) else
                                 "search" if batch.model.views == search.get("views")
                                 else batch.model.views)
        v["validation.baseline"] = "none" if batch.baseline is None else "default"
        v["validation.probe"] = bool(batch.probe is not None or training.get("probe"))
        v["dataset.image_size"] = batch.model.image_size
        v["model.backbone"] = batch.model.backbone
        v["model.finetune_stages"] = batch.model.finetune_stages
        v["precision_used"] = training.get("precision_used")
    else:
        v["split.method"] = project.settings.split.method
        v["dataset.image_size"] = project.settings.dataset.image_size
        v["model.backbone"] = project.settings.model.backbone
        v["model.finetune_stages"] = project.settings.model.finetune_stages
    return AsRun(project.settings.protocol, v, search, sampler, training, batch)


def _value(value: Any) -> str:
    return NOT_RECORDED if value is None else protocols.words(value)


def augmentation_text(values: Mapping[str, Any]) -> str:
    """The augmentation of a search (or batch) record in words."""
    p = values.get("augment_probability", values.get("probability"))
    rot = values.get("augment_rotation", values.get("rotation_deg"))
    shift = values.get("augment_shift", values.get("shift"))
    shear = values.get("augment_shear", values.get("shear"))
    zoom = values.get("augment_zoom", values.get("zoom"))
    flip = values.get("augment_flip", values.get("hflip"))
    if p is None:
        return NOT_RECORDED
    share = ("every training image transformed" if p >= 1 else
             f"each training image transformed with probability {p:g} (else only flipped)")
    return (f"{share}; rotation up to {_value(rot)} degrees, shifts {_value(shift)} of the "
            f"width and height, shear factor {_value(shear)}, zoom {_value(zoom)} per axis"
            + (", horizontal flip" if flip else ", no flip")
            + "; one affine resampling (bilinear, border repeated) per image")


def _views_text(mode: Any, views: Any, epochs: Any) -> str:
    if mode == "online":
        return "online: a fresh augmentation draw every epoch"
    if views is None:
        return NOT_RECORDED
    if fresh(str(mode), views, epochs):
        # A job computes only the views its epochs read (train/views.py).
        if isinstance(epochs, int) and views > epochs:
            return (f"{epochs} augmented views computed once ({views} set, capped at the "
                    f"{epochs} epochs that read them), one per epoch: a fresh draw every epoch")
        return f"{views} augmented views computed once, one per epoch: a fresh draw every epoch"
    reuse = f"{epochs / views:.3g}" if isinstance(epochs, int) and views else "?"
    return (f"{views} augmented views computed once and cycled over {epochs} epochs: each "
            f"view used about {reuse} times")


def _head_text(params: Mapping[str, Any], n_classes: int) -> str:
    def p(name: str) -> str:
        x = params.get(name)
        return NOT_RECORDED if x is None else f"{x:.3g}" if isinstance(x, float) else str(x)

    return (f"global average pooling -> dropout {p('dropout1')} -> dense {p('hidden')} + ReLU "
            f"-> dropout {p('dropout2')} -> dense {n_classes} (softmax)")


def methods_rows(run: AsRun) -> list[list[str]]:
    """(item, as run) rows of the methods table."""
    s, t, b = run.search, run.training, run.batch
    proto = protocols.protocol(run.protocol)
    rows = [["Protocol", f"{run.protocol}: {proto.title}"]]
    split = b.split if b is not None else None
    rows.append(["Split", (f"{split.method}, seed {split.seed}, validation share "
                           f"{split.val_fraction:g}, test: {b.test_set if b else '?'}"
                           + (" (image-level: leaky, a patient's cells on both sides)"
                              if split.leaky else "")) if split is not None
                 else str(run.get("split.method"))])
    rows.append(["Preprocessing", f"each image decoded once, made RGB and resized to "
                 f"{run.get('dataset.image_size')} x {run.get('dataset.image_size')} pixels with "
                 "area averaging (Pillow's box filter, as OpenCV's INTER_AREA)"])
    norm = t.get("normalisation") or {}
    rows.append(["Normalisation", (f"the backbone's own: mean {_floats(norm.get('mean'))}, "
                                   f"standard deviation {_floats(norm.get('std'))}")
                 if norm else NOT_RECORDED])
    stages = run.get("model.finetune_stages") or 0
    rows.append(["Backbone", f"{run.get('model.backbone')}, "
                 + ("frozen" if not stages else f"last {stages} stages trained")
                 + f"; weights: {t.get('weights_tag') or NOT_RECORDED}"])
    if b is not None:
        rows.append(["Head (tuned configuration)", _head_text(b.tuned.params, len(b.classes))])
    rows.append(["Augmentation (search)", augmentation_text(s)])
    rows.append(["Views (search)", _views_text(s.get("mode"), s.get("views"), s.get("epochs"))])
    if b is not None:
        rows.append(["Augmentation (final runs)", augmentation_text(t.get("augmentation") or {})])
        rows.append(["Views (final runs)", _views_text(b.model.mode, b.model.views,
                                                       b.max_epochs)
                     + (" (the search's views, shared by every run)"
                        if b.model.shared_views else "")])
    weights = t.get("class_weights") or {}
    rows.append(["Class weights (training loss)",
                 ", ".join(f"{k} {float(w):.4g}" for k, w in weights.items())
                 + " (n_total / (n_classes x n_class), from the training part)"
                 if weights else NOT_RECORDED])
    val_loss = s.get("val_loss", t.get("val_loss"))
    rows.append(["Loss", "class-weighted cross-entropy for training; validation loss "
                 + (f"{val_loss}" if val_loss else NOT_RECORDED)
                 + (" (the same class weights)" if val_loss == "weighted" else
                    " (each image counts once)" if val_loss == "unweighted" else "")])
    rows.append(["Optimiser", (f"{t.get('optimizer', 'AdamW')} (betas "
                               f"{_floats(t.get('betas', [0.9, 0.999]))}, eps "
                               f"{t.get('eps', 1e-8):g}); learning rate and weight decay "
                               "as tuned")])
    rows.append(["Learning-rate schedule", f"ReduceLROnPlateau on validation loss (patience "
                 f"{t.get('lr_patience', 5)}, factor {t.get('lr_factor', 0.1):g})"])
    patience = b.patience if b is not None else t.get("early_stopping_patience")
    rows.append(["Early stopping", f"after {patience} epochs without a lower validation loss;"
                 " the weights of the lowest validation loss kept"])
    precision = s.get("precision", t.get("precision"))
    used = t.get("precision_used")
    rows.append(["Precision", f"{precision or NOT_RECORDED} autocast on a GPU, head in fp32"
                 + (f"; the runs computed in {used}" if used else "")])
    rows.append(["Sampler", _sampler_text(run.sampler, s)])
    rows.append(["Search budget", f"{s.get('trials', '?')} trials x {s.get('epochs', '?')} "
                 f"epochs, objective {measure_words(s.get('objective', '?'))} on the validation part, pruning "
                 f"{s.get('pruning', '?')}"])
    rows.append(["Value of a trial", _trial_value_text(s.get("trial_value"))])
    if b is not None:
        rows.append(["Final runs", f"{len(b.seeds)} runs (seeds "
                     f"{', '.join(map(str, b.seeds))}) x up to {b.max_epochs} epochs; "
                     + (f"baseline: {b.baseline.source}" if b.baseline else "no baseline")
                     + ("; linear probe" if b.probe is not None else "; no linear probe")])
    return rows


def _floats(values: Any) -> str:
    if not isinstance(values, (list, tuple)):
        return NOT_RECORDED
    return "(" + ", ".join(f"{float(v):.4g}" for v in values) + ")"


def _sampler_text(sampler: Mapping[str, Any], search: Mapping[str, Any]) -> str:
    if not sampler and not search:
        return NOT_RECORDED
    multivariate = sampler.get("multivariate", search.get("multivariate"))
    startup = sampler.get("n_startup_trials", search.get("startup_trials"))
    return (f"Optuna {sampler.get('sampler', 'TPESampler')}"
            + (f" {sampler['optuna_version']}" if sampler.get("optuna_version") else "")
            + f", {'multivariate' if multivariate else 'independent (Optuna default)'}, "
            f"{startup} random start trials, {sampler.get('n_ei_candidates', 24)} candidates, "
            f"seed {sampler.get('seed', search.get('seed', '?'))}")


TRIAL_VALUE_WORDS = {
    "kept_epoch": "the objective at the epoch whose weights are kept (lowest validation loss)",
    "last_epoch": "the objective at the last epoch run",
    "best_epoch_objective": "the best objective of any epoch",
}


def _trial_value_text(rule: Any) -> str:
    return TRIAL_VALUE_WORDS.get(str(rule), NOT_RECORDED)


def search_augmentation(project: Project, study: StudyFacts | None) -> str:
    """How the search augmented its images, as its study recorded it."""
    search, _ = _study_settings(study)
    search = search or dict(project.settings.search)
    return (f"Augmentation in the search: {augmentation_text(search)}; "
            f"{_views_text(search.get('mode'), search.get('views'), search.get('epochs'))}.")


def methods_section(run: AsRun) -> list[Block]:
    out: list[Block] = [Heading("Methods as run")]
    out.append(Paragraph(
        "Every training choice of this project as the study and the validation batch "
        "recorded it when they ran (not as the settings read now); the next section sets "
        "them against the published study's method."))
    out.append(table("Methods as recorded by the study and the validation batch",
                     ["Item", "As run"], methods_rows(run)))
    return out
