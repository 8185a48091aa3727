"""Start-up: the CLI command, --selftest, the keyboard map dialog, state in QSettings."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import QSettings


def _env(tmp_path):
    return dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        NERDESK_DATA_DIR=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "cfg"),
        HOME=str(tmp_path),
    )


def test_cli_help_does_not_import_qt(tmp_path):
    code = (
        "import sys; from nerdesk.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='nerdesk')\nexcept SystemExit: pass\n"
        "assert 'PySide6' not in sys.modules, 'PySide6 imported by --help'\n"
        "assert 'app' in cli.commands"
    )
    r = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "app" in r.stdout


def test_cli_app_selftest(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "nerdesk", "app", "--selftest"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "selftest ok" in r.stdout


def test_keymap_dialog_and_window_state(window, qtbot, tmp_path):
    win = window
    win.show_keymap()
    dlg = win._keymap
    assert dlg.isVisible()
    from nerdesk.ui.actions import help_rows

    assert any("Enter" in k for k, _ in help_rows()) and ("Ctrl+I", "Import a file") in help_rows()
    dlg.close()
    win.resize(1000, 700)
    win.close()
    s = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    assert s.value("window/geometry") is not None


def test_many_void_qt_calls_do_not_kill_the_interpreter(tmp_path):
    """PySide6 6.12.0 on CPython 3.11 drops a reference to None per void call, and the
    interpreter aborts after a few thousand; pyproject.toml excludes it. 50,000 calls must run."""
    code = (
        "import nerdesk.ui, sys\n"
        "from PySide6.QtWidgets import QApplication, QWidget\n"
        "app = QApplication([]); w = QWidget()\n"
        "for _ in range(50000):\n    w.update()\n"
        "print('alive', sys.getrefcount(None) > 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "alive True" in r.stdout
