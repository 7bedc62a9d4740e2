"""The hyperparameter registry: every parameter a trial or a run can set,
written once.

Each :class:`Hyperparameter` says its name (the key in project.toml, the
study and batch.json), its label (the words the CLI, the window and the
report all show), its type, where it goes (a :class:`ModelConfig` field, or
the optimiser or batch size of ``HyperParams``), its untuned default (what a
model gets when nothing was searched or entered: the paper's starting
point), the paper's search range (Table 1), and its check (which values are
valid, in a plain sentence naming it). The search space, the CLI's help and
columns, the window's form, the report's order and the validation's
``name=value`` parser all read from here.

Torch-free (the window imports it on its own thread); where a value goes is
read by :func:`allgui.core.train.hparams.configuration`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from allgui.core.errors import AllguiError

Target = Literal["model", "optimiser", "batch"]


def _whole(label: str, v: Any) -> str | None:
    ok = float(v).is_integer() and v >= 1
    return None if ok else f"{label}: {v!r} must be a whole number of at least 1"


def _dropout(label: str, v: Any) -> str | None:
    return None if 0 <= v < 1 else f"{label}: {v:g} must be at least 0 and below 1"


def _positive(label: str, v: Any) -> str | None:
    return None if v > 0 else f"{label}: {v:g} must be above 0"


def _not_negative(label: str, v: Any) -> str | None:
    return None if v >= 0 else f"{label}: {v:g} cannot be negative"


@dataclass(frozen=True)
class Hyperparameter:
    """One parameter; ``low``/``high``/``log`` or ``choices`` is the paper's
    search range (none for the backbone, which the project names)."""

    name: str
    label: str
    type: type  # float, int or str
    goes_to: Target  # model: a ModelConfig field; optimiser/batch: HyperParams
    default: Any  # untuned value; None = the project's (the backbone)
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    rule: Callable[[str, Any], str | None] | None = None  # the check beyond the type

    @property
    def needs_choices(self) -> bool:
        """Whole numbers and names are searched over a list, never a range."""
        return self.type is not float

    def problems(self, value: Any) -> list[str]:
        """What is wrong with ``value`` for this parameter (empty when it is valid)."""
        if self.type is str:
            return [] if isinstance(value, str) and value else [
                f"{self.label} must be a model name"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{self.label}: {value!r} is not a number"]
        if self.type is int:
            problem = _whole(self.label, value)
            if problem:
                return [problem]
        elif not math.isfinite(value):
            return [f"{self.label}: {value!r} is not a finite number"]
        problem = self.rule(self.label, value) if self.rule else None
        return [problem] if problem else []

    def parse(self, text: str) -> Any:
        """``text`` as this parameter's type, checked; AllguiError in plain words."""
        if self.type is str:
            value: Any = text
        else:
            try:
                value = self.type(text)
            except ValueError as exc:
                kind = "a whole number" if self.type is int else "a number"
                raise AllguiError(f"{self.name} must be {kind}, not '{text}'.") from exc
        problems = self.problems(value)
        if problems:
            raise AllguiError(f"{problems[0]}.")
        return value

    def format(self, value: Any) -> str:
        """A value as a table cell: log-scale parameters in e-notation."""
        if value is None:
            return "-"
        if self.log and isinstance(value, (int, float)):
            return f"{value:.2e}"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)


# The order here is the order of every table and form.
PARAMS: tuple[Hyperparameter, ...] = (
    Hyperparameter("lr", "learning rate", float, "optimiser", 1e-3,
                   1e-5, 1e-2, log=True, rule=_positive),
    Hyperparameter("weight_decay", "weight decay", float, "optimiser", 1e-4,
                   1e-6, 1e-2, log=True, rule=_not_negative),
    Hyperparameter("dropout1", "dropout 1", float, "model", 0.3, 0.1, 0.5, rule=_dropout),
    Hyperparameter("dropout2", "dropout 2", float, "model", 0.2, 0.1, 0.4, rule=_dropout),
    Hyperparameter("hidden", "hidden units", int, "model", 512,
                   choices=(256, 512, 768, 1024)),
    Hyperparameter("batch_size", "batch size", int, "batch", 32,
                   choices=(32, 40, 48, 56, 64)),
    Hyperparameter("backbone", "backbone", str, "model", None),
)
BY_NAME: Mapping[str, Hyperparameter] = MappingProxyType({p.name: p for p in PARAMS})
NAMES: tuple[str, ...] = tuple(BY_NAME)
LABELS: Mapping[str, str] = MappingProxyType({p.name: p.label for p in PARAMS})
UNTUNED: Mapping[str, Any] = MappingProxyType(
    {p.name: p.default for p in PARAMS if p.default is not None})
"""allgui's untuned settings: ModelConfig and HyperParams take their defaults
from here, the search fills what it does not search from here, and
``--baseline default`` trains exactly these."""


def param(name: str) -> Hyperparameter:
    """The parameter called ``name``; AllguiError naming the known ones otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise AllguiError(f"'{name}' is not a setting a run takes; use {', '.join(NAMES)}."
                          ) from None


def label(name: str) -> str:
    """The words for ``name`` (the name itself for a setting not in the registry)."""
    return LABELS.get(name, name)


def ordered(names: Iterable[str]) -> list[str]:
    """``names`` in the registry's order, any others after them, alphabetically."""
    given = set(names)
    return [n for n in NAMES if n in given] + sorted(given - set(NAMES))


def format_value(name: str, value: Any) -> str:
    """A value of ``name`` as a table cell (other settings: plainly)."""
    if name in BY_NAME:
        return BY_NAME[name].format(value)
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def untuned_defaults() -> dict[str, Any]:
    """A fresh copy of :data:`UNTUNED` (callers may change it)."""
    return dict(UNTUNED)


def with_untuned(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` over the untuned settings (a value of None counts as missing)."""
    return {**UNTUNED, **{k: v for k, v in values.items() if v is not None}}


def untuned_example() -> str:
    """The untuned settings as ``name=value`` pairs, as the CLI's help shows them."""
    return ",".join(f"{k}={v:g}" for k, v in UNTUNED.items())


def parse_params(text: str) -> dict[str, Any]:
    """'lr=1e-3,hidden=512' -> {'lr': 0.001, 'hidden': 512}, each value checked."""
    out: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise AllguiError(f"'{item}' is not name=value (for example lr=0.001).")
        name, value = (s.strip() for s in item.split("=", 1))
        out[name] = param(name).parse(value)
    return out
