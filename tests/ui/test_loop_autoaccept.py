"""The auto-accept dialog: live eligible count, the job, audits via the queue, the estimate."""

from __future__ import annotations

from PySide6.QtCore import Qt

from fakes import make_project

TEXTS = [f"Report {i}: Alice Smith met Bob Jones in Paris." if i % 3 else f"Report {i} was short." for i in range(60)]


def _wait_job(qtbot, job, timeout=30000):
    qtbot.waitUntil(lambda: job.outcome is not None, timeout=timeout)
    qtbot.wait(30)


def test_auto_accept_dialog_end_to_end(window, qtbot, tmp_path):
    from nerdesk.core.autoaccept import audit_estimate, eligible_count

    path = make_project(tmp_path / "aa.nerdesk", TEXTS)
    assert window.open_project(path)
    win = window
    win.act_auto.trigger()
    dlg = win._auto_accept
    assert dlg.isVisible()
    p = win.session.project
    # the count follows the slider
    high = eligible_count(p.store, 0.99)
    n = eligible_count(p.store, 0.60)
    for v in (70, 80, 99):  # several moves while a count runs: the last one wins
        dlg.slider.setValue(v)
        qtbot.wait(30)
    qtbot.waitUntil(lambda: dlg.counted == (0.99, high), timeout=5000)
    assert dlg.eligible.text().startswith(f"<b>{high}</b>")
    dlg.slider.setValue(60)
    qtbot.waitUntil(lambda: dlg.counted == (0.60, n), timeout=5000)
    assert dlg.eligible.text().startswith(f"<b>{n}</b>")
    assert n > high
    assert "No audited segment" in dlg.estimate.text()
    # nothing reviewed shows the threshold safe: refused, said why, overridable after a confirm
    assert not dlg.run_button.isEnabled() and dlg.force_button.isVisible()
    assert "Refused" in dlg.check.text() and "0 of 0" in dlg.check.text()
    dlg.audit.setValue(50)
    dlg.confirm_force = lambda: False
    assert dlg.run_anyway() is None and p.store.counts()["by_status"].get("auto", 0) == 0
    dlg.confirm_force = lambda: True
    job = dlg.run_anyway()
    _wait_job(qtbot, job)
    assert job.outcome == "done"
    st = p.store.counts()["by_status"]
    assert st.get("auto", 0) + st.get("audit", 0) == n and st.get("audit", 0) > 0
    assert eligible_count(p.store, 0.60) == 0
    qtbot.waitUntil(lambda: "0</b> of" in dlg.eligible.text(), timeout=3000)
    assert f"{st['audit']} waiting" in dlg.estimate.text()
    assert "auto" in win.counts.text() and "audit" in win.counts.text()
    # the audit segments are one click away, and reviewing them feeds the estimate
    dlg.review_audits.click()
    assert win.queue.status.currentText() == "audit"
    assert p.store.segment(win.session.current).status == "audit"
    audit_ids = set(win.queue.model.ids())
    assert len(audit_ids) == st["audit"]
    first = win.session.current
    qtbot.keyClick(win.view, Qt.Key.Key_Return)  # accept as predicted: no error
    assert p.store.segment(first).status == "accepted"
    second = win.session.current
    assert second in audit_ids and second != first
    seg = win.session.segment()
    if seg.spans:
        sp = seg.spans[0]
        win.session.remove_span(second, sp.start, sp.end, sp.label)  # the model was wrong
        expect_errors = 1
    else:
        expect_errors = 0
    qtbot.keyClick(win.view, Qt.Key.Key_Return)
    est = audit_estimate(p.store)
    assert est["audited"] == 2 and est["errors"] == expect_errors
    qtbot.waitUntil(lambda: "from 2 audited" in dlg.estimate.text(), timeout=3000)
    assert "95% interval" in dlg.estimate.text()
    dlg.close()
