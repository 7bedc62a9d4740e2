"""The report section of a sampler comparison: best-so-far curves with
bands, and each sampler's final figures (validation and test)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from allgui.core.files.text import count
from allgui.core.model.measures import SAMPLERS, canonical, shown_in
from allgui.core.report.document import Block, Heading, Paragraph, Picture, table
from allgui.core.report.figures import COLOURS, _figure
from allgui.core.validation.samplers import NAMES, SamplerComparison

FILE = "samplers.json"
FOLDER = "sampler-comparisons"  # one folder per comparison, named by its UTC time


def comparison_path(project) -> Path:
    """The newest comparison's file (an older project's reports/samplers.json
    when there is none)."""
    folders = Path(project.reports_dir) / FOLDER
    try:
        made = sorted((f for f in folders.iterdir() if (f / FILE).is_file()),
                      key=lambda f: (f.name.split("-")[:2], _number(f.name)))
    except OSError:
        made = []
    return made[-1] / FILE if made else Path(project.reports_dir) / FILE


def _number(name: str) -> int:
    parts = name.split("-")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1


def save_comparison(project, comparison: SamplerComparison) -> Path:
    """A comparison in a folder of its own: an earlier one is never replaced."""
    import datetime as dt

    from allgui.core.files.atomic import atomic_write_text
    from allgui.core.files.fresh import fresh_folder

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = fresh_folder(Path(project.reports_dir) / FOLDER, stamp, "the sampler comparison")
    path = folder / FILE
    atomic_write_text(path, json.dumps(comparison.to_dict(), indent=1))
    return path


def load_comparison(project) -> SamplerComparison | None:
    path = comparison_path(project)
    try:
        return SamplerComparison.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def curves_figure(c: SamplerComparison) -> Figure:
    fig = _figure(5.6, 3.8)
    ax = fig.add_subplot()
    x = np.arange(1, c.trials + 1)
    for k, name in enumerate(c.samplers()):
        mean, low, high = c.band(name)
        colour = COLOURS[k % len(COLOURS)]
        ax.plot(x, mean, color=colour, label=NAMES[name])
        ax.fill_between(x, low, high, color=colour, alpha=0.2)
    ax.set_xlabel("trial")
    ax.set_ylabel(f"best validation {c.objective} so far")
    ax.legend(fontsize=8)
    return fig


HEADER = ["Sampler", "Studies", "Best validation (mean ± SD)", "Test balanced accuracy",
          "Test weighted F1", "Best trial in the shared start"]


def spread(values: list[float]) -> str:
    """'mean ± SD (min-max)' over studies; one study: its value and 'no spread'."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f} (one study: no spread)"
    return (f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f} "
            f"({min(values):.4f}-{max(values):.4f})")


def rows(c: SamplerComparison) -> list[list[str]]:
    """One row per sampler: the final best validation value and each test
    figure over the studies with their spread, and how often the best trial
    came from the random start every sampler shares."""
    out = []
    for name in c.samplers():
        runs = [s for s in c.studies if s.sampler == name]
        finals = [s.best_so_far[-1] for s in runs]
        cells = [NAMES[name], str(len(runs)),
                 f"{np.mean(finals):.4f} ± {np.std(finals, ddof=1) if len(finals) > 1 else 0:.4f}"]
        for key in shown_in(SAMPLERS):
            cells.append(spread([canonical(s.test)[key] for s in runs
                                 if key in canonical(s.test)]))
        start, n = c.best_in_start(name)
        cells.append(f"{start} of {n}" if c.startup else "-")
        out.append(cells)
    return out


def start_note(c: SamplerComparison) -> str:
    """A warning when the shared random start decided most studies."""
    if not c.startup or not c.studies:
        return ""
    start = sum(c.best_in_start(s)[0] for s in c.samplers())
    if start * 2 > len(c.studies):
        return (f"In {start} of {len(c.studies)} studies the best trial was one of the "
                f"{c.startup} random trials every sampler shares, so these studies cannot tell "
                "the samplers apart; run more trials per study.")
    return ""


def sampler_section(c: SamplerComparison) -> list[Block]:
    out: list[Block] = [
        Heading("Sampler comparison"),
        Paragraph(f"TPE against other samplers over repeated studies of {c.trials} trials on the "
                  f"same cached features ({c.features_note}); {c.seconds:.0f} s in all. "
                  + (f"Each study starts with {count(c.startup, 'random trial')}, drawn alike for "
                     "every sampler (the same seed), and each sampler models the results after "
                     "them. " if c.startup else "")
                  + "The band spans the studies' lowest and highest best-so-far values; the test figures are "
                  "those of each study's best trial, averaged over the studies."),
        Picture("Best validation objective so far, mean over studies with their range.",
                curves_figure(c)),
        table("Samplers: final best validation value and test figures of the best trials",
              HEADER, rows(c), note="Test figures: mean ± SD over the studies (range in "
              "brackets), each study's best trial scored on the same test images. "
              + start_note(c)),
    ]
    for name, why in c.unavailable.items():
        out.append(Paragraph(f"{NAMES.get(name, name)} did not run: {why}"))
    return out
