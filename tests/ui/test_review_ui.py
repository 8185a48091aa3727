"""Teams in the app, driven by keys: who is acting (asked on first open, in the status bar), the tier
queue (approve, send back with a note, correct with one's edits, undo) and the adjudication view
(take a version, combine spans, edit, undo). Checked in the database; screenshots under
$NERDESK_SCREENSHOTS (default: the test's tmp dir)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from fakes import TEXTS, make_project
from nerdesk.core.project import Project
from nerdesk.core.store import review as review_store
from nerdesk.core.types import Span


def shot(widget, tmp_path: Path, name: str) -> Path:
    out = Path(os.environ.get("NERDESK_SCREENSHOTS", tmp_path)) / f"{name}.png"
    widget.grab().save(str(out))
    assert out.stat().st_size > 0
    return out


def team_project(path: Path) -> tuple[Path, list[int]]:
    """alice and bob accepted the first three segments; they disagree on two of them."""
    make_project(path, TEXTS)
    with Project.open(path, user="alice", tier="annotator") as a:
        ids = [s.id for d in a.store.document_ids() for s in a.document(d)["segments"]][:3]
        spans = {sid: [(sp.start, sp.end, sp.label) for sp in a.segment(sid).spans] for sid in ids}
        for sid in ids:
            a.set_spans(sid, [Span(*k) for k in spans[sid]])
            a.accept(sid)
    with Project.open(path, user="bob", tier="annotator") as b:
        for n, sid in enumerate(ids):
            mine = list(spans[sid])
            if n < 2:  # bob relabels the first span of the first two segments
                s, e, lab = mine[0]
                mine[0] = (s, e, "ORG" if lab != "ORG" else "LOC")
            b.set_spans(sid, [Span(*k) for k in mine])
            b.accept(sid)
    return path, ids


def test_first_open_asks_who_is_working_and_the_status_bar_shows_it(window, tmp_path, qtbot, monkeypatch):
    monkeypatch.delenv("NERDESK_USER", raising=False)
    monkeypatch.delenv("NERDESK_TIER", raising=False)
    monkeypatch.setenv("NERDESK_CONFIG", str(tmp_path / "none.toml"))
    path = make_project(tmp_path / "p.nerdesk", TEXTS)
    assert window.open_project(path)
    qtbot.waitUntil(
        lambda: getattr(window, "_user_dialog", None) is not None and window._user_dialog.isVisible(), timeout=3000
    )
    dlg = window._user_dialog
    shot(dlg, tmp_path, "user_dialog")
    dlg.name.selectAll()
    QTest.keyClicks(dlg.name, "zoe")
    dlg.tier.setFocus()
    QTest.keyClick(dlg.tier, Qt.Key.Key_Down)  # annotator -> reviewer
    QTest.keyClick(dlg.tier, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=3000)
    p = window.session.project
    assert (p.user, p.tier) == ("zoe", "reviewer")
    assert window.identity_label.text() == "zoe · reviewer"
    assert p.store.conn.execute("SELECT actor, tier FROM events WHERE action = 'set identity'").fetchall() == [
        ("zoe", "reviewer")
    ]
    shot(window, tmp_path, "status_bar_identity")
    window.close_project()
    assert window.open_project(path)  # remembered: not asked again
    qtbot.wait(50)
    assert not window._user_dialog.isVisible() and window.identity_label.text() == "zoe · reviewer"
    # a bad name is refused with its code, and the dialog stays open
    window.act_whoami.trigger()
    dlg = window._user_dialog
    dlg.name.setText("a~b")
    dlg.accept()
    assert dlg.isVisible() and window.session.project.user == "zoe"


def test_tier_queue_by_keys(window, tmp_path, qtbot, monkeypatch, errors_sink):
    path, ids = team_project(tmp_path / "t.nerdesk")
    monkeypatch.setenv("NERDESK_USER", "rob")
    monkeypatch.setenv("NERDESK_TIER", "reviewer")
    assert window.open_project(path)
    assert window.identity_label.text() == "rob · reviewer"
    QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dlg = window._tier_queue
    qtbot.waitUntil(dlg.isActiveWindow, timeout=3000)
    assert dlg.table.rowCount() == 6 and "Queue of rob (reviewer)</b>: 6 item(s)" in dlg.title.text()
    assert dlg.table.item(0, 3).text().startswith("accepted by alice (annotator)")
    shot(dlg, tmp_path, "tier_queue")
    p = window.session.project
    first = dlg.items[0]
    QTest.keyClick(dlg.table, Qt.Key.Key_A)  # approve
    assert [r["decision"] for r in review_store.reviews_of(p.store, [first.segment_id])[first.segment_id]] == [
        "approve"
    ]
    assert dlg.table.rowCount() == 5
    # B without a note: nothing happens but the note field gets the focus; type, Enter sends back
    target = dlg.current()
    QTest.keyClick(dlg.table, Qt.Key.Key_B)

    def decisions_on(item):
        return [
            r
            for r in review_store.reviews_of(p.store, [item.segment_id]).get(item.segment_id, [])
            if r["annotator"] == item.annotator
        ]

    assert dlg.note.hasFocus() and decisions_on(target) == []
    QTest.keyClicks(dlg.note, "check the first span")
    QTest.keyClick(dlg.note, Qt.Key.Key_Return)
    sent = decisions_on(target)
    assert [(r["decision"], r["annotator"], r["note"]) for r in sent] == [
        ("send_back", target.annotator, "check the first span")
    ]
    with Project.open(path, user=target.annotator, tier="annotator") as ann:
        assert [i.note for i in ann.team.queue()] == ["check the first span"]
    # Enter opens the segment; the reviewer edits it, C records the edited version as the correction
    dlg.table.setFocus()
    item = dlg.current()
    QTest.keyClick(dlg.table, Qt.Key.Key_Return)
    assert window.session.current == item.segment_id
    seg = window.session.segment()
    drop = seg.spans[0]
    window.session.remove_span(item.segment_id, drop.start, drop.end, drop.label)
    dlg.activateWindow()
    qtbot.waitUntil(dlg.isActiveWindow, timeout=3000)
    dlg.table.setFocus()
    QTest.keyClick(dlg.table, Qt.Key.Key_C)
    errs = review_store.person_errors(p.store, annotator=item.annotator)
    assert [e["category"] for e in errs] == ["false_positive"]
    # Ctrl+Z in the queue undoes the last decision
    QTest.keyClick(dlg.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert review_store.person_errors(p.store, annotator=item.annotator) == []
    assert errors_sink == []


def test_adjudication_view_by_keys(window, tmp_path, qtbot, monkeypatch, errors_sink):
    path, ids = team_project(tmp_path / "t.nerdesk")
    monkeypatch.setenv("NERDESK_USER", "rob")
    monkeypatch.setenv("NERDESK_TIER", "reviewer")
    assert window.open_project(path)
    QTest.keyClick(window, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dlg = window._adjudication
    qtbot.waitUntil(dlg.isActiveWindow, timeout=3000)
    p = window.session.project
    assert dlg.list.count() == 2 and "2 conflict(s), 2 unresolved" in dlg.summary.text()
    assert [who for who, _ in dlg.columns] == ["alice", "bob", "model"]  # each person's version and the model's
    shot(dlg, tmp_path, "adjudication")
    s1, s2 = ids[0], ids[1]
    assert dlg.data["segment_id"] == s1
    # 2: take bob's version; a reason; Enter decides
    QTest.keyClick(dlg.columns[0][1], Qt.Key.Key_2)
    assert {k for _, k in dlg.checked()} == {tuple(x.values()) for x in dlg.data["versions"][1]["spans"]}
    QTest.keyClicks(dlg.reason, "the club")
    QTest.keyClick(dlg.reason, Qt.Key.Key_Return)
    dec = review_store.latest_adjudications(p.store, [s1])[s1]
    assert (dec["method"], dec["sources"], dec["reason"], dec["adjudicator"]) == ("take", ["bob"], "the club", "rob")
    assert dlg.data["segment_id"] == s2  # on to the next unresolved conflict
    # combine: alice's version without its last span, and its second span ticked in bob's column
    QTest.keyClick(dlg.columns[0][1], Qt.Key.Key_1)
    alice, bob = dlg.columns[0][1], dlg.columns[1][1]
    n_alice = alice.count()
    assert n_alice >= 3
    alice.setFocus()
    for row in (alice.count() - 1, 1):
        alice.setCurrentRow(row)
        QTest.keyClick(alice, Qt.Key.Key_Space)  # untick
    bob.setFocus()
    bob.setCurrentRow(1)
    QTest.keyClick(bob, Qt.Key.Key_Space)  # tick
    QTest.keyClick(bob, Qt.Key.Key_Return)
    dec = review_store.latest_adjudications(p.store, [s2])[s2]
    assert dec["method"] == "combine" and dec["sources"] == ["alice", "bob"]
    assert len(dec["spans"]) == n_alice - 1
    assert p.adjudication.summary()["unresolved"] == 0
    shot(dlg, tmp_path, "adjudication_done")
    # Ctrl+Z undoes the combination: s2 is unresolved again
    QTest.keyClick(dlg.list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert p.adjudication.summary()["unresolved_segments"] == [s2]
    # E: edit the spans as text (keep one span), Enter decides by edit
    dlg.reload(s2)
    QTest.keyClick(dlg.columns[0][1], Qt.Key.Key_1)
    QTest.keyClick(dlg.columns[0][1], Qt.Key.Key_E)
    assert dlg.edit.hasFocus() and dlg.edit.text()
    first = dlg.edit.text().split(",")[0]
    dlg.edit.setText(first)
    QTest.keyClick(dlg.edit, Qt.Key.Key_Return)
    dec = review_store.latest_adjudications(p.store, [s2])[s2]
    assert dec["method"] == "edit" and len(dec["spans"]) == 1
    assert errors_sink == []
    # the team report: agreement and profiles
    window.act_team_report.trigger()
    rep = window._team_report
    assert rep.agreement.item(0, 0).text() == "overall" and rep.profiles.rowCount() == 2
    shot(rep, tmp_path, "team_report")


def test_dashboard_has_a_team_tab(window, tmp_path, qtbot, monkeypatch):
    """Agreement and each person's errors, computed in the dashboard's background job."""
    path, ids = team_project(tmp_path / "t.nerdesk")
    with Project.open(path, user="rob", tier="reviewer") as r:
        r.adjudication.adjudicate(ids[0], take="alice", reason="the city")
        expected = r.agreement()
    assert window.open_project(path)
    dlg = window.show_dashboard()
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=15000)
    panel = dlg.team_panel
    dlg.tabs.setCurrentWidget(panel)
    assert panel.agreement.item(0, 0).text() == "overall"
    assert panel.agreement.item(0, 1).text() == f"{expected['overall']['span_f1_exact']:.3f}"
    people = [panel.profiles.item(i, 0).text() for i in range(panel.profiles.rowCount())]
    assert people == ["bob"]  # rob took alice's version: bob's span was the error
    assert panel.profiles.item(0, 2).text() == "1"
    shot(dlg, tmp_path, "dashboard_team")
