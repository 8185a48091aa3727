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
    from PySide6.QtWidgets import QTableWidget

    from nerdesk.ui import actions
    from nerdesk.ui.widgets import document_view as dv

    win, view = opened, opened.view
    win.show_keymap()
    table = win._keymap.findChild(QTableWidget)
    shown = [(table.item(i, 0).text(), table.item(i, 1).text()) for i in range(table.rowCount())]
    window_rows = [(c.keys_text(), c.help_text()) for c in actions.commands() if c.sequences()]
    assert shown == [(b.keys, b.does) for b in dv.KEYS] + window_rows and len(shown) >= 35
    win._keymap.close()

    assert view.shortcuts, "the project's labels have keys"
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Tab)  # a span focused: the boundary keys apply
    assert view.focus is not None
    for b in dv.KEYS:
        if b.where == "view":
            assert b.chords and b.run is not None, b.keys
            for chord in b.chords:
                for p in _presses(view, chord):
                    assert dv.binding_for(view, p) is b, (b.keys, p)
                    # no other row takes it: the order of the fixed rows does not matter
                    assert [o for o in dv.KEYS if o.takes(view, p)] == [b], (b.keys, p)
                    assert dv.taken_first(view, p) == _taken_first(view, p), (b.keys, p)
        else:
            assert b.where in ("mouse", "editor") and not b.chords, b.keys
    # and keys no row takes go to the text editor: Shift+Right with no span focused selects
    view.set_focus_span(None, None)
    c = view.textCursor()
    c.clearSelection()
    view.setTextCursor(c)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert view.textCursor().hasSelection()


def _press(seq):
    """The Press of a one-chord key sequence, as a key event of it reads."""
    from nerdesk.ui.widgets.document_view import Press

    kc = seq[0]
    mods = kc.keyboardModifiers()
    has = lambda m: bool(mods & getattr(Qt.KeyboardModifier, m))  # noqa: E731
    return Press(kc.key().value, "", mods, has("ControlModifier"), has("ShiftModifier"), has("AltModifier"))


def test_a_window_key_is_written_once_and_reaches_its_action_from_the_view(opened):
    """Each window key is one menu entry's (nerdesk.ui.actions): its QAction holds it, no other action
    and no fixed key of the span editor takes it, and the span editor passes it on to that action."""
    from PySide6.QtGui import QAction

    from nerdesk.ui import actions
    from nerdesk.ui.widgets import document_view as dv

    win, view = opened, opened.view
    by_text = {a.text(): a for a in win.findChildren(QAction)}
    seen: dict[str, str] = {}
    for c in actions.commands():
        if not c.sequences():
            assert not any(a.text() == c.text for a in win.actions()), c.text
            continue
        act = next(a for a in win.actions() if a.text() == c.text)
        assert act.shortcuts() == c.sequences() and act.shortcutContext() == Qt.ShortcutContext.WindowShortcut
        for seq in c.sequences():
            assert seq.count() == 1, c.text
            assert seen.setdefault(seq.toString(), c.text) == c.text, (
                f"{seq.toString()}: {c.text}, {seen[seq.toString()]}"
            )
            p = _press(seq)
            b = dv.binding_for(view, p)
            assert b is None or b.label_key, (c.text, seq.toString(), b and b.keys)
            assert dv.window_action(view, p) is act, (c.text, seq.toString())
    assert len(seen) >= 19
    # an entry for a key of the span editor names its row and shows that row's keys, and sets no shortcut
    rows = {b.keys for b in dv.KEYS}
    for c in actions.commands():
        if c.view:
            assert c.view in rows and not c.keys, c.text
            act = by_text[f"{c.text}\t{c.view}"]
            assert act.shortcut().isEmpty()
    # every entry calls something of the window
    for c in actions.commands():
        assert callable(actions._slot(win, c.slot)), c.slot


def test_window_keys_from_the_view_of_a_window_that_is_not_active(opened, qtbot):
    """The view passes any window key on (not only Ctrl+F and F1): Ctrl+D opens the dashboard; a
    window key wins over a label's key (a label keyed "z": Ctrl+Z still undoes); a key whose action
    is disabled says so."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    win, view = opened, opened.view
    ctrl = Qt.KeyboardModifier.ControlModifier

    def press(key, mods=Qt.KeyboardModifier.NoModifier, text=""):
        view.keyPressEvent(QKeyEvent(QEvent.Type.KeyPress, key, mods, text))

    press(Qt.Key.Key_D, ctrl, "\x04")
    qtbot.waitUntil(lambda: getattr(win, "_dashboard", None) is not None and win._dashboard.isVisible())
    win._dashboard.close()

    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    f = view.focus
    view.delete_focused()
    assert not any(sp.start == f.start for sp in win.session.segment(f.segment_id).spans)
    view.shortcuts = {**view.shortcuts, "z": view.offered[0]}
    press(Qt.Key.Key_Z, ctrl, "z")  # at once: Undo is enabled as soon as the edit is made
    assert any(sp.start == f.start for sp in win.session.segment(f.segment_id).spans)
    view.refresh_labels()

    messages = []
    win.session.message.connect(messages.append)
    win.act_redo.setEnabled(False)
    press(Qt.Key.Key_Y, ctrl, "\x19")
    assert messages[-1] == "Redo: not available now."
