"""The window within the screen's free room: QScreen.availableGeometry (the
screen less its panels) less the window manager's frame, so that the title
bar and the status bar are both in view on a 1280x800 or 1366x768 laptop.

Before the window is first shown the window manager has not framed it yet
(its frame geometry is its geometry), so the frame is estimated then from
the style: a title bar two text lines tall and a border on every side, as
generous as common window managers draw them. Once framed, the real frame
is used (a size restored later, say)."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QStyle, QWidget


def frame_allowance(window: QWidget) -> QSize:
    """What the window manager's frame adds to the window: the real frame
    once it is known, else an estimate at least as large as common ones."""
    real = QSize(window.frameGeometry().width() - window.geometry().width(),
                 window.frameGeometry().height() - window.geometry().height())
    if real.height() > 0:
        return real
    style = window.style()
    border = max(4, style.pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth))
    title = max(style.pixelMetric(QStyle.PixelMetric.PM_TitleBarHeight),
                2 * window.fontMetrics().height())
    return QSize(2 * border, title + 2 * border)


def room_for(window: QWidget) -> QSize | None:
    """The largest window (without its frame) the screen has room for."""
    screen = window.screen()
    if screen is None:
        return None
    room, frame = screen.availableGeometry(), frame_allowance(window)
    return QSize(room.width() - frame.width(), room.height() - frame.height())


def first_size(window: QWidget, least: tuple[int, int]) -> QSize:
    """The first window's size: ``least`` on a laptop's screen, most of a larger
    one (a 1920x1080 screen left three quarters of its room unused with a fixed
    1200x820, the Classify image a fraction of its height); fit_to_screen then
    shrinks it to a smaller screen's room."""
    inside = room_for(window)
    if inside is None:
        return QSize(*least)
    return QSize(max(least[0], int(inside.width() * FIRST_SHARE)),
                 max(least[1], int(inside.height() * FIRST_SHARE)))


FIRST_SHARE = 0.85  # of the room, leaving the desktop visible around the window


def fit_to_screen(window: QWidget) -> None:
    """Shrink the window to the room (never below its minimum) and move it,
    frame included, onto the screen's free area."""
    screen, inside = window.screen(), room_for(window)
    if screen is None or inside is None:
        return
    width = min(window.width(), inside.width())
    height = min(window.height(), inside.height())
    if (width, height) != (window.width(), window.height()):
        window.resize(max(width, window.minimumWidth()), max(height, window.minimumHeight()))
    room, frame = screen.availableGeometry(), window.frameGeometry()
    extra = frame_allowance(window)
    outer_w = max(frame.width(), window.width() + extra.width())
    outer_h = max(frame.height(), window.height() + extra.height())
    x = min(max(frame.x(), room.x()), room.right() - outer_w + 1)
    y = min(max(frame.y(), room.y()), room.bottom() - outer_h + 1)
    if (x, y) != (frame.x(), frame.y()):
        window.move(max(x, room.x()), max(y, room.y()))
