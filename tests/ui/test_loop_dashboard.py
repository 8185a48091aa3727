"""The dashboard: quality per version, reliability, drift, errors and effort, computed in a job;
model versions: promote a model directory (job), roll back (checked in the database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import FAKE_MODEL, TEXTS, make_project

MODEL_DIR = Path(__file__).resolve().parents[2] / "resources" / "models" / "en-base"


def _wait_job(qtbot, job, timeout=60000):
    qtbot.waitUntil(lambda: job.outcome is not None, timeout=timeout)
    qtbot.wait(30)


def _reviewed_project(tmp_path):
    from nerdesk.core import versions
    from nerdesk.core.project import Project

    path = make_project(tmp_path / "dash.nerdesk", TEXTS)
    p = Project.open(path)
    versions._activate(p, FAKE_MODEL)  # the fake model is in the activation history
    for k, (sid, _) in enumerate(p.next_items(100, order="document")):
        seg = p.segment(sid)
        if k % 2 == 0 and seg["spans"]:
            sp = seg["spans"][0]
            p.remove_span(sid, sp["start"], sp["end"], sp["label"])  # a false positive
        p.accept(sid)
    p.close()
    return path


def test_dashboard_shows_the_report(window, qtbot, tmp_path):
    from nerdesk.core.metrics import report

    path = _reviewed_project(tmp_path)
    assert window.open_project(path)
    dlg = window.show_dashboard()
    assert dlg.isVisible()
    _wait_job(qtbot, dlg.job)
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=5000)
    rep = report(window.session.project)
    m = rep["models"][0]
    assert dlg.f1_chart.groups == [FAKE_MODEL]
    assert dlg.f1_chart.values[(FAKE_MODEL, "F1 exact")] == pytest.approx(m["exact"]["f1"])
    assert dlg.f1_chart.values[(FAKE_MODEL, "ECE")] == pytest.approx(m["ece"])
    assert 0 < m["exact"]["f1"] < 1
    assert sum(b["n"] for b in dlg.reliability.bins) > 0
    assert dlg.quality_table.rowCount() == 1 and dlg.quality_table.item(0, 1).text() == "✔"
    assert dlg.drift_chart.xlabels and "correction rate" in dlg.drift_chart.lines
    assert dlg.drift_table.rowCount() == len(rep["drift"]["windows"])
    assert "PSI" in dlg.psi.text()
    fp = rep["errors"]["per_category"]["false_positive"]
    assert dlg.categories.values[("false positive", "corrections")] == fp
    assert dlg.false_pos.rowCount() == len(rep["errors"]["false_positive_surface_forms"]) > 0
    assert "edit actions" in dlg.effort.text() and "saved" in dlg.effort.text()
    # the charts paint (offscreen) without errors
    for tab in range(dlg.tabs.count()):
        dlg.tabs.setCurrentIndex(tab)
        dlg.grab()
    dlg.close()


def test_promote_and_roll_back(window, qtbot, tmp_path, errors_sink):
    path = _reviewed_project(tmp_path)
    assert window.open_project(path)
    dlg = window.show_dashboard()
    _wait_job(qtbot, dlg.job)
    p = window.session.project
    job = dlg.promote(MODEL_DIR)
    _wait_job(qtbot, job)
    assert job.outcome == "done", job.outcome
    new = p.active_model_id()
    assert new != FAKE_MODEL and new.startswith("en-base")
    assert f"model: {new}" in window.model_label.text()
    try:
        qtbot.waitUntil(lambda: dlg.job is None and dlg.report and dlg.report["active"] == new, timeout=8000)
    except Exception:
        raise AssertionError((errors_sink, dlg.job, dlg.job and dlg.job.outcome, dlg.report and dlg.report["active"],
                              [(j.name, j.outcome) for j in window.jobs.jobs]))
    assert dlg.versions.rowCount() == 2
    assert dlg.versions.horizontalHeaderItem(8).text() == "Base domain F1"
    assert dlg.versions.item(0, 8).text() == "—"  # neither model is a fine-tune
    assert FAKE_MODEL in dlg.history.text() and new in dlg.history.text()
    assert dlg.rollback_button.isEnabled()
    dlg.rollback_button.click()
    assert p.active_model_id() == FAKE_MODEL
    assert f"model: {FAKE_MODEL}" in window.model_label.text()
    qtbot.waitUntil(lambda: dlg.job is None and dlg.report and dlg.report["active"] == FAKE_MODEL, timeout=30000)
    dlg.close()


def test_dashboard_shows_drift_alerts_and_the_retraining_trigger(window, qtbot, tmp_path):
    from nerdesk.core import retrain
    from nerdesk.core.project import Project

    path = make_project(tmp_path / "al.nerdesk", [f"Report {i}: Alice Smith met Bob Jones in Paris." for i in range(12)])
    with Project.open(path) as p:
        retrain.configure(p, every=1)
        sid = p.next_items(1, order="document")[0][0]
        seg = p.segment(sid)
        p.set_spans(sid, [])  # every model span was wrong: corrections
        p.accept(sid)
    assert window.open_project(path)
    dlg = window.show_dashboard()
    _wait_job(qtbot, dlg.job)
    qtbot.waitUntil(lambda: dlg.report is not None and "retrain" in dlg.report, timeout=8000)
    assert "fine-tune due" in dlg.alerts.text() and seg is not None
    assert dlg.drift_table.horizontalHeaderItem(6).text() == "Unseen words"
    dlg.close()


def test_dashboard_shows_recurrence_and_severity(window, qtbot, tmp_path):
    path = make_project(tmp_path / "rec.nerdesk", [f"Report {i}: Alice Smith met Bob Jones in Paris." for i in range(6)])
    from nerdesk.core.project import Project

    with Project.open(path) as p:
        for sid, _ in p.next_items(3, order="document"):
            p.set_spans(sid, [])  # the model's spans were all wrong
            p.accept(sid)
    assert window.open_project(path)
    dlg = window.show_dashboard()
    _wait_job(qtbot, dlg.job)
    qtbot.waitUntil(lambda: dlg.report is not None and "Recurring errors" in dlg.effort.text(), timeout=8000)
    assert "had been corrected before it" in dlg.effort.text() and "High-severity corrections" in dlg.effort.text()
    dlg.close()
