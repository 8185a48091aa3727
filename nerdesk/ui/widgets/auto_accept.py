"""Auto-accept: a confidence threshold routes confident new segments past review, except a
random audit sample; the audited ones a human has reviewed estimate the error rate (95% Wilson
interval). The accept itself runs as a background job (nerdesk.core.autoaccept)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
)

from nerdesk.ui.jobs import project_job


def auto_accept_factory(project_path, threshold: float, audit_rate: float, seed=None, force: bool = False):
    from nerdesk.core.autoaccept import auto_accept

    return project_job(
        project_path,
        lambda p: auto_accept(p.store, p.identity, threshold, audit_rate=audit_rate, seed=seed, force=force),
        f"Auto-accepting at {threshold:.2f}",
    )


def count_factory(project_path, threshold: float):
    from nerdesk.core.autoaccept import audit_estimate, eligible_count, readiness

    def work(p):
        return {
            "eligible": eligible_count(p.store, threshold),
            "model": p.active_model_id(),
            "new": p.store.counts()["by_status"].get("new", 0),
            "estimate": audit_estimate(p.store),
            "check": readiness(p.store, threshold),
        }

    return project_job(project_path, work, "Counting eligible segments")


def describe_check(check: dict) -> str:
    """The guard rails' evidence, and why auto-accept is refused at this threshold, if it is."""
    n, c = check["reviewed"], check["corrected"]
    text = (
        f"Of the reviewed segments the model predicted at or above {check['threshold']:.2f}, "
        f"<b>{c} of {n}</b> needed a correction"
        + (
            f" ({check['rate']:.1%}, 95% interval {check['low']:.1%} – {check['high']:.1%}; "
            f"accepted: {check['max_error_rate']:.0%})."
            if n
            else "."
        )
    )
    if check["reasons"]:
        text += "<br><span style='color:#b00020'>Refused: " + "; ".join(check["reasons"]) + ".</span>"
    return text


def describe_estimate(est: dict) -> str:
    if not est["audited"]:
        return (
            f"No audited segment reviewed yet ({est['pending_audits']} waiting in the "
            f"<b>audit</b> queue). {est['auto_accepted']} segments are auto-accepted."
        )
    return (
        f"Estimated error rate of auto-accepted segments: <b>{est['rate']:.1%}</b> "
        f"(95% interval {est['low']:.1%} – {est['high']:.1%}), from {est['audited']} audited "
        f"segments with {est['errors']} wrong. {est['pending_audits']} audits waiting; "
        f"{est['auto_accepted']} segments auto-accepted."
    )


class AutoAcceptDialog(QDialog):
    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.session = win.session
        self.job = None
        self.count_job = None
        self._recount = False
        self.counted: tuple[float, int] | None = None  # (threshold, eligible) of the last count
        self.checked: dict | None = None  # the guard rails' verdict at that threshold
        self.setObjectName("autoAcceptDialog")
        self.setWindowTitle("Auto-accept confident segments")
        lay = QVBoxLayout(self)
        intro = QLabel(
            "New segments whose every predicted span, and the whole tag sequence, are at "
            "least as confident as the threshold are accepted as the model predicted them. "
            "A random sample goes to the <b>audit</b> queue instead: reviewing it measures "
            "how often auto-accepted segments are wrong."
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("thresholdSlider")
        self.slider.setRange(50, 100)
        self.slider.setValue(95)
        self.slider.setToolTip("Confidence threshold")
        self.value = QLabel()
        self.value.setMinimumWidth(40)
        row.addWidget(self.slider, 1)
        row.addWidget(self.value)
        form.addRow("Threshold:", row)
        self.eligible = QLabel()
        self.eligible.setObjectName("eligibleCount")
        form.addRow("", self.eligible)
        self.audit = QSpinBox()
        self.audit.setObjectName("auditRate")
        self.audit.setRange(0, 100)
        self.audit.setValue(10)
        self.audit.setSuffix(" %")
        self.audit.setToolTip("Share of eligible segments sent to the audit queue instead")
        self.audit.setMaximumWidth(90)
        self.audit.valueChanged.connect(lambda _v: self._timer.start())
        form.addRow("Audit sample:", self.audit)
        lay.addLayout(form)
        self.check = QLabel()
        self.check.setObjectName("autoAcceptCheck")
        self.check.setWordWrap(True)
        lay.addWidget(self.check)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Auto-accept")
        self.run_button.setObjectName("autoAcceptButton")
        self.force_button = QPushButton("Auto-accept anyway…")
        self.force_button.setObjectName("autoAcceptForce")
        self.force_button.setToolTip("Override the guard rails (asks first)")
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.force_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        box = QGroupBox("Audit")
        bl = QVBoxLayout(box)
        self.estimate = QLabel()
        self.estimate.setObjectName("auditEstimate")
        self.estimate.setWordWrap(True)
        bl.addWidget(self.estimate)
        self.review_audits = QPushButton("Review the audit queue")
        self.review_audits.setObjectName("reviewAudits")
        bl.addWidget(self.review_audits, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(box)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.resize(560, 380)

        self._timer = QTimer(self)  # the count follows the slider, without a query per pixel
        self._timer.setSingleShot(True)
        self._timer.setInterval(80)
        self._timer.timeout.connect(self.update_count)
        self.slider.valueChanged.connect(self._slid)
        self.run_button.clicked.connect(lambda: self.run())
        self.force_button.clicked.connect(self.run_anyway)
        self.review_audits.clicked.connect(self.show_audits)
        self.session.changed.connect(lambda _c: self._timer.start() if self.isVisible() else None)
        self._slid()
        self.update_count()

    @property
    def threshold(self) -> float:
        return self.slider.value() / 100

    def _slid(self, *_):
        self.value.setText(f"{self.threshold:.2f}")
        self._timer.start()

    def update_count(self) -> None:
        """Count in the background (a COUNT over the predictions: ~1 s on a million segments);
        while one count runs, the next waits for it and uses the latest threshold."""
        p = self.session.project
        if p is None:
            self.eligible.setText("No project open.")
            self.run_button.setEnabled(False)
            return
        if self.count_job is not None:
            self._recount = True
            return
        self._recount = False
        t = self.threshold
        self.count_job = self.win.run_job(
            "Counting eligible segments",
            count_factory(p.path, t),
            on_done=lambda res, t=t: self._counted(t, res),
            on_finished=self._count_finished,
        )

    def _count_finished(self) -> None:
        self.count_job = None
        if self._recount:
            self.update_count()

    def _counted(self, threshold: float, res: dict) -> None:
        self.counted = (threshold, res["eligible"])
        if not res["model"]:
            self.eligible.setText("No model suggestions yet: pre-annotate first.")
            self.run_button.setEnabled(False)
            self.force_button.setVisible(False)
        else:
            n = res["eligible"]
            self.eligible.setText(
                f"<b>{n}</b> of {res['new']} new segments would skip review at {threshold:.2f} "
                f"(about {round(n * self.audit.value() / 100)} of them audited)."
            )
            ok = res["check"]["ok"]
            self.run_button.setEnabled(n > 0 and ok and self.job is None)
            self.force_button.setVisible(not ok)
            self.force_button.setEnabled(n > 0 and self.job is None)
        self.checked = res["check"]
        self.check.setText(describe_check(res["check"]) if res["model"] else "")
        self.estimate.setText(describe_estimate(res["estimate"]))

    def run(self, force: bool = False):
        p = self.session.project
        if p is None or self.job is not None:
            return None
        t, r = self.threshold, self.audit.value() / 100
        self.run_button.setEnabled(False)
        self.force_button.setEnabled(False)
        self.job = self.win.run_job(
            "Auto-accepting",
            auto_accept_factory(p.path, t, r, force=force),
            on_done=self._done,
            on_finished=self._finished,
        )
        return self.job

    def confirm_force(self) -> bool:  # tests replace this (a modal box blocks)
        reasons = "\n• ".join((self.checked or {}).get("reasons", []))
        return (
            QMessageBox.warning(
                self,
                "Auto-accept anyway?",
                f"Auto-accept is refused at {self.threshold:.2f}:\n• {reasons}\n\n"
                "Accept these segments without review anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            == QMessageBox.StandardButton.Yes
        )

    def run_anyway(self):
        return self.run(force=True) if self.confirm_force() else None

    def _finished(self) -> None:
        self.job = None
        self.update_count()

    def _done(self, result: dict) -> None:
        self.win.statusBar().showMessage(
            f"Auto-accepted {result['auto']} segments; {result['audit']} sent to the audit queue.", 8000
        )
        self.session.reload()
        self.win.queue.reset()
        self.win.update_counts()
        self.update_count()

    def show_audits(self) -> None:
        self.win.queue.status.setCurrentText("audit")
        self.session.next()
        self.win.view.setFocus()
