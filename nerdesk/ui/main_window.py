"""The main window: queue | document | palette + inspector, menus, status bar, background jobs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nerdesk.core.errors import NerdeskError
from nerdesk.core.types import ChangeKind, Changes, Step
from nerdesk.ui.errors import show_error
from nerdesk.ui.jobs import JobManager, project_job
from nerdesk.ui.session import Session
from nerdesk.ui.widgets.document_view import DocumentView
from nerdesk.ui.widgets.inspector import SpanInspector
from nerdesk.ui.widgets.palette import LabelPalette
from nerdesk.ui.widgets.progress import ProgressStrip
from nerdesk.ui.widgets.queue import QueuePanel

from nerdesk.ui.paths import demo_path

MAX_RECENT = 8


class Welcome(QWidget):
    """Shown with no project open: the demo, new, open, recent projects."""

    def __init__(self, win: MainWindow):
        super().__init__()
        self.setObjectName("welcome")
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        title = QLabel(
            "<h1>nerdesk</h1><p>Review and correct named entities, offline. Every action is saved at once.</p>"
        )
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(title)
        row = QHBoxLayout()
        row.addStretch(1)
        self.demo = QPushButton("Open the demo project")
        self.demo.setObjectName("openDemo")
        self.demo.setToolTip("A small corpus, pre-annotated by the default model")
        self.new = QPushButton("New project…")
        self.open = QPushButton("Open project…")
        for b in (self.demo, self.new, self.open):
            b.setMinimumHeight(36)
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        self.recent = QListWidget()
        self.recent.setObjectName("recentList")
        self.recent.setMaximumWidth(640)
        self.recent_label = QLabel("<b>Recent projects</b>")
        c = QHBoxLayout()
        c.addStretch(1)
        v = QVBoxLayout()
        v.addWidget(self.recent_label)
        v.addWidget(self.recent)
        c.addLayout(v, 3)
        c.addStretch(1)
        lay.addLayout(c)
        lay.addStretch(2)
        self.demo.clicked.connect(win.open_demo)
        self.new.clicked.connect(win.new_project_dialog)
        self.open.clicked.connect(win.open_project_dialog)
        self.recent.itemActivated.connect(lambda it: win.open_project(it.text()))

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        self.recent.addItems(paths)
        self.recent.setVisible(bool(paths))
        self.recent_label.setVisible(bool(paths))


class JobWidget(ProgressStrip):
    """Status-bar progress for background jobs, with Cancel."""

    def __init__(self, jobs: JobManager):
        super().__init__("Cancel", "cancelJob")
        self.jobs = jobs
        self.cancel.clicked.connect(jobs.cancel_all)
        jobs.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        if not self.jobs.jobs:
            self.setVisible(False)
            return
        self.setVisible(True)
        done, total, msg = next(iter(self.jobs.last.values()), (0, -1, ""))
        extra = f" (+{len(self.jobs.jobs) - 1} more)" if len(self.jobs.jobs) > 1 else ""
        self.label.setText(msg + extra)
        if total and total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)  # busy


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("nerdesk")
        self.settings = settings or QSettings()
        self.session = Session(self)
        self.jobs = JobManager(self)

        self.view = DocumentView(self.session)
        self.queue = QueuePanel(self.session, self.jobs)
        self.palette = LabelPalette()
        self.inspector = SpanInspector(self.session)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.palette)
        right.addWidget(self.inspector)
        right.setStretchFactor(1, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.queue)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([340, 760, 260])
        self.welcome = Welcome(self)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)

        sb = self.statusBar()
        self.counts = QLabel()
        self.counts.setObjectName("counts")
        self.model_label = QLabel()
        self.retrain_label = QLabel()  # the retraining trigger's state (nerdesk.core.retrain)
        self.retrain_label.setObjectName("retrainState")
        self.job_widget = JobWidget(self.jobs)
        from nerdesk.ui.finetune import FineTuneController, FineTuneWidget

        self.finetune = FineTuneController(self)
        self.finetune_widget = FineTuneWidget()
        self.finetune_offer = QPushButton("Fine-tune now…")
        self.finetune_offer.setObjectName("fineTuneOffer")
        self.finetune_offer.setVisible(False)
        self.finetune_not_now = QPushButton("Not now")
        self.finetune_not_now.setObjectName("fineTuneNotNow")
        self.finetune_not_now.setVisible(False)
        self.finetune_offer.clicked.connect(lambda: self.finetune.start())
        self.finetune_not_now.clicked.connect(lambda: self.finetune.decline())
        self.finetune.offerChanged.connect(self._finetune_offer)
        sb.addPermanentWidget(self.finetune_offer)
        sb.addPermanentWidget(self.finetune_not_now)
        sb.addPermanentWidget(self.finetune_widget)
        sb.addPermanentWidget(self.job_widget)
        sb.addPermanentWidget(self.counts)
        sb.addPermanentWidget(self.model_label)
        sb.addPermanentWidget(self.retrain_label)
        self.identity_label = QLabel()  # who is acting, at which tier (issue 16)
        self.identity_label.setObjectName("identityLabel")
        sb.addPermanentWidget(self.identity_label)

        self._make_actions()
        s = self.session
        s.error.connect(lambda exc: show_error(self, exc))
        s.message.connect(lambda m: self.statusBar().showMessage(m, 5000))
        s.projectChanged.connect(self._project_changed)
        s.changed.connect(self._changed)
        self.view.focusChanged.connect(self.inspector.show_span)
        self.palette.labelChosen.connect(self._palette_label)
        self.queue.segmentActivated.connect(self._goto)
        self.queue.documentActivated.connect(self._goto_document)
        self._stats_timer = QTimer(self)
        self._stats_timer.setSingleShot(True)
        self._stats_timer.setInterval(250)
        self._stats_timer.timeout.connect(self.update_counts)
        self._stats_timer.timeout.connect(self._update_undo)
        self._offer_due = False
        self._stats_timer.timeout.connect(self._maybe_offer)
        # the error category of each edit, shown once the view has repainted
        self._live: dict[int, list] = {}
        self._live_pending: set[int] = set()
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(30)
        self._live_timer.timeout.connect(self._show_live_corrections)
        s.currentChanged.connect(self._remember_live)
        self._refresh_recent()
        self._project_changed()
        geo = self.settings.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1360, 820)
        st = self.settings.value("window/splitter")
        if st is not None:
            self.splitter.restoreState(st)

    # ------------------------------------------------------------------ menus
    def _make_actions(self) -> None:
        """The menu bar and the window's keys, from the one table in nerdesk.ui.actions."""
        from nerdesk.ui import actions
        from nerdesk.ui.theme import ViewSettings

        self.view_settings = ViewSettings.load(self.settings)
        self.project_actions = actions.build(self)
        self.act_tags.setChecked(bool(self.view_settings.tags))
        self.act_cb.setChecked(bool(self.view_settings.colour_blind_safe))
        self.act_dark.setChecked(self.view_settings.theme == "dark")
        self._apply_view()

    def _refresh_recent(self) -> None:
        paths = self.recent_projects()
        self.recent_menu.clear()
        for p in paths:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self.open_project(p))
        self.recent_menu.setEnabled(bool(paths))
        self.welcome.set_recent(paths)

    def recent_projects(self) -> list[str]:
        v = self.settings.value("recent", [])
        if isinstance(v, str):
            v = [v]
        return [p for p in (v or []) if Path(p).exists()]

    def _remember(self, path: Path) -> None:
        p = str(Path(path).resolve())
        paths = [p] + [x for x in self.recent_projects() if x != p]
        self.settings.setValue("recent", paths[:MAX_RECENT])
        self.settings.setValue("last_project", p)
        self._refresh_recent()

    # ------------------------------------------------------------------ project
    def open_project(self, path: str | Path) -> bool:
        if not self.session.open(path):
            return False
        self._remember(Path(path))
        return True

    def close_project(self) -> None:
        self.session.close()
        self.session.projectChanged.emit()

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", str(Path.home()), "nerdesk projects (*.nerdesk);;All files (*)"
        )
        if path:
            self.open_project(path)

    def new_project_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "New project", str(Path.home() / "project.nerdesk"), "nerdesk projects (*.nerdesk)"
        )
        if not path:
            return
        labels, ok = QInputDialog.getText(self, "Labels", "Labels, separated by commas:", text="PER, ORG, LOC, MISC")
        if not ok:
            return
        self.new_project(path, [x.strip() for x in labels.split(",") if x.strip()])

    def new_project(self, path: str | Path, labels: list[str]) -> bool:
        from nerdesk.core.project import Project

        path = Path(path)
        if path.suffix != ".nerdesk":
            path = path.with_suffix(".nerdesk")
        try:
            Project.create(path, labels=labels).close()
        except NerdeskError as exc:
            show_error(self, exc)
            return False
        return self.open_project(path)

    def open_demo(self):
        """Open the demo project, creating it (in the background) on first use."""
        path = demo_path()
        if path.exists():
            self.open_project(path)
            return None
        from nerdesk.core.demo import create_demo_project

        return self.run_job(
            "Creating the demo project", lambda: create_demo_project(path), on_done=lambda _res: self.open_project(path)
        )

    def import_dialog(self) -> None:
        if self.session.project is None:
            return
        from nerdesk.ui.widgets.import_dialog import ImportDialog

        dlg = ImportDialog(self, str(self.settings.value("import_dir", str(Path.home()))))
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        path, fmt, options = dlg.values()
        if path:
            self.settings.setValue("import_dir", str(Path(path).parent))
            self.import_file(path, fmt, **options)

    def import_file(self, path: str | Path, fmt: str | None = None, **options):
        if self.session.project is None:
            return None
        factory = project_job(self.session.project.path, lambda p: p.import_file(path, fmt, **options))
        name = f"Importing {Path(path).name}"
        # one import is one transaction: it holds the write lock until it ends
        self.session.paused = name
        return self.run_job(
            name, factory, on_done=self._import_done, on_finished=lambda: setattr(self.session, "paused", None)
        )

    def _import_done(self, result) -> None:
        d = getattr(result, "as_dict", lambda: {})()
        said = (
            f"Imported {d.get('documents', '?')} documents, {d.get('segments', '?')} segments"
            f" ({d.get('duplicates', 0)} duplicates skipped)."
        )
        self.statusBar().showMessage(said, 8000)
        self.session.reload()
        self.queue.model.reset()
        if d.get("segments"):  # every import is pre-annotated (resumable: File › Pre-annotate)
            QTimer.singleShot(0, lambda: self.preannotate(after_import=said))

    def preannotate(self, *, after_import: str | None = None):
        """Pre-annotate, in the background, what the active model (else the default) has not seen."""
        p = self.session.project
        if p is None:
            return None
        try:
            name = p.preannotating_model()
        except NerdeskError as exc:  # the active model's package is gone: say so, switch nothing
            if after_import is not None:
                self.statusBar().showMessage(f"{after_import} Not pre-annotated: {exc}", 15000)
            else:
                show_error(self, exc)
            return None
        factory = project_job(self.session.project.path, lambda q: q.preannotate())

        def done(n):
            self.statusBar().showMessage(f"Pre-annotated {n} segments with {name}.", 8000)
            self.session.reload()
            self.queue.model.reset()
            self.update_counts()

        return self.run_job(f"Pre-annotating with {name}", factory, on_done=done)

    def add_term_list_dialog(self) -> None:
        """File › Add a term list…: a terminology pre-annotates before any model knows its label."""
        from nerdesk.ui.widgets.terms_dialog import add_term_list_dialog

        add_term_list_dialog(self)

    def add_term_list(self, path, **opts):
        from nerdesk.ui.widgets.terms_dialog import add_term_list

        return add_term_list(self, str(path), **opts)

    def show_term_lists(self):
        from nerdesk.ui.widgets.terms_dialog import show_term_lists

        return show_term_lists(self)

    def predict(self, model=None):
        """Pre-annotate in the background (``model``: None for the default, a path, or a loaded
        model that is safe to use from the worker thread)."""
        if self.session.project is None:
            return None
        factory = project_job(self.session.project.path, lambda p: p.predict(model))

        def done(n):
            self.statusBar().showMessage(f"Pre-annotated {n} segments.", 8000)
            self.session.reload()
            self.queue.model.reset()

        return self.run_job("Pre-annotating", factory, on_done=done)

    def run_job(self, name: str, factory, on_done=None, on_finished=None):
        """Start a background job; ``on_done(result)`` on success, ``on_finished()`` in any case."""

        def connect(job):
            if on_done is not None:
                job.succeeded.connect(on_done)
            job.failed.connect(lambda exc, tb: show_error(self, exc, None if isinstance(exc, NerdeskError) else tb))
            job.cancelled.connect(lambda: self.statusBar().showMessage(f"{name}: cancelled, nothing changed.", 8000))
            if on_finished is not None:
                job.finished.connect(on_finished)

        return self.jobs.start(name, factory, connect)

    # ------------------------------------------------------------------ reactions
    def _project_changed(self) -> None:
        p = self.session.project
        self._live = {}
        self.stack.setCurrentIndex(1 if p else 0)
        self.setWindowTitle(f"nerdesk — {p.name}" if p else "nerdesk")
        for act in self.project_actions:
            act.setEnabled(p is not None)
        self._update_identity()
        for name in ("_tier_queue", "_adjudication", "_team_report"):
            dlg = getattr(self, name, None)
            if dlg is not None and p is None:
                dlg.close()
        if p is not None and not p.identity.chosen:
            QTimer.singleShot(0, lambda: self.show_user_dialog(first=True))  # asked once per project and OS user
        self.finetune.check()
        for name in ("_auto_accept", "_corrections", "_dashboard", "_term_lists"):
            dlg = getattr(self, name, None)
            if dlg is not None and p is None:
                dlg.close()
        self.palette.set_labels(self._palette_labels())
        self.view.refresh_labels()
        self.update_counts()
        self._update_undo()
        if p is not None:
            self.view.setFocus()

    def _remember_live(self, sid: int) -> None:
        if sid is not None and sid >= 0 and sid not in self._live:
            self._live[sid] = self.session.live_corrections(sid)

    def _show_live_corrections(self) -> None:
        from nerdesk.ui.corrections import describe, key

        ids, self._live_pending = self._live_pending, set()
        text = self.session.doc["text"] if self.session.doc else ""
        for sid in ids:
            if self.session.segment(sid) is None:
                continue
            before = {key(c) for c in self._live.get(sid, [])}
            after = self.session.live_corrections(sid)
            self._live[sid] = after
            new = [c for c in after if key(c) not in before]
            if new:
                msg = "; ".join(describe(c, text) for c in new)
            elif not after:
                msg = "Matches the model's prediction now."
            elif len(after) < len(before):
                msg = "Still differs from the model: " + "; ".join(describe(c, text) for c in after)
            else:
                continue
            self.last_category_message = msg
            self.statusBar().showMessage(msg, 8000)

    def _changed(self, changes: Changes) -> None:
        kind = changes.kind  # an undo or redo has the kind of what it reverted
        if kind is ChangeKind.EDIT_SPANS and changes.segments:
            self._live_pending |= set(changes.segments)
            self._live_timer.start()
        if changes.labels:
            self.palette.set_labels(self._palette_labels())
        if kind is ChangeKind.IDENTITY:
            self._update_identity()
        if changes.models or changes.labels:
            self.update_counts()
        if kind in (ChangeKind.ACCEPT, ChangeKind.RELOAD) or changes.models:
            self._offer_due = True
        # what can be undone or redone now is known at once (Ctrl+Z right after an edit must reach Undo);
        # the menu's wording of it lags with the counts
        (self.act_redo if changes.step is Step.UNDO else self.act_undo).setEnabled(True)
        self._stats_timer.start()  # counts and undo labels lag a little; edits stay fast

    def _update_undo(self) -> None:
        p = self.session.project
        u, r = p.undo_status() if p else (None, None)
        self.act_undo.setText(f"&Undo {u}" if u else "&Undo")
        self.act_redo.setText(f"&Redo {r}" if r else "&Redo")
        self.act_undo.setEnabled(bool(u))
        self.act_redo.setEnabled(bool(r))

    def update_counts(self) -> None:
        p = self.session.project
        if p is None:
            self.counts.setText("")
            self.model_label.setText("")
            self.retrain_label.setText("")
            return
        c = p.store.counts()
        bs = c["by_status"]
        self.counts.setText(
            f"{c['documents']} docs · {c['segments']} segments · "
            + " · ".join(
                f"{k} {bs[k]}" for k in ("new", "draft", "accepted", "skipped", "flagged", "auto", "audit") if bs.get(k)
            )
        )
        self.model_label.setText(f"model: {p.active_model_id() or 'none'}")
        from nerdesk.core import retrain

        self.retrain_label.setText(retrain.describe(retrain.state(p.store)))
        try:
            self.act_predict.setText(f"&Pre-annotate with {p.preannotating_model()}")
        except NerdeskError:
            self.act_predict.setText("&Pre-annotate (the active model's package is missing)")

    def _palette_label(self, name: str) -> None:
        self.view.apply_label(name)
        self.view.setFocus()

    def _goto(self, sid: int) -> None:
        self.session.goto(sid)
        self.view.setFocus()

    def _goto_document(self, doc_id: int) -> None:
        p = self.session.project
        if p is None:
            return
        try:
            segs = p.document(doc_id)["segments"]
        except NerdeskError as exc:
            show_error(self, exc)
            return
        if segs:
            self._goto(segs[0].id)

    def focus_search(self) -> None:
        self.queue.search.setFocus()
        self.queue.search.selectAll()

    def show_keymap(self) -> None:
        dlg = QDialog(self)
        dlg.setObjectName("keymapDialog")
        dlg.setWindowTitle("Keyboard shortcuts")
        lay = QVBoxLayout(dlg)
        from nerdesk.ui.actions import help_rows

        rows = help_rows()
        t = QTableWidget(len(rows), 2)
        t.setHorizontalHeaderLabels(["Keys", "Action"])
        for i, (k, a) in enumerate(rows):
            t.setItem(i, 0, QTableWidgetItem(k))
            t.setItem(i, 1, QTableWidgetItem(a))
        t.resizeColumnsToContents()
        t.horizontalHeader().setStretchLastSection(True)
        t.verticalHeader().setVisible(False)
        t.verticalHeader().setDefaultSectionSize(24)
        t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        lay.addWidget(t)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(dlg.reject)
        lay.addWidget(bb)
        # every row if the screen has room; else as tall as it is, the table scrolling
        dlg.resize(860, min(24 * len(rows) + 90, self.screen().availableGeometry().height() - 80))
        dlg.show()
        self._keymap = dlg

    # ------------------------------------------------------------------ the review loop
    # ------------------------------------------------------------------ labels, guideline, view (issue 17)
    def show_stale(self) -> None:
        self.queue.set_status("stale")

    def set_tags(self, on: bool) -> None:
        self._set_view(tags=on)

    def set_colour_blind(self, on: bool) -> None:
        self._set_view(colour_blind_safe=on)

    def set_dark(self, on: bool) -> None:
        self._set_view(theme="dark" if on else "light")

    def larger_text(self) -> None:
        self._set_view(font_pt=self.view_settings.font_pt + 1)

    def smaller_text(self) -> None:
        self._set_view(font_pt=self.view_settings.font_pt - 1)

    def default_text_size(self) -> None:
        self._set_view(font_pt=11.0)

    def _set_view(self, **changes) -> None:
        """Change a View setting, remember it for this user (QSettings) and redraw."""
        from dataclasses import replace

        from nerdesk.ui.theme import FONT_MAX, FONT_MIN

        if "font_pt" in changes:
            changes["font_pt"] = max(FONT_MIN, min(FONT_MAX, changes["font_pt"]))
        self.view_settings = replace(self.view_settings, **changes)
        self.view_settings.save(self.settings)
        self._apply_view()

    def _apply_view(self) -> None:
        from PySide6.QtWidgets import QApplication

        from nerdesk.ui.theme import qpalette

        vs = self.view_settings
        self.view.apply_view(vs)
        app = QApplication.instance()
        if app is not None:
            app.setPalette(qpalette(vs.palette))
        self.palette.set_labels(self._palette_labels())

    def _palette_labels(self) -> list[dict]:
        """The project's labels in the colours the document view draws them in (colour-blind-safe or not)."""
        p = self.session.project
        if p is None:
            return []
        return [dict(lab, color=self.view.colors.get(lab["name"], lab["color"])) for lab in p.labels()]

    def show_labels(self):
        from nerdesk.ui.widgets.labels_dialog import LabelsDialog

        return self._show_dialog("_labels_dialog", lambda w: LabelsDialog(w.session, w), lambda d: d.refresh())

    def show_guideline(self, label: str | None = None):
        from nerdesk.ui.widgets.guideline_editor import GuidelineEditor

        return self._show_dialog(
            "_guideline_editor",
            lambda w: GuidelineEditor(w.session, w.view, w),
            lambda d: d.refresh(keep=label or (self.view.focus.label if self.view.focus else None)),
        )

    def _show_dialog(self, attr: str, make, refresh=None):
        """Show the window's one instance of a dialog (made on first use); ``refresh(dlg)`` each time."""
        dlg = getattr(self, attr, None)
        if dlg is None:
            dlg = make(self)
            setattr(self, attr, dlg)
        if refresh is not None:
            refresh(dlg)
        dlg.show()
        dlg.raise_()
        return dlg

    def show_auto_accept(self):
        if self.session.project is None:
            return None
        from nerdesk.ui.widgets.auto_accept import AutoAcceptDialog

        return self._show_dialog("_auto_accept", AutoAcceptDialog, lambda d: d.update_count())

    def show_corrections(self):
        if self.session.project is None:
            return None
        from nerdesk.ui.widgets.corrections import CorrectionsDialog

        fresh = getattr(self, "_corrections", None) is None

        def refresh(dlg):
            if not fresh:
                dlg._labels()
                dlg.reload()

        return self._show_dialog("_corrections", CorrectionsDialog, refresh)

    def export_bundle_dialog(self):
        """Preview exactly what a correction bundle holds, then write it."""
        if self.session.project is None:
            return None
        from nerdesk.ui.widgets.bundle_dialog import BundleDialog

        old = getattr(self, "_bundle", None)
        if old is not None and old.job is None:
            old.deleteLater()
        dlg = self._bundle = BundleDialog(self)
        dlg.load()
        dlg.show()
        return dlg

    def show_dashboard(self):
        if self.session.project is None:
            return None
        from nerdesk.ui.widgets.dashboard import Dashboard

        return self._show_dialog("_dashboard", Dashboard, lambda d: d.refresh())

    # ------------------------------------------------------------------ team (issue 16)
    def _update_identity(self) -> None:
        p = self.session.project
        self.identity_label.setText(f"{p.user} · {p.tier}" if p else "")
        self.identity_label.setToolTip("Who is acting, and at which review tier (Team › Who am I)" if p else "")

    def show_user_dialog(self, first: bool = False):
        if self.session.project is None:
            return None
        from nerdesk.ui.widgets.user_dialog import UserDialog

        old = getattr(self, "_user_dialog", None)
        if old is not None and old.isVisible():
            return old
        dlg = self._user_dialog = UserDialog(self, first=first)
        dlg.open()
        return dlg

    def show_tier_queue(self):
        if self.session.project is None:
            return None
        from nerdesk.ui.widgets.adjudication import TierQueueDialog

        dlg = self._show_dialog("_tier_queue", TierQueueDialog, lambda d: d.reload())
        dlg.activateWindow()  # its keys (A, B, C, J, Enter) are the window's shortcuts
        return dlg

    def show_adjudication(self, segment_id: int | None = None):
        if self.session.project is None:
            return None
        from nerdesk.ui.widgets.adjudication import AdjudicationDialog

        dlg = self._show_dialog("_adjudication", AdjudicationDialog, lambda d: d.reload(segment_id))
        dlg.activateWindow()  # its keys (1-9, Space, Enter, E, PageDown) are the window's shortcuts
        return dlg

    def show_team_report(self):
        if self.session.project is None:
            return None
        from nerdesk.ui.widgets.adjudication import TeamReportDialog

        return self._show_dialog("_team_report", TeamReportDialog, lambda d: d.refresh())

    def _maybe_offer(self) -> None:
        if self._offer_due and self.session.project is not None:
            self._offer_due = False
            self.finetune.check()

    def _finetune_offer(self, reason: str) -> None:
        self.finetune_offer.setVisible(bool(reason))
        self.finetune_not_now.setVisible(bool(reason))
        if reason:
            self.finetune_offer.setToolTip(f"Fine-tune a new model on the corrections: {reason}")
            self.statusBar().showMessage(f"Time to fine-tune: {reason}.", 10000)

    def finetune_accurate(self) -> None:
        self.finetune.start(base="en-accurate")

    def finetune_settings_dialog(self) -> None:
        from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QSpinBox

        dlg = QDialog(self)
        dlg.setObjectName("fineTuneSettings")
        dlg.setWindowTitle("Fine-tune settings")
        form = QFormLayout(dlg)
        every = QSpinBox()
        every.setRange(1, 1_000_000)
        every.setValue(self.finetune.every)
        form.addRow("Offer after this many corrections:", every)
        err = QDoubleSpinBox()
        err.setRange(0.0, 1.0)
        err.setSingleStep(0.01)
        err.setValue(self.finetune.max_error)
        form.addRow("…or when the audited error rate may exceed:", err)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(dlg.accept)
        bb.rejected.connect(dlg.reject)
        form.addRow(bb)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            from nerdesk.core import retrain

            retrain.configure(self.session.project.store, every=every.value(), max_error=err.value())
            self._offer_due = True
            self._maybe_offer()

    def promote_model(self, model_dir, on_done=None):
        """Register a model directory, make it active, predict what it has not seen (a job)."""
        if self.session.project is None:
            return None
        from nerdesk.ui.widgets.dashboard import promote_factory

        def done(model_id):
            self.statusBar().showMessage(f"Promoted {model_id}: it is the active model now.", 8000)
            self.model_changed()
            if on_done is not None:
                on_done(model_id)

        return self.run_job(
            f"Promoting {Path(model_dir).name}",
            promote_factory(self.session.project.path, str(model_dir)),
            on_done=done,
        )

    def model_changed(self) -> None:
        """After a model was promoted or rolled back: what is shown follows the active model."""
        self.session.reload()
        self.queue.reset()
        self.update_counts()

    def about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from nerdesk import __version__

        QMessageBox.about(
            self, "About nerdesk", f"<b>nerdesk {__version__}</b><br>Offline review and correction of named entities."
        )

    def closeEvent(self, e) -> None:  # noqa: N802
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.jobs.cancel_all()
        run = self.finetune.run
        if run is not None:
            run.cancel()
            run.proc.waitForFinished(5000)
        self.jobs.wait_all(5000)
        self.session.close()
        super().closeEvent(e)
