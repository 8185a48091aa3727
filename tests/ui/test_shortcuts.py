"""Window-level shortcuts (F1, Ctrl+F, Ctrl+Z) reach their actions from the document view."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def test_window_shortcuts_from_the_view(opened, qtbot):
    win, view = opened, opened.view
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=3000)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F1)
    assert getattr(win, "_keymap", None) is not None and win._keymap.isVisible()
    win._keymap.close()
    win.activateWindow()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is win.queue.search


def test_view_handles_window_keys_when_the_window_is_not_active(opened, qtbot):
    """Without a window manager (Xvfb) the window may never be 'active' and window shortcuts
    never fire; the view then gets the key itself and does the same thing."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    win, view = opened, opened.view
    view.keyPressEvent(QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier, "f"))
    assert win.queue.search.hasFocus() or QApplication.focusWidget() is win.queue.search
    view.keyPressEvent(QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_F1, Qt.KeyboardModifier.NoModifier, ""))
    assert win._keymap.isVisible()
    win._keymap.close()
