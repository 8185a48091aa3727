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


# ------------------------------------------------------------------ the one key table
def _presses(view, chord):
    """Every press a chord takes: each key (or the typed character, or a label key) with each allowed
    state of each modifier."""
    from itertools import product

    from nerdesk.ui.widgets.document_view import Press

    if chord.label == "typed":
        keys = [(ord(ch.upper()), ch) for ch in view.shortcuts]
    elif chord.label == "digit":
        keys = [(ord(ch), ch) for ch in view.shortcuts if ch.isdigit()]
    elif chord.text:
        keys = [(ord(chord.text.upper()), chord.text)]
    else:
        keys = [(k, "") for k in chord.keys]
    assert keys, chord
    states = [(False, True) if want is None else (want,) for want in (chord.ctrl, chord.shift, chord.alt)]
    out = []
    for (key, text), (ctrl, shift, alt) in product(keys, product(*states)):
        mods = Qt.KeyboardModifier.NoModifier
        for on, m in ((ctrl, "ControlModifier"), (shift, "ShiftModifier"), (alt, "AltModifier")):
            if on:
                mods |= getattr(Qt.KeyboardModifier, m)
        out.append(Press(key, text, mods, ctrl, shift, alt))
    return out


def _taken_first(view, p):
    """Keys the view takes before the window's shortcuts (a ShortcutOverride), as the app always did:
    Enter, Del, Backspace, Space, Esc alone; the command letters and label keys alone or with Shift."""
    k, none, shift = Qt.Key, Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier
    single = (k.Key_Return, k.Key_Enter, k.Key_Delete, k.Key_Backspace, k.Key_Space, k.Key_Escape)
    typed = bool(p.text) and (p.text in view.shortcuts or p.text in "nspfr")
    return (p.mods == none and p.key in single) or (p.mods in (none, shift) and typed)


def test_every_key_row_is_in_the_help_and_dispatches_to_itself(opened, qtbot):
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QTableWidget

    from nerdesk.ui.widgets import document_view as dv

    win, view = opened, opened.view
    win.show_keymap()
    table = win._keymap.findChild(QTableWidget)
    shown = [(table.item(i, 0).text(), table.item(i, 1).text()) for i in range(table.rowCount())]
    assert shown == [(b.keys, b.does) for b in dv.KEYS] and len(shown) >= 25
    win._keymap.close()

    assert view.shortcuts, "the project's labels have keys"
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Tab)  # a span focused: the boundary keys apply
    assert view.focus is not None
    window_keys = {a.shortcut().toString() for a in win.findChildren(QAction) if not a.shortcut().isEmpty()}
    for b in dv.KEYS:
        if b.where == "view":
            assert b.chords and b.run is not None, b.keys
            for chord in b.chords:
                for p in _presses(view, chord):
                    assert dv.binding_for(view, p) is b, (b.keys, p)
                    # no other row takes it: the order of the fixed rows does not matter
                    assert [o for o in dv.KEYS if o.takes(view, p)] == [b], (b.keys, p)
                    assert dv.taken_first(view, p) == _taken_first(view, p), (b.keys, p)
        elif b.where == "window":
            assert not b.chords and b.window, b.keys
            for seq in b.window:
                assert QKeySequence(seq).toString() in window_keys, (b.keys, seq)
        else:
            assert b.where in ("mouse", "editor") and not b.chords, b.keys
    # a fixed key wins over a label's shortcut (a label keyed "z": Ctrl+Z still undoes)
    undo = next(b for b in dv.KEYS if b.keys.startswith("Ctrl+Z"))
    view.shortcuts = {**view.shortcuts, "z": view.offered[0]}
    p = dv.Press(Qt.Key.Key_Z, "z", Qt.KeyboardModifier.ControlModifier, True, False, False)
    assert dv.binding_for(view, p) is undo
    # and keys no row takes go to the text editor: Shift+Right with no span focused selects
    view.refresh_labels()
    view.set_focus_span(None, None)
    c = view.textCursor()
    c.clearSelection()
    view.setTextCursor(c)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert view.textCursor().hasSelection()
