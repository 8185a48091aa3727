"""The review session: the UI thread's Project, the current item, and every correction.

Widgets call these methods; each one calls the facade (one transaction, saved at once) and
emits :attr:`Session.changed` with the :class:`~nerdesk.core.types.Changes` it returned. No SQL
and no domain rules here: the core decides, the session only routes and remembers where the
reviewer is (the current segment and the items visited, for Previous).
"""

from __future__ import annotations

import gc
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from nerdesk.core import queue_walk
from nerdesk.core.errors import NerdeskError
from nerdesk.core.project import Project
from nerdesk.core.store import busy_error, is_busy
from nerdesk.core.types import ChangeKind, Changes, Segment

#: Coded errors that only tell the reviewer something (the status bar), not a failure (a dialog):
#: E436, a boundary that stops at the neighbouring span.
_TOLD_IN_THE_STATUS_BAR = frozenset({"E436"})

#: Seconds a correction waits for another program's write lock (a CLI import, say) before the
#: app says the project is busy (E016) and nothing is saved: the UI thread must not hang long.
UI_WAIT = 3.0


@contextmanager
def _collector_paused():
    """Showing a document builds an object per segment and span (13,000 segments of a 1M-character
    line: ~100,000), which set off three full cyclic collections (0.2 s) on the way: pause the
    collector while they are built, then freeze what is alive (the shown document lives until the
    next one is opened; freezing keeps later collections from walking it again)."""
    if os.environ.get("NERDESK_GC_PAUSE", "1") == "0" or not gc.isenabled():
        yield
        return
    gc.disable()
    gc.unfreeze()  # the previous document's objects may be collected again
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


class Session(QObject):
    projectChanged = Signal()  # a project was opened or closed
    documentChanged = Signal(object)  # the document dict now shown (or None)
    currentChanged = Signal(int)  # the current segment id (-1: none)
    changed = Signal(object)  # Changes after a mutation, undo or redo
    error = Signal(object)  # a NerdeskError the user should see
    message = Signal(str)  # a short note for the status bar

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.project: Project | None = None
        self.doc: dict[str, Any] | None = None
        self.current: int | None = None
        self.queue_status = "new"
        self.queue_order = "uncertainty"
        #: label / source / max_confidence filters of the queue (SQL, Project.next_items)
        self.queue_filters: dict[str, Any] = {}
        #: a routed list (segment ids, best first) Next walks before the SQL queue, or None
        self.routed: list[int] | None = None
        #: why each queued segment was routed (shown in the queue and the inspector)
        self.reasons: dict[int, list[str]] = {}
        self._visited: list[int] = []
        self._pos = -1
        self._queue_offset = 0
        self._seen_from = 0
        #: set while a background job holds the project's write lock for long (an import)
        self.paused: str | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def path(self) -> Path | None:
        return self.project.path if self.project else None

    def open(self, path: str | Path) -> bool:
        try:
            project = Project.open(path, wait=UI_WAIT)
        except NerdeskError as exc:
            self.error.emit(exc)
            return False
        self.set_project(project)
        return True

    def set_project(self, project: Project | None) -> None:
        self.close()
        self.project = project
        self.projectChanged.emit()
        if project is not None:
            self.next()

    def close(self) -> None:
        if self.project is not None:
            self.project.close()
        self.project = None
        self.doc = None
        self.current = None
        self._visited, self._pos, self._queue_offset, self._seen_from = [], -1, 0, 0
        self.routed, self.reasons = None, {}
        self.documentChanged.emit(None)
        self.currentChanged.emit(-1)

    def reload(self) -> None:
        """After a background job changed the file: re-read what is shown (and the undo history: a
        merge the job made is one undoable step)."""
        if self.project is None:
            return
        self.project._rebuild_undo()
        if self.current is None:
            self.next()
            return
        doc_id = self.doc["id"] if self.doc else None
        self.doc = None
        self.goto(self.current, remember=False, force_doc=doc_id)
        self.changed.emit(Changes(ChangeKind.RELOAD, models=True, labels=True, action="reload"))

    # ------------------------------------------------------------------ reading
    def segment(self, segment_id: int | None = None) -> Segment | None:
        """The current (or given) segment from the shown document."""
        sid = self.current if segment_id is None else segment_id
        if self.doc is None or sid is None:
            return None
        index = self.doc.get("_index")
        if index is None or len(index) != len(self.doc["segments"]):
            index = self.doc["_index"] = {s.id: i for i, s in enumerate(self.doc["segments"])}
        i = index.get(sid)
        return None if i is None else self.doc["segments"][i]

    def segment_at(self, cp: int) -> Segment | None:
        """The segment of the shown document containing code-point offset ``cp``."""
        if self.doc is None:
            return None
        for s in self.doc["segments"]:
            if s.start <= cp < s.end or (cp == s.end and cp > s.start):
                return s
        return None

    # ------------------------------------------------------------------ navigation
    def goto(self, segment_id: int, *, remember: bool = True, force_doc: int | None = None) -> None:
        if self.project is None:
            return
        try:
            if self.doc is None or self.segment(segment_id) is None or force_doc is not None:
                seg = self.project.segment(segment_id)
                with _collector_paused():
                    self.doc = self.project.document(seg.doc_id)
                    self.current = segment_id
                    self.documentChanged.emit(self.doc)
            self.current = segment_id
        except NerdeskError as exc:
            self.error.emit(exc)
            return
        if remember and (self._pos < 0 or self._visited[self._pos] != segment_id):
            del self._visited[self._pos + 1 :]
            self._visited.append(segment_id)
            self._pos = len(self._visited) - 1
        self.currentChanged.emit(segment_id)

    def next(self) -> bool:
        """The next item: forward in the visited list, else the most uncertain unvisited one."""
        if self.project is None:
            return False
        if self._pos + 1 < len(self._visited):
            self._pos += 1
            self.goto(self._visited[self._pos], remember=False)
            return True
        seen = set(self._visited[self._seen_from :])
        if self.current is not None:
            seen.add(self.current)  # Next never stays put
        project = self.project
        if self.routed:
            sid = queue_walk.next_routed(self.routed, seen, self._status_of, self.queue_status)
            if sid is not None:
                self.goto(sid)
                return True

        def page_of(limit: int, offset: int):
            return project.next_items(
                limit, status=self.queue_status, offset=offset, order=self.queue_order, **self.queue_filters
            )

        found = queue_walk.next_in_queue(page_of, seen, self._queue_offset)
        if found is not None:
            sid, self._queue_offset = found
            self.goto(sid)
            return True
        self.message.emit(f"No more '{self.queue_status}' items in the queue.")
        if self.current is None:  # nothing left to review: show something reviewed anyway
            sid = queue_walk.first_reviewed(lambda status: project.next_items(1, status=status, order="document"))
            if sid is not None:
                self.goto(sid)
        return False

    def _status_of(self, segment_id: int) -> str | None:
        row = self.project.store.segment(segment_id) if self.project else None
        return None if row is None else row.status

    def set_queue(
        self, status: str | None = None, order: str | None = None, filters: dict[str, Any] | None = None
    ) -> None:
        """Which items Next walks through: a status ('new', 'flagged', ...), an order and filters
        (label, source, max_confidence). A routed list is dropped until the next one comes."""
        if status is not None:
            self.queue_status = status
        if order is not None:
            self.queue_order = order
        if filters is not None:
            self.queue_filters = {k: v for k, v in filters.items() if v is not None}
        self.routed = None
        self._queue_offset = 0
        del self._visited[self._pos + 1 :]
        # a new walk: items seen before may come again, except the one shown now
        self._seen_from = max(0, len(self._visited) - 1)

    def set_routed(self, ids: list[int] | None, reasons: dict[int, list[str]] | None = None) -> None:
        """A routing strategy's list: Next walks it first (then the SQL queue)."""
        self.routed = list(ids) if ids is not None else None
        if reasons is not None:
            self.reasons = reasons
        # The first item of a session comes from the SQL order while routing runs in the
        # background; if the user has not moved or edited yet, start at the routed list's top.
        if (
            self.routed
            and self.project is not None
            and len(self._visited) == 1
            and self._pos == 0
            and self.current == self._visited[0]
            and self.current != self.routed[0]
            and self.project.store.annotation(self.current, self.project.user) is None
        ):
            top = self.project.store.segment(self.routed[0])
            if top is not None and top.status == self.queue_status:
                self._visited, self._pos = [], -1
                self.goto(self.routed[0])

    def previous(self) -> bool:
        if self._pos > 0:
            self._pos -= 1
            self.goto(self._visited[self._pos], remember=False)
            return True
        self.message.emit("This is the first item of the session.")
        return False

    # ------------------------------------------------------------------ corrections
    def _apply(self, fn_name: str, *args: Any, **kw: Any) -> Changes | None:
        if self.project is None:
            return None
        if self.paused:
            self.message.emit(f"{self.paused}: corrections are paused until it finishes (or is cancelled).")
            return None
        try:
            target: Any = self.project
            for part in fn_name.split("."):  # "team.review": a method of project.team
                target = getattr(target, part)
            changes: Changes = target(*args, **kw)
        except NerdeskError as exc:
            if exc.code in _TOLD_IN_THE_STATUS_BAR:
                self.message.emit(exc.message)
            else:
                self.error.emit(exc)
            return None
        except sqlite3.OperationalError as exc:  # locked by another program: nothing was saved
            if not is_busy(exc):
                raise
            self.error.emit(busy_error(self.project.path, UI_WAIT, exc))
            return None
        self._refresh(changes)
        self.changed.emit(changes)
        return changes

    def _refresh(self, changes: Changes) -> None:
        """Re-read the touched segments of the shown document (or switch to the touched one)."""
        if self.project is None:
            return
        touched = sorted(changes.segments)
        if self.doc is None:
            return
        in_doc = [sid for sid in touched if self.segment(sid) is not None]
        if in_doc:
            self.segment(in_doc[0])  # builds the index
            index = self.doc["_index"]
            for seg in self.project.segments(in_doc):
                self.doc["segments"][index[seg.id]] = seg

    def add_span(self, segment_id: int, start: int, end: int, label: str, *, snap: bool = True):
        return self._apply("add_span", segment_id, start, end, label, snap=snap)

    def remove_span(self, segment_id: int, start: int, end: int, label: str | None = None):
        return self._apply("remove_span", segment_id, start, end, label)

    def relabel_span(self, segment_id: int, start: int, end: int, label: str):
        return self._apply("relabel_span", segment_id, start, end, label)

    def move_span(self, segment_id: int, start: int, end: int, new_start: int, new_end: int, *, snap: bool = True):
        return self._apply("move_span", segment_id, start, end, new_start, new_end, snap=snap)

    # label changes and the guideline (issue 17): each one transaction and one undoable event in the core
    def change_labels(self, fn_name: str, *args: Any, **kw: Any) -> Changes | None:
        """A label change of nerdesk.core.taxonomy (``"rename_label"``, ...) or the guideline
        (``"guidelines.set_fields"``, ...); the shown document is read again (every span may have changed)."""
        name = fn_name if "." in fn_name else f"taxonomy.{fn_name}"
        changes = self._apply(name, *args, **kw)
        if changes is not None:
            self._reread_shown()
        return changes

    def _reread_shown(self) -> None:
        if self.project is None or self.doc is None or self.current is None:
            return
        doc_id = self.doc["id"]
        self.doc = None
        self.goto(self.current, remember=False, force_doc=doc_id)

    def override_category(self, correction_id: int, category: str, reason: str = ""):
        """A human's verdict on an error's category (kept when the error is found again)."""
        return self._apply("override_category", correction_id, category, reason)

    # review tiers (issue 16): each one transaction and one undoable event in the core
    def set_identity(self, user: str, tier: str):
        """Act as ``user`` at ``tier`` in this project from now on (remembered for this OS user)."""
        return self._apply("team.remember_identity", user, tier)

    def review_decision(self, segment_id: int, annotator: str, decision: str, *, spans=None, note: str = ""):
        """approve / correct / send_back an annotator's accepted segment (nerdesk.core.review)."""
        return self._apply("team.review", segment_id, annotator, decision, spans=spans, note=note)

    def adjudicate(self, segment_id: int, spans=None, **kw: Any):
        """Decide a conflict: ``take=``, ``combine=`` or the spans (nerdesk.core.adjudicate)."""
        return self._apply("adjudication.adjudicate", segment_id, spans, **kw)

    def live_corrections(self, segment_id: int | None = None) -> list:
        """The errors the current spans fix in the model's prediction, as they are now."""
        sid = self.current if segment_id is None else segment_id
        if self.project is None or sid is None:
            return []
        try:
            return self.project.live_corrections(sid)
        except NerdeskError:
            return []

    def accept(self, advance: bool = True):
        if self.current is None:
            return None
        ch = self._apply("accept", self.current)
        if ch is not None and advance:
            self.next()
        return ch

    def skip(self, advance: bool = True):
        if self.current is None:
            return None
        ch = self._apply("skip", self.current)
        if ch is not None and advance:
            self.next()
        return ch

    def flag(self, note: str, advance: bool = True):
        if self.current is None:
            return None
        ch = self._apply("flag", self.current, note)
        if ch is not None and advance:
            self.next()
        return ch

    def undo(self):
        return self._undo_redo("undo")

    def redo(self):
        return self._undo_redo("redo")

    def _undo_redo(self, which: str):
        if self.project is None:
            return None
        if self.paused:
            self.message.emit(f"{self.paused}: undo is paused until it finishes (or is cancelled).")
            return None
        try:
            changes: Changes = getattr(self.project, which)()
        except NerdeskError as exc:
            self.message.emit(exc.message)
            return None
        if changes.labels and not changes.segments:  # a label change undone or redone: every span may differ
            self._reread_shown()
        sid = next(iter(changes.segments), None)
        if sid is not None and self.segment(sid) is None:
            self.goto(sid)  # show where the undone action happened
        else:
            self._refresh(changes)
            if sid is not None and sid != self.current:
                self.goto(sid)
        self.changed.emit(changes)
        self.message.emit(changes.action.capitalize())
        return changes
