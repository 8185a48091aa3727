"""Models and their predictions (tables ``models``, ``predictions``, ``audits``): :class:`ModelTables`,
the Store's methods for them (register and activate a model, write and read its predictions, the queue,
what reviewed work says of a model), and plain functions over a :class:`~nerdesk.core.store.Store` for
the rest: the queue's most uncertain segments, what auto-accept may take, the audits it leaves, and the
monitoring windows. The rules are in routing.py, autoaccept.py and metrics.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerdesk.core.model.card import ModelCard
from nerdesk.core.store.base import Tables, chunked, final_spans, loads_all, now, predicted_spans
from nerdesk.core.types import Prediction, Span

if TYPE_CHECKING:
    from nerdesk.core.store import Store


class ModelTables(Tables):
    """The Store's methods over models and their predictions."""

    def register_model(
        self, model_id: str, name: str, version: str, path: str, sha256: str, labels: list[str], card: dict[str, Any]
    ) -> None:
        self.conn.execute(
            "INSERT INTO models (id, name, version, path, sha256, labels, card, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET path = excluded.path",
            (model_id, name, version, path, sha256, json.dumps(labels), json.dumps(card), now()),
        )

    def models(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, name, version, path, sha256, labels, created, active FROM models ORDER BY created"
        ).fetchall()
        return [
            {
                "id": r[0],
                "name": r[1],
                "version": r[2],
                "path": r[3],
                "sha256": r[4],
                "labels": json.loads(r[5]),
                "created": r[6],
                "active": bool(r[7]),
            }
            for r in rows
        ]

    def model_card(self, model_id: str) -> ModelCard | None:
        """The card a registered model had when it was registered (None for an unknown id). Its name,
        version and labels are the model row's (a card of imported predictions records no more)."""
        row = self.conn.execute("SELECT name, version, labels, card FROM models WHERE id = ?", (model_id,)).fetchone()
        if row is None:
            return None
        return ModelCard.from_dict(
            {"name": row[0], "version": row[1], "labels": json.loads(row[2]), **json.loads(row[3])}
        )

    def set_active_model(self, model_id: str) -> None:
        self.conn.execute("UPDATE models SET active = (id = ?)", (model_id,))

    def active_model_id(self) -> str | None:
        row = self.conn.execute("SELECT id FROM models WHERE active = 1").fetchone()
        return row[0] if row else None

    def insert_predictions(self, model_id: str, rows: Iterable[tuple]) -> None:
        """rows: (segment_id, spans, least_confidence, margin, entropy, mnlp, uncertainty[, sketch])."""
        ts = now()
        self.conn.executemany(
            "INSERT OR REPLACE INTO predictions (segment_id, model_id, spans, least_confidence, margin, "
            "entropy, mnlp, uncertainty, min_confidence, sketch, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    r[0],
                    model_id,
                    json.dumps(r[1], ensure_ascii=False),
                    *r[2:7],
                    min((sp[3] if sp[3] is not None else 1.0 for sp in r[1]), default=1.0),
                    r[7] if len(r) > 7 else None,
                    ts,
                )
                for r in rows
            ),
        )

    def predictions_for(self, segment_ids: Sequence[int], model_id: str) -> dict[int, Prediction]:
        """The model's :class:`Prediction` of each of these segments that it predicted."""
        out: dict[int, Prediction] = {}
        for chunk, marks in chunked(segment_ids):
            rows = self.conn.execute(
                "SELECT segment_id, spans, least_confidence, margin, entropy, mnlp, uncertainty "
                f"FROM predictions WHERE model_id = ? AND segment_id IN ({marks})",
                [model_id, *chunk],
            ).fetchall()
            for r, spans in zip(rows, loads_all([r[1] for r in rows])):
                out[r[0]] = Prediction(
                    r[0], model_id, tuple(Span(a, b, lab, c) for a, b, lab, c in spans), r[2], r[3], r[4], r[5], r[6]
                )
        return out

    def sketches(self, model_id: str, segment_ids: Sequence[int]) -> dict[int, bytes]:
        """Stored sketches (nerdesk.core.model.sketch) of these segments by this model."""
        out: dict[int, bytes] = {}
        for chunk, marks in chunked(segment_ids):
            out.update(
                self.conn.execute(
                    f"SELECT segment_id, sketch FROM predictions WHERE model_id = ? AND sketch IS NOT NULL "
                    f"AND segment_id IN ({marks})",
                    [model_id, *chunk],
                ).fetchall()
            )
        return out

    def reviewed_sketches(self, model_id: str, limit: int) -> list[bytes]:
        """Sketches of the most recently imported reviewed (accepted or auto) segments."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT p.sketch FROM segments s CROSS JOIN predictions p ON p.segment_id = s.id "
                "WHERE s.status IN ('accepted', 'auto') AND p.model_id = ? AND p.sketch IS NOT NULL "
                "ORDER BY s.id DESC LIMIT ?",
                (model_id, limit),
            )
        ]

    def segments_without_prediction(self, model_id: str, after_id: int, limit: int) -> list[int]:
        rows = self.conn.execute(
            "SELECT s.id FROM segments s WHERE s.id > ? AND NOT EXISTS "
            "(SELECT 1 FROM predictions p WHERE p.segment_id = s.id AND p.model_id = ?) "
            "ORDER BY s.id LIMIT ?",
            (after_id, model_id, limit),
        )
        return [r[0] for r in rows]

    def count_segments_without_prediction(self, model_id: str) -> int:
        return self.conn.execute(
            "SELECT COUNT(*) FROM segments s WHERE NOT EXISTS "
            "(SELECT 1 FROM predictions p WHERE p.segment_id = s.id AND p.model_id = ?)",
            (model_id,),
        ).fetchone()[0]

    def reviewed_above(self, model_id: str, threshold: float, *, exclude: str) -> list[tuple[list[Span], list[Span]]]:
        """(final spans, predicted spans) of accepted annotations (not by ``exclude``) of segments the
        model predicted with every span and the tag sequence at least ``threshold`` likely."""
        rows = self.conn.execute(
            "SELECT a.spans, p.spans FROM annotations a JOIN predictions p ON p.segment_id = a.segment_id "
            "AND p.model_id = ? WHERE a.status = 'accepted' AND a.annotator != ? AND p.min_confidence >= ? "
            "AND 1 - p.least_confidence >= ? GROUP BY a.segment_id",
            (model_id, exclude, threshold, threshold),
        )
        return [(final_spans(final), predicted_spans(pred)) for final, pred in rows]

    def reviewed_predictions_by_source(self, model_id: str) -> list[tuple[str, list[Span], list[Span], str, int]]:
        """(segment text, final spans, the model's predicted spans, the document's source, the segment's
        start) per accepted segment the model predicted (the latest accepted annotation of each)."""
        rows = self.conn.execute(
            "SELECT substr(d.text, s.start + 1, s.end - s.start), a.spans, p.spans, d.source, s.start, "
            "MAX(a.updated) FROM annotations a JOIN predictions p ON p.segment_id = a.segment_id AND p.model_id = ? "
            "JOIN segments s ON s.id = a.segment_id JOIN documents d ON d.id = s.doc_id "
            "WHERE a.status = 'accepted' GROUP BY a.segment_id",
            (model_id,),
        ).fetchall()
        return [
            (text, final_spans(final), predicted_spans(pred), source or "", start)
            for text, final, pred, source, start, _ in rows
        ]

    def reviewed_predictions_by_segment(self, model_id: str) -> dict[int, tuple[str, list[Span], list[Span]]]:
        """As :meth:`reviewed_predictions_by_source`, as (text, final spans, predicted spans) keyed by segment
        id (to compare two models on the same segments)."""
        rows = self.conn.execute(
            "SELECT a.segment_id, substr(d.text, s.start + 1, s.end - s.start), a.spans, p.spans, MAX(a.updated) "
            "FROM annotations a JOIN predictions p ON p.segment_id = a.segment_id AND p.model_id = ? "
            "JOIN segments s ON s.id = a.segment_id JOIN documents d ON d.id = s.doc_id "
            "WHERE a.status = 'accepted' GROUP BY a.segment_id",
            (model_id,),
        ).fetchall()
        return {sid: (text, final_spans(final), predicted_spans(pred)) for sid, text, final, pred, _ in rows}

    def queue(
        self,
        model_id: str | None,
        status: str,
        limit: int,
        offset: int = 0,
        order: str = "uncertainty",
        *,
        label: str | None = None,
        source: str | None = None,
        max_confidence: float | None = None,
    ) -> list[tuple[int, float]]:
        """Segment ids with their routing score, most uncertain first (or in document order).

        Optional filters, all in SQL: ``label`` (the active model predicted a span with this
        label, or an annotation of the segment has one), ``source`` (the document's source is
        exactly this, or ends with ``/source``: a file name), ``max_confidence`` (the model's
        least confident span is at most this; segments without a prediction are left out).
        Without filters the indexed queries are used unchanged.
        """
        if label is None and source is None and max_confidence is None:
            if model_id is None or order == "document":
                rows = self.conn.execute(
                    "SELECT id, 0.0 FROM segments WHERE status = ? ORDER BY id LIMIT ? OFFSET ?",
                    (status, limit, offset),
                )
            else:
                rows = self.conn.execute(
                    "SELECT p.segment_id, p.uncertainty FROM predictions p JOIN segments s "
                    "ON s.id = p.segment_id WHERE p.model_id = ? AND s.status = ? "
                    "ORDER BY p.uncertainty DESC LIMIT ? OFFSET ?",
                    (model_id, status, limit, offset),
                )
            return [(r[0], r[1]) for r in rows]
        where: list[str] = ["s.status = ?"]
        args: list[Any] = [status]
        joins = []
        if source is not None:
            joins.append("JOIN documents d ON d.id = s.doc_id")
            esc = source.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("(d.source = ? OR d.source LIKE ? ESCAPE '\\' OR d.source LIKE ? ESCAPE '\\')")
            args += [source, "%/" + esc, "%\\\\" + esc]
        by_uncertainty = model_id is not None and order != "document"
        if model_id is not None:
            joins.insert(
                0,
                ("JOIN" if by_uncertainty or max_confidence is not None else "LEFT JOIN")
                + " predictions p ON p.segment_id = s.id AND p.model_id = ?",
            )
        if max_confidence is not None:
            if model_id is None:
                return []  # no model, no confidences
            where.append("p.min_confidence <= ?")
            args.append(float(max_confidence))
        if label is not None:
            ors = [
                "EXISTS (SELECT 1 FROM annotations a, json_each(a.spans) j WHERE a.segment_id = s.id "
                "AND json_extract(j.value, '$.label') = ?)"
            ]
            largs: list[Any] = [label]
            if model_id is not None:
                ors.insert(
                    0,
                    "(p.spans IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(p.spans) j "
                    "WHERE json_extract(j.value, '$[2]') = ?))",
                )
                largs.insert(0, label)
            where.append("(" + " OR ".join(ors) + ")")
            args += largs
        head = [model_id] if model_id is not None else []
        score = "p.uncertainty" if by_uncertainty else "0.0"
        order_by = "p.uncertainty DESC, s.id" if by_uncertainty else "s.id"
        sql = (
            f"SELECT s.id, {score} FROM segments s {' '.join(joins)} WHERE {' AND '.join(where)} "
            f"ORDER BY {order_by} LIMIT ? OFFSET ?"
        )
        rows = self.conn.execute(sql, [*head, *args, limit, offset])
        return [(r[0], r[1]) for r in rows]


_ELIGIBLE = (
    "FROM predictions p JOIN segments s ON s.id = p.segment_id "
    "WHERE p.model_id = ? AND s.status = 'new' AND p.min_confidence >= ? AND 1 - p.least_confidence >= ?"
)


def most_uncertain_ids(store: Store, model_id: str, status: str, k: int) -> list[int]:
    """Ids of the ``k`` segments with this status that the model is least sure of."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT p.segment_id FROM predictions p JOIN segments s ON s.id = p.segment_id "
            "WHERE p.model_id = ? AND s.status = ? ORDER BY p.uncertainty DESC LIMIT ?",
            (model_id, status, k),
        )
    ]


def eligible_count(store: Store, model_id: str, threshold: float) -> int:
    """New segments whose every span, and whose least sure token, reach ``threshold``."""
    return store.conn.execute("SELECT COUNT(*) " + _ELIGIBLE, (model_id, threshold, threshold)).fetchone()[0]


def eligible(store: Store, model_id: str, threshold: float, limit: int | None = None) -> list[tuple[int, list]]:
    """(segment id, predicted spans) of the eligible new segments, in id order."""
    rows = store.conn.execute(
        "SELECT p.segment_id, p.spans "
        + _ELIGIBLE
        + " ORDER BY p.segment_id"
        + (f" LIMIT {int(limit)}" if limit else ""),
        (model_id, threshold, threshold),
    )
    return [(sid, json.loads(spans)) for sid, spans in rows]


def add_audits(store: Store, model_id: str, threshold: float, segment_ids: list[int], ts: str) -> None:
    """Mark these segments as audit samples of auto-accept (inside the caller's transaction)."""
    store.conn.executemany(
        "INSERT OR REPLACE INTO audits (segment_id, model_id, threshold, created) VALUES (?, ?, ?, ?)",
        [(sid, model_id, threshold, ts) for sid in segment_ids],
    )


def reviewed_audits(store: Store) -> list[tuple[int, list[Span], list[Span]]]:
    """(segment id, the reviewer's spans, the model's spans) of every audited segment reviewed so far."""
    rows = store.conn.execute(
        "SELECT u.segment_id, a.spans, p.spans FROM audits u "
        "JOIN annotations a ON a.segment_id = u.segment_id AND a.status = 'accepted' "
        "JOIN predictions p ON p.segment_id = u.segment_id AND p.model_id = u.model_id "
        "GROUP BY u.segment_id"
    ).fetchall()
    return [(sid, final_spans(final), predicted_spans(pred)) for sid, final, pred in rows]


def window_predictions(
    store: Store, model_id: str, first_doc: int, last_doc: int, limit: int
) -> Iterator[tuple[list[list[Any]], float]]:
    """(spans, uncertainty) of up to ``limit`` predicted segments of documents first_doc..last_doc."""
    rows = store.conn.execute(
        "SELECT p.spans, p.uncertainty FROM predictions p JOIN segments s ON s.id = p.segment_id "
        "WHERE p.model_id = ? AND s.doc_id BETWEEN ? AND ? LIMIT ?",
        (model_id, first_doc, last_doc, limit),
    )
    return ((json.loads(spans), unc) for spans, unc in rows)


def active_model_source(store: Store) -> tuple[str | None, str]:
    """(what to load: the active model's package path, or None for the shipped default; its id or
    name, for menus and the status bar). A project without an active model gets the default; one
    whose active model's package is gone is E215 (never a silent switch to another model)."""
    model_id = store.active_model_id()
    if model_id is not None:
        row = next((m for m in store.models() if m["id"] == model_id), None)
        if not row or not row["path"] or not Path(row["path"]).exists():
            from nerdesk.core.errors import Errors, err

            raise err(Errors.E215, model=model_id, path=(row or {}).get("path") or "(none recorded)")
        return row["path"], model_id
    from nerdesk.core.model.package import resolve_model_path

    return None, resolve_model_path(None).name
