"""Drive the real widgets with keys and mouse; check the database after every action."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor

from fakes import TEXTS

TEXT = TEXTS[0]


def db_spans(win, seg_id=None):
    p = win.session.project
    ann = p.store.annotation(seg_id or win.session.current, "tester")
    return None if ann is None else [(s.start, s.end, s.label) for s in ann.spans]


def db_status(win, seg_id=None):
    return win.session.project.store.segment(seg_id or win.session.current).status


def goto_text(win, needle):
    """Make the segment containing ``needle`` current; return its code-point offset."""
    s = win.session
    for sid, _ in s.project.next_items(100, order="document"):
        seg = s.project.segment(sid)
        if needle in seg.text:
            s.goto(sid)
            return seg.start + seg.text.index(needle)
    raise AssertionError(needle)


def select(view, start, end):
    c = view.textCursor()
    c.setPosition(view.tp.to_utf16(start))
    c.setPosition(view.tp.to_utf16(end), QTextCursor.MoveMode.KeepAnchor)
    view.setTextCursor(c)


def point(view, cp, *, right=False):
    """Viewport point of the character at ``cp`` (its middle, or just right of its left edge)."""
    u = view.tp.to_utf16(cp)
    c = QTextCursor(view.document())
    c.setPosition(u)
    r = view.cursorRect(c)
    return QPoint(r.left() + (1 if not right else -1), r.center().y())


def test_keyboard_add_relabel_move_delete_undo(opened, qtbot):
    win, view = opened, opened.view
    start = goto_text(win, "Emmanuel Macron")
    sid = win.session.current
    # keyboard-only selection: put the cursor on the entity and extend with Shift+Ctrl+Right
    c = view.textCursor()
    c.setPosition(view.tp.to_utf16(start))
    view.setTextCursor(c)
    view.set_focus_span(None, None)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
    assert view.textCursor().hasSelection()
    qtbot.keyClick(view, Qt.Key.Key_1)  # PER
    end = start + len("Emmanuel Macron")
    assert (start, end, "PER") in db_spans(win, sid)
    assert view.focus and (view.focus.start, view.focus.end) == (start, end)
    # relabel the focused span with a label key
    qtbot.keyClick(view, Qt.Key.Key_2)
    assert (start, end, "ORG") in db_spans(win, sid)
    # shrink the end by one token, grow it back; move the start right, then left
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert (start, start + len("Emmanuel"), "ORG") in db_spans(win, sid)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert (start, end, "ORG") in db_spans(win, sid)
    alt_shift = Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(view, Qt.Key.Key_Right, alt_shift)
    assert (start + len("Emmanuel "), end, "ORG") in db_spans(win, sid)
    qtbot.keyClick(view, Qt.Key.Key_Left, alt_shift)
    assert (start, end, "ORG") in db_spans(win, sid)
    # character level: Ctrl+Shift+Left drops one character of the end
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
    assert (start, end - 1, "ORG") in db_spans(win, sid)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
    assert (start, end, "ORG") in db_spans(win, sid)
    # delete
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert all((a, b) != (start, end) for a, b, _ in db_spans(win, sid))
    # undo brings it back, redo deletes again, and the undo stack is the core's
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (start, end, "ORG") in db_spans(win, sid)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert all((a, b) != (start, end) for a, b, _ in db_spans(win, sid))
    # undo everything: back to no annotation at all (the model's suggestions)
    while win.session.project.undo_status()[0]:
        qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_spans(win, sid) is None
    assert db_status(win, sid) == "new"


def test_tab_cycles_spans_and_enter_accepts(opened, qtbot):
    win, view = opened, opened.view
    sid = win.session.current
    seg = win.session.segment()
    assert seg.spans, "fake model predicted nothing"
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    first = sorted(seg.spans, key=lambda s: (s.start, s.end))[0]
    assert (view.focus.start, view.focus.end) == (first.start, first.end)
    if len(seg.spans) > 1:
        qtbot.keyClick(view, Qt.Key.Key_Tab)
        assert view.focus.start != first.start
        qtbot.keyClick(view, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
        assert view.focus.start == first.start
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert db_status(win, sid) == "accepted"
    assert win.session.current != sid  # moved on to the next item
    # accepted spans are the model's, now confirmed
    assert [(a, b) for a, b, _ in db_spans(win, sid)] == [
        (s.start, s.end) for s in sorted(seg.spans, key=lambda s: s.start)
    ]
    qtbot.keyClick(view, Qt.Key.Key_P)
    assert win.session.current == sid
    assert all(sp.confirmed for sp in win.session.segment().spans)


def test_skip_flag_next_previous(opened, qtbot, monkeypatch):
    win, view = opened, opened.view
    first = win.session.current
    qtbot.keyClick(view, Qt.Key.Key_S)
    assert db_status(win, first) == "skipped"
    second = win.session.current
    assert second != first
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("ask the expert", True)))
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert db_status(win, second) == "flagged"
    assert win.session.project.store.annotation(second, "tester").note == "ask the expert"
    third = win.session.current
    qtbot.keyClick(view, Qt.Key.Key_N)
    fourth = win.session.current
    assert fourth not in (first, second, third)
    assert db_status(win, third) == "new"  # next changes nothing
    qtbot.keyClick(view, Qt.Key.Key_Space)
    qtbot.keyClick(view, Qt.Key.Key_P)
    assert win.session.current == fourth
    qtbot.keyClick(view, Qt.Key.Key_P)
    qtbot.keyClick(view, Qt.Key.Key_P)
    qtbot.keyClick(view, Qt.Key.Key_P)
    assert win.session.current == first


def test_mouse_select_palette_click_and_drag_boundary(opened, qtbot):
    win, view = opened, opened.view
    start = goto_text(win, "Olaf Scholz")
    sid = win.session.current
    end = start + len("Olaf Scholz")
    vp = view.viewport()
    # drag over "Olaf Scholz" with the mouse, then click the LOC button in the palette
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=point(view, start))
    qtbot.mouseMove(vp, point(view, end - 1))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=point(view, end))
    assert view.textCursor().hasSelection(), view.textCursor().selectedText()
    qtbot.mouseClick(win.palette.button("LOC"), Qt.MouseButton.LeftButton)
    assert (start, end, "LOC") in db_spans(win, sid)
    # click elsewhere clears focus; a click on the span focuses it
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=point(view, start - 3))
    assert view.focus is None
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=point(view, start + 2))
    assert view.focus and view.focus.start == start
    # drag the right edge left to the end of "Olaf" (snaps to the token)
    rects = view.range_rects16(view.tp.to_utf16(start), view.tp.to_utf16(end))
    edge = QPoint(int(rects[-1].right()) - 1, int(rects[-1].center().y()))
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=edge)
    assert view._drag is not None
    qtbot.mouseMove(vp, point(view, start + 5))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=point(view, start + 3))
    assert (start, start + len("Olaf"), "LOC") in db_spans(win, sid)
    # drag the left edge right onto "Scholz" is refused (empty); drag the right edge back out
    rects = view.range_rects16(view.tp.to_utf16(start), view.tp.to_utf16(start + 4))
    edge = QPoint(int(rects[-1].right()) - 1, int(rects[-1].center().y()))
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=edge)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=point(view, end - 2))
    assert (start, end, "LOC") in db_spans(win, sid)
    # Ctrl+Z via the window shortcut machinery or the view: undo the last drag
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (start, start + 4, "LOC") in db_spans(win, sid)


def test_undo_survives_restart(window, project_path, qtbot):
    win = window
    assert win.open_project(project_path)
    view = win.view
    start = goto_text(win, "Olaf Scholz")
    sid = win.session.current
    select(view, start, start + 11)
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert (start, start + 11, "PER") in db_spans(win, sid)
    win.close_project()
    assert win.open_project(project_path)
    assert win.act_undo.isEnabled()
    qtbot.keyClick(win.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_spans(win, sid) is None or (start, start + 11, "PER") not in db_spans(win, sid)
    qtbot.keyClick(win.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert (start, start + 11, "PER") in db_spans(win, sid)


def test_span_across_segments_is_refused(opened, qtbot):
    win, view = opened, opened.view
    start = goto_text(win, "last week.")
    select(view, start, start + len("last week. She met"))
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert db_spans(win) is None


@pytest.mark.parametrize("column", [0, 1])
def test_queue_sort_filter_and_search(opened, qtbot, column):
    win = opened
    q = win.queue
    assert q.model.rowCount() == win.session.project.stats()["segments"]
    q.table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    ids = [q.model.segment_id(r) for r in range(q.model.rowCount())]
    if column == 0:
        assert ids == sorted(ids)
    q.filter.setText("dublin")
    assert q.proxy.rowCount() == 1
    q.filter.setText("")
    q.search.setText("Thames")
    q.run_search()
    assert q.results.count() == 1
    q.results.itemClicked.emit(q.results.item(0))
    assert "Thames" in win.view.text
    # clicking a queue row opens that segment
    idx = q.proxy.index(2, 0)
    q.table.clicked.emit(idx)
    assert win.session.current == q.model.segment_id(q.proxy.mapToSource(idx).row())
    q.status.setCurrentText("accepted")
    assert q.model.rowCount() == 0


def test_nested_spans_are_visible_when_allowed(window, qtbot, tmp_path):
    from nerdesk.core.project import Project
    from nerdesk.core.types import DocRecord
    from fakes import run

    path = tmp_path / "nested.nerdesk"
    p = Project.create(path, labels=["ORG", "LOC"], allow_overlaps=True)
    run(p.import_records([DocRecord("She studied at the University of Oxford last year.")]))
    p.close()
    assert window.open_project(path)
    view = window.view
    text = view.text
    a = text.index("University")
    b = a + len("University of Oxford")
    select(view, a, b)
    qtbot.keyClick(view, Qt.Key.Key_1)  # ORG, the outer span
    c = text.index("Oxford")
    select(view, c, c + 6)
    qtbot.keyClick(view, Qt.Key.Key_2)  # LOC, nested inside
    assert sorted(db_spans(window)) == [(a, b, "ORG"), (c, c + 6, "LOC")]
    # the inner span is drawn over the outer one, with an overline as the non-colour cue
    block = view.document().findBlock(view.tp.to_utf16(c))
    from PySide6.QtGui import QTextCharFormat

    ranges = block.layout().formats()
    # (by start: the last character of a span is a range of its own, with room for the label tag)
    fmts = {r.start: QTextCharFormat(r.format) for r in ranges}
    inner = fmts[view.tp.to_utf16(c) - block.position()]
    assert inner.fontOverline()
    outer_part = fmts[view.tp.to_utf16(a) - block.position()]
    assert not outer_part.fontOverline()


def test_relabel_menu_escape_and_exact_add(opened, qtbot, monkeypatch):
    win, view = opened, opened.view
    start = goto_text(win, "Olaf Scholz")
    sid = win.session.current
    end = start + len("Olaf Scholz")
    # Ctrl+1 labels the selection exactly (no snapping): "laf Sch" stays "laf Sch"
    select(view, start + 1, start + 8)
    qtbot.keyClick(view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert (start + 1, start + 8, "PER") in db_spans(win, sid)
    # R opens the label menu; choosing LOC relabels the focused span
    chosen = {}

    def fake_exec(menu, pos):
        act = next(x for x in menu.actions() if x.data() == "LOC")
        chosen["labels"] = [x.data() for x in menu.actions()]
        return act

    monkeypatch.setattr(view, "exec_menu", fake_exec)
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert chosen["labels"] == ["PER", "ORG", "LOC"]
    assert (start + 1, start + 8, "LOC") in db_spans(win, sid)
    # snapped add over the same tokens replaces the partial span (no overlaps in this project)
    select(view, start + 1, end - 1)
    qtbot.keyClick(view, Qt.Key.Key_2)
    assert (start, end, "ORG") in db_spans(win, sid)
    assert not any(a == start + 1 for a, _, _ in db_spans(win, sid))
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.focus is None and not view.textCursor().hasSelection()
    # with nothing focused or selected, a label key changes nothing and says why
    before = db_spans(win, sid)
    qtbot.keyClick(view, Qt.Key.Key_3)
    assert db_spans(win, sid) == before


def test_next_follows_the_queue_status(opened, qtbot, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    win, view = opened, opened.view
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("check", True)))
    flagged = []
    for _ in range(2):
        flagged.append(win.session.current)
        qtbot.keyClick(view, Qt.Key.Key_F)
    win.queue.status.setCurrentText("flagged")
    assert sorted(win.queue.model.segment_id(r) for r in range(win.queue.model.rowCount())) == sorted(flagged)
    qtbot.keyClick(view, Qt.Key.Key_N)
    assert win.session.current in flagged
    first = win.session.current
    qtbot.keyClick(view, Qt.Key.Key_Return)  # the expert accepts it
    assert db_status(win, first) == "accepted"
    assert win.session.current in flagged and win.session.current != first
