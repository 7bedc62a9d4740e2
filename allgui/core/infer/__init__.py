"""Classifying images with an exported model: numpy, Pillow and onnxruntime only.

Nothing in this package imports torch, timm or optuna (a test checks it), so
a classify-only build stays small and starts fast.
"""

from allgui.core.infer.classifier import Classifier, Prediction, PreparedImage, prepare
from allgui.core.infer.folder import (
    FolderResult,
    FolderRow,
    PatientSummary,
    classify_files,
    classify_folder,
)
from allgui.core.infer.model_file import ModelInfo
from allgui.core.infer.providers import (
    ModelSession,
    available_providers,
    open_session,
    read_model_info,
)

__all__ = [
    "Classifier",
    "FolderResult",
    "FolderRow",
    "ModelInfo",
    "ModelSession",
    "PatientSummary",
    "PreparedImage",
    "Prediction",
    "available_providers",
    "classify_files",
    "classify_folder",
    "open_session",
    "prepare",
    "read_model_info",
]
