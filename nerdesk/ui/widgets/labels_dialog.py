"""Labels › Manage labels: the project's labels after it was created. Add, rename (edit the name),
colour, key, description, severity, merge, split, retire; allow or forbid overlapping spans; how much
of each label's work is current. Each change is one call of nerdesk.core.taxonomy through the session
(one transaction, one undoable event: Ctrl+Z in the main window takes it back)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from nerdesk.ui.theme import ink_for

COLUMNS = ("Name", "Colour", "Key", "Description", "Severity", "Status", "Kind of", "Current work")
SEVERITIES = ("low", "normal", "high")
EDITABLE = {0: "name", 2: "shortcut", 3: "description"}


class LabelsDialog(QDialog):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("labelsDialog")
        self.setWindowTitle("Labels")
        self.resize(860, 420)
        lay = QVBoxLayout(self)
        lay.addWidget(
            QLabel(
                "Double-click a name, key or description to edit it. Every change rewrites the work "
                "(annotations, predictions, corrections, term lists) and can be undone (Ctrl+Z)."
            )
        )
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("labelsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.itemChanged.connect(self._edited)
        lay.addWidget(self.table)
        row = QHBoxLayout()
        for text, name, slot in (
            ("Add…", "addLabel", self._add_clicked),
            ("Merge…", "mergeLabels", self._merge_clicked),
            ("Split…", "splitLabel", self._split_clicked),
            ("Retire", "retireLabel", self._retire_clicked),
            ("Guideline…", "openGuideline", self._guideline_clicked),
        ):
            b = QPushButton(text)
            b.setObjectName(name)
            b.clicked.connect(lambda _=False, f=slot: f())
            row.addWidget(b)
        row.addStretch(1)
        self.overlaps = QCheckBox("Allow overlapping (nested) spans")
        self.overlaps.setObjectName("allowOverlaps")
        self.overlaps.toggled.connect(self.set_overlaps)
        row.addWidget(self.overlaps)
        lay.addLayout(row)
        self.status = QLabel()
        self.status.setObjectName("labelsStatus")
        lay.addWidget(self.status)
        self._filling = False
        self._rows: list[dict[str, Any]] = []
        session.changed.connect(self._changed)
        self.refresh()

    # ------------------------------------------------------------------ reading
    def _changed(self, changes) -> None:
        if changes.labels and self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        p = self.session.project
        self._filling = True
        try:
            self.table.setRowCount(0)
            if p is None:
                self._rows = []
                return
            rows = p.taxonomy.labels()
            cur = p.taxonomy.currency()
            sev = p.severity()
            self._rows = rows
            self.table.setRowCount(len(rows))
            for i, lab in enumerate(rows):
                name = lab["name"]
                active = lab["status"] == "active"
                c = cur.get(name, {"annotations": 0, "stale": 0, "current": 0})
                cells = [
                    name,
                    lab["color"],
                    lab["shortcut"] or "",
                    lab["description"],
                    "",
                    lab["status"],
                    lab["parent"] or "",
                    f"{c['current']} of {c['annotations']} current"
                    + (f" ({c['stale']} to re-review)" if c["stale"] else ""),
                ]
                for j, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if j not in EDITABLE or not active:
                        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    self.table.setItem(i, j, item)
                sw = QPushButton(lab["color"])
                sw.setObjectName(f"color_{name}")
                sw.setStyleSheet(f"background: {lab['color']}; color: {ink_for(lab['color'])};")
                sw.setEnabled(active)
                sw.clicked.connect(lambda _=False, n=name: self._color_clicked(n))
                self.table.setCellWidget(i, 1, sw)
                box = QComboBox()
                box.setObjectName(f"severity_{name}")
                box.addItems(SEVERITIES)
                box.setCurrentText(sev.get(name, "normal"))
                box.setEnabled(active)
                box.currentTextChanged.connect(lambda v, n=name: self.set_severity(n, v))
                self.table.setCellWidget(i, 4, box)
            self.overlaps.blockSignals(True)
            self.overlaps.setChecked(p.allow_overlaps)
            self.overlaps.blockSignals(False)
        finally:
            self._filling = False

    def row_of(self, name: str) -> int:
        return next(i for i, lab in enumerate(self._rows) if lab["name"] == name)

    def selected(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self._rows[rows[0].row()]["name"] if rows else None

    # ------------------------------------------------------------------ changes (each one core call)
    def _do(self, fn: str, *args: Any, **kw: Any) -> bool:
        changes = self.session.change_labels(fn, *args, **kw)
        if changes is not None:
            self.status.setText(changes.action)
        self.refresh()
        return changes is not None

    def add(self, name: str, **kw: Any) -> bool:
        return self._do("add_label", name, **kw)

    def rename(self, old: str, new: str) -> bool:
        return self._do("rename_label", old, new)

    def merge(self, sources: list[str], target: str) -> bool:
        return self._do("merge_labels", sources, target)

    def split(self, old: str, targets: list[str], *, with_model: bool = True):
        """Split ``old``; where the project has an active model, it places the spans first, in the background
        (a job: nerdesk.core.taxonomy.placements), then the split is one change. Returns the job, or whether
        the split was made."""
        win = self.parent()
        p = self.session.project
        if with_model and p is not None and p.active_model_id() and hasattr(win, "run_job"):
            from nerdesk.core import taxonomy
            from nerdesk.ui.jobs import project_job

            self.status.setText(f"Placing the spans of {old} with the model…")
            factory = project_job(p.path, lambda proj: taxonomy.placements(proj.store, old, targets))
            return win.run_job(
                f"Placing the spans of {old}",
                factory,
                on_done=lambda found: self._do("split_label", old, targets, sorter=lambda ids, t: found),
            )
        return self._do("split_label", old, targets)

    def retire(self, name: str) -> bool:
        return self._do("retire_label", name)

    def set_color(self, name: str, color: str) -> bool:
        return self._do("edit_label", name, color=color)

    def set_key(self, name: str, key: str) -> bool:
        return self._do("edit_label", name, shortcut=key)

    def set_description(self, name: str, text: str) -> bool:
        return self._do("edit_label", name, description=text)

    def set_severity(self, name: str, severity: str) -> bool:
        if self._filling:
            return False
        return self._do("edit_label", name, severity=severity)

    def set_overlaps(self, allow: bool) -> bool:
        if self._filling:
            return False
        return self._do("set_allow_overlaps", bool(allow))

    def _edited(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        lab = self._rows[item.row()]
        field = EDITABLE.get(item.column())
        value = item.text().strip()
        if field == "name" and value != lab["name"]:
            self.rename(lab["name"], value)
        elif field == "shortcut" and value != (lab["shortcut"] or ""):
            self.set_key(lab["name"], value)
        elif field == "description" and value != lab["description"]:
            self.set_description(lab["name"], value)

    # ------------------------------------------------------------------ buttons (a question, then a change)
    def ask(self, title: str, prompt: str, default: str = "") -> str | None:  # tests replace this
        text, ok = QInputDialog.getText(self, title, prompt, text=default)
        return text.strip() if ok and text.strip() else None

    def choose_color(self, current: str) -> str | None:  # tests replace this
        c = QColorDialog.getColor(QColor(current), self, "Label colour")
        return c.name() if c.isValid() else None

    def _add_clicked(self) -> None:
        name = self.ask("Add a label", "Name of the new label:")
        if name:
            self.add(name)

    def _merge_clicked(self) -> None:
        sources = self.ask("Merge labels", "Labels to merge, separated by commas:", self.selected() or "")
        if not sources:
            return
        target = self.ask("Merge labels", "Into the label (new, or one of them):")
        if target:
            self.merge([s.strip() for s in sources.split(",") if s.strip()], target)

    def _split_clicked(self) -> None:
        old = self.selected() or self.ask("Split a label", "The label to split:")
        if not old:
            return
        targets = self.ask("Split a label", f"Split {old} into (names separated by commas):")
        if targets:
            self.split(old, [t.strip() for t in targets.split(",") if t.strip()])

    def _retire_clicked(self) -> None:
        name = self.selected()
        if name:
            self.retire(name)
        else:
            self.status.setText("Select the label to retire.")

    def _color_clicked(self, name: str) -> None:
        lab = self._rows[self.row_of(name)]
        color = self.choose_color(lab["color"])
        if color and color.lower() != lab["color"].lower():
            self.set_color(name, color.upper())

    def _guideline_clicked(self) -> None:
        win = self.parent()
        if win is not None and hasattr(win, "show_guideline"):
            win.show_guideline(self.selected())
