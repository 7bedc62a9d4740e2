"""The checks a validation's settings pass before anything runs or is
written: every value in range, named in the sentence that refuses it."""

from __future__ import annotations

from typing import Any

from allgui.core.checks import SettingError, check_device, check_fields
from allgui.core.model import params as registry

MODEL_ONLY = ("weights", "finetune_stages")  # what a trial records beyond the registry
SEED_LIMIT = 2**32 - 1  # numpy and torch take seeds 0 .. 2**32 - 1
# What the linear probe trains on (allgui.core.validation.probe): the runs' first view,
# every view they read, or plain training features (a backbone pass of its own).
PROBE_FEATURES = ("view", "views", "plain")


def check_settings(settings: Any) -> None:
    """Refuse a :class:`~allgui.core.validation.run.ValidationSettings` that
    cannot run, with a sentence naming the setting."""
    check_fields(settings, "validation")
    s = settings
    for name, value, least in (("number of runs", s.runs, 1), ("number of epochs", s.epochs, 1),
                               ("patience", s.patience, 1), ("views", s.views, 0)):
        if value < least:
            raise SettingError(f"The {name} must be at least {least}, not {value}.")
    last = s.first_seed + s.runs - 1
    if s.first_seed < 0 or last > SEED_LIMIT:
        raise SettingError(f"The seed must be a whole number from 0 to {SEED_LIMIT - s.runs + 1}"
                           f" (run k uses seed + k - 1), not {s.first_seed}.")
    if s.trial is not None and s.trial < 0:
        raise SettingError(f"The trial number must be 0 or more, not {s.trial}.")
    if s.mode not in ("", "cached", "online"):
        raise SettingError(f"The mode must be 'cached' or 'online', not {s.mode!r}.")
    check_device(s.device, "device")
    from allgui.core.search.settings import FEATURE_PATHS, FEATURE_PRECISIONS

    if s.features not in FEATURE_PATHS:
        raise SettingError(f"The feature engine must be one of {', '.join(FEATURE_PATHS)}, "
                           f"not {s.features!r}.")
    if s.feature_precision not in ("", *FEATURE_PRECISIONS):
        raise SettingError(f"The feature precision must be one of "
                           f"{', '.join(FEATURE_PRECISIONS)}, not {s.feature_precision!r}.")
    if s.probe_features not in PROBE_FEATURES:
        raise SettingError(f"The linear probe's features must be one of "
                           f"{', '.join(PROBE_FEATURES)}, not {s.probe_features!r}.")
    for what, values in (("configuration", s.params), ("baseline", s.baseline)):
        for name, value in (values or {}).items():
            if name in MODEL_ONLY:  # a trial's own model, checked when it is built
                continue
            if name not in registry.NAMES:
                raise SettingError(f"The {what} names '{name}', which is not a setting allgui "
                                   f"knows; settings: {', '.join(registry.NAMES)}.")
            problems = registry.param(name).problems(value)
            if problems:
                raise SettingError(f"The {what}'s {problems[0]}.")
