"""The human layer (tables ``annotations``, ``events``, ``corrections``, ``effort``; the module is not
named annotations, which ``from __future__ import annotations`` binds in the store package):
:class:`AnnotationTables`, the Store's methods for them (annotations in and out, the event log that undo
reads, corrections and effort), and plain functions over a :class:`~nerdesk.core.store.Store` for the
rest: what routing learns from reviewed work and what monitoring counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from nerdesk.core.store.base import Tables, chunked, final_spans, now, where_equal
from nerdesk.core.types import Annotation, Span

if TYPE_CHECKING:
    from nerdesk.core.store import Store


class AnnotationTables(Tables):
    """The Store's methods over annotations, the event log, corrections and effort."""

    #: The tier of the user acting through this store, written on every event (set by Project).
    acting_tier: str | None = None

    # ---------------------------------------------------------------- annotations
    #: the annotations table's columns, in the order an Annotation's fields and its event rows keep
    ANNOTATION_COLUMNS = (
        "segment_id",
        "annotator",
        "tier",
        "status",
        "spans",
        "note",
        "guideline_version",
        "model_id",
        "created",
        "updated",
    )

    def annotation(self, segment_id: int, annotator: str) -> Annotation | None:
        r = self.conn.execute(
            f"SELECT {', '.join(self.ANNOTATION_COLUMNS)} FROM annotations WHERE segment_id = ? AND annotator = ?",
            (segment_id, annotator),
        ).fetchone()
        return self.annotation_row(r) if r else None

    def annotations_of(self, segment_ids: Sequence[int]) -> dict[int, list[Annotation]]:
        """Every annotation of these segments, per segment, oldest update first."""
        out: dict[int, list[Annotation]] = {}
        for chunk, marks in chunked(segment_ids):
            for r in self.conn.execute(
                f"SELECT {', '.join(self.ANNOTATION_COLUMNS)} FROM annotations WHERE segment_id IN ({marks}) ORDER BY updated",
                chunk,
            ):
                row = self.annotation_row(r)
                out.setdefault(row.segment_id, []).append(row)
        return out

    @staticmethod
    def annotation_row(r: Sequence[Any]) -> Annotation:
        """An Annotation from a row whose first columns are ANNOTATION_COLUMNS."""
        spans = tuple(final_spans(r[4]))
        return Annotation(r[0], r[1], r[2], r[3], spans, r[5], r[6], r[7], r[8], r[9])

    @staticmethod
    def _annotation_values(a: Annotation) -> tuple[Any, ...]:
        return (
            a.segment_id,
            a.annotator,
            a.tier,
            a.status,
            json.dumps([sp.to_json() for sp in a.spans], ensure_ascii=False),
            a.note,
            a.guideline_version,
            a.model_id,
            a.created,
            a.updated,
        )

    def put_annotation(self, ann: Annotation) -> None:
        self.put_annotations([ann])

    def put_annotations(self, anns: Iterable[Annotation]) -> None:
        self.conn.executemany(
            f"INSERT OR REPLACE INTO annotations ({', '.join(self.ANNOTATION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(self.ANNOTATION_COLUMNS))})",
            map(self._annotation_values, anns),
        )

    def delete_annotation(self, segment_id: int, annotator: str) -> None:
        self.conn.execute("DELETE FROM annotations WHERE segment_id = ? AND annotator = ?", (segment_id, annotator))

    def refresh_segment_status(self, segment_ids: Iterable[int]) -> None:
        """A segment's status is that of its most recently updated annotation, else 'new'."""
        self.conn.executemany(
            "UPDATE segments SET status = COALESCE((SELECT a.status FROM annotations a WHERE "
            "a.segment_id = segments.id AND a.status != 'draft' ORDER BY a.updated DESC LIMIT 1), "
            "CASE WHEN EXISTS (SELECT 1 FROM annotations a WHERE a.segment_id = segments.id) "
            "THEN 'draft' ELSE 'new' END) WHERE id = ?",
            ((i,) for i in segment_ids),
        )

    def annotated_label_counts(self) -> tuple[int, dict[str, int]]:
        """(segments with a human annotation, entity count per label in those annotations)."""
        n = self.conn.execute("SELECT COUNT(DISTINCT segment_id) FROM annotations").fetchone()[0]
        rows = self.conn.execute(
            "SELECT json_extract(j.value, '$.label') AS label, COUNT(*) FROM annotations a, "
            "json_each(a.spans) j GROUP BY label ORDER BY label"
        ).fetchall()
        return n, {r[0]: r[1] for r in rows}

    def reviewed_spans(self) -> list[tuple[str, int, list[Span]]]:
        """(segment text, segment start, final spans) of every accepted segment (its latest annotation)."""
        rows = self.conn.execute(
            "SELECT substr(d.text, s.start + 1, s.end - s.start), s.start, a.spans, MAX(a.updated) "
            "FROM annotations a JOIN segments s ON s.id = a.segment_id JOIN documents d ON d.id = s.doc_id "
            "WHERE a.status = 'accepted' GROUP BY a.segment_id"
        ).fetchall()
        return [(text, start, final_spans(spans)) for text, start, spans, _ in rows]

    # ---------------------------------------------------------------- event log (undo and redo read it)
    def log_event(
        self,
        actor: str,
        action: str,
        kind: str,
        segment_id: int | None,
        before: Any,
        after: Any,
        ref: int | None = None,
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO events (ts, actor, tier, action, kind, ref, segment_id, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now(),
                actor,
                self.acting_tier,
                action,
                kind,
                ref,
                segment_id,
                None if before is None else json.dumps(before, ensure_ascii=False, default=_event_value),
                None if after is None else json.dumps(after, ensure_ascii=False, default=_event_value),
            ),
        )
        if cur.lastrowid is None:  # sqlite always sets it after an INSERT
            raise RuntimeError("no event id after INSERT INTO events")
        return cur.lastrowid

    def event(self, event_id: int) -> dict[str, Any]:
        r = self.conn.execute(
            "SELECT id, ts, actor, action, kind, ref, segment_id, before, after FROM events WHERE id = ?",
            (event_id,),
        ).fetchone()
        return {
            "id": r[0],
            "ts": r[1],
            "actor": r[2],
            "action": r[3],
            "kind": r[4],
            "ref": r[5],
            "segment_id": r[6],
            "before": json.loads(r[7]) if r[7] else None,
            "after": json.loads(r[8]) if r[8] else None,
        }

    def undo_log(self, actor: str) -> list[tuple[int, str, int | None]]:
        """All the actor's do/undo/redo events, oldest first: (id, kind, ref). The whole history, so
        undo after a restart reaches back to the first edit (100,000 events: ~0.1 s, see tests)."""
        return self.conn.execute(
            "SELECT id, kind, ref FROM events WHERE actor = ? AND kind IN ('do', 'undo', 'redo') ORDER BY id",
            (actor,),
        ).fetchall()

    def history(self, segment_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, ts, actor, action, kind FROM events WHERE segment_id = ? ORDER BY id", (segment_id,)
        )
        return [dict(zip(("id", "ts", "actor", "action", "kind"), r)) for r in rows]

    def actions_since_last_accept(self, segment_id: int, annotator: str) -> int:
        """Edit actions on a segment (undos excluded) since it was last accepted."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM events WHERE segment_id = ? AND actor = ? AND kind = 'do' AND id > "
            "COALESCE((SELECT MAX(id) FROM events WHERE segment_id = ? AND actor = ? AND kind = 'do' "
            "AND action = 'accept' AND id < (SELECT MAX(id) FROM events WHERE segment_id = ? AND actor = ?)), 0)",
            (segment_id, annotator, segment_id, annotator, segment_id, annotator),
        ).fetchone()
        return int(row[0])

    # ---------------------------------------------------------------- corrections and effort
    CORRECTION_COLUMNS = (
        "id",
        "segment_id",
        "annotator",
        "tier",
        "category",
        "auto_category",
        "reason",
        "label",
        "predicted",
        "final",
        "predicted_label",
        "final_label",
        "surface",
        "severity",
        "model_id",
        "guideline_version",
        "created",
    )

    def replace_corrections(self, segment_id: int, annotator: str, rows: list[dict[str, Any]]) -> None:
        """Set the corrections of one segment by one annotator (keeping user overrides of a
        category where the same error is found again)."""
        old = {(r["predicted"], r["final"]): r for r in self.corrections(segment_id=segment_id, annotator=annotator)}
        self.conn.execute("DELETE FROM corrections WHERE segment_id = ? AND annotator = ?", (segment_id, annotator))
        cols = [c for c in self.CORRECTION_COLUMNS if c != "id"]
        for row in rows:
            row = dict(row, predicted=_j(row["predicted"]), final=_j(row["final"]))
            prev = old.get((row["predicted"], row["final"]))
            if prev and prev["category"] != prev["auto_category"]:
                row["category"], row["reason"] = prev["category"], prev["reason"]
            self.conn.execute(
                f"INSERT INTO corrections ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [row.get(c) for c in cols],
            )

    def corrections(
        self,
        *,
        segment_id: int | None = None,
        annotator: str | None = None,
        category: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        where, args = where_equal((("segment_id", segment_id), ("annotator", annotator), ("category", category)))
        sql = f"SELECT {', '.join(self.CORRECTION_COLUMNS)} FROM corrections{where} ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [dict(zip(self.CORRECTION_COLUMNS, r)) for r in self.conn.execute(sql, args)]

    def override_correction(self, correction_id: int, category: str, reason: str) -> int | None:
        self.conn.execute(
            "UPDATE corrections SET category = ?, reason = ? WHERE id = ?", (category, reason, correction_id)
        )
        row = self.conn.execute("SELECT segment_id FROM corrections WHERE id = ?", (correction_id,)).fetchone()
        return row[0] if row else None

    def error_report(self, top: int = 20) -> dict[str, Any]:
        c = self.conn
        per_category = dict(c.execute("SELECT category, COUNT(*) FROM corrections GROUP BY category"))
        per_label: dict[str, dict[str, int]] = {}
        for label, cat, n in c.execute("SELECT label, category, COUNT(*) FROM corrections GROUP BY label, category"):
            per_label.setdefault(label, {})[cat] = n
        confused = [
            {"predicted": a, "final": b, "count": n}
            for a, b, n in c.execute(
                "SELECT predicted_label, final_label, COUNT(*) AS n FROM corrections "
                "WHERE category IN ('label', 'boundary_label') GROUP BY predicted_label, final_label "
                "ORDER BY n DESC, predicted_label LIMIT ?",
                (top,),
            )
        ]

        def surfaces(category: str) -> list[dict[str, Any]]:
            """The ``top`` most frequent (surface, label) pairs of one category."""
            return [
                {"text": t, "label": lab, "count": n}
                for t, lab, n in c.execute(
                    "SELECT surface, label, COUNT(*) AS n FROM corrections WHERE category = ? "
                    "GROUP BY surface, label ORDER BY n DESC, surface LIMIT ?",
                    (category, top),
                )
            ]

        per_model = dict(c.execute("SELECT COALESCE(model_id, ''), COUNT(*) FROM corrections GROUP BY model_id"))
        return {
            "total": sum(per_category.values()),
            "per_category": per_category,
            "per_label": per_label,
            "confused_pairs": confused,
            "missed_surface_forms": surfaces("false_negative"),
            "false_positive_surface_forms": surfaces("false_positive"),
            "per_model": per_model,
        }

    def put_effort(
        self, segment_id: int, annotator: str, with_model: int, from_scratch: int, actions_taken: int
    ) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO effort (segment_id, annotator, with_model, from_scratch, actions_taken) "
            "VALUES (?, ?, ?, ?, ?)",
            (segment_id, annotator, with_model, from_scratch, actions_taken),
        )

    def delete_effort(self, segment_id: int, annotator: str) -> None:
        self.conn.execute("DELETE FROM effort WHERE segment_id = ? AND annotator = ?", (segment_id, annotator))

    def effort_report(self) -> dict[str, Any]:
        n, wm, fs, taken = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(with_model), 0), COALESCE(SUM(from_scratch), 0), "
            "COALESCE(SUM(actions_taken), 0) FROM effort"
        ).fetchone()
        return {
            "segments": n,
            "with_model": wm,
            "from_scratch": fs,
            "actions_taken": taken,
            "saved": (1 - wm / fs) if fs else None,
        }

    def efforts_between(self, after: str | None, until: str | None) -> int:
        """Edit actions taken on annotations last updated in (after, until] (ISO times; None: open)."""
        return int(
            self.conn.execute(
                "SELECT COALESCE(SUM(e.actions_taken), 0) FROM effort e JOIN annotations a ON a.segment_id = "
                "e.segment_id AND a.annotator = e.annotator WHERE (? IS NULL OR a.updated > ?) AND "
                "(? IS NULL OR a.updated <= ?)",
                (after, after, until, until),
            ).fetchone()[0]
        )


def accepted_rows(store: Store) -> Iterator[tuple]:
    """Every accepted annotation with its segment and document, in segment then annotator order, as a
    bundle line needs them: (segment_id, annotator, tier, status, spans, note, guideline_version, model_id,
    created, updated, doc_id, start, end, tokens, source, meta, content_hash, the segment's text)."""
    ann = ", ".join(f"a.{c}" for c in store.ANNOTATION_COLUMNS)
    return store.conn.execute(
        f"SELECT {ann}, s.doc_id, s.start, s.end, s.tokens, d.source, d.meta, d.content_hash, "
        "substr(d.text, s.start + 1, s.end - s.start) FROM annotations a JOIN segments s ON s.id = a.segment_id "
        "JOIN documents d ON d.id = s.doc_id WHERE a.status = 'accepted' ORDER BY a.segment_id, a.annotator"
    )


def accepted_span_lists(store: Store) -> Iterator[list[Span]]:
    """The spans of every accepted annotation."""
    return (
        final_spans(spans) for (spans,) in store.conn.execute("SELECT spans FROM annotations WHERE status = 'accepted'")
    )


def unannotated_ids(store: Store, after: int, limit: int) -> list[int]:
    """Up to ``limit`` ids of segments that nobody annotated yet, in id order, after id ``after``."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT s.id FROM segments s WHERE s.id > ? AND NOT EXISTS (SELECT 1 FROM annotations a "
            "WHERE a.segment_id = s.id) ORDER BY s.id LIMIT ?",
            (after, limit),
        )
    ]


def accepted_keys(store: Store, *, uncategorised_only: bool) -> list[tuple[int, str]]:
    """(segment id, annotator) of the accepted annotations; ``uncategorised_only``: those without an
    effort row yet (never categorised: imported, or accepted before any model predicted)."""
    sql = "SELECT a.segment_id, a.annotator FROM annotations a"
    if uncategorised_only:
        sql += (
            " LEFT JOIN effort e ON e.segment_id = a.segment_id AND e.annotator = a.annotator"
            " WHERE e.segment_id IS NULL AND a.status = 'accepted'"
        )
    else:
        sql += " WHERE a.status = 'accepted'"
    return store.conn.execute(sql).fetchall()


def correction_surfaces(store: Store) -> Iterator[str]:
    """The lower-cased text of every correction."""
    return (s for (s,) in store.conn.execute("SELECT lower(surface) FROM corrections"))


def reviewed_and_corrected(store: Store, first_doc: int, last_doc: int) -> tuple[int, int]:
    """(segments accepted, of them with a correction) in documents first_doc..last_doc."""
    reviewed, corrected = store.conn.execute(
        "SELECT COUNT(DISTINCT a.segment_id), COUNT(DISTINCT c.segment_id) FROM annotations a "
        "JOIN segments s ON s.id = a.segment_id LEFT JOIN corrections c ON c.segment_id = a.segment_id "
        "WHERE a.status = 'accepted' AND s.doc_id BETWEEN ? AND ?",
        (first_doc, last_doc),
    ).fetchone()
    return reviewed, corrected


def _event_value(value: Any) -> Any:
    """An event's before/after may hold annotations and spans: written as their rows
    (:meth:`Annotation.to_dict`, :meth:`Span.to_json`)."""
    if isinstance(value, Annotation):
        return value.to_dict()
    if isinstance(value, Span):
        return value.to_json()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _j(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)
