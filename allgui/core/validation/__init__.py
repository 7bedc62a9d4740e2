"""Validation batches: the chosen configuration trained N times on different
seeds (optionally with a baseline on the same seeds), evaluated on a test set
the search never saw, with statistics across runs.

Public API::

    run_batch(project, ValidationSettings(...), sink, cancel) -> Batch
    latest_batch(project) -> Batch | None      # batch.chosen_run().checkpoint
    list_batches(project), load_batch(folder)
    analyse(batch) -> BatchAnalysis
"""

from allgui.core.validation.analysis import BatchAnalysis, analyse
from allgui.core.validation.batch import Batch, latest_batch, list_batches, load_batch
from allgui.core.validation.run import ValidationSettings, parse_params, run_batch
from allgui.core.validation.run_record import BASELINE, TUNED, Configuration, RunRecord

__all__ = [
    "BASELINE",
    "TUNED",
    "Batch",
    "BatchAnalysis",
    "Configuration",
    "RunRecord",
    "ValidationSettings",
    "analyse",
    "latest_batch",
    "list_batches",
    "load_batch",
    "parse_params",
    "run_batch",
]
