"""Term lists in the app (issue 18): add one from the File menu's dialog, its matches shown with their own
cue and source, the Term lists dialog switches them off and on and removes them, bad files are coded errors."""

from __future__ import annotations

import pytest


def wait_jobs(win, qtbot):
    qtbot.waitUntil(lambda: not win.jobs.jobs, timeout=20000)


def term_spans(win):
    return [
        (win.view.text[sp.start : sp.end], sp.label, sp.source)
        for seg in win.view.segs
        for sp in seg.spans
        if sp.origin == "terms"
    ]


@pytest.fixture
def with_terms(opened, qtbot, tmp_path):
    win = opened
    path = tmp_path / "places.csv"
    path.write_text("term,label\nriver Thames,River\nElysee Palace,LOC\nDublin,LOC\n", encoding="utf-8")
    win.add_term_list(path, add_labels=True)
    wait_jobs(win, qtbot)
    return win, path


def test_add_dialog_values(opened):
    from nerdesk.ui.widgets.terms_dialog import AddTermListDialog

    dlg = AddTermListDialog(["PER", "LOC"], opened)
    dlg.path.setText("/x/drugs.txt")
    dlg.label.setCurrentIndex(dlg.label.findData("LOC"))
    dlg.case.setChecked(True)
    assert dlg.values() == (
        "/x/drugs.txt",
        {"label": "LOC", "fmt": None, "name": None, "case_sensitive": True, "lemma": False, "add_labels": False},
    )
    dlg.label.setCurrentIndex(0)
    assert dlg.values()[1]["label"] is None  # the file's label column
    dlg.label.setEditText("Drug")
    dlg.add_labels.setChecked(True)
    assert dlg.values()[1]["label"] == "Drug" and dlg.values()[1]["add_labels"]
    assert opened.act_add_terms.isEnabled() and opened.act_terms.isEnabled()


def test_term_suggestions_have_their_own_cue_and_source(with_terms, qtbot):
    win, _ = with_terms
    s = win.session
    assert "River" in s.project.label_names() and win.palette.button("River") is not None
    # the document with the Elysee Palace is shown first; go through the documents to collect spans
    seen = set()
    for doc_id in s.project.store.document_ids():
        win._goto_document(doc_id)
        seen |= set(term_spans(win))
    assert ("river Thames", "River", "terms:places") in seen and ("Elysee Palace", "LOC", "terms:places") in seen
    # the cue: italic text and (painted) a dashed frame; model suggestions are not italic
    seg = next(seg for seg in win.view.segs for sp in seg.spans if sp.origin == "terms")
    sp = next(sp for sp in seg.spans if sp.origin == "terms")
    fmt = win.view.highlighter.span_format(sp.label, None, False, True, False, True)
    assert fmt.fontItalic()
    assert not win.view.highlighter.span_format("PER", 0.9, False, True, False, False).fontItalic()
    s.goto(seg.id)
    win.view.set_focus_span(seg, sp)
    win.inspector.refresh_now()
    body = win.inspector.body.toPlainText()
    assert "term list places" in body
    # an edit keeps the term span's origin in the annotation; accepting counts a hit
    s.accept(advance=False)
    ann = s.project.store.annotation(seg.id, s.project.user)
    assert any(x.source == "terms:places" for x in ann.spans)
    rep = s.project.terms.report()[0]
    assert rep["hits"] >= 1 and rep["precision"] == 1.0


def test_term_lists_dialog_switches_off_on_and_removes(with_terms, qtbot, monkeypatch):
    win, _ = with_terms
    s = win.session
    win.act_terms.trigger()
    dlg = win._term_lists
    assert dlg.isVisible() and dlg.lists.rowCount() == 1
    assert dlg.lists.item(0, 1).text() == "places" and dlg.terms.rowCount() == 3
    assert "italic, dashed" in dlg.summary.text()
    doc_id = next(d for d in s.project.store.document_ids() if "Thames" in s.project.store.document(d)["text"])
    win._goto_document(doc_id)
    assert term_spans(win)
    dlg.toggle_button.click()
    assert not term_spans(win) and dlg.lists.item(0, 3).text() == "off"
    assert dlg.toggle_button.text() == "Switch the list on"
    dlg.toggle_button.click()
    assert term_spans(win)
    # one term off
    row = next(i for i in range(dlg.terms.rowCount()) if dlg.terms.item(i, 1).text() == "river Thames")
    dlg.terms.selectRow(row)
    dlg.term_button.click()
    assert ("river Thames", "River", "terms:places") not in term_spans(win)
    monkeypatch.setattr(dlg, "confirm_remove", lambda rep: True)
    dlg.remove_button.click()
    assert dlg.lists.rowCount() == 0 and not term_spans(win)
    assert [h["action"] for h in s.project.terms.history("places")] == [
        "add list",
        "disable list",
        "enable list",
        "disable terms",
        "remove list",
    ]
    dlg.close()


def test_a_bad_list_is_a_coded_error_in_the_app(opened, qtbot, tmp_path, errors_sink):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": "LOC", "pattern": [{"LOWER": "x", "BAD": 1}]}\n')
    opened.add_term_list(bad)
    wait_jobs(opened, qtbot)
    assert errors_sink and errors_sink[-1][0] == "Error E303" and "line 1" in errors_sink[-1][2]
    assert opened.session.project.terms.lists() == []
