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
from allgui.core.project import Project
from allgui.core.search.space import SearchSpace
from allgui.core.train.objective import MODES, OBJECTIVES, check_mode

PRUNERS = ("none", "median", "hyperband")
FEATURE_PATHS = ("auto", "torch")  # as allgui.core.train.runtime.CHOICES (torch-free here)


class SearchError(AllguiError):
    """The search cannot start as asked (settings, or a study of other settings)."""


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
    features: str = "auto"  # what computes cached features: 'auto' (onnxruntime on a CPU), 'torch'
    space: SearchSpace = field(default_factory=SearchSpace)

    def __post_init__(self) -> None:
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
        if self.features not in FEATURE_PATHS:
            problems.append(f"features must be one of {', '.join(FEATURE_PATHS)}")
        if self.trials < 1 or self.epochs < 1 or self.views < 1:
            problems.append("trials, epochs and views must each be at least 1")
        if self.mode not in MODES:
            problems.append(f"mode must be one of {', '.join(MODES)}")
        if self.objective not in OBJECTIVES:
            problems.append(f"objective must be one of {', '.join(OBJECTIVES)}")
        if self.pruning not in PRUNERS:
            problems.append(f"pruning must be one of {', '.join(PRUNERS)}")
        if self.startup_trials < 0:
            problems.append("startup trials cannot be negative")
        if not self.study_name.strip():
            problems.append("the study needs a name")
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
# search with other values would mix, say, 10- and 40-epoch trials.
RESUME_KEYS = ("epochs", "mode", "views")


def _json_plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def check_resume(name: str, recorded: dict[str, Any], settings: SearchSettings) -> None:
    """Refuse, in plain words, to resume study ``name`` (whose recorded search
    settings are ``recorded``) with ``settings`` that differ in epochs, mode,
    views (cached mode) or the search space."""
    if not isinstance(recorded, dict) or not recorded:
        return  # a study from before settings were recorded: nothing to compare
    now = _json_plain(settings.to_dict())
    before = _json_plain(recorded)
    changed = []
    for key in RESUME_KEYS:
        if key == "views" and now.get("mode") != "cached":
            continue  # online trials draw fresh augmentations; views do not apply
        if key in before and before[key] != now.get(key):
            changed.append(f"{key} {before[key]} -> {now.get(key)}")
    space_keys = set(settings.space.to_dict())
    space_before = {k: before.get(k) for k in space_keys if k in before}
    space_now = {k: now.get(k) for k in space_keys if k in before}
    if space_before != space_now or not space_keys.issuperset(
            k for k, v in before.items() if isinstance(v, dict)):
        changed.append("the search space")
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
