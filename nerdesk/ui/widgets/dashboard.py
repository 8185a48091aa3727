"""The dashboard: quality per model version, calibration (a reliability diagram per version),
drift (confidence, correction and unseen-word rates, the predicted label mix, alerts), errors and
effort, monitoring (recurring errors per version, corrections per day by severity, long-tail
recall, cost per F1 point), and the model versions (promote a model directory, roll back).
Everything is computed in a background job (nerdesk.core.metrics.report, versions.compare) and
drawn with QPainter (nerdesk.ui.widgets.charts)."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from nerdesk.core.categorize import CATEGORY_NAMES
from nerdesk.core.metrics import (
    LABEL_SHIFT_ALERT,
    LONG_TAIL,
    MIN_COST_SEGMENTS,
    MIN_SEGMENTS_FOR_BEST,
    NOVEL_SEGMENT,
    PSI_MIN_SEGMENTS,
    UNSEEN_ALERT,
    UNSEEN_IN_TRAINING_ALERT,
    best_model,
)
from nerdesk.ui.jobs import project_job
from nerdesk.ui.widgets.charts import BarChart, LineChart, ReliabilityChart, StackedBarChart, count_top


SHORT = {
    "false_positive": "false positive",
    "false_negative": "missed",
    "boundary": "boundary",
    "label": "label",
    "boundary_label": "bound.+label",
}


def report_factory(project_path):
    from nerdesk.core import metrics, retrain, versions

    def work(p):
        rep = metrics.report(p.store)
        rep["effort"] = p.error_report(1)["effort"]
        rep["versions"] = versions.compare(p.store)
        rep["history"] = versions.history(p.store)
        rep["active"] = p.active_model_id()
        rep["retrain"] = retrain.state(p.store)
        rep["team"] = {"agreement": p.agreement(), "profiles": p.team.error_profiles()}  # issue 16
        rep["label_currency"] = p.taxonomy.currency()  # how much of each label is current (issue 17)
        return rep

    return project_job(project_path, work, "Computing the dashboard")


def promote_factory(project_path, model_dir):
    from nerdesk.core import versions

    return project_job(project_path, lambda p: versions.promote(p.store, p.identity, model_dir))


def _table(headers: list[str], name: str) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.horizontalHeader().setStretchLastSection(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return t


def _fill(t: QTableWidget, rows: list[tuple]) -> None:
    t.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            t.setItem(i, j, QTableWidgetItem("—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)))


def _monitoring_html(rep: dict) -> str:
    """Recurring errors, high-severity corrections and long-tail recall, as the HTML report has them."""
    out = []
    rec = [r for r in rep.get("recurrence", []) if r["corrections"]]
    if rec:
        out.append(
            "<h3>Recurring errors</h3><p>"
            + "<br>".join(
                f"{html.escape(_short(r['model_id']))}: {r['recurring']} of {r['corrections']} corrections "
                f"({r['share']:.0%}) had been corrected before it"
                for r in rec
            )
            + "</p>"
        )
    high = sum(d["high"] for d in rep.get("severity", []))
    if rep.get("severity"):
        out.append(f"<p>High-severity corrections: <b>{high}</b> over {len(rep['severity'])} day(s).</p>")
    tails = [
        (m["id"], m["long_tail"])
        for m in rep.get("models", [])
        if m.get("long_tail") and m["long_tail"]["surface_spans"]
    ]
    if tails:
        mid, lt = tails[-1]
        out.append(
            f"<p>Long tail ({html.escape(_short(mid))}): recall <b>{lt['surface_recall']:.2f}</b> on "
            f"{lt['surface_spans']} spans whose surface form its training held fewer than 5 times.</p>"
        )
    if out:
        out.append("<p><i>As charts, per version and per day: the Monitoring tab.</i></p>")
    return "".join(out)


def _mix_alert(wins: list[dict]) -> str | None:
    """The label-mix alert of metrics.drift_alerts, as the chart's caption: the total-variation
    distance between the first and the last window's predicted label shares."""
    if len(wins) < 2 or not wins[0].get("labels") or not wins[-1].get("labels"):
        return None
    a, b = wins[0]["labels"], wins[-1]["labels"]
    tv = 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))
    return (
        f"⚠ first → last window: shifted by {tv:.0%} (alert above {LABEL_SHIFT_ALERT:.0%})"
        if tv > LABEL_SHIFT_ALERT
        else None
    )


def _interval(ci) -> str | None:
    return f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else None


def _short(model_id: str) -> str:
    return model_id if len(model_id) <= 28 else model_id[:12] + "…" + model_id[-12:]


def _labels(ids: list[str]) -> dict[str, str]:
    """Chart labels of model versions: the id without its '+hash' where that stays unique (the
    charts elide the middle, keeping the version; the tooltips and tables have the whole id)."""
    bare = {i: i.split("+", 1)[0] for i in ids}
    return bare if len(set(bare.values())) == len(bare) else {i: i for i in ids}


class Dashboard(QDialog):
    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.session = win.session
        self.report: dict | None = None
        self.job = None
        self.setObjectName("dashboard")
        self.setWindowTitle("Dashboard")
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.headline = QLabel()
        self.headline.setObjectName("dashboardHeadline")
        self.headline.setWordWrap(True)
        top.addWidget(self.headline, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("dashboardRefresh")
        top.addWidget(self.refresh_button)
        lay.addLayout(top)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("dashboardTabs")
        lay.addWidget(self.tabs, 1)

        # quality
        q = QWidget()
        g = QGridLayout(q)
        self.f1_chart = BarChart("Entity F1 (exact) and ECE per model version, on reviewed segments")
        self.f1_chart.setObjectName("f1Chart")
        self.reliability = ReliabilityChart("Reliability of the active model")
        self.reliability.setObjectName("reliabilityChart")
        self.reliability_model = QComboBox()
        self.reliability_model.setObjectName("reliabilityModel")
        self.reliability_model.setToolTip("The model version whose reliability diagram is shown")
        rel = QWidget()
        rl = QVBoxLayout(rel)
        rl.setContentsMargins(0, 0, 0, 0)
        pick = QHBoxLayout()
        pick.addWidget(QLabel("Reliability of"))
        pick.addWidget(self.reliability_model, 1)
        rl.addLayout(pick)
        rl.addWidget(self.reliability, 1)
        self.quality_table = _table(
            ["Model", "Active", "Unseen reviewed", "Precision", "Recall", "F1", "F1 95% interval", "Partial F1", "ECE"],
            "qualityTable",
        )
        self.quality_table.horizontalHeaderItem(2).setToolTip(
            "Reviewed segments the model was not trained on: the only ones it is scored on"
        )
        g.addWidget(self.f1_chart, 0, 0)
        g.addWidget(rel, 0, 1)
        g.addWidget(self.quality_table, 1, 0, 1, 2)
        g.setRowStretch(0, 3)
        g.setRowStretch(1, 1)
        self.tabs.addTab(q, "Quality")

        # drift
        d = QWidget()
        dl = QVBoxLayout(d)
        self.drift_chart = LineChart("Per window of documents (import order)")
        self.drift_chart.setObjectName("driftChart")
        self.label_mix = StackedBarChart("Predicted label mix per window (output drift)")
        self.label_mix.setObjectName("labelMixChart")
        self.novelty_chart = BarChart("Novelty of the newest window's segments (words unseen in training)")
        self.novelty_chart.setObjectName("noveltyChart")
        self.novelty_chart.percent = True
        charts = QHBoxLayout()
        charts.addWidget(self.drift_chart, 4)
        charts.addWidget(self.label_mix, 2)
        charts.addWidget(self.novelty_chart, 2)
        self.vocab_note = QLabel()
        self.vocab_note.setObjectName("trainingVocabulary")
        self.vocab_note.setWordWrap(True)
        self.vocab_note.setTextFormat(Qt.TextFormat.PlainText)
        self.psi = QLabel()
        self.psi.setObjectName("psiLabel")
        self.psi.setWordWrap(True)
        self.alerts = QLabel()
        self.alerts.setObjectName("driftAlerts")
        self.alerts.setWordWrap(True)
        self.drift_table = _table(
            [
                "Documents",
                "Segments",
                "Mean confidence",
                "Mean uncertainty",
                "Reviewed",
                "Correction rate",
                "Unseen words",
                "Unseen in training",
                "Novelty p50",
                "Novelty p90",
                f"Segments > {NOVEL_SEGMENT:.0%} new",
            ],
            "driftTable",
        )
        self.drift_table.horizontalHeaderItem(6).setToolTip("Share of the window's words no earlier document used")
        self.drift_table.horizontalHeaderItem(7).setToolTip(
            "Share of the window's words the active model's training data never holds"
        )
        dl.addLayout(charts, 3)
        dl.addWidget(self.vocab_note)
        dl.addWidget(self.psi)
        dl.addWidget(self.alerts)
        dl.addWidget(self.drift_table, 1)
        self.tabs.addTab(d, "Drift")

        # errors and effort
        e = QWidget()
        el = QGridLayout(e)
        self.categories = BarChart("Corrections per error category")
        self.categories.setObjectName("categoryChart")
        self.categories.integer = True
        self.missed = _table(["Missed surface form", "Label", "Count"], "missedTable")
        self.confused = _table(["Model said", "Human said", "Count"], "confusedTable")
        self.false_pos = _table(["False positive", "Label", "Count"], "falsePositiveTable")
        self.effort = QLabel()
        self.effort.setObjectName("effortLabel")
        self.effort.setWordWrap(True)
        el.addWidget(self.categories, 0, 0)
        el.addWidget(self.effort, 0, 1)
        el.addWidget(self.missed, 1, 0)
        el.addWidget(self.confused, 1, 1)
        el.addWidget(self.false_pos, 2, 0, 1, 2)
        self.tabs.addTab(e, "Errors and effort")

        # monitoring
        mo = QWidget()
        mg = QGridLayout(mo)
        self.recurrence_chart = BarChart("Recurring errors: share of each version's corrections already made before it")
        self.recurrence_chart.setObjectName("recurrenceChart")
        self.recurrence_chart.percent = True
        self.severity_chart = BarChart("Corrections per day by severity")
        self.severity_chart.setObjectName("severityChart")
        self.severity_chart.integer = True
        self.severity_chart.colors = ["#b00020", "#3b7dd8", "#8c8c8c"]
        self.long_tail_chart = BarChart(f"Long-tail recall (seen fewer than {LONG_TAIL} times in training)")
        self.long_tail_chart.setObjectName("longTailChart")
        self.long_tail_chart.empty_text = "No fine-tuned version yet (a base model's training is not in the project)"
        self.cost_chart = BarChart("Edit actions per F1 point gained, on segments neither version trained on")
        self.cost_chart.setObjectName("costChart")
        self.cost_chart.integer = True
        self.cost_chart.empty_text = "Needs two versions compared on enough shared segments"
        self.cost_table = _table(
            [
                "From",
                "To",
                "Edit actions",
                "Shared segments",
                "F1 from → to",
                "F1 points",
                "Actions per point",
                "Why no figure",
            ],
            "costTable",
        )
        self.cost_table.verticalHeader().setDefaultSectionSize(24)
        self.cost_table.horizontalHeaderItem(3).setToolTip(
            f"Reviewed segments both versions predicted and neither trained on: the one set both are scored on "
            f"(at least {MIN_COST_SEGMENTS} for a figure)"
        )
        mg.addWidget(self.recurrence_chart, 0, 0)
        mg.addWidget(self.severity_chart, 0, 1)
        mg.addWidget(self.long_tail_chart, 1, 0)
        mg.addWidget(self.cost_chart, 1, 1)
        mg.addWidget(self.cost_table, 2, 0, 1, 2)
        mg.setRowStretch(0, 3)
        mg.setRowStretch(1, 3)
        mg.setRowStretch(2, 2)
        self.tabs.addTab(mo, "Monitoring")

        # model versions
        m = QWidget()
        ml = QVBoxLayout(m)
        self.versions = _table(
            [
                "Model",
                "Name",
                "Version",
                "Active",
                "Unseen reviewed",
                "F1",
                "F1 95% interval",
                "ECE",
                "Base domain F1",
                "Created",
            ],
            "versionsTable",
        )
        self.versions.horizontalHeaderItem(8).setToolTip(
            "Fine-tuned models: the base model's F1 → this model's, on held-out data of the base "
            "model's own domain (what it may have forgotten)"
        )
        ml.addWidget(self.versions, 1)
        self.history = QLabel()
        self.history.setObjectName("historyLabel")
        self.history.setWordWrap(True)
        ml.addWidget(self.history)
        row = QHBoxLayout()
        self.promote_button = QPushButton("Promote a model directory…")
        self.promote_button.setObjectName("promoteButton")
        self.promote_button.setToolTip("Register it, make it active and predict every segment it has not seen")
        self.rollback_button = QPushButton("Roll back to the previous model")
        self.rollback_button.setObjectName("rollbackButton")
        row.addWidget(self.promote_button)
        row.addWidget(self.rollback_button)
        row.addStretch(1)
        ml.addLayout(row)
        self.tabs.addTab(m, "Model versions")
        from nerdesk.ui.widgets.adjudication import TeamPanel

        self.team_panel = TeamPanel()  # agreement and each person's errors (issue 16)
        self.tabs.addTab(self.team_panel, "Team")
        # labels: how much of each label's work was made under its current definition (issue 17)
        self.currency = _table(
            ["Label", "Segments annotated", "Current", "Stale (to re-review)", "Current share"], "labelCurrencyTable"
        )
        self.tabs.addTab(self.currency, "Labels")

        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.resize(1180, 800)
        self.refresh_button.clicked.connect(self.refresh)
        self.promote_button.clicked.connect(self.promote_dialog)
        self.rollback_button.clicked.connect(self.rollback)
        self.reliability_model.currentIndexChanged.connect(self._show_reliability)

    # ------------------------------------------------------------------ data
    def refresh(self):
        p = self.session.project
        if p is None or self.job is not None:
            return self.job
        self.headline.setText("<i>Computing…</i>")
        self.refresh_button.setEnabled(False)
        self.job = self.win.run_job(
            "Computing the dashboard", report_factory(p.path), on_done=self.show_report, on_finished=self._finished
        )
        return self.job

    def _finished(self) -> None:
        self.job = None
        self.refresh_button.setEnabled(True)

    def show_report(self, rep: dict) -> None:
        self.report = rep
        _fill(
            self.currency,
            [
                (
                    name,
                    c["annotations"],
                    c["current"],
                    c["stale"],
                    f"{c['current'] / c['annotations']:.0%}" if c["annotations"] else "—",
                )
                for name, c in sorted(rep.get("label_currency", {}).items())
            ],
        )
        if "team" in rep:
            self.team_panel.show_data(rep["team"]["agreement"], rep["team"]["profiles"])
        models = rep["models"]
        active = rep["active"]
        lab = _labels([m["id"] for m in models] + [r["model_id"] for r in rep.get("recurrence", [])])
        self.f1_chart.set_data(
            [lab[m["id"]] for m in models],
            ["F1 exact", "ECE"],
            {
                **{(lab[m["id"]], "F1 exact"): m["exact"]["f1"] if m["reviewed_segments"] else None for m in models},
                **{(lab[m["id"]], "ECE"): m["ece"] for m in models},
            },
            notes={
                **{
                    (lab[m["id"]], "F1 exact"): f"{m['id']}: on {m['reviewed_segments']} reviewed segments it did "
                    "not train on" + (f", 95% {_interval(m['f1_interval'])}" if m["f1_interval"] else "")
                    for m in models
                },
                **{(lab[m["id"]], "ECE"): m["id"] for m in models},
            },
        )
        act = next((m for m in models if m["id"] == active), None)
        # the active model's diagram, or (when it trained on every reviewed segment) the newest scored one's
        shown = (
            act
            if act and act["reviewed_segments"]
            else next((m for m in reversed(models) if m["reviewed_segments"]), act)
        )
        self.reliability_model.blockSignals(True)
        self.reliability_model.clear()
        for m in models:
            self.reliability_model.addItem(
                f"{m['id']}{' (active)' if m['id'] == active else ''}: {m['reviewed_segments']} unseen "
                "reviewed segments",
                m["id"],
            )
        self.reliability_model.setCurrentIndex(models.index(shown) if shown else -1)
        self.reliability_model.blockSignals(False)
        self._show_reliability()
        _fill(
            self.quality_table,
            [
                (
                    m["id"],
                    "✔" if m["id"] == active else "",
                    m["reviewed_segments"],
                    m["exact"]["precision"],
                    m["exact"]["recall"],
                    m["exact"]["f1"],
                    _interval(m["f1_interval"]),
                    m["partial"]["f1"],
                    m["ece"],
                )
                for m in models
            ],
        )
        # drift
        dr = rep["drift"]
        wins = dr["windows"]
        xs = [f"{w['documents'][0]}–{w['documents'][1]}" for w in wins]
        self.drift_chart.set_data(
            xs,
            {
                "mean confidence": [w["mean_confidence"] for w in wins],
                "correction rate": [w["correction_rate"] for w in wins],
                "unseen-word rate": [w.get("unseen_word_rate") for w in wins],
                "unseen in training": [w.get("unseen_in_training_rate") for w in wins],
            },
            thresholds=[
                (UNSEEN_ALERT, "unseen-word rate", f"unseen-word alert {UNSEEN_ALERT:.0%}"),
                (
                    UNSEEN_IN_TRAINING_ALERT,
                    "unseen in training",
                    f"unseen-in-training alert {UNSEEN_IN_TRAINING_ALERT:.0%}",
                ),
            ],
        )
        newest = next((w for w in reversed(wins) if w.get("novelty")), None)
        bins = ["<20%", "20-40%", "40-60%", "60-80%", "≥80%"]  # of a segment's words unseen in training
        if newest:
            nov = newest["novelty"]
            fifths = [sum(nov["histogram"][2 * k : 2 * k + 2]) for k in range(5)]
            self.novelty_chart.title = (
                f"Novelty, docs {newest['documents'][0]}–{newest['documents'][1]}: "
                f"segments by % of their words unseen in training"
            )
            self.novelty_chart.set_data(
                bins,
                ["segments"],
                {(b, "segments"): n / nov["segments"] for b, n in zip(bins, fifths)},
                hi=max(0.05, max(fifths) / nov["segments"]),
                notes={(b, "segments"): f"{n} of {nov['segments']} segments" for b, n in zip(bins, fifths)},
            )
        else:
            self.novelty_chart.set_data([], ["segments"], {})
        tv = dr.get("training_vocabulary")
        if tv:
            ref = tv.get("held_out_rate")
            self.vocab_note.setText(
                f"Unseen in training: words the active model's training data never holds ({tv['words']:,} words, "
                f"{tv['source'] or 'none shipped'}"
                + (
                    f" + {tv['trained_segments']} trained-on segments of this project"
                    if tv.get("trained_segments")
                    else ""
                )
                + ")"
                + (f"; its own held-out sentences: {ref:.1%}" if ref is not None else "")
                + f". Alert above {UNSEEN_IN_TRAINING_ALERT:.0%} in the newest window."
            )
        else:
            self.vocab_note.setText(
                "Unseen in training: not known (the active model ships no vocabulary and no training sample)."
            )
        self.label_mix.set_data(xs, {x: w.get("labels") or {} for x, w in zip(xs, wins)}, alert=_mix_alert(wins))
        _fill(
            self.drift_table,
            [
                (
                    f"{w['documents'][0]}–{w['documents'][1]}",
                    w["segments"],
                    w["mean_confidence"],
                    w["mean_uncertainty"],
                    w["reviewed"],
                    w["correction_rate"],
                    w.get("unseen_word_rate"),
                    w.get("unseen_in_training_rate"),
                    (w.get("novelty") or {}).get("p50"),
                    (w.get("novelty") or {}).get("p90"),
                    (w.get("novelty") or {}).get("novel_share"),
                )
                for w in wins
            ],
        )
        psi = dr["psi"]
        if psi is None:
            self.psi.setText(
                "PSI of the uncertainty, first vs last window: — (needs two windows with predictions, "
                f"{PSI_MIN_SEGMENTS}+ segments each)"
            )
        else:
            verdict = (
                "a shift worth acting on (&gt; 0.2)"
                if psi > 0.2
                else "a moderate shift (0.1–0.2)"
                if psi > 0.1
                else "stable (&lt; 0.1)"
            )
            self.psi.setText(f"PSI of the uncertainty, first vs last window: <b>{psi:.3f}</b>: {verdict}")
        alerts = list(dr.get("alerts") or [])
        rt = rep.get("retrain")
        if rt and rt["due"]:
            alerts.insert(0, f"fine-tune due: {rt['reason']}")
        self.alerts.setText(
            "".join(f"<p style='color:#b00020'><b>⚠ {html.escape(a)}</b></p>" for a in alerts) or "No drift alert."
        )
        # errors
        err = rep["errors"]
        cats = list(CATEGORY_NAMES)
        per = err["per_category"]
        any_ = any(per.values())
        self.categories.set_data(
            [SHORT[c] for c in cats],
            ["corrections"],
            {(SHORT[c], "corrections"): float(per.get(c, 0)) if any_ else None for c in cats},
            hi=count_top(per.values()),
        )
        _fill(self.missed, [(x["text"], x["label"], x["count"]) for x in err["missed_surface_forms"]])
        _fill(self.confused, [(x["predicted"], x["final"], x["count"]) for x in err["confused_pairs"]])
        _fill(self.false_pos, [(x["text"], x["label"], x["count"]) for x in err["false_positive_surface_forms"]])
        ef = rep["effort"]
        saved = "—" if ef["saved"] is None else f"{ef['saved']:.0%}"
        self.effort.setText(
            f"<h3>Effort</h3><p>{ef['segments']} reviewed segments took <b>{ef['with_model']}</b> edit actions "
            f"with the model's pre-annotation, against <b>{ef['from_scratch']}</b> from nothing: "
            f"<b>{saved}</b> saved. Actions actually taken: {ef['actions_taken']}.</p>"
            f"<p>{err['total']} corrections in all.</p>" + _monitoring_html(rep)
        )
        self._show_monitoring(rep)
        # versions
        vs = rep["versions"]
        _fill(
            self.versions,
            [
                (
                    v["id"],
                    v["name"],
                    v["version"],
                    "✔ active" if v["active"] else "",
                    v["reviewed_segments"],
                    v["f1"] if v["reviewed_segments"] else None,
                    _interval(v["f1_interval"]),
                    v["ece"],
                    (
                        f"{v['base_domain_f1']['before']:.3f} → {v['base_domain_f1']['after']:.3f}"
                        if v["base_domain_f1"]
                        else None
                    ),
                    (v["created"] or "")[:19],
                )
                for v in vs
            ],
        )
        hist = rep["history"]
        self.history.setText("Activation history: " + (" → ".join(html.escape(h) for h in hist) if hist else "—"))
        self.rollback_button.setEnabled(len([h for h in hist if h != active]) > 0)
        best = best_model(models)
        ci = act["f1_interval"] if act else None
        self.headline.setText(
            f"<b>{len(models)}</b> model version(s); active: <b>{html.escape(active or 'none')}</b>"
            + (
                f"; F1 {act['exact']['f1']:.3f}"
                + (f" (95% {ci[0]:.2f}–{ci[1]:.2f})" if ci else "")
                + f" on {act['reviewed_segments']} reviewed segments it did not train on"
                if act and act["reviewed_segments"]
                else ""
            )
            + (
                f" (best: {html.escape(best['model_id'])})"
                if best and act and best["model_id"] != act["id"]
                else ""
                if best
                else f"; no version is ahead beyond doubt yet ({MIN_SEGMENTS_FOR_BEST}+ unseen "
                "segments and separate 95% intervals needed)"
                if len(models) > 1
                else ""
            )
        )

    def _show_reliability(self) -> None:
        mid = self.reliability_model.currentData()
        m = next((m for m in (self.report or {}).get("models", []) if m["id"] == mid), None)
        self.reliability.set_data(m["reliability"] if m else [], m["ece"] if m else None)
        if m is None:
            self.reliability.title = "No model version"
        else:
            spans = sum(b["n"] for b in m["reliability"])
            self.reliability.title = (
                f"Reliability of {m['id'].split('+', 1)[0]}"
                f"{' (active)' if m['id'] == self.report.get('active') else ''}: "
                f"{spans} spans on {m['reviewed_segments']} unseen segments"
            )
        self.reliability.update()

    def _show_monitoring(self, rep: dict) -> None:
        models = rep.get("models", [])
        lab = _labels([m["id"] for m in models] + [r["model_id"] for r in rep.get("recurrence", [])])
        # recurring errors per version
        rec = rep.get("recurrence", [])
        names = [lab[r["model_id"]] for r in rec]
        key = "recurring share"
        self.recurrence_chart.set_data(
            names,
            [key],
            {(n, key): r["share"] for n, r in zip(names, rec)},
            texts={
                (n, key): f"{r['share']:.0%} ({r['recurring']}/{r['corrections']})"
                for n, r in zip(names, rec)
                if r["share"] is not None
            },
            notes={
                (n, key): f"{r['recurring']} of {r['corrections']} corrections against {r['model_id']} had "
                "been corrected before it was registered"
                for n, r in zip(names, rec)
            },
            hi=next(
                t
                for t in (0.1, 0.25, 0.5, 1.0)
                if t >= max([0.0, *[r["share"] or 0.0 for r in rec]]) * 1.15 or t == 1.0
            ),
        )
        # corrections per day by severity
        days = rep.get("severity", [])
        sev = ["high", "normal", "low"]
        self.severity_chart.set_data(
            [d["day"][5:] or "?" for d in days],
            sev,
            {(d["day"][5:] or "?", s): float(d[s]) for d in days for s in sev},
            hi=count_top([d[s] for d in days for s in sev]),
            notes={(d["day"][5:] or "?", s): f"{d['day']}: {d[s]} {s}-severity corrections" for d in days for s in sev},
        )
        # long-tail recall per fine-tuned version (a base model names no training segment)
        tails = [(m, m["long_tail"]) for m in models if m.get("long_tail")]
        names = [lab[m["id"]] for m, _ in tails]
        series = ["rare surface forms", "rare labels"]
        vals, notes = {}, {}
        for n, (m, lt) in zip(names, tails):
            vals[(n, series[0])], vals[(n, series[1])] = lt["surface_recall"], lt["label_recall"]
            notes[(n, series[0])] = (
                f"{m['id']}: {lt['surface_spans']} unseen gold spans of surface forms its training held "
                f"fewer than {LONG_TAIL} times"
            )
            notes[(n, series[1])] = (
                f"{m['id']}: {lt['label_spans']} unseen gold spans of rare labels "
                f"({', '.join(lt['rare_labels']) or 'none'})"
            )
        self.long_tail_chart.set_data(names, series, vals, notes=notes)
        # cost per F1 point, both versions on the segments neither trained on
        cost = rep.get("cost_per_point", [])
        names = [f"→ {lab.get(c['to'], c['to'])}" for c in cost]
        key = "actions per point"
        self.cost_chart.set_data(
            names,
            [key],
            {(n, key): c["actions_per_point"] for n, c in zip(names, cost)},
            hi=count_top([c["actions_per_point"] for c in cost]),
            texts={
                (n, key): f"{c['actions_per_point']:.1f}"
                for n, c in zip(names, cost)
                if c["actions_per_point"] is not None
            },
            notes={
                (n, key): f"{c['from']} → {c['to']}: {c['actions']} edit actions; {c['segments']} shared segments"
                + (f", F1 {c['f1_from']:.3f} → {c['f1_to']:.3f}" if c["f1_points"] is not None else "")
                + (f"\nno figure: {c['reason']}" if c["reason"] else "")
                for n, c in zip(names, cost)
            },
        )
        _fill(
            self.cost_table,
            [
                (
                    lab.get(c["from"], c["from"]),
                    lab.get(c["to"], c["to"]),
                    c["actions"],
                    c["segments"],
                    f"{c['f1_from']:.3f} → {c['f1_to']:.3f}" if c["f1_points"] is not None else None,
                    f"{c['f1_points']:+.1f}" if c["f1_points"] is not None else None,
                    f"{c['actions_per_point']:.1f}" if c["actions_per_point"] is not None else None,
                    c["reason"],
                )
                for c in cost
            ],
        )
        for i, c in enumerate(cost):
            self.cost_table.item(i, 0).setToolTip(c["from"])
            self.cost_table.item(i, 1).setToolTip(c["to"])
            if c["reason"]:
                self.cost_table.item(i, 7).setToolTip(c["reason"])

    # ------------------------------------------------------------------ versions
    def promote_dialog(self):
        path = QFileDialog.getExistingDirectory(self, "Model directory to promote", str(Path.home()))
        return self.promote(path) if path else None

    def promote(self, model_dir):
        return self.win.promote_model(model_dir, on_done=lambda _mid: self.refresh())

    def rollback(self):
        from nerdesk.core import versions
        from nerdesk.core.errors import NerdeskError

        p = self.session.project
        if p is None:
            return None
        try:
            previous = versions.rollback(p.store, p.identity)
        except NerdeskError as exc:
            self.session.error.emit(exc)
            return None
        self.win.statusBar().showMessage(f"Rolled back: {previous} is the active model again.", 8000)
        self.win.model_changed()
        self.refresh()
        return previous
