"""Team views: the tier queue (review decisions by key), the adjudication view (every person's
version of a segment and the model's, side by side; take one, combine, or edit), and the team
report (agreement and each person's errors). Layout and key handling only: the rules are in
nerdesk.core.review / adjudicate / agreement, reached through the Session."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nerdesk.core.categorize import CATEGORIES, CATEGORY_NAMES
from nerdesk.core.errors import NerdeskError
from nerdesk.core.types import ChangeKind, Changes


def _key(sp: dict[str, Any]) -> tuple[int, int, str]:
    return (sp["start"], sp["end"], sp["label"])


def _shortcut(widget: QWidget, key, slot) -> QShortcut:
    sc = QShortcut(QKeySequence(key), widget)
    sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    sc.activated.connect(slot)
    return sc


def _table(name: str, columns: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(columns)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


# ------------------------------------------------------------------ the tier queue
class TierQueueDialog(QDialog):
    """The queue of the user's tier, each item with why it is there. Keys: Enter opens the segment
    (an expert's: in the adjudication view), A approves, C records your edited version as the
    correction, B sends back with the note typed in the note field, J adjudicates."""

    KEYS = "Enter open · A approve · C correct (with your edits) · B send back (with the note) · J adjudicate"

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.session = win.session
        self.items: list = []
        self.setObjectName("tierQueueDialog")
        self.setWindowTitle("Tier queue")
        lay = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setObjectName("tierQueueTitle")
        lay.addWidget(self.title)
        self.table = _table("tierQueueTable", ["Segment", "Why", "Annotator", "Reasons"])
        self.table.doubleClicked.connect(lambda _: self.open_current())
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.note = QLineEdit()
        self.note.setObjectName("reviewNote")
        self.note.setPlaceholderText("Note for the annotator (needed to send back)")
        row.addWidget(self.note, 1)
        self.buttons = {}
        for name, text, slot in (
            ("approve", "&Approve", lambda: self.decide("approve")),
            ("correct", "&Correct", lambda: self.decide("correct")),
            ("send_back", "Send &back", lambda: self.decide("send_back")),
            ("adjudicate", "Ad&judicate", self.adjudicate_current),
        ):
            b = QPushButton(text)
            b.setObjectName(f"queue_{name}")
            b.setAutoDefault(False)
            b.clicked.connect(slot)
            row.addWidget(b)
            self.buttons[name] = b
        lay.addLayout(row)
        keys = QLabel(self.KEYS)
        keys.setObjectName("tierQueueKeys")
        lay.addWidget(keys)
        _shortcut(self.table, Qt.Key.Key_Return, self.open_current)
        _shortcut(self.table, Qt.Key.Key_Enter, self.open_current)
        _shortcut(self.table, "A", lambda: self.decide("approve"))
        _shortcut(self.table, "C", lambda: self.decide("correct"))
        _shortcut(self.table, "B", lambda: self.decide("send_back"))
        _shortcut(self.table, "J", self.adjudicate_current)
        self.note.returnPressed.connect(lambda: self.decide("send_back"))
        _shortcut(self, QKeySequence.StandardKey.Undo, self.undo)
        self.session.changed.connect(self._changed)
        self.resize(900, 460)

    def _changed(self, changes: Changes) -> None:
        if self.isVisible() and changes.kind is not ChangeKind.RELOAD:
            self.reload(keep_row=True)

    def reload(self, keep_row: bool = False) -> None:
        p = self.session.project
        row = self.table.currentRow()
        self.items = p.team.queue() if p else []
        self.title.setText(f"<b>Queue of {html.escape(p.user)} ({p.tier})</b>: {len(self.items)} item(s)" if p else "")
        reviewer = p is not None and p.tier in ("reviewer", "expert")
        for name in ("approve", "correct", "send_back"):
            self.buttons[name].setEnabled(reviewer)
        self.buttons["adjudicate"].setEnabled(reviewer)
        self.table.setRowCount(len(self.items))
        for i, item in enumerate(self.items):
            for j, v in enumerate(
                (str(item.segment_id), item.kind.replace("_", " "), item.annotator or "", "; ".join(item.reasons))
            ):
                self.table.setItem(i, j, QTableWidgetItem(v))
        if self.items:
            self.table.selectRow(min(max(row, 0), len(self.items) - 1) if keep_row else 0)
        self.table.setFocus()

    def undo(self) -> None:
        self.session.undo()
        self.reload(keep_row=True)

    def current(self):
        i = self.table.currentRow()
        return self.items[i] if 0 <= i < len(self.items) else None

    def open_current(self) -> None:
        item = self.current()
        if item is None:
            return
        p = self.session.project
        if p.tier == "expert" and item.kind != "review":
            self.adjudicate_current()
            return
        self.session.goto(item.segment_id)
        self.win.view.setFocus()

    def adjudicate_current(self) -> None:
        item = self.current()
        if item is not None:
            self.win.show_adjudication(item.segment_id)

    def decide(self, decision: str) -> None:
        item = self.current()
        if item is None or item.kind != "review" and decision != "send_back" or item.annotator is None:
            self.session.message.emit("Select an annotator's segment to review.")
            return
        if decision == "send_back" and not self.note.text().strip():
            self.note.setFocus()
            self.session.message.emit("Type a note for the annotator, then Enter (or B) to send it back.")
            return
        ch = self.session.review_decision(item.segment_id, item.annotator, decision, note=self.note.text())
        if ch is not None:
            self.note.clear()
            self.session.message.emit(
                f"{decision.replace('_', ' ').capitalize()}: segment {item.segment_id} by {item.annotator}"
            )
            self.reload(keep_row=True)


# ------------------------------------------------------------------ adjudication
class AdjudicationDialog(QDialog):
    """The conflicts, and one segment's versions side by side: one column per person (and the
    model's), each span a checkbox. Keys: 1-9 take that version, Space toggles a span, Tab moves
    between columns, Enter decides (the checked spans: one version taken, or combined), E edits the
    spans as text, PageDown / PageUp the next / previous conflict, Ctrl+Z undoes."""

    KEYS = (
        "1-9 take a version · Space toggle a span · Enter decide · E edit as text · "
        "PgDn/PgUp next/previous conflict · Ctrl+Z undo"
    )

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.session = win.session
        self.conflicts: list[dict[str, Any]] = []
        self.data: dict[str, Any] | None = None
        self.columns: list[tuple[str, QListWidget]] = []  # (annotator or "model", its span list)
        self.setObjectName("adjudicationDialog")
        self.setWindowTitle("Adjudicate conflicts")
        lay = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setObjectName("adjudicationSummary")
        lay.addWidget(self.summary)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        self.show_resolved = QCheckBox("Show resolved conflicts too")
        self.show_resolved.setObjectName("showResolved")
        self.show_resolved.toggled.connect(lambda _: self.reload())
        ll.addWidget(self.show_resolved)
        self.list = QListWidget()
        self.list.setObjectName("conflictList")
        self.list.currentRowChanged.connect(self._select)
        ll.addWidget(self.list, 1)
        split.addWidget(left)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.text = QLabel()
        self.text.setObjectName("segmentText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        rl.addWidget(self.text)
        self.resolution = QLabel()
        self.resolution.setObjectName("resolutionLabel")
        self.resolution.setWordWrap(True)
        rl.addWidget(self.resolution)
        self.versions = QHBoxLayout()
        rl.addLayout(self.versions, 1)
        self.edit = QLineEdit()
        self.edit.setObjectName("editSpans")
        self.edit.setPlaceholderText("E: edit the decided spans as START-END:LABEL, ... (document offsets)")
        rl.addWidget(self.edit)
        row = QHBoxLayout()
        self.reason = QLineEdit()
        self.reason.setObjectName("adjudicationReason")
        self.reason.setPlaceholderText("Reason (recorded with the decision)")
        row.addWidget(self.reason, 1)
        self.decide_button = QPushButton("&Decide")
        self.decide_button.setObjectName("decideButton")
        self.decide_button.setDefault(True)
        self.decide_button.clicked.connect(self.decide)
        row.addWidget(self.decide_button)
        rl.addLayout(row)
        keys = QLabel(self.KEYS)
        keys.setObjectName("adjudicationKeys")
        rl.addWidget(keys)
        split.addWidget(right)
        split.setSizes([260, 760])
        lay.addWidget(split, 1)
        for n in range(1, 10):
            _shortcut(self, str(n), lambda n=n: self.take(n - 1))
        _shortcut(self, "E", self.start_edit)
        _shortcut(self, Qt.Key.Key_PageDown, lambda: self.step(1))
        _shortcut(self, Qt.Key.Key_PageUp, lambda: self.step(-1))
        _shortcut(self, QKeySequence.StandardKey.Undo, self.undo)
        self.resize(1100, 520)

    # reading
    def reload(self, segment_id: int | None = None) -> None:
        p = self.session.project
        if p is None:
            return
        keep = segment_id if segment_id is not None else (self.data or {}).get("segment_id")
        s = p.adjudication.summary()
        self.summary.setText(
            f"<b>{s['conflicts']} conflict(s), {s['unresolved']} unresolved</b> · protocol: "
            f"{s['protocol']['rule']}"
            + (
                f", experts decide {', '.join(s['protocol']['expert_labels'])}"
                if s["protocol"]["expert_labels"]
                else ""
            )
            + f" · you: {html.escape(p.user)} ({p.tier})"
        )
        self.conflicts = p.adjudication.conflicts(unresolved_only=not self.show_resolved.isChecked())
        if keep is not None and keep not in [c["segment_id"] for c in self.conflicts]:
            try:
                if p.adjudication.versions(keep)["resolution"]:
                    self.conflicts = sorted(
                        self.conflicts
                        + [{"segment_id": keep, "resolution": p.adjudication.versions(keep)["resolution"]}],
                        key=lambda c: c["segment_id"],
                    )
            except NerdeskError:
                pass
        self.list.blockSignals(True)
        self.list.clear()
        for c in self.conflicts:
            r = c["resolution"]
            mark = "✓" if r["resolved"] else "•"
            self.list.addItem(
                f"{mark} segment {c['segment_id']}: {r['how']}" + (f" ({r['reason']})" if r["reason"] else "")
            )
        self.list.blockSignals(False)
        ids = [c["segment_id"] for c in self.conflicts]
        row = ids.index(keep) if keep in ids else 0
        if self.conflicts:
            self.list.setCurrentRow(row)
            self._select(row)
        else:
            self._show(None)

    def _select(self, row: int) -> None:
        if 0 <= row < len(self.conflicts):
            self._show(self.session.project.adjudication.versions(self.conflicts[row]["segment_id"]))

    def _show(self, data: dict[str, Any] | None) -> None:
        self.data = data
        while self.versions.count():
            w = self.versions.takeAt(0).widget()
            if w is not None:
                w.hide()  # at once: deleteLater waits for the event loop
                w.deleteLater()
        self.columns = []
        self.edit.clear()
        if data is None:
            self.text.setText("<i>No conflict to adjudicate.</i>")
            self.resolution.setText("")
            return
        decided = {_key(sp) for sp in (data["resolution"] or {}).get("spans") or []}
        versions = [(v["annotator"], f"{v['annotator']} ({v['tier']})", v["spans"]) for v in data["versions"]]
        if data["model"] is not None:
            versions.append(("model", "model", data["model"]))
        text, base = data["text"], data["start"]
        sets = [{_key(sp) for sp in v["spans"]} for v in data["versions"]]
        common = set.intersection(*sets) if sets else set()
        for n, (who, title, spans) in enumerate(versions, start=1):
            box = QGroupBox(f"{n} · {title}" if who != "model" else title)
            bl = QVBoxLayout(box)
            lw = QListWidget()
            lw.setObjectName(f"version_{who}")
            for sp in spans:
                conf = f" {sp['confidence']:.2f}" if sp.get("confidence") is not None else ""
                disputed = who != "model" and _key(sp) not in common  # not everyone marked it
                it = QListWidgetItem(
                    f"{'≠ ' if disputed else ''}{text[sp['start'] - base : sp['end'] - base]!r} "
                    f"{sp['label']} [{sp['start']}-{sp['end']}]{conf}"
                )
                if disputed:
                    it.setToolTip("Not every person marked this span")
                    font = it.font()
                    font.setBold(True)
                    it.setFont(font)
                it.setData(Qt.ItemDataRole.UserRole, _key(sp))
                it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                it.setCheckState(
                    Qt.CheckState.Checked if _key(sp) in decided and who != "model" else Qt.CheckState.Unchecked
                )
                lw.addItem(it)
            if lw.count():
                lw.setCurrentRow(0)
            lw.itemChanged.connect(lambda _: self._paint())
            bl.addWidget(lw)
            self.versions.addWidget(box)
            box.show()  # now, not at the next event loop turn (the layout's default)
            self.columns.append((who, lw))
        if self.columns:
            self.columns[0][1].setFocus()
        res = data["resolution"]
        self.resolution.setText(
            f"Resolution: <b>{res['how']}</b>"
            + (f" by {html.escape(res['by'])}" if res["by"] else "")
            + (f" — {html.escape(res['reason'])}" if res["reason"] else "")
        )
        self._paint()

    def checked(self) -> list[tuple[str, tuple[int, int, str]]]:
        out = []
        for who, lw in self.columns:
            for i in range(lw.count()):
                it = lw.item(i)
                if it.checkState() == Qt.CheckState.Checked:
                    out.append((who, it.data(Qt.ItemDataRole.UserRole)))
        return out

    def _paint(self) -> None:
        """The segment text with the checked spans marked: what a decision would keep."""
        if self.data is None:
            return
        text, base = self.data["text"], self.data["start"]
        spans = sorted({k for _, k in self.checked()})
        out, pos = [], 0
        for s, e, lab in spans:
            s, e = s - base, e - base
            if s < pos:
                continue
            out.append(html.escape(text[pos:s]))
            out.append(f"<span style='background:#ffe08a'>{html.escape(text[s:e])}</span><sub>{html.escape(lab)}</sub>")
            pos = e
        out.append(html.escape(text[pos:]))
        self.text.setText(f"<p style='font-size:14px'>{''.join(out)}</p>")

    # keys
    def take(self, n: int) -> None:
        """Check exactly version ``n``'s spans (people's versions, in column order)."""
        people = [(who, lw) for who, lw in self.columns if who != "model"]
        if not 0 <= n < len(people):
            return
        for k, (_, lw) in enumerate(self.columns):
            for i in range(lw.count()):
                lw.item(i).setCheckState(Qt.CheckState.Checked if lw is people[n][1] else Qt.CheckState.Unchecked)
        people[n][1].setFocus()

    def start_edit(self) -> None:
        self.edit.setText(", ".join(f"{s}-{e}:{lab}" for s, e, lab in sorted({k for _, k in self.checked()})))
        self.edit.setFocus()

    def step(self, d: int) -> None:
        row = self.list.currentRow() + d
        if 0 <= row < self.list.count():
            self.list.setCurrentRow(row)

    def undo(self) -> None:
        self.session.undo()
        self.reload()

    def decide(self) -> None:
        """Enter: an edit if the edit field was used, else the checked spans (one person's whole version
        is taken, several people's spans combined, a model span makes it an edit)."""
        if self.data is None:
            return
        sid = self.data["segment_id"]
        reason = self.reason.text()
        if self.edit.text().strip() or self.edit.hasFocus():
            try:
                spans = _parse(self.edit.text())
            except NerdeskError as exc:
                self.session.error.emit(exc)
                return
            ch = self.session.adjudicate(sid, spans, reason=reason)
        else:
            picks = self.checked()
            keys = {k for _, k in picks}
            whole = next(
                (
                    who
                    for who, lw in self.columns
                    if who != "model" and keys == {lw.item(i).data(Qt.ItemDataRole.UserRole) for i in range(lw.count())}
                ),
                None,
            )
            if whole is not None:
                ch = self.session.adjudicate(sid, take=whole, reason=reason)
            elif any(who == "model" for who, _ in picks):
                ch = self.session.adjudicate(sid, sorted(keys), reason=reason)
            else:
                seen, combine = set(), []
                for who, k in picks:
                    if k not in seen:
                        seen.add(k)
                        combine.append((who, k))
                ch = self.session.adjudicate(sid, combine=combine, reason=reason)
        if ch is not None:
            self.reason.clear()
            self.session.message.emit(f"Adjudicated segment {sid}.")
            rows = [c["segment_id"] for c in self.conflicts]
            i = rows.index(sid) if sid in rows else 0
            nxt = next((c["segment_id"] for c in self.conflicts[i + 1 :] if not c["resolution"]["resolved"]), None)
            self.reload(nxt if nxt is not None else sid)


def _parse(text: str) -> list[tuple[int, int, str]]:
    from nerdesk.core.adjudicate import parse_spans  # the CLI's syntax: START-END:LABEL, ...

    return [(sp.start, sp.end, sp.label) for sp in parse_spans(text)]


# ------------------------------------------------------------------ the team report
class TeamPanel(QWidget):
    """Agreement (overall, per label, per pair) and each person's errors (per category): the
    dashboard's Team tab and the Team › Agreement dialog."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("teamPanel")
        lay = QVBoxLayout(self)
        self.head = QLabel()
        self.head.setObjectName("agreementHead")
        lay.addWidget(self.head)
        self.agreement = _table("agreementTable", ["", "span F1 exact", "span F1 partial", "kappa", "alpha"])
        lay.addWidget(self.agreement, 1)
        lay.addWidget(QLabel("<b>Errors found in each person's work</b> (by reviewers' corrections and adjudications)"))
        self.profiles = _table(
            "profilesTable", ["Person", "Reviewed", "Errors", *[CATEGORY_NAMES[c] for c in CATEGORIES]]
        )
        lay.addWidget(self.profiles, 1)

    def show_data(self, r: dict[str, Any], profiles: dict[str, dict[str, Any]]) -> None:
        self.head.setText(
            f"<b>Agreement</b> over {r['segments']} segment(s) annotated by two or more of "
            f"{len(r['raters'])} people ({html.escape(', '.join(r['raters'])) or 'none'})"
        )
        rows = [
            ("overall", r["overall"]),
            *sorted(r["per_label"].items()),
            *[(f"{x['a']} / {x['b']}", x) for x in r["pairs"]],
        ]
        self.agreement.setRowCount(len(rows))
        for i, (name, v) in enumerate(rows):
            cells = [
                name,
                *[
                    "—" if v.get(k) is None else f"{v[k]:.3f}"
                    for k in ("span_f1_exact", "span_f1_partial", "kappa", "alpha")
                ],
            ]
            for j, c in enumerate(cells):
                self.agreement.setItem(i, j, QTableWidgetItem(c))
        prof = sorted(profiles.items())
        self.profiles.setRowCount(len(prof))
        for i, (name, v) in enumerate(prof):
            cells = [
                name,
                str(v["reviewed_segments"]),
                str(v["total"]),
                *[str(v["per_category"].get(c, 0)) for c in CATEGORIES],
            ]
            for j, c in enumerate(cells):
                self.profiles.setItem(i, j, QTableWidgetItem(c))


def team_report(project) -> dict[str, Any]:
    """What the Team panel shows (plain data: computed in the dashboard's background job too)."""
    return {"agreement": project.agreement(), "profiles": project.team.error_profiles()}


class TeamReportDialog(QDialog):
    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.setObjectName("teamReportDialog")
        self.setWindowTitle("Team: agreement and error profiles")
        lay = QVBoxLayout(self)
        self.panel = TeamPanel(self)
        lay.addWidget(self.panel)
        self.agreement, self.profiles = self.panel.agreement, self.panel.profiles
        self.resize(760, 520)

    def refresh(self) -> None:
        p = self.win.session.project
        if p is not None:
            rep = team_report(p)
            self.panel.show_data(rep["agreement"], rep["profiles"])
