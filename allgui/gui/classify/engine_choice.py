"""The Classify tab's choice of the engine that runs the model on the CPU:
onnxruntime or OpenVINO (the user's choice, kept with the window's choices)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

ENGINE_KEY = "classify/engine"
_ENGINES = (("onnxruntime", "onnxruntime"), ("OpenVINO (fp32)", "openvino"))


class EngineChoice(QComboBox):
    """onnxruntime or OpenVINO, offered only where OpenVINO is installed."""

    def __init__(self, settings) -> None:
        super().__init__()
        from allgui.core.infer.openvino_session import installed

        for text, value in _ENGINES:
            self.addItem(text, value)
        if not installed():  # shown, so that the choice is known to exist
            self.model().item(1).setEnabled(False)
            self.setToolTip("OpenVINO is not installed (pip install allgui[openvino])")
        else:
            self.setToolTip("What runs the model on the CPU; OpenVINO is used when its "
                            "probabilities agree with onnxruntime's within 1e-4 (fp32)")
        wanted = str(settings.choice(ENGINE_KEY, "onnxruntime"))
        self.setCurrentIndex(max(0, self.findData(wanted if installed() else "onnxruntime")))

    def engine(self) -> str:
        return str(self.currentData())

