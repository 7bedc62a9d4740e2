"""Long text in little room: a one-line label and a drop-down list that shorten
it with "…" and show it whole on hover, and a label that scrolls in place."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
)

from allgui.gui.widgets.text import plain_tooltip

__all__ = ["ElidedCombo", "ElidedLabel", "plain_tooltip", "scrolled"]


class ElidedLabel(QLabel):
    """Plain text on one line, elided to the width it is given (``mode``: where
    the "…" goes; the middle keeps both ends of a file path)."""

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.ElideRight) -> None:
        super().__init__()
        self._full = ""
        self._mode = mode
        self.setTextFormat(Qt.PlainText)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.setMinimumWidth(40)
        self.set_full_text(text)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    # As a QLabel's, for callers that set and read the label's text.
    def setText(self, text: str) -> None:  # noqa: N802
        self.set_full_text(text)

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - as QLabel's
        """A tooltip of its own, shown under the whole text when that is cut."""
        self._tip = tip
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(10, self.width()))
        super().setText(shown)
        whole = self._full if shown != self._full else ""
        super().setToolTip(plain_tooltip("\n\n".join(
            t for t in (whole, getattr(self, "_tip", "")) if t)))


WANT_CHARS = 40  # the most a drop-down list asks for, where the window has room


class ElidedCombo(QComboBox):
    """A drop-down list whose chosen item shortens with "…" when the box is
    narrow (instead of being cut), shown whole on hover above its own tooltip.
    The box can then be as narrow as ``min_chars`` characters."""

    def __init__(self, min_chars: int = 12) -> None:
        super().__init__()
        self._tip = ""
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(min_chars)
        self.currentIndexChanged.connect(self._update_tip)

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - as QComboBox's
        self._tip = tip
        self._update_tip()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's
        """Wide enough for its longest item (up to WANT_CHARS): where there is
        room, nothing is shortened; only the minimum is ``min_chars``."""
        hint = super().sizeHint()
        fm = self.fontMetrics()
        longest = max((fm.horizontalAdvance(self.itemText(i)) for i in range(self.count())),
                      default=0)
        longest = min(longest, fm.horizontalAdvance("x" * WANT_CHARS))
        extra = longest - fm.horizontalAdvance("x" * self.minimumContentsLength())
        return QSize(hint.width() + max(0, extra), hint.height())

    def _field(self) -> tuple[QStyleOptionComboBox, int]:
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        rect = self.style().subControlRect(QStyle.CC_ComboBox, opt,
                                           QStyle.SC_ComboBoxEditField, self)
        return opt, rect.width()

    def is_elided(self) -> bool:
        _opt, width = self._field()
        return self.fontMetrics().horizontalAdvance(self.currentText()) > width

    def _update_tip(self, *_args) -> None:
        whole = self.currentText() if self.is_elided() else ""
        tip = plain_tooltip("\n\n".join(t for t in (whole, self._tip) if t))
        if tip != self.toolTip():
            super().setToolTip(tip)

    def paintEvent(self, event) -> None:
        if self.isEditable():
            super().paintEvent(event)
            return
        painter = QStylePainter(self)
        opt, width = self._field()
        painter.drawComplexControl(QStyle.CC_ComboBox, opt)
        opt.currentText = self.fontMetrics().elidedText(opt.currentText, Qt.ElideRight, width)
        painter.drawControl(QStyle.CE_ComboBoxLabel, opt)
        self._update_tip()  # items set with signals blocked change no index signal

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_tip()


def scrolled(label: QLabel, lines: int = 3, grow: bool = True) -> QScrollArea:
    """``label`` (word-wrapped) in a frameless area that scrolls when its text
    is longer than the room it has (``lines`` at the least; no more unless it
    may ``grow``): long text never squeezes its neighbours."""
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignTop | Qt.AlignLeft)
    area = QScrollArea()
    area.setWidget(label)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    area.setMinimumHeight(lines * label.fontMetrics().lineSpacing() + 4)
    if not grow:
        area.setMaximumHeight(area.minimumHeight())
    area.viewport().setAutoFillBackground(False)
    label.setAutoFillBackground(False)
    return area
