"""The report's "Deviations from the published study": every recorded
setting compared with the study's method as :mod:`allgui.core.protocols`
stores it, one row per difference (item | study | this run | why).

Under the ``paper`` protocol the table holds only what no setting can match
(the framework, the exact ImageNet weights, a CPU's fp32); under
``recommended`` each of allgui's choices with its reason; anything else is a
setting changed for this project, and says so.
"""

from __future__ import annotations

from typing import Any

from allgui.core import protocols
from allgui.core.report.document import Block, Heading, Paragraph, table
from allgui.core.report.methods import NOT_RECORDED, AsRun

STUDY_IMAGE_SIZE = 224
STUDY_BACKBONE = "efficientnet_b2"
# Keys whose study value is "a fresh draw every epoch", whatever number of views gives it.
FRESH_KEYS = ("search.views", "validation.views")
CANNOT = "cannot be matched: "


def _words(key: str, value: Any) -> str:
    if key in FRESH_KEYS:
        if value == "fresh":
            return "a fresh augmentation draw every epoch"
        if value == "search":
            return "the search's views, reused across epochs"
        return f"{value} views reused across epochs"
    return protocols.words(value)


def _why(choice: protocols.Choice, value: Any, run: AsRun) -> str:
    wanted = "fresh" if choice.key == "search.views" else choice.paper
    recommended = "fresh" if choice.key == "search.views" else choice.recommended
    if value == recommended and recommended != wanted:
        return "allgui's recommended protocol: " + choice.reason
    if run.protocol == protocols.PAPER:
        return ("changed from the study's protocol for this project (project.toml or a "
                "command option)")
    return "set for this project (neither the study's value nor allgui's recommended one)"


def deviation_rows(run: AsRun) -> list[tuple[str, str, str, str]]:
    """(item, study, this run, why) for every recorded value that differs from the study."""
    rows: list[tuple[str, str, str, str]] = []
    for c in protocols.CHOICES:
        value = run.get(c.key)
        if value is None:
            continue  # not run yet (no batch): nothing to compare
        wanted = "fresh" if c.key in FRESH_KEYS else c.paper
        if value == wanted:
            continue
        rows.append((c.label, c.study, _words(c.key, value), _why(c, value, run)))
    size = run.get("dataset.image_size")
    if size is not None and size != STUDY_IMAGE_SIZE:
        rows.append(("Image size", f"{STUDY_IMAGE_SIZE} x {STUDY_IMAGE_SIZE} pixels",
                     f"{size} x {size} pixels", "set for this project (image size)"))
    backbone = run.get("model.backbone")
    if backbone is not None and backbone != STUDY_BACKBONE:
        rows.append(("Backbone", "EfficientNet-B2", str(backbone),
                     "set for this project (model.backbone)"))
    if run.get("model.finetune_stages"):
        rows.append(("Backbone training", "frozen",
                     f"last {run.get('model.finetune_stages')} stages trained",
                     "set for this project (model.finetune_stages)"))
    used = run.get("precision_used")
    if used is not None and run.get("search.precision") == "fp16" and used != "fp16":
        rows.append(("Precision as computed", "mixed precision (fp16) on a GPU", str(used),
                     CANNOT + "no GPU ran these runs, and a CPU computes in fp32."))
    tag = str(run.training.get("weights_tag") or NOT_RECORDED)
    for item, study, why in protocols.UNMATCHED:
        this = "PyTorch and timm" if item == "Framework" else tag
        if item != "Framework" and tag.startswith(("random", "local file")):
            why = "set for this project (model.weights): not ImageNet weights at all"
        else:
            why = CANNOT + why
        rows.append((item, study, this, why))
    return rows


def deviations_section(run: AsRun) -> list[Block]:
    rows = deviation_rows(run)
    unmatched = sum(r[3].startswith(CANNOT) for r in rows)
    chosen = sum(r[3].startswith("allgui's recommended") for r in rows)
    changed = len(rows) - unmatched - chosen
    title = protocols.protocol(run.protocol).title
    summary = (f"This project follows the protocol '{run.protocol}' ({title}). Its recorded "
               f"settings differ from the published study in {len(rows)} items: {unmatched} "
               f"that no setting can match, {chosen} of allgui's recommended choices and "
               f"{changed} set for this project.")
    if run.batch is None:
        summary += " No validation batch yet: the final runs' settings are not compared."
    return [Heading("Deviations from the published study"), Paragraph(summary),
            table("The study's method against what this project recorded",
                  ["Item", "Study", "This run", "Why"], rows,
                  note="Computed from the settings the study and the batch recorded, against "
                  "the study's method as allgui stores it (allgui.core.protocols); "
                  "'allgui protocol' shows both protocols with their reasons.")]
