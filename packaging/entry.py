"""Entry point of the frozen (PyInstaller) app: the same ``allgui`` command."""

import multiprocessing
import sys

if __name__ == "__main__":
    # The image cache decodes in worker processes; a frozen app must let them
    # start as workers rather than as another copy of the window.
    multiprocessing.freeze_support()
    from allgui.cli import main

    sys.exit(main())
