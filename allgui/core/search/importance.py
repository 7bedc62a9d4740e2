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
    return Importances(method=method, method_label=METHODS[method],
                       values=importance_values(study, method, seed), n_trials=len(complete))


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
