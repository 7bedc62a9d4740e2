"""Sampler comparison: does TPE beat random search, Optuna's GP sampler and
CMA-ES on this data? (the study's own open question about other optimisers)

With the frozen backbone's features cached (the search's own cache, so no
new feature pass), each sampler runs N repeated in-memory studies of T
trials over the project's search space, every trial the same training as a
search trial. For each study: the best-so-far validation objective after
each trial, and the test figures of its best trial's head (the test part no
trial saw). Nothing is written to the project's study.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.events import Progress, Sink, null_sink
from allgui.core.model import measures
from allgui.core.project import Project
from allgui.core.search.settings import SearchSettings

JOB = "compare-samplers"
SAMPLERS = ("tpe", "random", "gp", "cmaes")
NAMES = {"tpe": "TPE", "random": "random search", "gp": "Gaussian process", "cmaes": "CMA-ES"}


@dataclass(frozen=True)
class StudyCurve:
    sampler: str
    study: int
    values: tuple[float, ...]  # each trial's objective, in order
    test: dict[str, float] = field(default_factory=dict)  # the best trial's test figures
    params: tuple[dict[str, Any], ...] = ()  # each trial's searched values, in order

    def best_trial(self) -> int:
        """The 0-based trial with the highest objective (the first of ties)."""
        return int(np.argmax(np.nan_to_num(self.values, nan=-np.inf))) if self.values else -1

    @property
    def best_so_far(self) -> tuple[float, ...]:
        return tuple(float(v) for v in np.maximum.accumulate(np.nan_to_num(self.values, nan=-1)))


@dataclass(frozen=True)
class SamplerComparison:
    studies: tuple[StudyCurve, ...]
    trials: int
    objective: str
    unavailable: dict[str, str]  # sampler -> why it did not run
    seconds: float
    features_note: str = ""
    startup: int = 0  # random trials before each sampler models the results (0: not recorded)

    def best_in_start(self, sampler: str) -> tuple[int, int]:
        """(studies whose best trial lies in the shared random start, studies)."""
        runs = [c for c in self.studies if c.sampler == sampler]
        return sum(0 <= c.best_trial() < self.startup for c in runs), len(runs)

    def samplers(self) -> list[str]:
        return [s for s in SAMPLERS if any(c.sampler == s for c in self.studies)]

    def band(self, sampler: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, min and max of the best-so-far curves of ``sampler``'s studies."""
        curves = np.array([c.best_so_far for c in self.studies if c.sampler == sampler])
        return curves.mean(0), curves.min(0), curves.max(0)

    def to_dict(self) -> dict[str, Any]:
        return {"trials": self.trials, "objective": self.objective, "seconds": self.seconds,
                "unavailable": self.unavailable, "features_note": self.features_note,
                "startup": self.startup,
                "studies": [{"sampler": c.sampler, "study": c.study, "values": list(c.values),
                             "test": c.test, "params": list(c.params)} for c in self.studies]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SamplerComparison:
        return cls(tuple(StudyCurve(s["sampler"], int(s["study"]), tuple(s["values"]),
                                    dict(s.get("test") or {}),
                                    tuple(dict(p) for p in s.get("params") or ()))
                         for s in d["studies"]),
                   int(d["trials"]), str(d["objective"]), dict(d.get("unavailable") or {}),
                   float(d.get("seconds", 0)), str(d.get("features_note", "")),
                   int(d.get("startup", 0)))


STARTUP_SHARE = 5  # at most one trial in this many is a shared random start
DEFAULT_STUDIES = 5  # studies per sampler: fewer cannot tell samplers apart


def comparison_startup(startup_trials: int, trials: int) -> int:
    """Random trials before each sampler models the results: the search's own
    number, but at most a fifth of the trials. The start is drawn alike for
    every sampler (a paired design); when it is long, the best trial of most
    studies lies in it (10 of 20 held the best trial in 10 of 12 studies) and
    every sampler ends where random search does."""
    return max(1, min(startup_trials, trials // STARTUP_SHARE))


def make_sampler(name: str, seed: int, startup: int):
    """The sampler called ``name``; AllguiError when it cannot run here."""
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if name == "cmaes":
        import importlib.util

        if importlib.util.find_spec("cmaes") is None:  # Optuna's CMA-ES sampler needs it
            raise AllguiError("CMA-ES needs the 'cmaes' package (pip install cmaes).")
        # Categorical parameters (hidden units, batch size) are drawn at random by CMA-ES.
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup,
                                            warn_independent_sampling=False)
    raise AllguiError(f"Unknown sampler '{name}'; choose from {', '.join(SAMPLERS)}.")


def compare_samplers(project: Project, settings: SearchSettings, samplers=SAMPLERS,
                     studies: int = DEFAULT_STUDIES, trials: int = 10, *, device: str = "auto",
                     sink: Sink = null_sink, cancel: threading.Event | None = None,
                     prepared=None) -> SamplerComparison:
    import optuna
    import torch

    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.search.trial import search_train_settings, suggest, trial_configuration
    from allgui.core.train.device import resolve_device
    from allgui.core.train.features import build_feature_set, extract
    from allgui.core.train.loop import FitConfig, build_seeded, fit, training_data_from_prepared
    from allgui.core.train.sources import CachedViews
    from allgui.core.validation.metrics import compute_metrics

    # Errors only: Optuna's warnings (the GP sampler's missing 'greenlet', an
    # experimental sampler) are for developers, not a line a user can act on.
    samplers = tuple(samplers)
    unknown = [s for s in samplers if s not in SAMPLERS]
    if not samplers or unknown:
        raise AllguiError(
            ("Name at least one sampler to compare" if not samplers else
             "allgui does not know the sampler " + ", ".join(f"'{s}'" for s in unknown))
            + "; choose from " + ", ".join(SAMPLERS) + " (for example tpe,random).")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    started = time.perf_counter()
    dev = resolve_device(device)
    prepared = prepared or prepare_project_data(project, sink, cancel)
    data = training_data_from_prepared(prepared)
    n = len(data.class_names)
    cfg, _ = trial_configuration({}, project, n)
    if cfg.finetune_stages:
        raise AllguiError("The sampler comparison needs a frozen backbone (cached features).")
    base = build_seeded(cfg, settings.seed)  # the backbone the project's search builds
    train = search_train_settings(settings)  # its augmentation, precision, loss, value
    features = build_feature_set(base, data.train_images, data.val_images, views=settings.views,
                                 seed=settings.seed, device=dev, cache_dir=project.cache_dir,
                                 data_key=data.key, cancel=cancel, amp=train.precision,
                                 augmentation=train.augmentation)
    test = prepared.test
    test_feats = extract(base, test.images, dev, cancel=cancel) if len(test) else None
    source = CachedViews(data, features=features)
    made: list[StudyCurve] = []
    unavailable: dict[str, str] = {}
    runnable = []
    for name in samplers:
        try:
            make_sampler(name, 0, 1)
            runnable.append(name)
        except AllguiError as exc:
            unavailable[name] = exc.message
    total, done = len(runnable) * studies * trials, 0
    startup = comparison_startup(settings.startup_trials, trials)
    for name in runnable:
        for k in range(studies):
            study = optuna.create_study(direction="maximize", sampler=make_sampler(
                name, settings.seed + 1000 * (k + 1), startup))
            values, tried, best, best_value = [], [], None, -np.inf
            for t in range(trials):
                if cancel is not None and cancel.is_set():
                    raise Cancelled("Sampler comparison stopped by the user.")
                trial = study.ask()
                searched, fixed = suggest(trial, settings.space)
                tcfg, hp = trial_configuration({**fixed, **searched}, project, n)
                result = fit(FitConfig(tcfg, hp, epochs=settings.epochs, seed=settings.seed + t,
                                       views_seed=settings.seed, settings=train, job=JOB),
                             source, device=dev, base_model=base, cancel=cancel)
                study.tell(trial, result.value)
                values.append(float(result.value))
                tried.append(dict(searched))
                if result.value > best_value:
                    best, best_value = result, result.value
                done += 1
                sink(Progress(JOB, phase=NAMES[name], done=done, total=total,
                              message=f"{NAMES[name]} study {k + 1}, trial {t + 1}"))
            figures: dict[str, float] = {}
            if best is not None and test_feats is not None:
                with torch.no_grad():
                    logits = best.model.forward_head(torch.as_tensor(np.asarray(test_feats)))
                proba = torch.softmax(logits.float(), 1).numpy()
                head = compute_metrics(test.labels, proba, prepared.classes,
                                       prepared.positive_class).headline()
                figures = {k: float(head[k]) for k in measures.shown_in(measures.SAMPLERS)
                           if head.get(k) is not None}
            made.append(StudyCurve(name, k + 1, tuple(values), figures, tuple(tried)))
    return SamplerComparison(tuple(made), trials, settings.objective, unavailable,
                             time.perf_counter() - started,
                             f"features: the search's cache ({settings.views} views), one pass",
                             startup)
