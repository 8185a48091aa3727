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
    versions._activate(p.store, p.identity, FAKE_MODEL)  # the fake model is in the activation history
    for k, (sid, _) in enumerate(p.next_items(100, order="document")):
        seg = p.segment(sid)
        if k % 2 == 0 and seg.spans:
            sp = seg.spans[0]
            p.remove_span(sid, sp.start, sp.end, sp.label)  # a false positive
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
    rep = report(window.session.project.store)
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
        raise AssertionError(
            (
                errors_sink,
                dlg.job,
                dlg.job and dlg.job.outcome,
                dlg.report and dlg.report["active"],
                [(j.name, j.outcome) for j in window.jobs.jobs],
            )
        )
    assert dlg.versions.rowCount() == 2
    # cost per point between them: too few reviewed segments to compare the two on, and it says so
    (c,) = dlg.report["cost_per_point"]
    assert c["segments"] < 20 and c["actions_per_point"] is None
    assert dlg.cost_table.item(0, 3).text() == str(c["segments"])
    assert dlg.cost_table.item(0, 7).text() == c["reason"] and "neither trained on (20 needed)" in c["reason"]
    assert dlg.cost_chart.values == {(f"→ {new.split('+')[0]}", "actions per point"): None}
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

    path = make_project(
        tmp_path / "al.nerdesk", [f"Report {i}: Alice Smith met Bob Jones in Paris." for i in range(12)]
    )
    with Project.open(path) as p:
        retrain.configure(p.store, every=1)
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
    path = make_project(
        tmp_path / "rec.nerdesk", [f"Report {i}: Alice Smith met Bob Jones in Paris." for i in range(6)]
    )
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


class _Tagger:
    """Tags 'Ada' as PER, and 'Bob' before 'number' if asked; its card names ``trained``."""

    def __init__(self, mid: str, bob: bool = False, trained=()):
        from nerdesk.core.metrics import trained_segments
        from nerdesk.core.model.card import ModelCard

        self.id, self.labels, self.bob = mid, ["PER"], bob
        self.card = ModelCard(name=mid, version="1", labels=self.labels, trained_segments=trained_segments((), trained))

    def predict(self, batch, **_):
        from types import SimpleNamespace

        return [
            SimpleNamespace(
                spans=[(i, i + 1, "PER", 0.9) for i, t in enumerate(toks) if t == "Ada"]
                + [
                    (i, i + 1, "PER", 0.6)
                    for i, t in enumerate(toks[:-1])
                    if self.bob and t == "Bob" and toks[i + 1] == "number"
                ],
                scores=dict.fromkeys(["least_confidence", "margin", "entropy", "mnlp"], 0.1),
            )
            for toks in batch
        ]


def _two_versions(tmp_path):
    """m@1 (finds Ada) pre-annotates 50 segments; 40 are reviewed (its 30 missed 'Bob's corrected,
    PER is high-severity); m@2 (also finds 'Bob number'), trained on the first 10, is promoted; the
    last 10 are reviewed against it (it misses 'Bob again': corrected before, recurring)."""
    from nerdesk.core.project import Project
    from nerdesk.core.types import DocRecord, Span, drain
    from nerdesk.core.versions import promote

    texts = (
        [f"Ada slept {i} ." for i in range(10)]
        + [f"Ada met Bob number {i} ." for i in range(30)]
        + [f"Ada saw Bob again {i} ." for i in range(10)]
    )
    path = tmp_path / "two.nerdesk"
    with Project.create(path, labels=["PER"], user="r") as p:
        drain(p.import_records([DocRecord(t, source="a.txt" if i < 25 else "b.txt") for i, t in enumerate(texts)]))
        drain(p.predict(_Tagger("m@1")))
        p.set_severity("PER", "high")
        ids = [sid for sid, _ in p.next_items(100, order="document")]

        def review(k, sid):
            p.set_spans(sid, [Span(0, 3, "PER")] + ([Span(8, 11, "PER")] if k >= 10 else []))
            p.accept(sid)

        for k, sid in enumerate(ids[:40]):
            review(k, sid)
        drain(promote(p.store, p.identity, _Tagger("m@2", bob=True, trained=texts[:10])))
        for k, sid in enumerate(ids[40:], 40):
            review(k, sid)
    return path


def test_monitoring_charts_hold_the_reports_series(window, qtbot, tmp_path):
    """Every monitoring chart holds the figures metrics.report() gives, and paints them (its
    tooltips come from the bars and points it drew)."""
    from PySide6.QtCore import QPointF

    from nerdesk.core.metrics import report

    path = _two_versions(tmp_path)
    assert window.open_project(path)
    dlg = window.show_dashboard()
    _wait_job(qtbot, dlg.job)
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=5000)
    rep = report(window.session.project.store)
    rec = {r["model_id"]: r for r in rep["recurrence"]}
    assert (rec["m@1"]["share"], rec["m@2"]["share"], rec["m@2"]["corrections"]) == (0.0, 1.0, 10)

    def painted(chart, tab):
        dlg.tabs.setCurrentIndex(tab)
        qtbot.wait(10)
        chart.grab()
        assert chart.tips, f"{chart.objectName()} drew no data"
        return [t for _, t in chart.tips]

    # recurring errors per version
    key = "recurring share"
    assert dlg.recurrence_chart.groups == ["m@1", "m@2"]
    assert dlg.recurrence_chart.values == {("m@1", key): 0.0, ("m@2", key): 1.0}
    assert any("10 of 10 corrections against m@2" in t for t in painted(dlg.recurrence_chart, 3))
    # high-severity corrections over time
    days = rep["severity"]
    assert [d["high"] for d in days] == [40] and dlg.severity_chart.series == ["high", "normal", "low"]
    assert dlg.severity_chart.values[(days[0]["day"][5:], "high")] == 40
    assert any(": 40 high-severity corrections" in t for t in painted(dlg.severity_chart, 3))
    # long-tail recall: m@2 never saw 'Bob' in training; it finds 30 of the 40
    lt = next(m["long_tail"] for m in rep["models"] if m["id"] == "m@2")
    assert (lt["surface_spans"], lt["surface_recall"]) == (40, 0.75)
    assert dlg.long_tail_chart.groups == ["m@2"]  # a base model (no training segments) has no long tail
    assert dlg.long_tail_chart.values[("m@2", "rare surface forms")] == 0.75
    assert any("40 unseen gold spans" in t for t in painted(dlg.long_tail_chart, 3))
    # cost per point, on the 40 segments neither trained on
    (c,) = rep["cost_per_point"]
    assert c["segments"] == 40 and round(c["f1_points"], 1) == 26.7
    assert dlg.cost_chart.values == {("→ m@2", "actions per point"): pytest.approx(c["actions_per_point"])}
    assert any("40 shared segments, F1 0.667 → 0.933" in t for t in painted(dlg.cost_chart, 3))
    assert [dlg.cost_table.item(0, j).text() for j in (0, 1, 3, 5, 7)] == ["m@1", "m@2", "40", "+26.7", "—"]
    # drift: unseen-word rate with its alert line, and the label mix per window
    wins = rep["drift"]["windows"]
    assert dlg.drift_chart.lines["unseen-word rate"] == [w["unseen_word_rate"] for w in wins]
    assert dlg.drift_chart.thresholds and dlg.drift_chart.thresholds[0][1] == "unseen-word rate"
    assert list(dlg.label_mix.shares.values()) == [w["labels"] for w in wins] and dlg.label_mix.parts == ["PER"]
    assert dlg.label_mix.alert is None  # PER only, first to last
    painted(dlg.drift_chart, 1)
    assert any("PER 100.0% of predicted spans" in t for t in painted(dlg.label_mix, 1))
    # a reliability diagram per version: the active one first, any other on choice
    q = {m["id"]: m for m in rep["models"]}
    assert dlg.reliability_model.count() == 2 and dlg.reliability_model.currentData() == "m@2"
    assert dlg.reliability.bins == q["m@2"]["reliability"]
    dlg.reliability_model.setCurrentIndex(0)
    assert dlg.reliability.bins == q["m@1"]["reliability"] and "m@1" in dlg.reliability.title
    assert dlg.reliability.ece == pytest.approx(q["m@1"]["ece"])
    tips = painted(dlg.reliability, 0)
    assert any("spans, " in t and "exactly right" in t for t in tips)
    # the tooltip is where the bar is
    rect, text = dlg.cost_chart.tips[0]
    assert dlg.cost_chart.tip_at(QPointF(rect.center())) == text
    dlg.close()


def test_label_mix_chart_carries_the_label_shift_alert(qtbot):
    from nerdesk.ui.widgets.charts import StackedBarChart
    from nerdesk.ui.widgets.dashboard import _mix_alert

    wins = [
        {"labels": {"PER": 0.8, "LOC": 0.2}},
        {"labels": {"PER": 0.5, "LOC": 0.5}},
        {"labels": {"PER": 0.3, "LOC": 0.7}},
    ]
    alert = _mix_alert(wins)
    assert alert and "shifted by 50%" in alert  # total variation 0.5 > 0.2
    assert _mix_alert(wins[:2]) is not None and _mix_alert([wins[0], wins[0]]) is None
    chart = StackedBarChart("mix")
    qtbot.addWidget(chart)
    chart.resize(400, 260)
    chart.set_data(["a", "b", "c"], {k: w["labels"] for k, w in zip("abc", wins)}, alert=alert)
    chart.grab()
    tips = [t for _, t in chart.tips]
    assert alert in tips and "c: LOC 70.0% of predicted spans" in tips and chart.parts == ["LOC", "PER"]


def test_drift_tab_shows_words_unseen_in_the_models_training_data(window, qtbot, tmp_path):
    """Input drift against the training data (issue 14): the active model's package vocabulary
    (en-base's vocab.txt.gz), the unseen-in-training line with its alert, the newest window's
    novelty histogram and the table's columns."""
    from nerdesk.core.metrics import UNSEEN_IN_TRAINING_ALERT, report
    from nerdesk.core.project import Project

    texts = [f"Report {i}: Alice Smith met Bob Jones in Paris." for i in range(6)] + [
        f"Case {i}: hypokalaemic periodic paralysis and thyrotoxicosis." for i in range(6)
    ]
    path = make_project(tmp_path / "voc.nerdesk", texts)
    with Project.open(path) as p:
        p.store.conn.execute("UPDATE models SET path = ?", (str(MODEL_DIR),))
    assert window.open_project(path)
    dlg = window.show_dashboard()
    _wait_job(qtbot, dlg.job)
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=8000)
    rep = report(window.session.project.store)
    wins = rep["drift"]["windows"]
    rates = [w["unseen_in_training_rate"] for w in wins]
    assert rates[0] == 0.0 and rates[-1] > UNSEEN_IN_TRAINING_ALERT  # the clinical text is new to it
    assert dlg.drift_chart.lines["unseen in training"] == rates
    assert [t[1] for t in dlg.drift_chart.thresholds] == ["unseen-word rate", "unseen in training"]
    assert "vocab.txt.gz of en-base" in dlg.vocab_note.text() and "held-out sentences: 8.0%" in dlg.vocab_note.text()
    assert "never occur in the active model&#x27;s training data" in dlg.alerts.text()
    nov = wins[-1]["novelty"]
    assert sum(dlg.novelty_chart.values.values()) == pytest.approx(1.0)
    assert dlg.novelty_chart.values[("40-60%", "segments")] == pytest.approx(
        sum(nov["histogram"][4:6]) / nov["segments"]
    )
    assert [dlg.drift_table.horizontalHeaderItem(j).text() for j in (7, 8, 9)] == [
        "Unseen in training",
        "Novelty p50",
        "Novelty p90",
    ]
    assert dlg.drift_table.item(len(wins) - 1, 7).text() == f"{rates[-1]:.3f}"
    dlg.tabs.setCurrentIndex(1)
    qtbot.wait(10)
    dlg.novelty_chart.grab()
    assert dlg.novelty_chart.tips  # it painted its bars
    dlg.close()
