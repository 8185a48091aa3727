"""UI fixtures: offscreen Qt, a temporary QSettings file and data dir, a main window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NERDESK_USER", "tester")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import nerdesk.ui  # noqa: E402,F401  (works around a PySide6 6.12 refcount bug early)
import pytest  # noqa: E402

from fakes import TEXTS, make_project  # noqa: E402


@pytest.fixture
def errors_sink():
    from nerdesk.ui import errors

    errors.SINK = []
    yield errors.SINK
    errors.SINK = None


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, errors_sink):
    from PySide6.QtCore import QSettings

    from nerdesk.ui.main_window import MainWindow

    monkeypatch.setenv("NERDESK_DATA_DIR", str(tmp_path / "data"))
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.jobs.cancel_all()
    win.jobs.wait_all(5000)
    win.session.close()


@pytest.fixture
def project_path(tmp_path) -> Path:
    return make_project(tmp_path / "t.nerdesk", TEXTS)


@pytest.fixture
def opened(window, project_path):
    assert window.open_project(project_path)
    window.view.setFocus()
    return window
