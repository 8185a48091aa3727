"""Error categories in the app: each edit's category in the status bar and the inspector; the
corrections panel with filters and override (checked in the database)."""

from __future__ import annotations


from test_editing import goto_text


def test_edit_shows_its_category_and_panel_overrides(opened, qtbot):
    win, s = opened, opened.session
    start = goto_text(win, "Angela Merkel")
    sid = s.current
    seg = s.segment()
    merkel = next(sp for sp in seg.spans if win.view.text[sp.start : sp.end] == "Merkel")
    qtbot.wait(50)
    s.add_span(sid, start, start + len("Angela Merkel"), merkel.label)
    qtbot.waitUntil(lambda: "Angela Merkel" in win.statusBar().currentMessage(), timeout=3000)
    msg = win.statusBar().currentMessage()
    assert msg.startswith("boundary error: 'Angela Merkel' " + merkel.label), msg
    win.inspector.refresh_now()
    body = win.inspector.body.toPlainText()
    assert "Your changes vs the model" in body and "boundary error: 'Angela Merkel'" in body
    # relabel: the category follows the edit
    other = "ORG" if merkel.label != "ORG" else "LOC"
    s.relabel_span(sid, start, start + len("Angela Merkel"), other)
    qtbot.waitUntil(lambda: "boundary + label" in win.statusBar().currentMessage(), timeout=3000)
    # undo back to the boundary error, undo again: as the model predicted
    s.undo()
    s.undo()
    qtbot.waitUntil(lambda: "Matches the model" in win.statusBar().currentMessage(), timeout=3000)
    # make an error, accept: it is recorded
    paris = next(sp for sp in s.segment().spans if win.view.text[sp.start : sp.end] == "Paris")
    s.remove_span(sid, paris.start, paris.end, paris.label)
    qtbot.waitUntil(lambda: "false positive: 'Paris'" in win.statusBar().currentMessage(), timeout=3000)
    s.accept(advance=False)
    p = s.project
    rows = p.corrections(segment_id=sid)
    assert [r["category"] for r in rows] == ["false_positive"]

    win.act_corrections.trigger()
    dlg = win._corrections
    assert dlg.isVisible() and dlg.table.rowCount() == len(p.corrections())
    dlg.category.setCurrentIndex(dlg.category.findData("boundary"))
    assert dlg.table.rowCount() == 0
    dlg.category.setCurrentIndex(dlg.category.findData("false_positive"))
    assert dlg.table.rowCount() == 1 and dlg.table.item(0, 3).text() == "Paris"
    dlg.label.setCurrentIndex(dlg.label.findData(paris.label))
    assert dlg.table.rowCount() == 1
    wrong = next(n for n in p.label_names() if n != paris.label)
    dlg.label.setCurrentIndex(dlg.label.findData(wrong))
    assert dlg.table.rowCount() == 0
    dlg.label.setCurrentIndex(0)
    dlg.table.selectRow(0)
    dlg.new_category.setCurrentIndex(dlg.new_category.findData("boundary"))
    dlg.reason.setText("a guideline question, not a model error")
    dlg.override_button.click()
    row = p.corrections(segment_id=sid)[0]
    assert (row["category"], row["auto_category"], row["reason"]) == (
        "boundary",
        "false_positive",
        "a guideline question, not a model error",
    )
    assert any(h["action"] == "override category" for h in p.history(sid))
    # the filter now finds it under its new category, marked as overridden
    assert dlg.table.rowCount() == 0  # still filtered by false positive
    dlg.category.setCurrentIndex(dlg.category.findData("boundary"))
    assert dlg.table.rowCount() == 1 and "(auto: false positive)" in dlg.table.item(0, 1).text()
    # double-click opens the segment
    s.next()
    dlg.table.cellDoubleClicked.emit(0, 0)
    assert s.current == sid
    dlg.close()


def test_open_panel_follows_accepts_their_undo_and_redo_by_kind(opened, qtbot, monkeypatch):
    """The panel re-reads on an accept (done, undone, redone) and an override, matched on the change's
    kind; other changes (an edit, a skip) leave it as it is."""
    win, s = opened, opened.session
    p = s.project
    win.act_corrections.trigger()
    dlg = win._corrections
    assert dlg.isVisible() and dlg.table.rowCount() == len(p.corrections()) == 0
    reloads = []
    real = dlg.reload
    monkeypatch.setattr(dlg, "reload", lambda *a, **kw: (reloads.append(1), real(*a, **kw)))
    goto_text(win, "Angela Merkel")
    sid = s.current
    paris = next(sp for sp in s.segment().spans if win.view.text[sp.start : sp.end] == "Paris")
    s.remove_span(sid, paris.start, paris.end, paris.label)  # an edit: not a reason to re-read
    assert reloads == []
    s.accept(advance=False)
    assert len(reloads) == 1 and dlg.table.rowCount() == 1 and dlg.table.item(0, 3).text() == "Paris"
    assert s.undo().action == "undo accept"
    assert len(reloads) == 2 and dlg.table.rowCount() == 0
    s.redo()
    assert len(reloads) == 3 and dlg.table.rowCount() == 1
    s.next()
    s.skip(advance=False)
    assert len(reloads) == 3
    s.undo()  # an undone skip is a skip too
    assert len(reloads) == 3
