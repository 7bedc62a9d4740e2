"""Where ``classify`` writes, checked before the first image is read.

The results CSV, its per-patient companion and every heatmap PNG go through
:func:`allgui.core.files.outputs.check_output`: none may replace an image
being classified or the model (not even with ``force``), nor a file allgui
did not write (without ``force``); their folders must take a file. So a
typo such as ``--csv cell.bmp`` or an unwritable ``--heatmaps`` folder is
named at once, not found out after an hour's run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from allgui.core.files.outputs import Inputs, check_folder_writable, check_output, starts_with
from allgui.core.infer.heatmap import is_heatmap_png

# The first bytes of the CSVs allgui writes (see folder.results_csv_text).
RESULTS_HEADER = b"path,class,"
PATIENTS_HEADER = b"patient,images,"


def patients_csv_path(csv_path: str | os.PathLike) -> Path:
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.stem + "_patients.csv")


def check_targets(
    files: Sequence[Path],
    csv_path: str | os.PathLike | None,
    heatmaps_dir: str | os.PathLike | None,
    heat_names: Mapping[Path, Path],
    model: str | os.PathLike,
    force: bool = False,
) -> None:
    """Raise OutputError for the first output that must not be written."""
    inputs = Inputs([*files, model])  # once: a folder may hold 100,000 images
    if csv_path is not None:
        check_output(csv_path, inputs=inputs, force=force, ours=starts_with(RESULTS_HEADER),
                     what="the results")
        check_output(patients_csv_path(csv_path), inputs=inputs, force=force,
                     ours=starts_with(PATIENTS_HEADER), what="the per-patient results")
        check_folder_writable(Path(csv_path).parent, "the results")
    if heatmaps_dir is not None:
        check_folder_writable(heatmaps_dir, "the heatmaps")
        for name in heat_names.values():
            check_output(Path(heatmaps_dir) / name, inputs=inputs, force=force,
                         ours=is_heatmap_png, what="a heatmap")
