"""Subprocess for test_sigkill: review through the real window, acknowledge each action on
stdout after it returns, and keep going until killed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(path: str, settings_path: str) -> None:
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtGui import QTextCursor
    from PySide6.QtTest import QTest

    from nerdesk.ui.app import make_app
    from nerdesk.ui.main_window import MainWindow

    app = make_app()
    win = MainWindow(QSettings(settings_path, QSettings.Format.IniFormat))
    win.show()
    assert win.open_project(path)
    view, s = win.view, win.session
    n = 0
    while True:
        seg = s.segment()
        if seg is None:
            print("DONE", flush=True)
            app.processEvents()
            continue
        text = view.text
        # label the first token of the segment as PER, then accept with Enter
        a, b = seg.tokens[0]
        c = view.textCursor()
        c.setPosition(view.tp.to_utf16(a))
        c.setPosition(view.tp.to_utf16(b), QTextCursor.MoveMode.KeepAnchor)
        view.setTextCursor(c)
        sid = seg.id
        QTest.keyClick(view, Qt.Key.Key_1)
        print(f"ACK span {sid} {a} {b} PER {text[a:b]!r}", flush=True)
        QTest.keyClick(view, Qt.Key.Key_Return)
        print(f"ACK accept {sid}", flush=True)
        n += 1
        app.processEvents()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
