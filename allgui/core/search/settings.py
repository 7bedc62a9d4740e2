"""How a study searches (project.toml's ``[search]`` section), torch-free so
the window can read and check it on its own thread: the settings, the
resume check, the mode check and the one sampler and pruner builders."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from allgui.core.checks import SettingError, check_device, check_fields, check_text
from allgui.core.errors import AllguiError
from allgui.core.model.measures import OBJECTIVES, name_of
from allgui.core.project import Project
from allgui.core.search.space import SearchSpace
from allgui.core.train.objective import MODES, check_mode

PRUNERS = ("none", "median", "hyperband")
# As allgui.core.train (torch-free here): precision on a GPU, validation loss, trial value.
PRECISIONS = ("bf16", "fp16", "fp32")
VAL_LOSSES = ("unweighted", "weighted")
TRIAL_VALUES = ("kept_epoch", "last_epoch", "best_epoch_objective")
# As allgui.core.train.runtime.CHOICES and PRECISIONS (torch-free here): the CPU feature
# engines and their precisions.
FEATURE_PATHS = ("auto", "torch", "onnxruntime", "openvino")
FEATURE_PRECISIONS = ("fp32", "bf16", "int8")


class SearchError(AllguiError):
    """The search cannot start as asked (settings, or a study of other settings)."""


def _not_among(settings: Any, choices: dict[str, tuple[str, ...]]) -> list[str]:
    """'NAME must be one of ...' for each named setting whose value is not one of its choices."""
    return [f"{name} must be one of {', '.join(options)}" for name, options in choices.items()
            if getattr(settings, name) not in options]


SEARCH_JOB = "search"  # the job a search's events name (here, where the window can read it)


@dataclass(frozen=True)
class SearchSettings:
    """How a study searches; stored in project.toml's ``[search]`` section."""

    study_name: str = "search"
    trials: int = 20
    epochs: int = 10
    mode: str = "cached"  # 'cached' or 'online'
    views: int = 10  # K augmented views per image (cached mode)
    objective: str = "accuracy"
    pruning: str = "none"  # 'none', 'median' or 'hyperband'
    seed: int = 0
    startup_trials: int = 10  # TPE's random trials before it models the results
    multivariate: bool = True
    device: str = "auto"
    extract_batch_size: int = 0  # images per frozen-backbone pass; 0 = by device
    # What computes cached features: 'auto' (OpenVINO where installed, else onnxruntime,
    # on a CPU), 'onnxruntime', 'openvino' or 'torch'; and at what precision on a CPU:
    # 'fp32', 'bf16' (a CPU with native bf16) or 'int8' (NNCF), checked against fp32 first.
    features: str = "auto"
    feature_precision: str = "fp32"
    # How every image of a training view is augmented (allgui.core.train.augment):
    # the share transformed (else only flipped), and the ranges of each transform.
    augment_probability: float = 0.5
    augment_rotation: float = 15.0  # degrees
    augment_shift: float = 0.1  # share of width and height
    augment_shear: float = 0.1  # shear factor
    augment_zoom: float = 0.1  # drawn in [1 - zoom, 1 + zoom] per axis
    augment_flip: bool = True
    precision: str = "bf16"  # autocast on a GPU: 'bf16', 'fp16' or 'fp32'; a CPU is fp32
    val_loss: str = "unweighted"  # 'unweighted' or 'weighted' (the class weights of training)
    trial_value: str = "kept_epoch"  # 'kept_epoch', 'last_epoch' or 'best_epoch_objective'
    space: SearchSpace = field(default_factory=SearchSpace)

    def __post_init__(self) -> None:
        # An objective recorded under an earlier name ("auc") is read by today's.
        if isinstance(self.objective, str):
            object.__setattr__(self, "objective", name_of(self.objective))
        try:
            check_fields(self, "search")
            check_device(self.device, "search.device")
            check_text(self.study_name, "study name")
        except SettingError as exc:
            raise SearchError(exc.message) from exc
        problems = []
        if self.seed < 0:
            problems.append("the seed must be 0 or more")
        if self.extract_batch_size < 0:
            problems.append("the feature batch size cannot be negative")
        problems += _not_among(self, {"features": FEATURE_PATHS,
                                      "feature_precision": FEATURE_PRECISIONS})
        if self.trials < 1 or self.epochs < 1 or self.views < 1:
            problems.append("trials, epochs and views must each be at least 1")
        problems += _not_among(self, {"mode": MODES, "objective": OBJECTIVES,
                                      "pruning": PRUNERS})
        if self.startup_trials < 0:
            problems.append("startup trials cannot be negative")
        if not self.study_name.strip():
            problems.append("the study needs a name")
        if not 0.0 <= self.augment_probability <= 1.0:
            problems.append("the augmentation probability must be between 0 and 1")
        if not (0 <= self.augment_rotation <= 180 and 0 <= self.augment_shift < 1
                and 0 <= self.augment_shear < 1 and 0 <= self.augment_zoom < 1):
            problems.append("augmentation ranges must be rotation 0 to 180 degrees and "
                            "shift, shear and zoom from 0 to below 1")
        problems += _not_among(self, {"precision": PRECISIONS, "val_loss": VAL_LOSSES,
                                      "trial_value": TRIAL_VALUES})
        if problems:
            raise SearchError("The search settings cannot be used: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "space"}
        d.update(self.space.to_dict())
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSettings:
        scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in data.items() if isinstance(v, dict)}
        known = {f.name for f in dataclasses.fields(cls)} - {"space"}
        unknown = sorted(set(scalars) - known)
        if unknown:
            raise SearchError(f"[search] has settings allgui does not know: {', '.join(unknown)}.")
        return cls(space=SearchSpace.from_dict(tables), **scalars)

    @classmethod
    def from_project(cls, project: Project) -> SearchSettings:
        return cls.from_dict(project.settings.search)

    def warnings(self) -> list[str]:
        """Settings that run but do not do what they seem to, in plain words."""
        out = []
        if self.startup_trials >= self.trials:
            out.append(f"{self.startup_trials} random start trials for {self.trials} trials: "
                       "every trial is drawn at random and TPE never runs. Lower the random "
                       "start trials (Optuna's default is 10) or run more trials.")
        return out

    def augmentation_words(self) -> str:
        """How training images are augmented, in one sentence for the CLI, window and report."""
        share = ("every training image transformed" if self.augment_probability >= 1.0 else
                 f"each training image transformed with probability "
                 f"{self.augment_probability:g} (else only flipped)")
        fresh = (self.mode == "online" or self.views >= self.epochs)
        draws = ("a fresh draw every epoch" if self.mode == "online" else
                 f"{self.views} views computed once, " + (
                     "a fresh view every epoch" if fresh else
                     f"so each view is used about {self.epochs / self.views:.3g} times"))
        return (f"Augmentation: {share}; rotation up to {self.augment_rotation:g} degrees, "
                f"shifts {self.augment_shift:.0%}, shear factor {self.augment_shear:g}, zoom "
                f"{self.augment_zoom:.0%}" + (", horizontal flip" if self.augment_flip else "")
                + f"; {draws}.")

    def sampler_settings(self, seed_offset: int = 0) -> dict[str, Any]:
        return {
            "sampler": "TPESampler",
            "seed": self.seed + seed_offset,
            "n_startup_trials": self.startup_trials,
            "multivariate": self.multivariate,
            "n_ei_candidates": 24,
            "optuna_version": _optuna_version(),
        }

    def pruner_settings(self) -> dict[str, Any]:
        if self.pruning == "median":
            return {"pruner": "MedianPruner", "n_startup_trials": 5,
                    "n_warmup_steps": max(1, self.epochs // 3), "interval_steps": 1}
        if self.pruning == "hyperband":
            return {"pruner": "HyperbandPruner", "min_resource": 1,
                    "max_resource": self.epochs, "reduction_factor": 3}
        return {"pruner": "NopPruner"}


    def check_model(self, finetune_stages: int) -> None:
        """Refuse, before anything runs, a mode the project's model cannot train in."""
        check_mode(self.mode, finetune_stages, SearchError)


def make_sampler(settings: SearchSettings, seed_offset: int = 0, constant_liar: bool = False):
    """The study's TPE sampler, its settings explicit (Optuna's defaults change
    between versions). ``constant_liar``: parallel workers count running trials
    as bad results, so they do not all pick the same point."""
    import optuna

    s = settings.sampler_settings(seed_offset)
    # A project's own study leaves constant_liar at Optuna's default, as it always has.
    liar: dict[str, Any] = {"constant_liar": True} if constant_liar else {}
    return optuna.samplers.TPESampler(
        seed=s["seed"], n_startup_trials=s["n_startup_trials"], multivariate=s["multivariate"],
        n_ei_candidates=s["n_ei_candidates"], **liar,
    )


def make_pruner(settings: SearchSettings):
    import optuna

    p = settings.pruner_settings()
    if p["pruner"] == "MedianPruner":
        return optuna.pruners.MedianPruner(n_startup_trials=p["n_startup_trials"],
                                           n_warmup_steps=p["n_warmup_steps"],
                                           interval_steps=p["interval_steps"])
    if p["pruner"] == "HyperbandPruner":
        return optuna.pruners.HyperbandPruner(min_resource=p["min_resource"],
                                              max_resource=p["max_resource"],
                                              reduction_factor=p["reduction_factor"])
    return optuna.pruners.NopPruner()


def _optuna_version() -> str:
    import optuna

    return optuna.__version__


# What a study's trials must share to be compared by one sampler: a resumed
# search with other values would mix, say, 10- and 40-epoch trials, or trials
# of other augmentation. Each with the value studies recorded before it was a
# setting (what allgui then did), and its words for the refusal.
RESUME_KEYS: dict[str, tuple[Any, str]] = {
    "epochs": (None, "epochs"),
    "mode": (None, "mode"),
    "views": (None, "views"),
    "multivariate": (True, "multivariate TPE"),
    "startup_trials": (10, "random start trials"),
    "augment_probability": (0.5, "augmentation probability"),
    "augment_rotation": (15.0, "rotation range"),
    "augment_shift": (0.1, "shift range"),
    "augment_shear": (0.1, "shear range"),
    "augment_zoom": (0.1, "zoom range"),
    "augment_flip": (True, "horizontal flip"),
    "precision": ("bf16", "precision"),
    "val_loss": ("unweighted", "validation loss"),
    "trial_value": ("kept_epoch", "value of a trial"),
}


def _json_plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def space_changes(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """How the search space ``now`` differs from ``before`` (both as recorded:
    one table per parameter), each change in words; [] when it is the same."""
    from allgui.core.model.params import LABELS

    def name(key: str) -> str:
        return f"{LABELS.get(key, key)} ({key})"

    def words(key: str, table: dict[str, Any]) -> str:
        from allgui.core.search.space import Param

        try:
            return Param.from_dict(key, table).describe()
        except Exception:  # an older or hand-edited table: as recorded
            return settings_line(table)[:-1]

    old = {k: v for k, v in before.items() if isinstance(v, dict)}
    new = {k: v for k, v in now.items() if isinstance(v, dict)}
    out = [f"parameter {name(k)} added" for k in sorted(set(new) - set(old))]
    out += [f"parameter {name(k)} removed" for k in sorted(set(old) - set(new))]
    out += [f"parameter {name(k)} changed from {words(k, old[k])} to {words(k, new[k])}"
            for k in sorted(set(old) & set(new)) if old[k] != new[k]]
    return ["the search space: " + c for c in out]


def check_resume(name: str, recorded: dict[str, Any], settings: SearchSettings) -> None:
    """Refuse, in plain words, to resume study ``name`` (whose recorded search
    settings are ``recorded``) with ``settings`` that differ in any setting of
    :data:`RESUME_KEYS` (views in cached mode only) or in the search space,
    compared whole: a parameter added, removed or changed."""
    if not isinstance(recorded, dict) or not recorded:
        return  # a study from before settings were recorded: nothing to compare
    now = _json_plain(settings.to_dict())
    before = _json_plain(recorded)
    changed = []
    for key, (legacy, words) in RESUME_KEYS.items():
        if key == "views" and now.get("mode") != "cached":
            continue  # online trials draw fresh augmentations; views do not apply
        was = before.get(key, legacy)
        if was is not None and was != now.get(key):
            changed.append(f"{words} {was} -> {now.get(key)}")
    changed += space_changes(before, now)
    if changed:
        raise SearchError(
            f"The study '{name}' was run with other settings ({'; '.join(changed)}); its "
            "trials could not be compared with the new ones. Give the new search its own "
            "study name, or put the settings back.",
            "The study was recorded with: " + settings_line(before),
        )


def settings_line(values: dict) -> str:
    """Recorded settings as one readable line: "epochs 8; mode cached; space: lr (1e-05, 0.01)"."""
    def one(key: str, value) -> str:
        if isinstance(value, dict):
            return f"{key}: " + ", ".join(one(k, v) for k, v in sorted(value.items()))
        if isinstance(value, (list, tuple)):
            return f"{key} (" + ", ".join(map(str, value)) + ")"
        return f"{key} {value}"

    return "; ".join(one(k, v) for k, v in sorted(values.items())) + "."


def project_study_name(project: Project, names: list[str]) -> str | None:
    """Which of the storage's studies ``names`` is the project's: the one its
    ``[search]`` settings name, else the newest; None when there are none."""
    wanted = project.settings.search.get("study_name") or project.settings.search.get("study")
    if isinstance(wanted, str) and wanted in names:
        return wanted
    return names[-1] if names else None
