"""Application start-up: ``run(argv) -> exit code`` (also used by ``nerdesk app`` and a bundle).

    python -m nerdesk.ui.app [PROJECT] [--demo] [--selftest]

``--selftest`` builds the window on a throw-away project, performs one correction, undoes it,
and exits 0 if all went well (for packaging smoke tests; works with QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def make_app(argv: list[str] | None = None):
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName("nerdesk")
        QCoreApplication.setApplicationName("nerdesk")
        app = QApplication(["nerdesk", *(argv or [])])
    from nerdesk.ui.errors import install_excepthook

    install_excepthook()
    return app


def _selftest(win) -> int:
    from nerdesk.core.project import Project
    from nerdesk.core.types import DocRecord

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "selftest.nerdesk"
        p = Project.create(path, labels=["PER", "LOC"])
        gen = p.import_records([DocRecord("Ada Lovelace was born in London 🇬🇧.")])
        for _ in gen:
            pass
        p.close()
        if not win.open_project(path):
            return 1
        seg = win.session.current
        ok = win.session.add_span(seg, 0, 12, "PER") is not None
        ok = ok and win.session.undo() is not None
        win.jobs.cancel_all()  # e.g. the queue's routing job: never leave a thread running at exit
        win.jobs.wait_all(10000)
        win.session.close()
        print("selftest ok" if ok else "selftest FAILED")
        return 0 if ok else 1


def run(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="nerdesk app")
    ap.add_argument("project", nargs="?")
    ap.add_argument("--demo", action="store_true", help="open (creating if needed) the demo project")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args(argv)
    app = make_app()
    from nerdesk.ui.main_window import MainWindow

    win = MainWindow()
    if args.selftest:
        return _selftest(win)
    win.show()
    win.raise_()
    win.activateWindow()
    if args.project:
        win.open_project(args.project)
    elif args.demo:
        win.open_demo()
    else:
        last = win.settings.value("last_project")
        if last and Path(str(last)).exists():
            win.open_project(str(last))
    if os.environ.get("NERDESK_EXIT_AFTER_SHOW"):  # start-up benchmarks: quit after the first paint
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: (print("SHOWN", flush=True), app.quit()))
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(run())
