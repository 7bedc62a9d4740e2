"""Errors a user can cause or meet, in words a clinician can act on.

Every exception the engine raises on purpose is an :class:`AllguiError`: its
message is one plain sentence for the user, ``details`` holds whatever a
developer needs (paths, the original exception's text). The CLI prints the
message and exits non-zero; the window shows it in a dialog with the details
one click away. Anything else reaching the top is a bug.
"""

from __future__ import annotations


class AllguiError(Exception):
    """A failure with a message meant for the user."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class DatasetError(AllguiError):
    """The chosen folder or manifest is not a usable dataset."""


class ImageReadError(AllguiError):
    """One image could not be read; ``reason`` says why in a few words."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Cannot read {path}: {reason}", details=reason)
        self.path = path
        self.reason = reason


class ModelFileError(AllguiError):
    """A model file is missing, corrupt, or not one allgui can use."""


class WeightsError(AllguiError):
    """Pretrained backbone weights could not be obtained."""


class ProjectError(AllguiError):
    """The project folder is missing, unreadable or from an incompatible version."""


class Cancelled(AllguiError):
    """The user pressed Stop; work finished so far has been kept."""

    def __init__(self, message: str = "Stopped by the user; finished work was kept.") -> None:
        super().__init__(message)
