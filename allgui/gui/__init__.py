"""The desktop window (PySide6).

The window never computes: it starts engine jobs from :mod:`allgui.core` on
worker threads (:mod:`allgui.gui.jobs`), receives their events as queued Qt
signals (:mod:`allgui.gui.event_bridge`) and draws. torch is never imported at
module level here, so the Classify tab works in a build without it.
"""
