"""A project's validation settings (project.toml's ``[validation]``): what
``allgui validate`` and the window run when not told otherwise, as the
project's protocol (:mod:`allgui.core.protocols`) set them.

    [validation]
    runs = 3
    epochs = 40
    patience = 10
    views = "fresh"      # 'fresh' (one draw per epoch), 'search' (the search's views) or a number
    baseline = "none"    # 'default' (allgui's untuned defaults) or 'none'
    probe = false
    probe_features = "view"  # 'view' (the runs' first view), 'views' (all they read) or 'plain'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from allgui.core.checks import SettingError, check_fields
from allgui.core.project import Project

VIEWS_WORDS = ("fresh", "search")
BASELINES = ("default", "none")


@dataclass(frozen=True)
class ValidationDefaults:
    runs: int = 3
    epochs: int = 40
    patience: int = 10
    views: int | str = "search"
    baseline: str = "default"
    probe: bool = True
    probe_features: str = "view"

    def __post_init__(self) -> None:
        check_fields(self, "validation")
        from allgui.core.validation.settings_check import PROBE_FEATURES

        if self.probe_features not in PROBE_FEATURES:
            raise SettingError(f"The setting validation.probe_features must be one of "
                               f"{', '.join(PROBE_FEATURES)}, not {self.probe_features!r}.")
        if isinstance(self.views, str) and self.views not in VIEWS_WORDS:
            raise SettingError(f"The setting validation.views must be a number of views, "
                               f"'fresh' or 'search', not {self.views!r}.")
        if isinstance(self.views, int) and self.views < 1:
            raise SettingError(f"The setting validation.views must be at least 1, not "
                               f"{self.views}.")
        if self.baseline not in BASELINES:
            raise SettingError(f"The setting validation.baseline must be 'default' or 'none', "
                               f"not {self.baseline!r}.")

    @classmethod
    def from_project(cls, project: Project) -> ValidationDefaults:
        raw = dict(project.settings.validation)
        unknown = sorted(set(raw) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise SettingError(f"[validation] has settings allgui does not know: "
                               f"{', '.join(unknown)}.")
        return cls(**raw)

    def settings(self, **given: Any):
        """A :class:`~allgui.core.validation.run.ValidationSettings` of these
        values, overridden by ``given`` (what a command or form says)."""
        from allgui.core.validation.run import DEFAULT_BASELINE, ValidationSettings

        values: dict[str, Any] = {
            "runs": self.runs, "epochs": self.epochs, "patience": self.patience,
            "probe": self.probe, "probe_features": self.probe_features,
            **views_setting(self.views),
        }
        if self.baseline == "default":
            values.update(baseline=dict(DEFAULT_BASELINE),
                          baseline_source="allgui's untuned defaults")
        values.update(given)
        return ValidationSettings(**values)


def views_setting(views: int | str) -> dict[str, Any]:
    """``views`` ('fresh', 'search' or a number) as ValidationSettings' fields."""
    # 'fresh' (the paper's protocol) draws anew every epoch and every run; otherwise the
    # runs share the search's draws (allgui.core.train.views.SHARE_VIEWS): no new pass.
    if views == "fresh":
        return {"views": 0, "fresh_views": True, "independent_views": True}
    if views == "search":
        return {"views": 0, "fresh_views": False, "independent_views": False}
    return {"views": int(views), "fresh_views": False, "independent_views": False}


def parse_views(text: str) -> int | str:
    """``--views``: a number, 'fresh' or 'search'."""
    text = text.strip().lower()
    if text in VIEWS_WORDS:
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise SettingError(f"--views takes a number of views (1 or more), 'fresh' (a new "
                           f"draw every epoch) or 'search' (the search's views), not {text!r}.")
    return n
