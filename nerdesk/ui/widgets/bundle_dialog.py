"""File > Export correction bundle: shows exactly what would leave the machine (the manifest and
every line, raw JSON of the selected line included) before the zip is written. Preview and
write both run as background jobs (nerdesk.core.bundle)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from nerdesk.core.categorize import CATEGORY_NAMES
from nerdesk.ui.jobs import project_job

COLUMNS = ("Text", "Final spans", "Error tags", "Annotator", "Source", "Note")


def preview_factory(project_path):
    from nerdesk.core.bundle import preview

    return project_job(project_path, lambda p: preview(p.store), "Preparing the bundle preview")


def write_factory(project_path, out):
    from nerdesk.core.bundle import write_bundle

    return project_job(project_path, lambda p: write_bundle(p.store, p.identity, out), f"Writing {Path(out).name}")


def spans_text(text: str, spans: list[dict]) -> str:
    return ", ".join(f"'{text[s['start'] : s['end']]}' {s['label']}" for s in spans) or "(no entities)"


def errors_text(errors: list[dict]) -> str:
    return (
        "; ".join(f"{CATEGORY_NAMES.get(e['category'], e['category'])} '{e['surface']}' {e['label']}" for e in errors)
        or "—"
    )


def manifest_html(m: dict) -> str:
    g = m.get("guideline") or {}
    labels = ", ".join(html.escape(lab["name"]) for lab in g.get("labels", [])) or "—"
    models = (
        "<br>".join(
            f"{html.escape(x['id'])} <small>sha256 {html.escape((x.get('sha256') or '—')[:16])}…</small>"
            for x in m.get("models", [])
        )
        or "—"
    )
    errs = ", ".join(f"{CATEGORY_NAMES.get(k, k)} {v}" for k, v in sorted(m.get("error_counts", {}).items())) or "none"
    rows = [
        (
            "Project",
            f"{html.escape(m.get('project_name', ''))} <small>({html.escape(m.get('project_id', ''))})</small>",
        ),
        (
            "Segments",
            f"<b>{m.get('segments', 0)}</b> reviewed segments (their text, tokens, the model's and the "
            "final spans, error tags, annotator, document source and metadata)",
        ),
        ("Annotators", html.escape(", ".join(m.get("annotators", [])) or "—")),
        (
            "Guideline",
            f"version {g.get('version')}; labels {labels}"
            + (f"; text of {len(g.get('text') or '')} characters" if g.get("text") else ""),
        ),
        ("Models", models),
        ("Error tags", errs),
        (
            "Format",
            f"bundle format {m.get('bundle_format')}, nerdesk {html.escape(str(m.get('nerdesk_version')))}; "
            "the bundle id, time and file hashes are set when it is written",
        ),
    ]
    return "<table cellspacing=3>" + "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows) + "</table>"


class BundleDialog(QDialog):
    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.session = win.session
        self.manifest: dict | None = None
        self.lines: list[dict] = []
        self.job = None
        self.written: dict | None = None
        self.setObjectName("bundleDialog")
        self.setWindowTitle("Export correction bundle")
        lay = QVBoxLayout(self)
        head = QLabel("<b>This is exactly what the bundle will contain.</b> Nothing else leaves the machine.")
        lay.addWidget(head)
        self.summary = QLabel("<i>Preparing the preview…</i>")
        self.summary.setObjectName("bundleManifest")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.summary)
        split = QSplitter(Qt.Orientation.Vertical)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("bundleLines")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setStretchLastSection(True)
        for col, w in enumerate((360, 240, 240, 90, 110)):
            self.table.setColumnWidth(col, w)
        split.addWidget(self.table)
        self.raw = QPlainTextEdit()
        self.raw.setObjectName("bundleRawLine")
        self.raw.setReadOnly(True)
        self.raw.setPlaceholderText("Select a line to see it exactly as it will be written (JSON)")
        split.addWidget(self.raw)
        split.setSizes([360, 140])
        lay.addWidget(split, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("Write bundle…")
        self.save_button.setObjectName("writeBundle")
        self.save_button.setEnabled(False)
        self.buttons.accepted.connect(self.save_dialog)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.table.currentCellChanged.connect(lambda r, *_: self._show_raw(r))
        self.resize(1180, 720)

    def load(self):
        p = self.session.project
        if p is None or self.job is not None:
            return self.job
        self.job = self.win.run_job(
            "Preparing the bundle preview",
            preview_factory(p.path),
            on_done=self.show_preview,
            on_finished=self._finished,
        )
        return self.job

    def _finished(self) -> None:
        self.job = None

    def show_preview(self, result) -> None:
        self.manifest, self.lines = result
        self.summary.setText(manifest_html(self.manifest))
        self.table.setRowCount(len(self.lines))
        for i, line in enumerate(self.lines):
            doc = line.get("document") or {}
            cells = (
                " ".join(line["text"].split()),
                spans_text(line["text"], line["final"]),
                errors_text(line["errors"]),
                f"{line['annotator']} ({line['tier']})",
                str(doc.get("source") or ""),
                line.get("note") or "",
            )
            for j, v in enumerate(cells):
                item = QTableWidgetItem(v)
                item.setToolTip(v)
                self.table.setItem(i, j, item)
        self.save_button.setEnabled(bool(self.lines))
        if not self.lines:
            self.summary.setText(
                self.summary.text() + "<p><b>Nothing to export yet:</b> a bundle holds accepted segments only.</p>"
            )

    def _show_raw(self, row: int) -> None:
        if 0 <= row < len(self.lines):
            line = self.lines[row]
            self.raw.setPlainText(
                "{\n"
                + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in line.items())
                + "\n}"
            )

    def save_dialog(self):
        p = self.session.project
        if p is None:
            return None
        start = str(Path(str(self.win.settings.value("bundle_dir", str(Path.home())))) / f"{p.name}-corrections.zip")
        path, _ = QFileDialog.getSaveFileName(self, "Write correction bundle", start, "Correction bundles (*.zip)")
        if not path:
            return None
        self.win.settings.setValue("bundle_dir", str(Path(path).parent))
        return self.save_to(path)

    def save_to(self, path):
        p = self.session.project
        if p is None:
            return None
        path = Path(path)
        if path.suffix != ".zip":
            path = path.with_suffix(".zip")

        def done(manifest):
            self.written = manifest
            self.win.statusBar().showMessage(
                f"Wrote {path.name}: {manifest['segments']} segments (bundle {manifest['bundle_id'][:8]}).", 10000
            )
            self.accept()

        self.save_button.setEnabled(False)
        return self.win.run_job(
            f"Writing {path.name}",
            write_factory(p.path, path),
            on_done=done,
            on_finished=lambda: self.save_button.setEnabled(bool(self.lines)),
        )
