"""One run of a validation batch as batch.json records it, and the
configuration runs train with.

Runs are labelled 'tuned', 'baseline' or 'probe' and numbered from 1 within
their label; each keeps its files in its own folder of the batch
(``run-<k>``, ``baseline-<k>``, ``probe``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allgui.core.files.untrusted import inside, plain_name
from allgui.core.validation.metrics import RunMetrics

TUNED, BASELINE, PROBE = "tuned", "baseline", "probe"
_FOLDER_PREFIX = {TUNED: "run", BASELINE: "baseline", PROBE: "probe"}


@dataclass(frozen=True)
class RunRecord:
    """One training run of a batch (``label`` 'tuned', 'baseline' or 'probe', ``index`` from 1)."""

    label: str
    index: int
    seed: int
    status: str  # 'finished' or 'failed'
    folder: str = ""  # absolute path of the run's folder
    epochs_run: int = 0
    best_epoch: int = 0  # 1-based epoch whose weights were kept
    duration_s: float = 0.0
    reason: str = ""  # why it failed
    metrics: RunMetrics | None = None
    curves: dict[str, list[float]] = field(default_factory=dict)  # per-epoch figures
    # temperature and reliability before/after on the test set (validation.calibration)
    calibration: dict[str, Any] = field(default_factory=dict)

    @property
    def kept_val_loss(self) -> float | None:
        """The validation loss at the epoch whose weights were kept."""
        losses = self.curves.get("val_loss") or []
        if not 1 <= self.best_epoch <= len(losses) or not math.isfinite(losses[self.best_epoch - 1]):
            return None
        return float(losses[self.best_epoch - 1])

    @property
    def name(self) -> str:
        return f"{_FOLDER_PREFIX.get(self.label, self.label)}-{self.index}"

    @property
    def finished(self) -> bool:
        return self.status == "finished" and self.metrics is not None

    @property
    def kept(self) -> bool:
        """Finished, and its files still there: a continued batch runs again a
        run whose folder (or checkpoint, or predictions) was deleted."""
        return self.finished and self.checkpoint.is_file() and self.predictions_path.is_file()

    @property
    def checkpoint(self) -> Path:
        return Path(self.folder) / "checkpoint.pt"

    @property
    def predictions_path(self) -> Path:
        return Path(self.folder) / "predictions.csv"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "index": self.index,
            "seed": self.seed,
            "status": self.status,
            "folder": Path(self.folder).name,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "duration_s": self.duration_s,
            "reason": self.reason,
            "metrics": self.metrics.to_dict() if self.metrics else None,
            "curves": self.curves,
            "calibration": self.calibration,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], batch_dir: Path) -> RunRecord:
        # batch.json is read as untrusted: a run's folder is one name inside the batch
        label = data["label"]
        if label not in _FOLDER_PREFIX:
            raise ValueError(f"unknown run label {label!r}")
        index = int(data["index"])
        # no folder recorded (a run that failed before making one): its usual name,
        # so its files are never looked for wherever the command happens to run
        name = data.get("folder") or f"{_FOLDER_PREFIX[label]}-{index}"
        name = plain_name(name, "A run's folder in batch.json")
        folder = str(inside(batch_dir, name, "A run's folder in batch.json"))
        return cls(
            label=label,
            index=index,
            seed=int(data["seed"]),
            status=str(data["status"]),
            folder=folder,
            epochs_run=int(data.get("epochs_run", 0)),
            best_epoch=int(data.get("best_epoch", 0)),
            duration_s=float(data.get("duration_s", 0.0)),
            reason=data.get("reason", ""),
            metrics=RunMetrics.from_dict(data["metrics"]) if data.get("metrics") else None,
            curves={k: [float(x) for x in v] for k, v in (data.get("curves") or {}).items()},
            calibration=dict(data.get("calibration") or {}),
        )


@dataclass(frozen=True)
class Configuration:
    """The hyperparameters a run trains with, and where they came from."""

    params: dict[str, Any]  # lr, weight_decay, dropout1, dropout2, hidden, batch_size, ...
    source: str  # 'trial 7 (best of the study)', 'trial 3', 'entered by the user', ...
    trial: int | None = None  # the study's trial number, when from a trial

    def to_dict(self) -> dict[str, Any]:
        return {"params": dict(self.params), "source": self.source, "trial": self.trial}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Configuration:
        return cls(dict(data["params"]), data["source"], data.get("trial"))
