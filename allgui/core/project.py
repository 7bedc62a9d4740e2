"""The project folder: one dataset, its settings, study, caches, runs,
models and reports, so that it can be zipped, moved, reopened and resumed.

    <project>/project.toml   settings (this module)
    <project>/study.db       the Optuna study (SQLite unless a URL is set)
    <project>/cache/         decoded images and backbone features
    <project>/runs/          validation runs
    <project>/models/        exported ONNX models
    <project>/reports/       HTML and PDF reports
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allgui import __version__
from allgui.core import protocols
from allgui.core.checks import SettingError, check_fields
from allgui.core.errors import DatasetError, ProjectError
from allgui.core.files.atomic import atomic_write_text
from allgui.core.files.tomlio import TomlWriteError, dumps, loads
from allgui.core.files.trusted import trust, trusted

CONFIG_NAME = "project.toml"


class SplitSettingError(SettingError, DatasetError):
    """A split setting that cannot work (a dataset error to the split's callers)."""


@dataclass(frozen=True)
class DatasetSettings:
    path: str = ""  # folder (or manifest CSV) the user picked
    image_size: int = 224  # images are resized once to this square size (the paper: 224)

    def __post_init__(self) -> None:
        check_fields(self, "dataset")
        if not 16 <= self.image_size <= 1024:
            raise SettingError(
                f"The setting dataset.image_size must be between 16 and 1024 pixels, "
                f"not {self.image_size}."
            )


@dataclass(frozen=True)
class SplitSettings:
    # 'patient' (default: no patient on both sides), 'cnmc-folds' (the dataset's
    # own patient-disjoint folds) or 'image' (the paper's protocol; leaky).
    method: str = "patient"
    seed: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.15  # used only when the dataset has no test set of its own
    use_official_test: bool = True  # C-NMC's preliminary test set as the test set

    def __post_init__(self) -> None:
        check_fields(self, "split")
        if self.seed < 0:
            raise SplitSettingError(f"The setting split.seed must be 0 or more, not {self.seed}.")
        if not 0 < self.val_fraction < 1:
            raise SplitSettingError(f"The setting split.val_fraction must be between 0 and 1 "
                                    f"(for example 0.2), not {self.val_fraction}.")
        if not 0 <= self.test_fraction < 1:
            raise SplitSettingError(f"The setting split.test_fraction must be between 0 and 1 "
                                    f"(for example 0.15), not {self.test_fraction}.")
        if self.val_fraction + self.test_fraction >= 1:
            raise SplitSettingError("split.val_fraction and split.test_fraction together leave no "
                                    "images to train on; make them smaller.")


@dataclass(frozen=True)
class ModelSettings:
    backbone: str = "efficientnet_b2"
    weights: str = "imagenet"  # 'imagenet' (timm's hub), 'none', or a path to a weights file
    finetune_stages: int = 0  # 0 = frozen backbone, as the paper

    def __post_init__(self) -> None:
        check_fields(self, "model")
        if not self.backbone.strip():
            raise SettingError("The setting model.backbone is empty; name a timm backbone.")
        if not self.weights.strip():
            raise SettingError("The setting model.weights is empty; use 'imagenet', 'none' "
                               "or the path of a weights file.")
        if not 0 <= self.finetune_stages <= 16:
            raise SettingError(f"The setting model.finetune_stages must be between 0 and 16, "
                               f"not {self.finetune_stages}.")


@dataclass(frozen=True)
class ProjectSettings:
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    split: SplitSettings = field(default_factory=SplitSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    # The search section belongs to the engine (allgui.core.search.runner): kept as
    # plain TOML data here so this module need not know its schema.
    search: dict[str, Any] = field(default_factory=dict)
    storage: str = ""  # '' = <project>/study.db; otherwise an Optuna storage URL
    # The named protocol the settings were made from (allgui.core.protocols), and
    # the validation's settings (allgui.core.validation.defaults), plain like [search].
    protocol: str = protocols.DEFAULT
    validation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("search", "validation"):
            if not isinstance(getattr(self, name), dict):
                raise SettingError(f"The [{name}] section of project.toml must be a table.")
        if not isinstance(self.storage, str):
            raise SettingError(f"The setting storage must be text, not {self.storage!r}.")
        if self.protocol not in protocols.NAMES:
            raise SettingError(f"The setting protocol must be {' or '.join(protocols.NAMES)}, "
                               f"not {self.protocol!r}.")

    def with_protocol(self, name: str) -> ProjectSettings:
        """These settings with every value protocol ``name`` gives (the split
        method, the search's and the validation's), the others kept."""
        chosen = protocols.protocol(name).values()
        return dataclasses.replace(
            self, protocol=name,
            split=dataclasses.replace(self.split, **chosen.get("split", {})),
            search={**self.search, **chosen.get("search", {})},
            validation={**self.validation, **chosen.get("validation", {})})

    def to_dict(self) -> dict[str, Any]:
        return {
            "allgui_version": __version__,
            "protocol": self.protocol,
            "storage": self.storage or None,
            "dataset": dataclasses.asdict(self.dataset),
            "split": dataclasses.asdict(self.split),
            "model": dataclasses.asdict(self.model),
            "search": dict(self.search),
            "validation": dict(self.validation),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectSettings:
        def build(kind, section):
            raw = data.get(section, {}) or {}
            if not isinstance(raw, dict):
                raise ProjectError(f"project.toml's [{section}] must be a table of settings.")
            known = {f.name for f in dataclasses.fields(kind)}
            unknown = sorted(set(raw) - known)
            if unknown:
                raise ProjectError(
                    f"project.toml has settings allgui does not know in [{section}]: "
                    + ", ".join(unknown)
                )
            return kind(**raw)

        return cls(
            dataset=build(DatasetSettings, "dataset"),
            split=build(SplitSettings, "split"),
            model=build(ModelSettings, "model"),
            search=dict(data.get("search", {}) or {}),
            storage=str(data.get("storage", "") or ""),
            # Projects made before protocols were named followed allgui's choices.
            protocol=str(data.get("protocol") or protocols.RECOMMENDED),
            validation=dict(data.get("validation", {}) or {}),
        )


class Project:
    """A handle on one project folder. Settings are replaced whole (frozen)
    and written atomically by :meth:`save`."""

    def __init__(self, root: str | Path, settings: ProjectSettings) -> None:
        self.root = Path(root).resolve()
        self.settings = settings

    # -- folders -------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def study_path(self) -> Path:
        return self.root / "study.db"

    @property
    def storage_url(self) -> str:
        """The study's storage URL; a relative SQLite path is taken from the
        project folder (not from wherever a command happens to run). Opened
        through :func:`allgui.core.search.storage.open_storage`, which names
        the installed database driver. A ProjectError when project.toml names
        a study outside the project that this machine's user never gave."""
        sqlite = self.sqlite_path
        if sqlite is not None:
            return f"sqlite:///{sqlite}"
        return self.settings.storage

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file that holds the study, or None for a database server
        (checked as :attr:`storage_url` says)."""
        url = self.settings.storage
        if not url:
            return self.study_path
        head, sep, rest = url.partition(":///")
        path: Path | None = None
        if sep and head.split("+", 1)[0].lower() == "sqlite":
            path = Path(rest.split("?", 1)[0])
            path = path if path.is_absolute() else self.root / path
            if _within(self.root, path):
                return path
        if not trusted(url):
            raise ProjectError(
                f"{self.config_path} keeps the study outside the project "
                f"({_shown_url(url)}), a place this computer's user never chose; allgui "
                "does not open it, so a project folder from elsewhere cannot change files "
                "or databases here. If you want that study, give it yourself: allgui optimize "
                "PROJECT --storage URL (or the storage field in the window); 'project' keeps "
                "the study in the project's own study.db.")
        return path

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    # -- life cycle ----------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, settings: ProjectSettings) -> Project:
        root = Path(root)
        if (root / CONFIG_NAME).exists():
            raise ProjectError(f"{root} already holds a project; open it instead.")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"Cannot create the project folder {root}.", str(exc)) from exc
        project = cls(root, settings)
        project.save()
        if settings.storage:  # chosen by whoever makes the project here
            trust(settings.storage)
        return project

    @classmethod
    def open(cls, root: str | Path) -> Project:
        root = Path(root)
        path = root / CONFIG_NAME
        if not path.is_file():
            raise ProjectError(f"{root} is not an allgui project (no {CONFIG_NAME} in it).")
        try:
            data = loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ProjectError(f"{path} cannot be read.", str(exc)) from exc
        try:
            settings = ProjectSettings.from_dict(data)
        except SettingError as exc:
            raise ProjectError(f"{path} has a setting allgui cannot use. {exc.message}",
                               exc.details) from exc
        except TypeError as exc:
            raise ProjectError(f"{path} has invalid settings.", str(exc)) from exc
        return cls(root, settings)

    def save(self) -> None:
        self._write(self.settings)

    def _write(self, settings: ProjectSettings) -> None:
        try:
            text = dumps(settings.to_dict(), previous=self._text_now())
        except TomlWriteError as exc:
            raise ProjectError(
                f"The setting {exc.key} cannot be saved: it {exc.reason}. "
                "Choose another value (or rename the folder).",
            ) from exc
        try:
            atomic_write_text(self.config_path, text)
        except OSError as exc:
            raise ProjectError(
                f"The project settings could not be saved to {self.config_path}.", str(exc)
            ) from exc

    def _text_now(self) -> str:
        """project.toml as it stands, so that a save keeps a user's comments."""
        try:
            return self.config_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    def update(self, **changes: Any) -> None:
        """Replace whole sections (``dataset=``, ``split=``, ``model=``, ``search=``,
        ``validation=``, ``protocol=``) and save.

        Saved first, kept in memory after: a failed save leaves the project as it was."""
        settings = dataclasses.replace(self.settings, **changes)
        self._write(settings)
        self.settings = settings
        if changes.get("storage"):  # a storage given here, by this machine's user
            trust(settings.storage)


def _within(root: Path, path: Path) -> bool:
    base, target = root.resolve(), path.resolve()
    return target == base or base in target.parents


def _shown_url(url: str) -> str:
    from allgui.core.files.text import terminal_text

    return terminal_text(re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", url))
