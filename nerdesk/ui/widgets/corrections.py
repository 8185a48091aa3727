"""The corrections panel: the errors humans fixed, by category and label, with override.

Corrections are recorded when a segment is accepted (nerdesk.core.categorize). A reviewer who
disagrees with an automatic category overrides it with a reason; the override is kept when the
same error is found again."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from nerdesk.core.categorize import CATEGORIES, CATEGORY_NAMES
from nerdesk.core.types import ChangeKind, Changes

COLUMNS = ("Id", "Category", "Label", "Text", "Model", "Final", "Annotator", "Segment", "Reason")
LIMIT = 2000


def _span(raw) -> str:
    if not raw:
        return "—"
    v = json.loads(raw) if isinstance(raw, str) else raw
    conf = f" {v[3]:.2f}" if len(v) > 3 and v[3] is not None else ""
    return f"{v[2]} [{v[0]}, {v[1]}){conf}"


class CorrectionsDialog(QDialog):
    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.session = win.session
        self.rows: list[dict] = []
        self.setObjectName("correctionsDialog")
        self.setWindowTitle("Corrections by error category")
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Category:"))
        self.category = QComboBox()
        self.category.setObjectName("correctionCategory")
        self.category.addItem("all categories", None)
        for c in CATEGORIES:
            self.category.addItem(CATEGORY_NAMES[c], c)
        top.addWidget(self.category)
        top.addWidget(QLabel("Label:"))
        self.label = QComboBox()
        self.label.setObjectName("correctionLabel")
        top.addWidget(self.label)
        top.addStretch(1)
        self.summary = QLabel()
        self.summary.setObjectName("correctionSummary")
        top.addWidget(self.summary)
        lay.addLayout(top)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("correctionsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("Double-click a row to open its segment")
        lay.addWidget(self.table, 1)
        ov = QHBoxLayout()
        ov.addWidget(QLabel("Override the selected error as:"))
        self.new_category = QComboBox()
        self.new_category.setObjectName("overrideCategory")
        for c in CATEGORIES:
            self.new_category.addItem(CATEGORY_NAMES[c], c)
        ov.addWidget(self.new_category)
        self.reason = QLineEdit()
        self.reason.setObjectName("overrideReason")
        self.reason.setPlaceholderText("Reason (e.g. the guideline says titles are part of the name)")
        ov.addWidget(self.reason, 1)
        self.override_button = QPushButton("Override")
        self.override_button.setObjectName("overrideButton")
        ov.addWidget(self.override_button)
        lay.addLayout(ov)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.resize(980, 520)
        self.category.currentIndexChanged.connect(lambda _i: self.reload())
        self.label.currentIndexChanged.connect(lambda _i: self.reload())
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.cellDoubleClicked.connect(lambda r, _c: self.open_row(r))
        self.override_button.clicked.connect(self.override)
        self.session.changed.connect(self._changed)
        self._labels()
        self.reload()

    def _labels(self) -> None:
        p = self.session.project
        self.label.blockSignals(True)
        self.label.clear()
        self.label.addItem("all labels", None)
        for name in p.label_names() if p else []:
            self.label.addItem(name, name)
        self.label.blockSignals(False)

    def _changed(self, changes: Changes) -> None:
        if self.isVisible() and changes.kind in (ChangeKind.ACCEPT, ChangeKind.OVERRIDE_CATEGORY):
            self.reload()

    def reload(self) -> None:
        p = self.session.project
        selected = self.selected_id()
        self.table.setRowCount(0)
        if p is None:
            return
        cat, label = self.category.currentData(), self.label.currentData()
        rows = p.corrections(category=cat, limit=LIMIT)
        if label is not None:
            rows = [r for r in rows if r["label"] == label]
        self.rows = rows
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cat_text = CATEGORY_NAMES.get(r["category"], r["category"])
            if r["category"] != r["auto_category"]:
                cat_text += f" (auto: {CATEGORY_NAMES.get(r['auto_category'], r['auto_category'])})"
            cells = (
                str(r["id"]),
                cat_text,
                r["label"],
                r["surface"],
                _span(r["predicted"]),
                _span(r["final"]),
                r["annotator"],
                str(r["segment_id"]),
                r["reason"],
            )
            for j, v in enumerate(cells):
                item = QTableWidgetItem(v)
                if j == 0:
                    item.setData(Qt.ItemDataRole.UserRole, r["id"])
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        total = p.error_report(1)["total"]
        self.summary.setText(f"{len(rows)} shown of {total} corrections")
        if selected is not None:
            self.select_id(selected)

    def selected_id(self) -> int | None:
        r = self.table.currentRow()
        return self.rows[r]["id"] if 0 <= r < len(self.rows) and self.table.selectedItems() else None

    def select_id(self, correction_id: int) -> bool:
        for i, r in enumerate(self.rows):
            if r["id"] == correction_id:
                self.table.selectRow(i)
                return True
        return False

    def _selected(self) -> None:
        r = self.table.currentRow()
        if 0 <= r < len(self.rows):
            row = self.rows[r]
            self.new_category.setCurrentIndex(max(0, self.new_category.findData(row["category"])))
            self.reason.setText(row["reason"])

    def override(self):
        cid = self.selected_id()
        if cid is None:
            self.session.message.emit("Select a correction first.")
            return None
        ch = self.session.override_category(cid, self.new_category.currentData(), self.reason.text().strip())
        self.reload()
        return ch

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.win.session.goto(self.rows[row]["segment_id"])
