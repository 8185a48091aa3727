"""PyInstaller entry point: the `nerdesk` command (app, CLI and --selftest)."""

import multiprocessing
import sys

from nerdesk.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
