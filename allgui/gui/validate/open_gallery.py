"""Opening the mistakes gallery from the Validate tab: the run's predictions,
the images asked for, and their thumbnails and heatmaps are read on a job's
thread; the gallery opens when they are in."""

from __future__ import annotations

import threading

from allgui.core.events import Sink
from allgui.gui.validate.mistakes import (
    GalleryContents,
    Selection,
    items_of,
    load_pictures,
    model_of_run,
    select,
)


def gather(batch, run, selection: Selection, models_dir, sink: Sink,
           cancel: threading.Event) -> GalleryContents:
    from allgui.core.validation.batch import TUNED, read_predictions

    preds = read_predictions(run.predictions_path, batch.classes)
    chosen, total = select(items_of(preds, batch.positive_class), selection, batch.positive_class)
    model = model_of_run(models_dir, run.checkpoint)
    no_model = ""
    if model is None:
        best = batch.chosen_run()
        if run.label == TUNED and best is not None and best.index == run.index:
            no_model = ("No heatmaps yet: export this run's model ('Export model' below) and "
                        "open the gallery again to see where the model looked.")
        else:
            no_model = ("No heatmaps: only the chosen run's model is exported, and heatmaps "
                        "come from an exported model.")
    return load_pictures(chosen, total, model, no_model, sink, cancel)


def start_gallery(tab, batch, run, selection: Selection) -> None:
    from allgui.gui.validate.gallery import MistakesGallery

    title = selection.title(f"{run.label} run {run.index}")

    def show(contents: GalleryContents) -> None:
        if tab.gallery is not None:
            tab.gallery.close()
        tab.gallery = MistakesGallery(tab, title, contents, tab.project.reports_dir)
        tab.gallery.show()
        tab.log(f"Gallery opened: {title}, {len(contents.items)} of {contents.total} images.")

    tab.start_job("Reading the images", gather, batch, run, selection, tab.project.models_dir,
                  on_success=show,
                  on_failure=lambda exc: tab.show_error(exc, "The images cannot be shown"))
