"""Queue strategies (routing in a job, reasons shown) and SQL queue filters, in the app."""

from __future__ import annotations

from PySide6.QtCore import Qt

from nerdesk.core.routing import STRATEGIES


def wait_routed(qtbot, q, timeout=15000):
    qtbot.waitUntil(lambda: not q.model.routing, timeout=timeout)
    qtbot.wait(10)


def test_strategy_selector_routes_in_a_job_and_shows_why(opened, qtbot):
    win, q = opened, opened.queue
    names = [q.strategy.itemData(i) for i in range(q.strategy.count())]
    assert names[0] == "blend" and set(STRATEGIES) <= set(names)
    assert q.strategy.currentData() == "blend"
    wait_routed(qtbot, q)
    assert q.model.routed and q.model.rowCount() > 0
    assert "routed by" in q.routing_label.text()
    # every row says why; the Why column and the tooltip
    sid = q.model.segment_id(0)
    why = q.model.index(0, 2).data()
    assert why and why == "; ".join(q.model.reasons[sid])
    assert "Routed because" in q.model.index(0, 6).data(Qt.ItemDataRole.ToolTipRole)
    # Next walks the routed list; the inspector shows the reasons
    assert win.session.routed == q.model.ids()
    q.table.clicked.emit(q.proxy.index(0, 0))
    assert win.session.current == sid
    win.inspector.refresh_now()
    assert "Routed because" in win.inspector.body.toPlainText()
    # another strategy: the uncertainty scores as reasons
    q.set_strategy("least_confidence")
    wait_routed(qtbot, q)
    assert all("least confidence" in q.model.index(r, 2).data() for r in range(q.model.rowCount()))
    scores = [float(q.model.index(r, 1).data()) for r in range(q.model.rowCount())]
    assert scores == sorted(scores, reverse=True)
    # a plain SQL order needs no job
    q.set_strategy("document")
    assert not q.model.routing and not q.model.routed
    ids = q.model.ids()
    assert ids == sorted(ids) and win.session.routed is None


def test_next_follows_routed_order(opened, qtbot):
    win, q = opened, opened.queue
    q.set_strategy("random")
    wait_routed(qtbot, q)
    order = q.model.ids()
    visited = [win.session.current]
    for _ in range(3):
        qtbot.keyClick(win.view, Qt.Key.Key_N)
        visited.append(win.session.current)
    expect = [sid for sid in order if sid != visited[0]][:3]
    assert visited[1:] == expect


def test_sql_filters_label_source_confidence(opened, qtbot):
    win, q = opened, opened.queue
    p = win.session.project
    q.set_strategy("uncertainty")
    total = q.model.rowCount()
    # label: the model predicted a LOC span
    q.label_filter.setCurrentIndex(q.label_filter.findData("LOC"))
    expect = [sid for sid, _ in p.next_items(1000, label="LOC")]
    assert q.model.ids() == expect and 0 < len(expect) < total
    assert win.session.queue_filters == {"label": "LOC"}
    q.label_filter.setCurrentIndex(0)
    # source (Enter applies)
    q.source_filter.setText("doc1.txt")
    qtbot.keyClick(q.source_filter, Qt.Key.Key_Return)
    assert {q.model.index(r, 5).data() for r in range(q.model.rowCount())} == {"doc1.txt"}
    assert q.model.rowCount() == len(p.next_items(1000, source="doc1.txt"))
    q.source_filter.clear()
    assert q.model.rowCount() == total
    # confidence
    q.max_conf.setValue(0.5)
    qtbot.waitUntil(lambda: q.model.filters.get("max_confidence") == 0.5, timeout=3000)
    for sid in q.model.ids():
        seg = p.segment(sid)
        assert min(sp.confidence for sp in seg.prediction.spans) <= 0.5
    assert q.model.rowCount() == len(p.next_items(1000, max_confidence=0.5))
    # Next honours the filters
    qtbot.keyClick(win.view, Qt.Key.Key_N)
    assert win.session.current in q.model.ids()
    # a routed list is filtered with the same meaning
    q.set_strategy("blend")
    wait_routed(qtbot, q)
    assert q.model.routed
    assert set(q.model.ids()) <= {sid for sid, _ in p.next_items(1000, max_confidence=0.5)}


def test_session_starts_at_the_routed_top_unless_the_user_already_moved(opened, qtbot):
    win, q = opened, opened.queue
    wait_routed(qtbot, q)
    first = win.session.current
    others = [sid for sid in q.model.ids() if sid != first]
    # routing answers while the user has not moved: the session starts at the routed top
    win.session.set_routed([others[0], first, *others[1:]], q.model.reasons)
    assert win.session.current == others[0]
    # once the user has acted, a new routed list never moves them
    win.session.next()
    here = win.session.current
    win.session.set_routed(list(reversed(q.model.ids())), q.model.reasons)
    assert win.session.current == here
