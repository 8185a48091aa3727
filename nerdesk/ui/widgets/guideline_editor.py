"""Labels › Guideline: the guideline of each label (definition, boundary rules, nested entities,
contextual exceptions, examples and counter-examples taken from the focused span with one click), the
text for every label, and the history of versions with what changed between them. Saving is one
change of nerdesk.core.taxonomy (one version, one undoable event); editing a definition or a rule makes
the label's older annotations stale (their own queue: Queue › Stale)."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from nerdesk.core.guideline import FIELD_TITLES, FIELDS


class GuidelineEditor(QDialog):
    def __init__(self, session, view=None, parent=None):
        super().__init__(parent)
        self.session = session
        self.view = view  # the document view: its focused span becomes an example
        self.setObjectName("guidelineEditor")
        self.setWindowTitle("Guideline")
        self.resize(900, 560)
        tabs = QTabWidget()
        tabs.setObjectName("guidelineTabs")
        lay = QVBoxLayout(self)
        lay.addWidget(tabs)

        edit = QWidget()
        split = QSplitter()
        self.labels = QListWidget()
        self.labels.setObjectName("guidelineLabels")
        self.labels.currentTextChanged.connect(self._show_label)
        split.addWidget(self.labels)
        right = QWidget()
        form = QFormLayout(right)
        self.fields: dict[str, QPlainTextEdit] = {}
        for f in FIELDS:
            box = QPlainTextEdit()
            box.setObjectName(f"guide_{f}")
            box.setMaximumHeight(70)
            form.addRow(FIELD_TITLES[f], box)
            self.fields[f] = box
        self.positive = QListWidget()
        self.positive.setObjectName("guidePositive")
        self.negative = QListWidget()
        self.negative.setObjectName("guideNegative")
        form.addRow("Examples", self.positive)
        form.addRow("Counter-examples", self.negative)
        ex = QHBoxLayout()
        for text, name, slot in (
            ("Add the focused span as an example", "addExample", lambda: self.add_example()),
            ("… as a counter-example", "addCounterExample", lambda: self.add_example(negative=True)),
            ("Remove the selected example", "removeExample", self.remove_selected),
        ):
            b = QPushButton(text)
            b.setObjectName(name)
            b.clicked.connect(lambda _=False, f=slot: f())
            ex.addWidget(b)
        form.addRow("", _wrap(ex))
        self.text = QPlainTextEdit()
        self.text.setObjectName("guideText")
        self.text.setMaximumHeight(70)
        form.addRow("For every label", self.text)
        self.summary = QLineEdit()
        self.summary.setObjectName("guideSummary")
        self.summary.setPlaceholderText("What changed, in words (default: the fields named)")
        form.addRow("What changed", self.summary)
        save = QPushButton("Save as a new version")
        save.setObjectName("saveGuideline")
        save.clicked.connect(lambda _=False: self.save())
        form.addRow("", save)
        split.addWidget(right)
        split.setSizes([180, 700])
        el = QVBoxLayout(edit)
        el.addWidget(split)
        tabs.addTab(edit, "Edit")

        hist = QWidget()
        hl = QHBoxLayout(hist)
        self.versions = QListWidget()
        self.versions.setObjectName("guidelineVersions")
        self.versions.currentRowChanged.connect(self._show_version)
        hl.addWidget(self.versions, 1)
        self.diff = QTextBrowser()
        self.diff.setObjectName("guidelineDiff")
        hl.addWidget(self.diff, 2)
        tabs.addTab(hist, "History")
        self.status = QLabel()
        self.status.setObjectName("guidelineStatus")
        lay.addWidget(self.status)
        self._label: str | None = None
        session.changed.connect(self._changed)
        self.refresh()

    # ------------------------------------------------------------------ reading
    def _changed(self, changes) -> None:
        if changes.labels and self.isVisible():
            self.refresh(keep=self._label)

    def refresh(self, keep: str | None = None) -> None:
        p = self.session.project
        self.labels.blockSignals(True)
        self.labels.clear()
        names = p.label_names() if p else []
        self.labels.addItems(names)
        self.labels.blockSignals(False)
        g = p.guideline() if p else None
        self.text.setPlainText(g["text"] if g else "")
        self.versions.blockSignals(True)
        self.versions.clear()
        for v in p.guidelines.versions() if p else []:
            self.versions.addItem(f"v{v['version']}  {v['created'][:16]}  {v['author']}: {v['summary']}")
        self.versions.blockSignals(False)
        target = keep if keep in names else (names[0] if names else None)
        if target is not None:
            self.select_label(target)

    def select_label(self, name: str) -> None:
        items = self.labels.findItems(name, Qt.MatchFlag.MatchExactly)
        if items:
            self.labels.blockSignals(True)
            self.labels.setCurrentItem(items[0])
            self.labels.blockSignals(False)
        self._show_label(name)

    def _show_label(self, name: str) -> None:
        p = self.session.project
        if not name or p is None:
            return
        self._label = name
        g = p.guidelines.guide(name)
        if not g["definition"]:
            g["definition"] = p.guidelines.definition(name)
        for f, box in self.fields.items():
            box.setPlainText(g.get(f, ""))
        for lst, kind in ((self.positive, "positive"), (self.negative, "negative")):
            lst.clear()
            for ex in g[kind]:
                item = QListWidgetItem(f"…{ex.get('before', '')}[{ex['text']}]{ex.get('after', '')}…")
                item.setToolTip(
                    f"segment {ex['segment_id']}, {ex['start']}-{ex['end']}"
                    + (f": {ex['note']}" if ex.get("note") else "")
                )
                lst.addItem(item)
        self._shown = {f: g.get(f, "") for f in FIELDS}

    def _show_version(self, row: int) -> None:
        p = self.session.project
        if p is None or row < 0:
            return
        number = p.guidelines.versions()[row]["version"]
        d = p.guidelines.diff(number - 1 if number > 1 else 0, number) if number > 1 else ""
        lines = []
        for line in (d or "").splitlines():
            color = "#1a7f37" if line.startswith("+") else "#b00020" if line.startswith("-") else None
            esc = html.escape(line)
            lines.append(f"<span style='color:{color}'>{esc}</span>" if color else esc)
        self.diff.setHtml("<pre>" + ("\n".join(lines) or "(the first version)") + "</pre>")

    # ------------------------------------------------------------------ changes
    def edited_fields(self) -> dict[str, str]:
        return {
            f: box.toPlainText().strip()
            for f, box in self.fields.items()
            if box.toPlainText().strip() != (self._shown.get(f) or "").strip()
        }

    def save(self) -> Any:
        """Save the shown label's fields and the text for every label as one new version."""
        p = self.session.project
        if p is None or self._label is None:
            return None
        fields = self.edited_fields()
        text = self.text.toPlainText()
        g = p.guideline()
        text_changed = text != (g["text"] if g else "")
        if not fields and not text_changed:
            self.status.setText("Nothing changed.")
            return None
        changes = self.session.change_labels(
            "taxonomy.set_guides",
            {self._label: fields} if fields else {},
            text=text if text_changed else None,
            summary=self.summary.text().strip() or None,
        )
        if changes is not None:
            self.summary.clear()
            self.status.setText(f"Saved: {changes.action}")
            self.refresh(keep=self._label)
        return changes

    def add_example(self, *, negative: bool = False) -> Any:
        """The document view's focused span becomes an example (or counter-example) of the shown label."""
        focus = self.view.focus if self.view is not None else None
        if focus is None or self._label is None:
            self.status.setText("Focus a span in the document first (click it, or Tab).")
            return None
        changes = self.session.change_labels(
            "guidelines.add_example", self._label, focus.segment_id, focus.start, focus.end, negative=negative
        )
        if changes is not None:
            self.status.setText(changes.action)
            self.refresh(keep=self._label)
        return changes

    def remove_selected(self) -> Any:
        for lst, negative in ((self.positive, False), (self.negative, True)):
            row = lst.currentRow()
            if row >= 0 and lst.currentItem() is not None and lst.currentItem().isSelected():
                changes = self.session.change_labels("guidelines.remove_example", self._label, row, negative=negative)
                self.refresh(keep=self._label)
                return changes
        self.status.setText("Select an example first.")
        return None


def _wrap(layout) -> QWidget:
    w = QWidget()
    w.setLayout(layout)
    layout.setContentsMargins(0, 0, 0, 0)
    return w
