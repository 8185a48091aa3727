"""Term lists in the app: add one (File › Add a term list…), and see, switch off and remove them with
each term's hits and precision on reviewed segments (File › Term lists…). The work is the core's
(``project.terms``, nerdesk.core.terms); adding and matching run in the background."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from nerdesk.core.errors import NerdeskError
from nerdesk.ui.jobs import project_job
from nerdesk.ui.widgets.import_dialog import file_row

FROM_FILE = None  # the label combo's "from the file" entry


class AddTermListDialog(QDialog):
    """Which file, its format (detected by default), the label (or the file's), the case rules."""

    def __init__(self, labels: list[str], parent=None, start_dir: str = ""):
        super().__init__(parent)
        self.setObjectName("addTermListDialog")
        self.setWindowTitle("Add a term list")
        self.start_dir = start_dir or str(Path.home())
        form = QFormLayout(self)
        intro = QLabel(
            "Terms pre-annotate every segment before a model knows their label: a plain list "
            "(one term per line), CSV/TSV (term, label, note) or spaCy / Prodigy patterns (JSONL)."
        )
        intro.setWordWrap(True)
        form.addRow(intro)
        row, self.path = file_row("termListPath", self._browse)
        form.addRow("File:", row)
        self.fmt = QComboBox()
        self.fmt.setObjectName("termListFormat")
        self.fmt.addItem("detect from the file", None)
        from nerdesk.core.terms import FORMATS

        for name in FORMATS:
            self.fmt.addItem(name, name)
        form.addRow("Format:", self.fmt)
        self.label = QComboBox()
        self.label.setObjectName("termListLabel")
        self.label.setEditable(True)
        self.label.addItem("(the file's label column)", FROM_FILE)
        for name in labels:
            self.label.addItem(name, name)
        if labels:
            self.label.setCurrentIndex(1)
        form.addRow("Label:", self.label)
        self.name = QLineEdit()
        self.name.setObjectName("termListName")
        self.name.setPlaceholderText("the file's name; an existing list's name adds a version to it")
        form.addRow("List name:", self.name)
        self.case = QCheckBox("Case-sensitive (default: any case, except acronyms like 'AT')")
        self.case.setObjectName("termListCase")
        self.lemma = QCheckBox("Match base forms ('tumours' matches 'tumour')")
        self.lemma.setObjectName("termListLemma")
        self.add_labels = QCheckBox("Add the labels the list names that the project lacks")
        self.add_labels.setObjectName("termListAddLabels")
        for w in (self.case, self.lemma, self.add_labels):
            form.addRow("", w)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.button(QDialogButtonBox.StandardButton.Ok).setText("Add and pre-annotate")
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Term list", self.start_dir, "Term lists (*.txt *.csv *.tsv *.jsonl *.json);;All files (*)"
        )
        if path:
            self.path.setText(path)

    def values(self) -> tuple[str, dict]:
        label = (
            self.label.currentData()
            if self.label.currentText() == self.label.itemText(self.label.currentIndex())
            else self.label.currentText().strip() or None
        )
        opts = {
            "label": label,
            "fmt": self.fmt.currentData(),
            "name": self.name.text().strip() or None,
            "case_sensitive": self.case.isChecked(),
            "lemma": self.lemma.isChecked(),
            "add_labels": self.add_labels.isChecked(),
        }
        return self.path.text().strip(), opts


def _add_and_match(p, path: str, opts: dict):
    """In the worker: store the list (one transaction), then match it in every segment (batches)."""
    res = p.terms.add_file(path, **opts)
    yield from p.terms.match()
    return res


def add_term_list(win, path: str, **opts):
    """Add the list and pre-annotate with it, in the background; the view shows its matches after."""
    if win.session.project is None:
        return None
    factory = project_job(win.session.project.path, lambda p: _add_and_match(p, path, opts))

    def done(res) -> None:
        win.statusBar().showMessage(
            f"Term list '{res['name']}' (version {res['version']}): {res['added']} terms added"
            + (f", {res['duplicates']} repeated ones left out" if res["duplicates"] else "")
            + (f"; labels added: {', '.join(res['labels_added'])}" if res["labels_added"] else "")
            + ". Its matches are suggested in every unreviewed segment.",
            10000,
        )
        if res["labels_added"]:
            win.session.changed.emit(_labels_changed())
        win.session.reload()
        win.queue.model.reset()
        dlg = getattr(win, "_term_lists", None)
        if dlg is not None:
            dlg.refresh()

    return win.run_job(f"Adding the term list {Path(path).name}", factory, on_done=done)


def _labels_changed():
    from nerdesk.core.types import ChangeKind, Changes

    return Changes(ChangeKind.LABELS, labels=True, action="add labels")


def add_term_list_dialog(win) -> None:
    p = win.session.project
    if p is None:
        return
    dlg = AddTermListDialog(p.label_names(), win, str(win.settings.value("terms_dir", str(Path.home()))))
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return
    path, opts = dlg.values()
    if path:
        win.settings.setValue("terms_dir", str(Path(path).parent))
        add_term_list(win, path, **opts)


def _item(text: str, data=None, align_right: bool = False) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if data is not None:
        it.setData(Qt.ItemDataRole.UserRole, data)
    if align_right:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return it


class TermListsDialog(QDialog):
    """The project's lists (versions, matches, reviewed hits, precision, flagged terms) and the terms
    of the selected one; switch off or on, remove, add suggested terms."""

    LIST_COLS = ("Id", "List", "Version", "On", "Terms", "Labels", "Matches", "Reviewed hits", "Precision", "Flagged")
    TERM_COLS = ("Id", "Term", "Label", "Matches", "Hits", "Precision", "On", "")
    #: terms shown per list: the flagged, then most reviewed hits, then most matches
    TERM_ROWS = 2000

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.setObjectName("termListsDialog")
        self.setWindowTitle("Term lists")
        self.resize(900, 560)
        lay = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setObjectName("termListsSummary")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        split = QSplitter(Qt.Orientation.Vertical)
        self.lists = QTableWidget(0, len(self.LIST_COLS))
        self.lists.setObjectName("termListsTable")
        self.lists.setHorizontalHeaderLabels(self.LIST_COLS)
        self.terms = QTableWidget(0, len(self.TERM_COLS))
        self.terms.setObjectName("termsTable")
        self.terms.setHorizontalHeaderLabels(self.TERM_COLS)
        for t in (self.lists, self.terms):
            t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            t.verticalHeader().setVisible(False)
            t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            t.horizontalHeader().setStretchLastSection(True)
        split.addWidget(self.lists)
        split.addWidget(self.terms)
        lay.addWidget(split, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add a term list…")
        self.toggle_button = QPushButton("Switch the list off")
        self.toggle_button.setObjectName("toggleList")
        self.flagged_button = QPushButton("Switch its flagged terms off")
        self.flagged_button.setObjectName("disableFlagged")
        self.term_button = QPushButton("Switch the term off")
        self.term_button.setObjectName("toggleTerm")
        self.remove_button = QPushButton("Remove the list…")
        self.remove_button.setObjectName("removeList")
        for b in (self.add_button, self.toggle_button, self.flagged_button, self.term_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        srow = QHBoxLayout()
        srow.addWidget(QLabel("Suggested terms: forms reviewers added at least"))
        self.min_count = QSpinBox()
        self.min_count.setRange(1, 1000)
        from nerdesk.core.terms import SUGGEST_MIN_COUNT

        self.min_count.setValue(SUGGEST_MIN_COUNT)
        srow.addWidget(self.min_count)
        srow.addWidget(QLabel("times, in no list:"))
        self.suggest_name = QLineEdit("suggested")
        self.suggest_name.setObjectName("suggestListName")
        srow.addWidget(self.suggest_name)
        self.suggest_button = QPushButton("Add them to this list")
        self.suggest_button.setObjectName("addSuggested")
        srow.addWidget(self.suggest_button)
        self.suggested = QLabel()
        self.suggested.setObjectName("suggestedTerms")
        self.suggested.setWordWrap(True)
        lay.addLayout(srow)
        lay.addWidget(self.suggested)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        lay.addWidget(close)
        self.add_button.clicked.connect(lambda: add_term_list_dialog(self.win))
        self.toggle_button.clicked.connect(self.toggle_list)
        self.flagged_button.clicked.connect(self.disable_flagged)
        self.term_button.clicked.connect(self.toggle_term)
        self.remove_button.clicked.connect(self.remove_list)
        self.suggest_button.clicked.connect(self.add_suggested)
        self.min_count.valueChanged.connect(lambda _v: self._show_suggestions())
        self.lists.itemSelectionChanged.connect(self._show_terms)
        self.terms.itemSelectionChanged.connect(self._update_buttons)
        self._report: list[dict] = []
        self.refresh()

    @property
    def project(self):
        return self.win.session.project

    # ------------------------------------------------------------------ reading
    def refresh(self) -> None:
        p = self.project
        keep = self.selected_list_id()
        self._report = p.terms.report(all_terms=True, limit=self.TERM_ROWS) if p is not None else []
        self.lists.setRowCount(len(self._report))
        for i, r in enumerate(self._report):
            labels = ", ".join(f"{k} {v}" for k, v in sorted(r["labels"].items()))
            cells = (
                _item(str(r["id"]), r["id"], True),
                _item(r["name"]),
                _item(str(r["version"]), None, True),
                _item("on" if r["enabled"] else "off"),
                _item(f"{r['terms']:,}", None, True),
                _item(labels),
                _item(f"{r['matches']:,}", None, True),
                _item(f"{r['hits']:,}", None, True),
                _item("—" if r["precision"] is None else f"{r['precision']:.2f}", None, True),
                _item(str(r["flagged"]) if r["flagged"] else "", None, True),
            )
            for j, c in enumerate(cells):
                self.lists.setItem(i, j, c)
        n = len(self._report)
        from nerdesk.core.terms import (
            FLAG_MIN_HITS,
            FLAG_PRECISION,
            known_labels,
            model_confidence,
        )

        known = sorted(known_labels(p.store) & set(p.label_names())) if p else []
        self.summary.setText(
            (f"{n} term list{'s' if n != 1 else ''}. " if n else "No term list yet. ")
            + "Their matches are suggested beside the model's (italic, dashed frame). The model wins where it "
            f"knows the label and is at least {model_confidence(p.store) if p else 0.8:.2f} confident "
            f"(it knows: {', '.join(known) or 'none'}); otherwise the term does. A hit is a match in an "
            f"accepted segment; a term with {FLAG_MIN_HITS}+ hits and a precision below {FLAG_PRECISION} is "
            "flagged (mostly rejected)."
        )
        row = next((i for i, r in enumerate(self._report) if r["id"] == keep), 0 if n else -1)
        if row >= 0:
            self.lists.selectRow(row)
        self._show_terms()
        self._show_suggestions()

    def selected_list_id(self) -> int | None:
        r = self.lists.currentRow()
        if r < 0 or self.lists.item(r, 0) is None:
            return None
        return self.lists.item(r, 0).data(Qt.ItemDataRole.UserRole)

    def _selected_report(self) -> dict | None:
        lid = self.selected_list_id()
        return next((r for r in self._report if r["id"] == lid), None)

    def selected_term(self) -> dict | None:
        rep = self._selected_report()
        r = self.terms.currentRow()
        if rep is None or r < 0 or self.terms.item(r, 0) is None:
            return None
        tid = self.terms.item(r, 0).data(Qt.ItemDataRole.UserRole)
        return next((t for t in rep["term_rows"] if t["id"] == tid), None)

    def _show_terms(self) -> None:
        rep = self._selected_report()
        rows = rep["term_rows"] if rep else []
        self.terms.setRowCount(len(rows))
        if rep and rep["term_rows_total"] > len(rows):
            self.terms.setToolTip(
                f"The {len(rows):,} of {rep['term_rows_total']:,} terms with the most reviewed "
                "hits and matches (flagged ones first)"
            )
        for i, t in enumerate(rows):
            cells = (
                _item(str(t["id"]), t["id"], True),
                _item(t["pattern"]),
                _item(t["label"]),
                _item(f"{t['matches']:,}", None, True),
                _item(f"{t['hits']:,}", None, True),
                _item("—" if t["precision"] is None else f"{t['precision']:.2f}", None, True),
                _item("on" if t["enabled"] else "off"),
                _item("⚑ flagged: mostly rejected" if t["flagged"] else ""),
            )
            for j, c in enumerate(cells):
                self.terms.setItem(i, j, c)
        self._update_buttons()

    def _update_buttons(self) -> None:
        rep = self._selected_report()
        self.toggle_button.setEnabled(rep is not None)
        self.remove_button.setEnabled(rep is not None)
        self.toggle_button.setText(
            "Switch the list on" if rep is not None and not rep["enabled"] else "Switch the list off"
        )
        self.flagged_button.setEnabled(rep is not None and rep["flagged"] > 0)
        t = self.selected_term()
        self.term_button.setEnabled(t is not None)
        self.term_button.setText("Switch the term on" if t is not None and not t["enabled"] else "Switch the term off")

    def _show_suggestions(self) -> None:
        p = self.project
        rows = p.terms.suggest(self.min_count.value()) if p is not None else []
        self._suggestions = rows
        self.suggest_button.setEnabled(bool(rows))
        self.suggested.setText(
            ", ".join(f"{r['text']} ({r['label']}, {r['count']}×)" for r in rows[:30])
            + (f" … {len(rows) - 30} more" if len(rows) > 30 else "")
            if rows
            else "<i>none yet</i>"
        )

    # ------------------------------------------------------------------ changing
    def _apply(self, fn) -> bool:
        try:
            changes = fn()
        except NerdeskError as exc:
            from nerdesk.ui.errors import show_error

            show_error(self, exc)
            return False
        self.win.session.reload()
        self.win.queue.model.reset()
        self.refresh()
        return changes is not None

    def toggle_list(self) -> None:
        rep = self._selected_report()
        if rep is not None:
            self._apply(lambda: self.project.terms.set_enabled(rep["id"], not rep["enabled"]))

    def disable_flagged(self) -> None:
        rep = self._selected_report()
        if rep is not None:
            self._apply(lambda: self.project.terms.set_enabled(rep["id"], False, flagged=True))

    def toggle_term(self) -> None:
        rep, t = self._selected_report(), self.selected_term()
        if rep is not None and t is not None:
            self._apply(lambda: self.project.terms.set_enabled(rep["id"], not t["enabled"], [t["id"]]))

    def confirm_remove(self, rep: dict) -> bool:  # tests replace this (a modal box blocks)
        return (
            QMessageBox.question(
                self,
                "Remove the term list",
                f"Remove '{rep['name']}' with its {rep['terms']:,} terms and their matches? Its history stays; "
                "spans reviewers kept stay in their annotations.",
            )
            == QMessageBox.StandardButton.Yes
        )

    def remove_list(self) -> None:
        rep = self._selected_report()
        if rep is not None and self.confirm_remove(rep):
            self._apply(lambda: self.project.terms.remove(rep["id"]))

    def add_suggested(self) -> None:
        name = self.suggest_name.text().strip() or "suggested"
        n = self.min_count.value()
        p = self.project
        if p is None or not self._suggestions:
            return
        factory = project_job(p.path, lambda q: _add_suggested(q, name, n))
        self.win.run_job(f"Adding suggested terms to {name}", factory, on_done=lambda res: self._added(res))

    def _added(self, res) -> None:
        self.win.statusBar().showMessage(
            f"Added {res['added']} suggested terms to '{res['name']}' (version {res['version']}).", 8000
        )
        self.win.session.reload()
        self.refresh()


def _add_suggested(p, name: str, min_count: int):
    res = p.terms.add_suggestions(name, min_count)
    yield from p.terms.match()
    return res


def show_term_lists(win) -> TermListsDialog | None:
    if win.session.project is None:
        return None
    dlg = getattr(win, "_term_lists", None)
    if dlg is None:
        dlg = win._term_lists = TermListsDialog(win)
    else:
        dlg.refresh()
    dlg.show()
    dlg.raise_()
    return dlg
