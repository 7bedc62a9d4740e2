"""What the fixtures in ``tests/conftest.py`` are made of. Tests ask for the
fixtures; only the window tests import :mod:`support.gui`'s plain helpers
(waiting on the event loop, dropping files), which are functions, not set-up."""
