"""The hyperparameter search space: the paper's Table 1 by default, editable.

Each parameter is a range (``low``..``high``, optionally log-uniform) or a
list of ``choices``; ``search = false`` holds it at ``fixed`` instead. The
backbone can be added as a choice (``backbone.choices = [...]``); left
out, the project's backbone is used.

Stored as plain tables in project.toml, one per parameter::

    [search.lr]
    low = 1e-05
    high = 0.01
    log = true

    [search.hidden]
    choices = [256, 512, 768, 1024]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from allgui.core.errors import AllguiError
from allgui.core.model.params import BY_NAME, LABELS, NAMES, PARAMS

# The registry's names and labels, under the names this module has always had.
PARAM_NAMES = NAMES


class SearchSpaceError(AllguiError):
    """The search space as written cannot be searched."""


@dataclass(frozen=True)
class Param:
    """One parameter: a range (low/high/log) or choices; or held at ``fixed``."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    search: bool = True
    fixed: Any = None

    @property
    def is_range(self) -> bool:
        return not self.choices

    def describe(self) -> str:
        if not self.search:
            return f"{LABELS.get(self.name, self.name)} fixed at {self.fixed}"
        if self.choices:
            return f"{LABELS.get(self.name, self.name)} one of {list(self.choices)}"
        scale = "log-uniform" if self.log else "uniform"
        return f"{LABELS.get(self.name, self.name)} {scale} {self.low:g}..{self.high:g}"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.choices:
            d["choices"] = list(self.choices)
        else:
            d.update(low=self.low, high=self.high, log=self.log)
        if not self.search:
            d["search"] = False
            d["fixed"] = self.fixed
        return d

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> Param:
        unknown = set(d) - {"low", "high", "log", "choices", "search", "fixed"}
        if unknown:
            raise SearchSpaceError(
                f"[search.{name}] has settings allgui does not know: {', '.join(sorted(unknown))}."
            )
        return cls(
            name=name,
            low=None if d.get("low") is None else float(d["low"]),
            high=None if d.get("high") is None else float(d["high"]),
            log=bool(d.get("log", False)),
            choices=tuple(d.get("choices", ()) or ()),
            search=bool(d.get("search", True)),
            fixed=d.get("fixed"),
        )


def _paper_params() -> tuple[Param, ...]:
    """The registry's search ranges (the paper's Table 1; the backbone is not searched)."""
    return tuple(Param(p.name, p.low, p.high, log=p.log, choices=p.choices)
                 for p in PARAMS if p.choices or p.low is not None)


@dataclass(frozen=True)
class SearchSpace:
    """The parameters a study searches (the paper's Table 1 by default)."""

    params: tuple[Param, ...] = field(default_factory=_paper_params)

    def __post_init__(self) -> None:
        self.validate()

    def get(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def searched(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.search)

    def with_param(self, param: Param) -> SearchSpace:
        """This space with ``param`` added or replacing the one of its name."""
        if self.get(param.name) is None:
            return replace(self, params=self.params + (param,))
        return replace(self, params=tuple(param if p.name == param.name else p
                                          for p in self.params))

    def validate(self) -> None:
        problems: list[str] = []
        names = [p.name for p in self.params]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"{name} is given twice")
        for p in self.params:
            label = LABELS.get(p.name, p.name)
            if p.name not in BY_NAME:
                problems.append(f"'{p.name}' is not a parameter allgui knows "
                                f"({', '.join(PARAM_NAMES)})")
                continue
            if not p.search:
                if p.fixed is None:
                    problems.append(f"{label} is not searched but has no fixed value")
                else:
                    problems.extend(_check_value(p.name, p.fixed))
                continue
            if p.choices:
                if len(set(p.choices)) != len(p.choices):
                    problems.append(f"{label} lists a choice twice")
                for v in p.choices:
                    problems.extend(_check_value(p.name, v))
                continue
            if BY_NAME[p.name].needs_choices:
                problems.append(f"{label} needs a list of choices")
                continue
            if p.low is None or p.high is None or not (
                math.isfinite(p.low) and math.isfinite(p.high)
            ):
                problems.append(f"{label} needs a low and a high value")
                continue
            if p.low >= p.high:
                problems.append(f"{label}: low ({p.low:g}) must be below high ({p.high:g})")
            if p.log and p.low <= 0:
                problems.append(f"{label}: a log-uniform range must start above 0")
            problems.extend(_check_value(p.name, p.low))
            problems.extend(_check_value(p.name, p.high))
        if problems:
            raise SearchSpaceError("The search space cannot be used: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {p.name: p.to_dict() for p in self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        """From the parameter tables of project.toml's [search] section; a
        parameter not written there keeps the paper's setting."""
        params = {p.name: p for p in _paper_params()}
        for name, d in data.items():
            if not isinstance(d, dict):
                raise SearchSpaceError(f"[search.{name}] must be a table of settings.")
            params[name] = Param.from_dict(name, d)
        return cls(params=tuple(params.values()))

    def describe(self) -> list[str]:
        return [p.describe() for p in self.params]



def _check_value(name: str, v: Any) -> list[str]:
    return BY_NAME[name].problems(v)


PAPER_SPACE = SearchSpace()
