"""How much each searched parameter mattered, with the method named.

- ``ped-anova`` (Optuna's PedAnovaImportanceEvaluator): how differently a
  parameter is distributed in the best 10 % of trials than in all of them;
  quick, and meaningful with few trials;
- ``fanova`` (FanovaImportanceEvaluator): the share of the objective's
  variance a random forest attributes to each parameter; wants more trials.

Both read the finished (complete) trials of a study. Importances sum to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from allgui.core.errors import AllguiError

METHODS = {
    "ped-anova": "PED-ANOVA (Optuna PedAnovaImportanceEvaluator)",
    "fanova": "fANOVA (Optuna FanovaImportanceEvaluator)",
}
MIN_TRIALS = 2


@dataclass(frozen=True)
class Importances:
    method: str  # 'ped-anova' or 'fanova'
    method_label: str  # the method in words, to show with the figures
    values: tuple[tuple[str, float], ...]  # (parameter, importance), most important first
    n_trials: int

    def as_dict(self) -> dict[str, float]:
        return dict(self.values)


def parameter_importances(study, method: str = "ped-anova", seed: int = 0) -> Importances:
    """Importances of the searched parameters from ``study``'s complete trials."""
    from optuna.trial import TrialState

    if method not in METHODS:
        raise AllguiError(f"Unknown importance method '{method}'; choose "
                          + " or ".join(METHODS) + ".")
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    _check_trials(complete)
    return Importances(method=method, method_label=METHODS[method],
                       values=importance_values(study, method, seed), n_trials=len(complete))


def _check_trials(complete) -> None:
    if len(complete) < MIN_TRIALS:
        raise AllguiError(
            f"Parameter importances need at least {MIN_TRIALS} finished trials; "
            f"this study has {len(complete)}."
        )
    if len({t.value for t in complete}) == 1:
        raise AllguiError(
            "Every finished trial has the same value, so parameter importances cannot "
            "tell the parameters apart."
        )


def importance_values(study, method: str, seed: int = 0) -> tuple[tuple[str, float], ...]:
    """The one call into Optuna's evaluators: (parameter, importance), most
    important first. Raises AllguiError (the evaluator's error in its details)
    when they cannot be computed: too few distinct values, one parameter..."""
    import optuna

    evaluator = (
        optuna.importance.PedAnovaImportanceEvaluator()
        if method == "ped-anova"
        else optuna.importance.FanovaImportanceEvaluator(seed=seed)
    )
    try:
        raw = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except Exception as exc:  # the evaluators fail in many ways
        raise AllguiError("Parameter importances cannot be computed for this study.",
                          f"{type(exc).__name__}: {exc}") from exc
    return tuple(sorted(((k, float(v)) for k, v in raw.items()), key=lambda kv: -kv[1]))


def format_importances(imp: Importances) -> str:
    from allgui.core.search.space import LABELS

    lines = [f"Parameter importance, {imp.method_label}, from {imp.n_trials} trials:"]
    for name, value in imp.values:
        bar = "#" * round(value * 30)
        lines.append(f"  {LABELS.get(name, name):<14} {value:6.3f}  {bar}")
    return "\n".join(lines)


# -- the headline: fANOVA over several seeds, PED-ANOVA beside it -------------------

HEADLINE = "fanova"  # the method every front end and the report lead with (as the study's Fig. 2)
HEADLINE_LABEL = "fANOVA"
SEEDS = 5  # fANOVA's forests are random: the spread over seeds says how sure the figure is
FANOVA_CAP = 200  # above this many trials fANOVA reads a random subsample (it grows ~linearly)
FEW_TRIALS = 10  # below this, importances are rough whatever the method


@dataclass(frozen=True)
class ParameterImportance:
    name: str
    mean: float  # fANOVA, mean over seeds
    sd: float  # fANOVA, standard deviation over seeds (0 with one seed)
    ped_anova: float | None  # PED-ANOVA on every complete trial; None when it failed


@dataclass(frozen=True)
class ImportanceEstimate:
    """fANOVA over ``seeds`` seeds (mean and SD) beside PED-ANOVA, with the
    warnings a reader needs: the methods disagree, too few trials, a subsample."""

    values: tuple[ParameterImportance, ...]  # by fANOVA mean, most important first
    n_trials: int  # complete trials in the study
    n_used: int  # of them, read by fANOVA (all, or a random subsample)
    seeds: int
    warnings: tuple[str, ...] = ()
    headline_label: str = HEADLINE_LABEL

    def as_dict(self) -> dict[str, float]:
        """The headline figures: parameter -> fANOVA mean."""
        return {p.name: p.mean for p in self.values}

    def ped_anova(self) -> dict[str, float]:
        return {p.name: p.ped_anova for p in self.values if p.ped_anova is not None}

    def spread(self) -> dict[str, float]:
        return {p.name: p.sd for p in self.values}

    @property
    def method_label(self) -> str:
        return f"{HEADLINE_LABEL}, mean \u00b1 SD over {self.seeds} seeds"

    def top(self, k: int = 3) -> tuple[ParameterImportance, ...]:
        return self.values[:k]


def estimate_importances(study, seeds: int = SEEDS, cap: int = FANOVA_CAP,
                         progress=None, cancel=None) -> ImportanceEstimate:
    """fANOVA over ``seeds`` seeds and PED-ANOVA, from ``study``'s complete trials.

    Above ``cap`` trials fANOVA reads a seeded random subsample of ``cap``
    (and says so), so a 5,000-trial study takes as long as a 200-trial one.
    ``progress(done, total, message)`` is called before each evaluator runs;
    ``cancel`` (a threading.Event) is checked between them."""
    import numpy as np
    import optuna
    from optuna.trial import TrialState

    from allgui.core.errors import Cancelled

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    _check_trials(complete)
    warnings: list[str] = []
    used = complete
    if len(complete) > cap:
        pick = np.random.default_rng(0).choice(len(complete), size=cap, replace=False)
        used = [complete[i] for i in sorted(pick)]
        warnings.append(f"fANOVA read a random {cap} of the {len(complete)} complete trials "
                        "(it slows with every trial); PED-ANOVA read them all.")
    sub = optuna.create_study(directions=study.directions)
    sub.add_trials(used)
    total = seeds + 1

    def step(done: int, message: str) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("Importances stopped by the user.")
        if progress is not None:
            progress(done, total, message)

    runs = []
    for k in range(seeds):
        step(k, f"fANOVA, seed {k + 1} of {seeds} ({len(used)} trials)")
        runs.append(dict(importance_values(sub, "fanova", seed=k)))
    step(seeds, "PED-ANOVA")
    try:
        ped: dict[str, float] | None = dict(importance_values(study, "ped-anova"))
    except AllguiError as exc:
        ped = None
        warnings.append(f"PED-ANOVA could not be computed ({exc.details}).")
    if progress is not None:
        progress(total, total, "importances done")
    names = sorted({n for r in runs for n in r})
    table = np.array([[r.get(n, 0.0) for n in names] for r in runs])
    means, sds = table.mean(axis=0), (table.std(axis=0, ddof=1) if seeds > 1
                                      else np.zeros(len(names)))
    values = tuple(sorted(
        (ParameterImportance(n, float(m), float(s), None if ped is None else ped.get(n))
         for n, m, s in zip(names, means, sds, strict=True)), key=lambda p: -p.mean))
    warnings += _importance_warnings(values, len(complete), ped)
    return ImportanceEstimate(values, len(complete), len(used), seeds, tuple(warnings))


def _importance_warnings(values, n_trials: int, ped: dict[str, float] | None) -> list[str]:
    from allgui.core.search.space import LABELS

    def name(p: str) -> str:
        return LABELS.get(p, p)

    out = []
    if n_trials < FEW_TRIALS:
        out.append(f"Only {n_trials} complete trials: importances this few trials give are "
                   "rough; read them as a hint, not a ranking.")
    if ped and values:
        top_f, top_p = values[0].name, max(ped, key=lambda k: ped[k])
        if top_f != top_p:
            out.append(f"The two methods disagree on the most important parameter: fANOVA "
                       f"names {name(top_f)}, PED-ANOVA {name(top_p)}. Neither ranking is sure.")
    if len(values) > 1 and values[0].mean - values[0].sd <= values[1].mean + values[1].sd:
        out.append(f"fANOVA's top two ({name(values[0].name)}, {name(values[1].name)}) are "
                   "within one SD of each other over seeds: their order is not settled.")
    return out


def format_estimate(est: ImportanceEstimate) -> str:
    """The estimate as terminal text: fANOVA mean \u00b1 SD and PED-ANOVA per parameter."""
    from allgui.core.search.space import LABELS

    lines = [f"Parameter importance, {est.method_label}, from {est.n_used} of "
             f"{est.n_trials} trials; PED-ANOVA beside it:",
             f"  {'':<14} {'fANOVA':>6}  {'SD':>5}  {'PED-ANOVA':>9}"]
    for p in est.values:
        ped = "n/a" if p.ped_anova is None else f"{p.ped_anova:.3f}"
        bar = "#" * round(p.mean * 30)
        lines.append(f"  {LABELS.get(p.name, p.name):<14} {p.mean:6.3f}  {p.sd:5.3f}  "
                     f"{ped:>9}  {bar}")
    lines += [f"  warning: {w}" for w in est.warnings]
    return "\n".join(lines)
