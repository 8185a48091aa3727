"""Errors reach the user: a coded message for NerdeskError (details on demand), a traceback for
anything unexpected, nothing for a cancelled job."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from nerdesk.core.errors import Cancelled, NerdeskError

log = logging.getLogger("nerdesk.ui")

#: Tests set this to collect errors instead of opening modal boxes.
SINK: list[tuple[str, str, str]] | None = None


def describe(exc: BaseException, tb: str | None = None) -> tuple[str, str, str]:
    """(title, message, details) for an exception."""
    if isinstance(exc, NerdeskError):
        details = exc.details or ""
        if exc.file:
            details = (
                f"File: {exc.file}" + (f", line {exc.line}" if exc.line else "") + ("\n" + details if details else "")
            )
        return f"Error {exc.code}", str(exc), details
    if tb is None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return (
        "Unexpected error",
        f"An unexpected error occurred: {type(exc).__name__}: {exc}\n\n"
        "Your work up to the last action is saved. Please report the details.",
        tb,
    )


def show_error(parent: QWidget | None, exc: BaseException, tb: str | None = None) -> None:
    if isinstance(exc, Cancelled):
        return
    title, message, details = describe(exc, tb)
    log.error("%s: %s\n%s", title, message, details)
    if SINK is not None:
        SINK.append((title, message, details))
        return
    if QApplication.instance() is None:
        print(f"{title}: {message}\n{details}", file=sys.stderr)
        return
    box = QMessageBox(
        QMessageBox.Icon.Critical if not isinstance(exc, NerdeskError) else QMessageBox.Icon.Warning,
        title,
        message,
        QMessageBox.StandardButton.Ok,
        parent,
    )
    if details:
        box.setDetailedText(details)  # "Show Details..." button
    box.setObjectName("errorBox")
    box.exec()


_installed: Any = None


def install_excepthook() -> None:
    """Unexpected exceptions (in slots, timers, anywhere on the UI thread) are shown, never lost."""
    global _installed
    if _installed is not None:
        return
    previous = sys.excepthook

    def hook(etype, value, tb):  # noqa: ANN001
        text = "".join(traceback.format_exception(etype, value, tb))
        sys.stderr.write(text)
        if issubclass(etype, KeyboardInterrupt):
            previous(etype, value, tb)
            return
        try:
            parent = QApplication.activeWindow()
            show_error(parent, value, text)
        except Exception:  # never let the hook itself fail silently
            previous(etype, value, tb)

    sys.excepthook = hook
    _installed = previous


def uninstall_excepthook() -> None:
    global _installed
    if _installed is not None:
        sys.excepthook = _installed
        _installed = None
