"""The project facade: the one object the CLI and the UI talk to (Anki's ``Collection``).

Every mutation runs in one transaction, is written to the append-only event log, and returns
:class:`~nerdesk.core.types.Changes`. Undo and redo replay the log, so they survive a restart.
Long operations (import, predict) are generators that yield :class:`Progress` and return a
result; a caller that stops iterating (cancel) rolls the whole operation back.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nerdesk.core import labels as labelset
from nerdesk.core.errors import Errors, err
from nerdesk.core.store import Store, human, now
from nerdesk.core.tiers import best_annotation
from nerdesk.core.types import Annotation, ChangeKind, Changes, DocRecord, Progress, Span, Step, TokenOffsets

STATUSES = ("new", "draft", "accepted", "skipped", "flagged", "rejected", "auto", "audit")
SEVERITIES = ("low", "normal", "high")


def default_user() -> str:
    try:
        return os.environ.get("NERDESK_USER") or getpass.getuser()
    except Exception:  # no login name (some containers)
        return "user"


class Project:
    """One open project file, seen by one user at one review tier."""

    def __init__(self, store: Store, *, user: str | None = None, tier: str | None = None):
        """``user``/``tier`` not given: from the environment, the config file, what this OS user chose
        in this project before, else the login name as an annotator (:func:`nerdesk.core.review.resolve_identity`)."""
        from nerdesk.core.review import resolve_identity

        self.store = store
        self.identity = resolve_identity(store, user, tier)
        self.user, self.tier = self.identity.user, self.identity.tier
        store.acting_tier = self.tier
        self._undo: list[int] = []
        self._redo: list[int] = []
        self._rebuild_undo()

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
        with store.transaction():
            store.set_setting("name", name or Path(path).stem)
            store.set_setting("lang", lang)
            store.set_setting("allow_overlaps", allow_overlaps)
            store.set_setting("created", now())
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
        return self.store.get_setting("name", self.path.stem)

    @property
    def lang(self) -> str:
        return self.store.get_setting("lang", "en")

    @property
    def allow_overlaps(self) -> bool:
        return bool(self.store.get_setting("allow_overlaps", False))

    # ------------------------------------------------------------------ labels
    def labels(self) -> list[dict[str, Any]]:
        return self.store.labels()

    def label_names(self) -> list[str]:
        """The labels offered for annotation (retired and split labels are not)."""
        return [label["name"] for label in self.store.labels() if label.get("status", "active") == "active"]

    @property
    def taxonomy(self):
        """Label changes that migrate the work (:mod:`nerdesk.core.taxonomy`): add, rename, merge,
        split, retire, parent, edit; each one transaction and one undoable event."""
        from nerdesk.core import taxonomy

        return _Bound(taxonomy, self)

    @property
    def guidelines(self):
        """The guideline per label, its versions and diffs (:mod:`nerdesk.core.guideline`)."""
        from nerdesk.core import guideline

        return _Bound(guideline, self)

    def _did(self, event_id: int) -> None:
        """An event this user can undo was logged (a change that is not one segment's edit)."""
        self._undo.append(event_id)
        self._redo.clear()

    def add_labels(self, names: Iterable[str], *, description: str = "") -> Changes:
        """Add labels (new ones get a colour and a free shortcut key) and version the guideline."""
        with self.store.transaction():
            added = self._add_labels(names, description)
        return Changes(ChangeKind.LABELS, labels=bool(added), action="add labels")

    def _add_labels(self, names: Iterable[str], description: str = "") -> list[str]:
        existing = self.store.labels()
        known = {label["name"] for label in existing}
        added = [n for n in dict.fromkeys(names) if n not in known]
        if not added:
            return []
        used = {label["shortcut"] for label in existing}
        for i, name in enumerate(added, start=len(existing)):
            shortcut = labelset.free_shortcut(name, used)
            used.add(shortcut)
            self.store.upsert_label(name, labelset.color_for(i), shortcut, description, i)
        version = self.store.add_guideline(self.user, self.store.labels(), self.guideline_text())
        from nerdesk.core.store.labels import set_summary

        set_summary(self.store, version, "added label" + ("s " if len(added) > 1 else " ") + ", ".join(added))
        return added

    def guideline(self) -> dict[str, Any] | None:
        return self.store.guideline()

    def guideline_text(self) -> str:
        g = self.store.guideline()
        return g["text"] if g else ""

    def _check_label(self, label: str) -> None:
        names = self.label_names()
        if label not in names:
            raise err(Errors.E009, label=label, labels=", ".join(names) or "(none)")

    # ------------------------------------------------------------------ import / export
    def import_records(self, records: Iterable[DocRecord], **options: Any) -> Generator[Progress, None, Any]:
        from nerdesk.core.importer import import_records

        return import_records(self, records, **options)

    def import_file(self, path: str | Path, fmt: str | None = None, **options: Any) -> Generator[Progress, None, Any]:
        """A file in any format nerdesk reads; a correction bundle (``.zip``) is merged."""
        if fmt == "bundle" or (fmt is None and Path(path).suffix.lower() == ".zip"):
            from nerdesk.core.bundle import import_bundle

            return import_bundle(self, path, add_labels=options.get("add_labels"))
        from nerdesk.core.importer import import_file

        return import_file(self, path, fmt, **options)

    def export_records(self, *, reviewed_only: bool = False) -> Iterator[DocRecord]:
        from nerdesk.core.exporter import export_records

        return export_records(self, reviewed_only=reviewed_only)

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
        segments = self.store.segments_of(doc_id, tokens_json=True)  # parsed on use (TokenOffsets)
        self._attach_spans(segments)
        doc["segments"] = segments
        return doc

    def segment(self, segment_id: int) -> dict[str, Any]:
        rows = self.store.segments_with_text([segment_id])
        if not rows:
            raise err(Errors.E005, id=segment_id)
        self._attach_spans(rows)
        return rows[0]

    def segments(self, segment_ids: list[int]) -> list[dict[str, Any]]:
        rows = self.store.segments_with_text(segment_ids)
        self._attach_spans(rows)
        return rows

    def _attach_spans(self, segments: list[dict[str, Any]]) -> None:
        """Give each segment ``spans`` (what to show), ``prediction`` and ``annotation``."""
        ids = [s["id"] for s in segments]
        model_id = self.store.active_model_id()
        preds = self.store.predictions_for(ids, model_id) if model_id else {}
        anns = self.store.annotations_of(ids)
        for s in segments:
            base = s["start"]
            s["tokens"] = TokenOffsets(s["tokens"], base)
            pred = preds.get(s["id"])
            s["prediction"] = pred
            s["annotations"] = anns.get(s["id"], [])
            mine = next((a for a in s["annotations"] if a.annotator == self.user), None)
            shown = mine or best_annotation(s["annotations"])
            s["annotation"] = shown
            if shown is not None:
                confirmed = shown.status == "accepted"
                s["spans"] = [dict(sp, confirmed=confirmed or sp.get("origin") == "human") for sp in shown.spans]
            elif pred is not None:
                s["spans"] = [
                    {
                        "start": sp.start,
                        "end": sp.end,
                        "label": sp.label,
                        "confidence": sp.confidence,
                        "origin": "model",
                        "confirmed": False,
                    }
                    for sp in pred.spans
                ]
            else:
                s["spans"] = []
        from nerdesk.core.terms import attach_suggestions

        attach_suggestions(self, segments)  # term-list suggestions merged with the model's (nerdesk.core.terms)

    # ------------------------------------------------------------------ corrections
    @contextmanager
    def _editing(self, segment_id: int, action: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
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
                    "spans": [
                        {k: sp[k] for k in ("start", "end", "label", "confidence", "origin", "source") if k in sp}
                        for sp in seg["spans"]
                    ],
                    "note": "",
                    "guideline_version": g["version"] if g else None,
                    "model_id": self.store.active_model_id(),
                    "created": now(),
                }
            else:
                row = before.to_dict()
            yield seg, row
            action = row.pop("_action", action)  # an edit may name what it removed in the history
            row["updated"] = now()
            row["tier"] = self.tier
            row["spans"].sort(key=lambda sp: (sp["start"], sp["end"], sp["label"]))
            self.store.put_annotation(Annotation.from_dict(row))
            self.store.refresh_segment_status([segment_id])
            event_id = self.store.log_event(self.user, action, "do", segment_id, before, row)
            self._refresh_corrections(segment_id, self.user)
        self._undo.append(event_id)
        self._redo.clear()

    def _changes(self, segment_id: int, action: str, kind: ChangeKind, step: Step = Step.DO) -> Changes:
        seg = self.store.segment(segment_id)
        documents = {seg["doc_id"]} if seg else set()
        return Changes(kind, segments={segment_id}, documents=documents, action=action, step=step)

    def _snap(self, seg: dict[str, Any], start: int, end: int, snap: bool) -> tuple[int, int]:
        if not seg["start"] <= start < end <= seg["end"]:
            raise err(Errors.E008, start=start, end=end, segment=seg["id"], seg_start=seg["start"], seg_end=seg["end"])
        if snap:
            toks = seg["tokens"]
            start = next((a for a, b in toks if b > start), start)
            end = next((b for a, b in reversed(toks) if a < end), end)
        text_start = seg["start"]
        text = seg["text"]
        # never keep surrounding whitespace
        while start < end and text[start - text_start].isspace():
            start += 1
        while end > start and text[end - 1 - text_start].isspace():
            end -= 1
        if start >= end:
            raise err(Errors.E008, start=start, end=end, segment=seg["id"], seg_start=seg["start"], seg_end=seg["end"])
        return start, end

    def add_span(self, segment_id: int, start: int, end: int, label: str, *, snap: bool = True) -> Changes:
        """Add an entity; spans it overlaps are replaced unless the label set allows overlaps."""
        self._check_label(label)
        with self._editing(segment_id, "add span") as (seg, row):
            start, end = self._snap(seg, start, end, snap)
            if not self.allow_overlaps:
                gone = [
                    sp
                    for sp in row["spans"]
                    if not (sp["end"] <= start or sp["start"] >= end)
                    and (sp["start"], sp["end"], sp["label"]) != (start, end, label)
                ]
                if gone:
                    row["_action"] = f"add span (replaced {_named(seg, gone)})"
                row["spans"] = [sp for sp in row["spans"] if sp["end"] <= start or sp["start"] >= end]
            row["spans"] = [sp for sp in row["spans"] if (sp["start"], sp["end"], sp["label"]) != (start, end, label)]
            row["spans"].append({"start": start, "end": end, "label": label, "confidence": None, "origin": "human"})
        return self._changes(segment_id, "add span", ChangeKind.EDIT_SPANS)

    def _find(self, row: dict[str, Any], start: int, end: int, label: str | None = None) -> dict[str, Any]:
        for sp in row["spans"]:
            if sp["start"] == start and sp["end"] == end and (label is None or sp["label"] == label):
                return sp
        raise err(Errors.E011, start=start, end=end, segment=row["segment_id"])

    def remove_span(self, segment_id: int, start: int, end: int, label: str | None = None) -> Changes:
        with self._editing(segment_id, "delete span") as (_, row):
            row["spans"].remove(self._find(row, start, end, label))
        return self._changes(segment_id, "delete span", ChangeKind.EDIT_SPANS)

    def relabel_span(self, segment_id: int, start: int, end: int, label: str) -> Changes:
        self._check_label(label)
        with self._editing(segment_id, "relabel span") as (_, row):
            self._find(row, start, end).update(label=label, origin="human", confidence=None)
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
            sp = self._find(row, start, end)
            new_start, new_end = self._snap(seg, new_start, new_end, snap)
            others = [o for o in row["spans"] if o is not sp]
            if not self.allow_overlaps:
                hit = [o for o in others if not (o["end"] <= new_start or o["start"] >= new_end)]
                if hit and swallow:
                    row["_action"] = f"move boundary (removed {_named(seg, hit)})"
                elif hit:  # stop at the neighbours
                    for o in hit:
                        if o["start"] >= sp["start"]:
                            new_end = min(new_end, o["start"])
                        else:
                            new_start = max(new_start, o["end"])
                    text, base = seg["text"], seg["start"]
                    while new_end > new_start and text[new_end - 1 - base].isspace():
                        new_end -= 1
                    while new_start < new_end and text[new_start - base].isspace():
                        new_start += 1
                    if new_start >= new_end or (new_start, new_end) == (start, end):
                        raise err(Errors.E436, start=new_start, end=new_end, spans=_named(seg, hit))
                    row["_action"] = f"move boundary (stopped at {_named(seg, hit)})"
                others = [o for o in others if o["end"] <= new_start or o["start"] >= new_end]
            sp.update(start=new_start, end=new_end, origin="human", confidence=None)
            row["spans"] = [*others, sp]
        return self._changes(segment_id, "move boundary", ChangeKind.EDIT_SPANS)

    def set_spans(self, segment_id: int, spans: list[Span], *, action: str = "set spans") -> Changes:
        for sp in spans:
            self._check_label(sp.label)
        with self._editing(segment_id, action) as (seg, row):
            row["spans"] = []
            for sp in spans:
                s, e = self._snap(seg, sp.start, sp.end, False)
                row["spans"].append({"start": s, "end": e, "label": sp.label, "confidence": None, "origin": "human"})
        return self._changes(segment_id, action, ChangeKind.EDIT_SPANS)

    def accept(self, segment_id: int) -> Changes:
        with self._editing(segment_id, "accept") as (_, row):
            split = {
                lab["name"]: lab["guide"].get("split_into", [])
                for lab in self.store.labels()
                if lab.get("status") == "split"
            }
            pending = next((sp for sp in row["spans"] if sp["label"] in split), None)
            if pending is not None:
                raise err(
                    Errors.E425,
                    start=pending["start"],
                    end=pending["end"],
                    label=pending["label"],
                    into=" or ".join(split[pending["label"]]),
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
        return self.store.get_setting("severity", {})

    def set_severity(self, label: str, severity: str) -> Changes:
        """A label's severity, one undoable label change (``taxonomy.edit_label``): an unknown label is
        E009, a severity not in SEVERITIES E430, the one it has already E431."""
        return self.taxonomy.edit_label(label, severity=severity)

    def _refresh_corrections(self, segment_id: int, annotator: str) -> None:
        """Recompute the corrections and effort of one accepted annotation (inside a transaction)."""
        from nerdesk.core.categorize import categorize, effort

        row = self.store.annotation(segment_id, annotator)
        if row is None or row.status != "accepted":
            self.store.replace_corrections(segment_id, annotator, [])
            self.store.delete_effort(segment_id, annotator)
            return
        model_id = row.model_id or self.store.active_model_id()
        pred = self.store.predictions_for([segment_id], model_id).get(segment_id) if model_id else None
        final = [Span(sp["start"], sp["end"], sp["label"]) for sp in row.spans]
        if pred is None:  # no pre-annotation to compare with (yet): nothing to categorise
            self.store.replace_corrections(segment_id, annotator, [])
            self.store.delete_effort(segment_id, annotator)
            return
        predicted = list(pred.spans)
        seg = self.store.segments_with_text([segment_id])[0]
        text, base = seg["text"], seg["start"]
        severity = self.severity()
        created = now()
        rows = []
        for c in categorize(predicted, final):
            ref = c.final or c.predicted
            if ref is None:  # a category always has a span on one side
                raise ValueError(f"a correction without a span: {c}")
            rows.append(
                {
                    "segment_id": segment_id,
                    "annotator": annotator,
                    "tier": row.tier,
                    "category": c.category,
                    "auto_category": c.category,
                    "reason": "",
                    "label": c.label,
                    "predicted": [c.predicted.start, c.predicted.end, c.predicted.label, c.predicted.confidence]
                    if c.predicted
                    else None,
                    "final": [c.final.start, c.final.end, c.final.label] if c.final else None,
                    "predicted_label": c.predicted.label if c.predicted else None,
                    "final_label": c.final.label if c.final else None,
                    "surface": text[ref.start - base : ref.end - base],
                    "severity": severity.get(c.label, "normal"),
                    "model_id": model_id,
                    "guideline_version": row.guideline_version,
                    "created": created,
                }
            )
        self.store.replace_corrections(segment_id, annotator, rows)
        e = effort(predicted, final)
        self.store.put_effort(
            segment_id,
            annotator,
            e["with_model"],
            e["from_scratch"],
            self.store.actions_since_last_accept(segment_id, annotator),
        )

    def refresh_corrections(self, *, all_: bool = False) -> int:
        """Categorise accepted annotations that have not been yet (imported ones, or ones reviewed
        before any model predicted); ``all_`` recomputes every one. Edits made in the app are
        categorised as they are accepted, so this stays cheap on big projects."""
        rows = human.accepted_keys(self.store, uncategorised_only=not all_)
        with self.store.transaction():
            for segment_id, annotator in rows:
                self._refresh_corrections(segment_id, annotator)
        return len(rows)

    def live_corrections(self, segment_id: int) -> list[Any]:
        """The categories of the changes made so far to a segment (for the app, as they happen)."""
        from nerdesk.core.categorize import categorize

        seg = self.segment(segment_id)
        pred = seg["prediction"]
        if pred is None:
            return []
        predicted = list(pred.spans)
        final = [Span(sp["start"], sp["end"], sp["label"]) for sp in seg["spans"]]
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
        report = self.store.error_report(top)
        report["effort"] = self.store.effort_report()
        return report

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
        from nerdesk.core import taxonomy

        if taxonomy.is_label_change(event):  # a label change: its reverse, one step
            changes = taxonomy.revert(self, event, "undo")
        elif event["action"] in _TEAM_ACTIONS:  # a review decision or an adjudication
            changes = _team_restore(self, event, "undo")
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
        from nerdesk.core import taxonomy

        if taxonomy.is_label_change(event):
            changes = taxonomy.revert(self, event, "redo")
        elif event["action"] in _TEAM_ACTIONS:
            changes = _team_restore(self, event, "redo")
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
                self._refresh_corrections(r["segment_id"], r["annotator"])
        docs = {seg["doc_id"] for seg in self.store.segments_with_text(ids)}
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
            self._refresh_corrections(segment_id, self.user)

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
            from nerdesk.core.taxonomy import stale_queue

            return [(i, 0.0) for i in stale_queue(self, limit, offset, label)]
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

        return TermLists(self)

    # ------------------------------------------------------------------ review tiers (issue 16)
    @property
    def team(self):
        """Review across tiers (:mod:`nerdesk.core.review`): ``queue()``, ``reviewer_queue()``,
        ``annotator_queue()``, ``expert_queue()``, ``review(segment, annotator, decision)``,
        ``remember_identity(user, tier)``, ``error_profiles()``."""
        from nerdesk.core import review

        return _Bound(review, self)

    @property
    def adjudication(self):
        """Conflicts and their resolution (:mod:`nerdesk.core.adjudicate`): ``conflicts()``,
        ``summary()``, ``versions(segment)``, ``adjudicate(segment, ...)``, ``apply_protocol()``,
        ``protocol()``, ``set_protocol(rule, expert_labels)``."""
        from nerdesk.core import adjudicate

        return _Bound(adjudicate, self)

    def agreement(self, **options: Any) -> dict[str, Any]:
        """Inter-annotator agreement (:func:`nerdesk.core.agreement.agreement`)."""
        from nerdesk.core.agreement import agreement

        return agreement(self, **options)

    # ------------------------------------------------------------------ models
    def active_model_id(self) -> str | None:
        return self.store.active_model_id()

    def predict(self, model: Any = None, **options: Any) -> Generator[Progress, None, int]:
        from nerdesk.core.predict import predict_project

        return predict_project(self, model, **options)

    def preannotate(self, *, threads: int = 1) -> Generator[Progress, None, int]:
        """Predict what the active model (else the default) has not seen yet: after every import."""
        from nerdesk.core.predict import preannotate

        return preannotate(self, threads=threads)

    def preannotating_model(self) -> str:
        """The id (or name) of the model :meth:`preannotate` uses, for menus and the status bar
        (E215 if the active model's package is gone)."""
        from nerdesk.core.predict import active_model_source

        return active_model_source(self)[1]


#: Event actions undone and redone by nerdesk.core.review / nerdesk.core.adjudicate.
_TEAM_ACTIONS = ("review approve", "review correct", "review send back", "adjudicate", "adjudicate by protocol")


#: The kind of a segment edit by the action its event logged (any other action edited the spans).
_STATUS_KINDS = {"accept": ChangeKind.ACCEPT, "skip": ChangeKind.SKIP, "flag": ChangeKind.FLAG}


def _edit_kind(event: dict[str, Any]) -> ChangeKind:
    return _STATUS_KINDS.get(event["action"], ChangeKind.EDIT_SPANS)


def _team_restore(project: Project, event: dict[str, Any], kind: str) -> Changes:
    from nerdesk.core import adjudicate, review

    module = review if event["action"] in review.ACTIONS else adjudicate
    return module.restore(project, event, kind)


def _named(seg: dict[str, Any], spans: list[dict[str, Any]]) -> str:
    """Spans as the history names them: LABEL 'text', ..."""
    base, text = seg["start"], seg["text"]
    return ", ".join(f"{sp['label']} '{text[sp['start'] - base : sp['end'] - base]}'" for sp in spans)


class _Bound:
    """A module's functions with the project as their first argument (``project.taxonomy.rename_label(a, b)``)."""

    def __init__(self, module: Any, project: Project):
        self._module, self._project = module, project

    def __getattr__(self, name: str) -> Any:
        import functools

        fn = getattr(self._module, name)
        return functools.partial(fn, self._project) if callable(fn) and not isinstance(fn, type) else fn
