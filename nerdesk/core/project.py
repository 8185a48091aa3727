"""The project facade: the one object the CLI and the UI talk to (Anki's ``Collection``).

Every mutation runs in one transaction, is written to the append-only event log, and returns
:class:`~nerdesk.core.types.Changes`. Undo and redo replay the log, so they survive a restart.
Long operations (import, predict) are generators that yield :class:`Progress` and return a
result; a caller that stops iterating (cancel) rolls the whole operation back.
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import inspect
import os
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nerdesk.core import adjudicate, edits, guideline, review, settings, taxonomy
from nerdesk.core import labels as labelset
from nerdesk.core.errors import Errors, err
from nerdesk.core.store import Store, now
from nerdesk.core.types import Annotation, ChangeKind, Changes, DocRecord, Identity, Progress, Segment, Span, Step

STATUSES = ("new", "draft", "accepted", "skipped", "flagged", "rejected", "auto", "audit")
SEVERITIES = ("low", "normal", "high")


def default_user() -> str:
    try:
        return os.environ.get("NERDESK_USER") or getpass.getuser()
    except Exception:  # no login name (some containers)
        return "user"


class Project:
    """One open project file, seen by one user at one review tier.

    It composes the services over the store (Anki's ``Collection``): each of them is a function of
    the :class:`Store` and, where someone acts, the :class:`Identity`; the Project passes its own and
    keeps this user's undo stack (a service's ``Changes.undoable`` goes on it)."""

    def __init__(self, store: Store, *, user: str | None = None, tier: str | None = None):
        """``user``/``tier`` not given: from the environment, the config file, what this OS user chose
        in this project before, else the login name as an annotator (:func:`nerdesk.core.review.resolve_identity`)."""
        self.store = store
        self.identity: Identity = review.resolve_identity(store, user, tier)
        store.acting_tier = self.tier
        self._undo: list[int] = []
        self._redo: list[int] = []
        self._rebuild_undo()

    @property
    def user(self) -> str:
        return self.identity.user

    @property
    def tier(self) -> str:
        return self.identity.tier

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        lang: str = "en",
        labels: Iterable[str] = (),
        name: str | None = None,
        allow_overlaps: bool = False,
        **kw: Any,
    ) -> Project:
        store = Store(path, create=True)
        settings.initialise(store, name=name or Path(path).stem, lang=lang, allow_overlaps=allow_overlaps)
        project = cls(store, **kw)
        if labels:
            project.add_labels(list(labels))
        return project

    @classmethod
    def open(cls, path: str | Path, *, wait: float | None = None, **kw: Any) -> Project:
        """``wait``: seconds a write waits for another program's lock (default: the store's)."""
        return cls(Store(path) if wait is None else Store(path, wait=wait), **kw)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.store.path

    @property
    def name(self) -> str:
        return settings.project_name(self.store)

    @property
    def lang(self) -> str:
        return settings.lang(self.store)

    @property
    def allow_overlaps(self) -> bool:
        return settings.allow_overlaps(self.store)

    # ------------------------------------------------------------------ labels
    def labels(self) -> list[dict[str, Any]]:
        return self.store.labels()

    def label_names(self) -> list[str]:
        """The labels offered for annotation (retired and split labels are not)."""
        return settings.label_names(self.store)

    @property
    def taxonomy(self):
        """Label changes that migrate the work (:mod:`nerdesk.core.taxonomy`): add, rename, merge,
        split, retire, parent, edit; each one transaction and one undoable event."""
        return _Bound(taxonomy, self)

    @property
    def guidelines(self):
        """The guideline per label, its versions and diffs (:mod:`nerdesk.core.guideline`)."""
        return _Bound(guideline, self)

    def _did(self, changes: Any) -> Any:
        """What a service returned; the event it logged that this user can undo goes on the stack."""
        if isinstance(changes, Changes) and changes.undoable is not None:
            self._undo.append(changes.undoable)
            self._redo.clear()
        return changes

    def add_labels(self, names: Iterable[str], *, description: str = "") -> Changes:
        """Add labels (new ones get a colour and a free shortcut key) and version the guideline."""
        with self.store.transaction():
            added = labelset.add_labels(self.store, self.identity, names, description)
        return Changes(ChangeKind.LABELS, labels=bool(added), action="add labels")

    def guideline(self) -> dict[str, Any] | None:
        return self.store.guideline()

    def guideline_text(self) -> str:
        return settings.guideline_text(self.store)

    # ------------------------------------------------------------------ import / export
    def import_records(self, records: Iterable[DocRecord], **options: Any) -> Generator[Progress, None, Any]:
        from nerdesk.core.importer import import_records

        return self._then_rebuild_undo(import_records(self.store, self.identity, records, **options))

    def import_file(self, path: str | Path, fmt: str | None = None, **options: Any) -> Generator[Progress, None, Any]:
        """A file in any format nerdesk reads; a correction bundle (``.zip``) is merged."""
        if fmt == "bundle" or (fmt is None and Path(path).suffix.lower() == ".zip"):
            from nerdesk.core.bundle import import_bundle

            gen = import_bundle(self.store, self.identity, path, add_labels=options.get("add_labels"))
        else:
            from nerdesk.core.importer import import_file

            gen = import_file(self.store, self.identity, path, fmt, **options)
        return self._then_rebuild_undo(gen)

    def _then_rebuild_undo(self, gen: Generator[Progress, None, Any]) -> Generator[Progress, None, Any]:
        """An import that merged annotations into segments already here (added, or kept beside a local
        row as a conflict) logged one undoable event: the undo stack is read again from the log."""
        result = yield from gen
        if result.merged_added or result.conflicts:
            self._rebuild_undo()
        return result

    def export_records(self, *, reviewed_only: bool = False) -> Iterator[DocRecord]:
        from nerdesk.core.exporter import export_records

        return export_records(self.store, reviewed_only=reviewed_only)

    # ------------------------------------------------------------------ reading
    def stats(self) -> dict[str, Any]:
        counts = self.store.counts()
        annotated, per_label = self.store.annotated_label_counts()
        return {
            "project": self.name,
            "path": str(self.path),
            "lang": self.lang,
            **counts,
            "annotated": annotated,
            "labels": self.label_names(),
            "per_label": per_label,
            "active_model": self.store.active_model_id(),
        }

    def search(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Full-text search. FTS5 syntax (quotes, *, AND/OR/NOT) is honoured when it parses;
        anything else is searched as plain words."""
        from nerdesk.core.errors import NerdeskError
        from nerdesk.core.search import looks_like_fts_syntax, quoted_words

        if looks_like_fts_syntax(query):
            try:
                return self.store.search(query, limit)
            except NerdeskError:
                pass
        return self.store.search(quoted_words(query), limit)

    def document(self, doc_id: int) -> dict[str, Any]:
        """The document with its segments and the spans to show for each."""
        doc = self.store.document(doc_id)
        if doc is None:
            raise err(Errors.E005, id=f"document {doc_id}")
        segments = self.store.segments_of(doc_id, lazy_tokens=True)  # parsed on use (TokenOffsets)
        edits.attach_spans(self.store, self.user, segments)
        doc["segments"] = segments
        return doc

    def segment(self, segment_id: int) -> Segment:
        return edits.segment(self.store, self.user, segment_id)

    def segments(self, segment_ids: list[int]) -> list[Segment]:
        return edits.segments(self.store, self.user, segment_ids)

    # ------------------------------------------------------------------ corrections
    @contextmanager
    def _editing(self, segment_id: int, action: str) -> Iterator[tuple[Segment, dict[str, Any]]]:
        """Edit this user's annotation of a segment: yields (segment, the row to change), both read
        inside the write transaction (another process's edit in between cannot be overwritten);
        on leaving, the row is saved with its event and error categories, or nothing is if the
        block raised."""
        with self.store.transaction():
            seg = self.segment(segment_id)
            before = self.store.annotation(segment_id, self.user)
            if before is None:
                g = self.store.guideline()
                row: dict[str, Any] = {
                    "segment_id": segment_id,
                    "annotator": self.user,
                    "tier": self.tier,
                    "status": "draft",
                    "spans": [sp.span() for sp in seg.spans],
                    "note": "",
                    "guideline_version": g["version"] if g else None,
                    "model_id": self.store.active_model_id(),
                    "created": now(),
                }
            else:
                row = {**before.to_dict(), "spans": list(before.spans)}
            yield seg, row
            action = row.pop("_action", action)  # an edit may name what it removed in the history
            row["updated"] = now()
            row["tier"] = self.tier
            row["spans"].sort(key=Span.key)
            self.store.put_annotation(Annotation.from_dict(row))
            self.store.refresh_segment_status([segment_id])
            event_id = self.store.log_event(self.user, action, "do", segment_id, before, row)
            edits.refresh_corrections_of(self.store, segment_id, self.user)
        self._undo.append(event_id)
        self._redo.clear()

    def _changes(self, segment_id: int, action: str, kind: ChangeKind, step: Step = Step.DO) -> Changes:
        return edits.segment_changes(self.store, segment_id, action, kind, step)

    def _snap(self, seg: Segment, start: int, end: int, snap: bool) -> tuple[int, int]:
        if not seg.start <= start < end <= seg.end:
            raise err(Errors.E008, start=start, end=end, segment=seg.id, seg_start=seg.start, seg_end=seg.end)
        if snap:
            toks = seg.tokens
            start = next((a for a, b in toks if b > start), start)
            end = next((b for a, b in reversed(toks) if a < end), end)
        text_start = seg.start
        text = seg.own_text()
        # never keep surrounding whitespace
        while start < end and text[start - text_start].isspace():
            start += 1
        while end > start and text[end - 1 - text_start].isspace():
            end -= 1
        if start >= end:
            raise err(Errors.E008, start=start, end=end, segment=seg.id, seg_start=seg.start, seg_end=seg.end)
        return start, end

    def add_span(self, segment_id: int, start: int, end: int, label: str, *, snap: bool = True) -> Changes:
        """Add an entity; spans it overlaps are replaced unless the label set allows overlaps."""
        settings.check_label(self.store, label)
        with self._editing(segment_id, "add span") as (seg, row):
            start, end = self._snap(seg, start, end, snap)
            if not self.allow_overlaps:
                gone = [
                    sp
                    for sp in row["spans"]
                    if not (sp.end <= start or sp.start >= end) and sp.key() != (start, end, label)
                ]
                if gone:
                    row["_action"] = f"add span (replaced {_named(seg, gone)})"
                row["spans"] = [sp for sp in row["spans"] if sp.end <= start or sp.start >= end]
            row["spans"] = [sp for sp in row["spans"] if sp.key() != (start, end, label)]
            row["spans"].append(Span(start, end, label, None, "human"))
        return self._changes(segment_id, "add span", ChangeKind.EDIT_SPANS)

    def _find(self, row: dict[str, Any], start: int, end: int, label: str | None = None) -> int:
        """The index in ``row["spans"]`` of the span at [start, end) (of ``label``, if given): E011 if none."""
        for i, sp in enumerate(row["spans"]):
            if sp.start == start and sp.end == end and (label is None or sp.label == label):
                return i
        raise err(Errors.E011, start=start, end=end, segment=row["segment_id"])

    def remove_span(self, segment_id: int, start: int, end: int, label: str | None = None) -> Changes:
        with self._editing(segment_id, "delete span") as (_, row):
            del row["spans"][self._find(row, start, end, label)]
        return self._changes(segment_id, "delete span", ChangeKind.EDIT_SPANS)

    def relabel_span(self, segment_id: int, start: int, end: int, label: str) -> Changes:
        settings.check_label(self.store, label)
        with self._editing(segment_id, "relabel span") as (_, row):
            i = self._find(row, start, end)
            row["spans"][i] = dataclasses.replace(row["spans"][i], label=label, origin="human", confidence=None)
        return self._changes(segment_id, "relabel span", ChangeKind.EDIT_SPANS)

    def move_span(
        self,
        segment_id: int,
        start: int,
        end: int,
        new_start: int,
        new_end: int,
        *,
        snap: bool = True,
        swallow: bool = False,
    ) -> Changes:
        """Move a span's boundaries. Where spans may not overlap, a move into a neighbouring span stops at
        the neighbour (E436 where that leaves nothing to move); ``swallow`` removes the neighbours instead,
        and the history names them."""
        with self._editing(segment_id, "move boundary") as (seg, row):
            i = self._find(row, start, end)
            sp = row["spans"][i]
            new_start, new_end = self._snap(seg, new_start, new_end, snap)
            others = row["spans"][:i] + row["spans"][i + 1 :]
            if not self.allow_overlaps:
                hit = [o for o in others if not (o.end <= new_start or o.start >= new_end)]
                if hit and swallow:
                    row["_action"] = f"move boundary (removed {_named(seg, hit)})"
                elif hit:  # stop at the neighbours
                    for o in hit:
                        if o.start >= sp.start:
                            new_end = min(new_end, o.start)
                        else:
                            new_start = max(new_start, o.end)
                    text, base = seg.own_text(), seg.start
                    while new_end > new_start and text[new_end - 1 - base].isspace():
                        new_end -= 1
                    while new_start < new_end and text[new_start - base].isspace():
                        new_start += 1
                    if new_start >= new_end or (new_start, new_end) == (start, end):
                        raise err(Errors.E436, start=new_start, end=new_end, spans=_named(seg, hit))
                    row["_action"] = f"move boundary (stopped at {_named(seg, hit)})"
                others = [o for o in others if o.end <= new_start or o.start >= new_end]
            row["spans"] = [
                *others,
                dataclasses.replace(sp, start=new_start, end=new_end, origin="human", confidence=None),
            ]
        return self._changes(segment_id, "move boundary", ChangeKind.EDIT_SPANS)

    def set_spans(self, segment_id: int, spans: list[Span], *, action: str = "set spans") -> Changes:
        for sp in spans:
            settings.check_label(self.store, sp.label)
        with self._editing(segment_id, action) as (seg, row):
            row["spans"] = []
            for sp in spans:
                s, e = self._snap(seg, sp.start, sp.end, False)
                row["spans"].append(Span(s, e, sp.label, None, "human"))
        return self._changes(segment_id, action, ChangeKind.EDIT_SPANS)

    def accept(self, segment_id: int) -> Changes:
        with self._editing(segment_id, "accept") as (_, row):
            split = {
                lab["name"]: lab["guide"].get("split_into", [])
                for lab in self.store.labels()
                if lab.get("status") == "split"
            }
            pending = next((sp for sp in row["spans"] if sp.label in split), None)
            if pending is not None:
                raise err(
                    Errors.E425,
                    start=pending.start,
                    end=pending.end,
                    label=pending.label,
                    into=" or ".join(split[pending.label]),
                )
            row["status"] = "accepted"
            g = self.store.guideline()  # accepted now: made under today's guideline (no longer stale)
            row["guideline_version"] = g["version"] if g else row["guideline_version"]
        return self._changes(segment_id, "accept", ChangeKind.ACCEPT)

    def skip(self, segment_id: int) -> Changes:
        with self._editing(segment_id, "skip") as (_, row):
            row["status"] = "skipped"
        return self._changes(segment_id, "skip", ChangeKind.SKIP)

    def flag(self, segment_id: int, note: str) -> Changes:
        with self._editing(segment_id, "flag") as (_, row):
            row["status"] = "flagged"
            row["note"] = note
        return self._changes(segment_id, "flag", ChangeKind.FLAG)

    # ------------------------------------------------------------------ error categories
    def severity(self) -> dict[str, str]:
        """Severity per label ('low', 'normal', 'high'); labels not named are 'normal'."""
        return settings.severity(self.store)

    def set_severity(self, label: str, severity: str) -> Changes:
        """A label's severity, one undoable label change (``taxonomy.edit_label``): an unknown label is
        E009, a severity not in SEVERITIES E430, the one it has already E431."""
        return self.taxonomy.edit_label(label, severity=severity)

    def refresh_corrections(self, *, all_: bool = False) -> int:
        """Categorise accepted annotations that have not been yet (:func:`nerdesk.core.edits.refresh_corrections`)."""
        return edits.refresh_corrections(self.store, all_=all_)

    def live_corrections(self, segment_id: int) -> list[Any]:
        """The categories of the changes made so far to a segment (for the app, as they happen)."""
        from nerdesk.core.categorize import categorize

        seg = self.segment(segment_id)
        pred = seg.prediction
        if pred is None:
            return []
        predicted = list(pred.spans)
        final = [Span(sp.start, sp.end, sp.label) for sp in seg.spans]
        return categorize(predicted, final)

    def corrections(self, **filters: Any) -> list[dict[str, Any]]:
        return self.store.corrections(**filters)

    def override_category(self, correction_id: int, category: str, reason: str = "") -> Changes:
        from nerdesk.core.categorize import CATEGORIES

        if category not in CATEGORIES:
            raise err(Errors.E013, category=category, categories=", ".join(CATEGORIES))
        with self.store.transaction():
            segment_id = self.store.override_correction(correction_id, category, reason)
            self.store.log_event(
                self.user,
                "override category",
                "log",
                segment_id,
                None,
                {"correction": correction_id, "category": category, "reason": reason},
            )
        return Changes(
            ChangeKind.OVERRIDE_CATEGORY, segments={segment_id} if segment_id else set(), action="override category"
        )

    def error_report(self, top: int = 20) -> dict[str, Any]:
        return edits.error_report(self.store, top)

    # ------------------------------------------------------------------ undo / redo
    def _rebuild_undo(self) -> None:
        undo: list[int] = []
        redo: list[int] = []
        for event_id, kind, ref in self.store.undo_log(self.user):
            if kind == "do":
                undo.append(event_id)
                redo.clear()
            elif kind == "undo" and undo and undo[-1] == ref:
                redo.append(undo.pop())
            elif kind == "redo" and redo and redo[-1] == ref:
                undo.append(redo.pop())
        self._undo, self._redo = undo, redo

    def undo_status(self) -> tuple[str | None, str | None]:
        """The names of the actions undo and redo would revert, for menu labels."""
        undo = self.store.event(self._undo[-1])["action"] if self._undo else None
        redo = self.store.event(self._redo[-1])["action"] if self._redo else None
        return undo, redo

    def undo(self) -> Changes:
        if not self._undo:
            raise err(Errors.E006)
        event = self.store.event(self._undo[-1])
        if taxonomy.is_label_change(event):  # a label change: its reverse, one step
            changes = taxonomy.revert(self.store, self.identity, event, "undo")
        elif event["action"] in _TEAM_ACTIONS:  # a review decision or an adjudication
            changes = _team_restore(self.store, self.identity, event, "undo")
        elif event["segment_id"] is None:  # a merge of many segments' annotations: one step
            changes = self._restore_merge(event, "undo")
        else:
            self._restore(event, event["before"], "undo")
            changes = self._changes(event["segment_id"], f"undo {event['action']}", _edit_kind(event), Step.UNDO)
        self._redo.append(self._undo.pop())
        return changes

    def redo(self) -> Changes:
        if not self._redo:
            raise err(Errors.E007)
        event = self.store.event(self._redo[-1])
        if taxonomy.is_label_change(event):
            changes = taxonomy.revert(self.store, self.identity, event, "redo")
        elif event["action"] in _TEAM_ACTIONS:
            changes = _team_restore(self.store, self.identity, event, "redo")
        elif event["segment_id"] is None:
            changes = self._restore_merge(event, "redo")
        else:
            self._restore(event, event["after"], "redo")
            changes = self._changes(event["segment_id"], f"redo {event['action']}", _edit_kind(event), Step.REDO)
        self._undo.append(self._redo.pop())
        return changes

    def _restore_merge(self, event: dict[str, Any], kind: str) -> Changes:
        """Undo a merge (remove the annotations it added, conflicts kept beside local ones included)
        or redo it (put them back); local annotations were never replaced, so none comes back."""
        rows = event["after"]["rows"]
        ids = sorted({r["segment_id"] for r in rows})
        with self.store.transaction():
            if kind == "undo":
                for r in rows:
                    self.store.delete_annotation(r["segment_id"], r["annotator"])
            else:
                self.store.put_annotations(map(Annotation.from_dict, rows))
                from nerdesk.core.store import review as review_store

                review_store.set_imported_tiers(
                    self.store, {p["name"]: p["tier"] for p in review_store.people(self.store)}
                )
            self.store.refresh_segment_status(ids)
            self.store.log_event(self.user, event["action"], kind, None, None, None, ref=event["id"])
            for r in rows:
                edits.refresh_corrections_of(self.store, r["segment_id"], r["annotator"])
        docs = {seg.doc_id for seg in self.store.segments_with_text(ids)}
        return Changes(
            ChangeKind.IMPORT, segments=set(ids), documents=docs, action=f"{kind} {event['action']}", step=Step(kind)
        )

    def _restore(self, event: dict[str, Any], row: dict[str, Any] | None, kind: str) -> None:
        segment_id = event["segment_id"]
        with self.store.transaction():
            current = self.store.annotation(segment_id, self.user)
            if row is None:
                self.store.delete_annotation(segment_id, self.user)
            else:
                self.store.put_annotation(Annotation.from_dict(row))
            self.store.refresh_segment_status([segment_id])
            self.store.log_event(self.user, event["action"], kind, segment_id, current, row, ref=event["id"])
            edits.refresh_corrections_of(self.store, segment_id, self.user)

    def history(self, segment_id: int) -> list[dict[str, Any]]:
        return self.store.history(segment_id)

    # ------------------------------------------------------------------ queue
    def next_items(
        self,
        limit: int = 50,
        *,
        status: str = "new",
        offset: int = 0,
        order: str = "uncertainty",
        label: str | None = None,
        source: str | None = None,
        max_confidence: float | None = None,
    ) -> list[tuple[int, float]]:
        """Segment ids to review next with their routing score (reading changes nothing).

        ``label``, ``source`` and ``max_confidence`` narrow the queue (see :meth:`Store.queue`).
        ``status='stale'``: annotations made under an older definition of a label (re-review)."""
        if status == "stale":
            return [(i, 0.0) for i in taxonomy.stale_queue(self.store, limit, offset, label)]
        return self.store.queue(
            self.store.active_model_id(),
            status,
            limit,
            offset,
            order,
            label=label,
            source=source,
            max_confidence=max_confidence,
        )

    # ------------------------------------------------------------------ term lists
    @property
    def terms(self):
        """Term lists and patterns (:class:`nerdesk.core.terms.TermLists`): add, match, list, remove, switch
        off, their precision on reviewed work, suggested terms."""
        from nerdesk.core.terms import TermLists

        return TermLists(self.store, self.identity)

    # ------------------------------------------------------------------ review tiers (issue 16)
    @property
    def team(self):
        """Review across tiers (:mod:`nerdesk.core.review`): ``queue()``, ``reviewer_queue()``,
        ``annotator_queue()``, ``expert_queue()``, ``review(segment, annotator, decision)``,
        ``remember_identity(user, tier)``, ``error_profiles()``."""
        return _Bound(review, self, remember_identity=self._remember_identity)

    def _remember_identity(self, user: str, tier: str) -> Changes:
        """Remember this OS user's name and tier in the project and act as them from now on
        (:func:`nerdesk.core.review.remember_identity`); where each came from stays as it was."""
        user, tier = review.check_name(user), review.check_tier(tier)
        changes = review.remember_identity(self.store, user, tier)  # the store acts at that tier now
        self.identity = dataclasses.replace(self.identity, user=user, tier=tier)
        self._rebuild_undo()
        return changes

    @property
    def adjudication(self):
        """Conflicts and their resolution (:mod:`nerdesk.core.adjudicate`): ``conflicts()``,
        ``summary()``, ``versions(segment)``, ``adjudicate(segment, ...)``, ``apply_protocol()``,
        ``protocol()``, ``set_protocol(rule, expert_labels)``."""
        return _Bound(adjudicate, self)

    def agreement(self, **options: Any) -> dict[str, Any]:
        """Inter-annotator agreement (:func:`nerdesk.core.agreement.agreement`)."""
        from nerdesk.core.agreement import agreement

        return agreement(self.store, **options)

    # ------------------------------------------------------------------ models
    def active_model_id(self) -> str | None:
        return self.store.active_model_id()

    def predict(self, model: Any = None, **options: Any) -> Generator[Progress, None, int]:
        from nerdesk.core.predict import predict_project

        return predict_project(self.store, self.identity, model, **options)

    def preannotate(self, *, threads: int = 1) -> Generator[Progress, None, int]:
        """Predict what the active model (else the default) has not seen yet: after every import."""
        from nerdesk.core.predict import preannotate

        return preannotate(self.store, self.identity, threads=threads)

    def preannotating_model(self) -> str:
        """The id (or name) of the model :meth:`preannotate` uses, for menus and the status bar
        (E215 if the active model's package is gone)."""
        from nerdesk.core.predict import active_model_source

        return active_model_source(self.store)[1]


#: Event actions undone and redone by nerdesk.core.review / nerdesk.core.adjudicate.
_TEAM_ACTIONS = ("review approve", "review correct", "review send back", "adjudicate", "adjudicate by protocol")


#: The kind of a segment edit by the action its event logged (any other action edited the spans).
_STATUS_KINDS = {"accept": ChangeKind.ACCEPT, "skip": ChangeKind.SKIP, "flag": ChangeKind.FLAG}


def _edit_kind(event: dict[str, Any]) -> ChangeKind:
    return _STATUS_KINDS.get(event["action"], ChangeKind.EDIT_SPANS)


def _team_restore(store: Store, actor: Identity, event: dict[str, Any], kind: str) -> Changes:
    module = review if event["action"] in review.ACTIONS else adjudicate
    return module.restore(store, actor, event, kind)


def _named(seg: Segment, spans: list[Span]) -> str:
    """Spans as the history names them: LABEL 'text', ..."""
    base, text = seg.start, seg.own_text()
    return ", ".join(f"{sp.label} '{text[sp.start - base : sp.end - base]}'" for sp in spans)


class _Bound:
    """A service module's functions called as this project (``project.taxonomy.rename_label(a, b)``):
    with its Store, and its Identity where the function's second parameter is ``actor``; the
    undoable event a returned Changes names goes on the project's undo stack. ``overrides``: the
    project's own method for a name (one that changes the project itself, such as who is acting)."""

    def __init__(self, module: Any, project: Project, **overrides: Any):
        self._module, self._project, self._overrides = module, project, overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        fn = getattr(self._module, name)
        if not callable(fn) or isinstance(fn, type):
            return fn
        project = self._project
        acts = list(inspect.signature(fn).parameters)[1:2] == ["actor"]

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            first = (project.store, project.identity) if acts else (project.store,)
            return project._did(fn(*first, *args, **kwargs))

        return call
