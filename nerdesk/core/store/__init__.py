"""The only code in nerdesk that speaks SQL. One :class:`Store` per thread and project file.

The store knows tables and rows, not domain rules: the :mod:`nerdesk.core.project` facade
decides what to write; the store writes it, in transactions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from nerdesk.core.errors import Errors, err
from nerdesk.core.store.migrations import SCHEMA_VERSION, migrations
from nerdesk.core.types import Annotation, Prediction, Span


#: Seconds a write waits for another program's write lock (SQLite's busy handler retries until then).
BUSY_TIMEOUT = 10.0


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "database is busy" (another writer holds the lock)."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def busy_error(path: Path | None, seconds: float, exc: BaseException | None = None):
    """E016: nothing was written because another program held the write lock for ``seconds``."""
    return err(Errors.E016, file=path, seconds=f"{seconds:g}", details=str(exc) if exc else None)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _connect(path: Path, wait: float) -> Database:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=True, timeout=wait)
    db = Database(conn)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    # WAL + NORMAL loses no committed transaction on a process crash; FULL also survives
    # power loss at a small cost per commit. Human edits are small: take FULL.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA cache_size = -65536")
    return db


class Store:
    """Rows in and out of one project file."""

    #: The tier of the user acting through this store, written on every event (set by Project).
    acting_tier: str | None = None

    def __init__(self, path: str | Path, *, create: bool = False, wait: float = BUSY_TIMEOUT):
        """``wait``: seconds a write waits for another program's lock before it fails with E016
        (the app's UI thread waits less than a CLI command)."""
        self.path = Path(path)
        self.wait = wait
        if not create and not self.path.exists():
            raise err(Errors.E001, path=self.path)
        if create and self.path.exists():
            raise err(Errors.E003, path=self.path)
        try:
            self.db = _connect(self.path, wait)
            applied = [m.name for m in migrations.applied(self.db)]
            if not create and not applied:
                raise err(Errors.E002, path=self.path, reason="no nerdesk schema")
            if len(applied) > SCHEMA_VERSION:
                raise err(Errors.E004, found=len(applied), supported=SCHEMA_VERSION)
            migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise err(Errors.E002, path=self.path, reason=str(exc)) from exc

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction. ``BEGIN IMMEDIATE`` takes the write lock before anything is read,
        so what a caller reads inside is what it changes, and another writer is waited for (up to
        ``wait`` seconds) instead of refused half-way. Still busy: E016, nothing written. Nested
        blocks are savepoints."""
        conn = self.conn
        if conn.in_transaction:
            with self.db.atomic():  # a savepoint inside the open transaction
                yield
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                raise busy_error(self.path, self.wait, exc) from exc
            raise
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # ---------------------------------------------------------------- project settings
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM project WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO project (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    # ---------------------------------------------------------------- labels and guidelines
    def labels(self) -> list[dict[str, Any]]:
        """Every label (with its status, parent and guideline: nerdesk/core/store/labels.py)."""
        from nerdesk.core.store import labels as label_sql

        return label_sql.labels(self)

    def upsert_label(self, name: str, color: str, shortcut: str | None, description: str, position: int) -> None:
        self.conn.execute(
            "INSERT INTO labels (name, color, shortcut, description, position) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET color = excluded.color, shortcut = excluded.shortcut, "
            "description = excluded.description, position = excluded.position",
            (name, color, shortcut, description, position),
        )

    def guideline(self) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT version, created, author, labels, text FROM guidelines ORDER BY version DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return {"version": row[0], "created": row[1], "author": row[2], "labels": json.loads(row[3]), "text": row[4]}

    def add_guideline(self, author: str, labels: list[dict[str, Any]], text: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO guidelines (version, created, author, labels, text) "
            "VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM guidelines), ?, ?, ?, ?)",
            (now(), author, json.dumps(labels, ensure_ascii=False), text),
        )
        return int(self.conn.execute("SELECT version FROM guidelines WHERE rowid = ?", (cur.lastrowid,)).fetchone()[0])

    # ---------------------------------------------------------------- documents and segments
    def existing_documents(self, hashes: Sequence[str]) -> dict[str, int]:
        """content_hash -> document id, for the hashes already stored."""
        found: dict[str, int] = {}
        for chunk, marks in chunked(hashes):
            for doc_id, h in self.conn.execute(
                f"SELECT id, content_hash FROM documents WHERE content_hash IN ({marks})", chunk
            ):
                found[h] = doc_id
        return found

    def max_document_id(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM documents").fetchone()[0]

    def insert_documents(self, rows: Iterable[tuple[int, str, str, str, str, str]]) -> None:
        """rows: (id, text, source, meta_json, content_hash, created)."""
        self.conn.executemany(
            "INSERT INTO documents (id, text, source, meta, content_hash, created) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    def max_segment_id(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM segments").fetchone()[0]

    def insert_segments(self, rows: Iterable[tuple[int, int, int, int, int, str, int, str]]) -> None:
        """rows: (id, doc_id, idx, start, end, tokens_json, n_tokens, status)."""
        self.conn.executemany(
            "INSERT INTO segments (id, doc_id, idx, start, end, tokens, n_tokens, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def index_documents_after(self, doc_id: int) -> None:
        """Add documents with id > doc_id to the full-text index (bulk, after an import)."""
        self.conn.execute(
            "INSERT INTO documents_fts (rowid, text) SELECT id, text FROM documents WHERE id > ?",
            (doc_id,),
        )

    def document(self, doc_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT id, text, source, meta, content_hash, created FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return None
        return {
            "id": row[0],
            "text": row[1],
            "source": row[2],
            "meta": json.loads(row[3]),
            "content_hash": row[4],
            "created": row[5],
        }

    def document_ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM documents ORDER BY id")]

    def iter_documents(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, text, source, meta FROM documents WHERE id > ? ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield {"id": r[0], "text": r[1], "source": r[2], "meta": json.loads(r[3])}
            last = rows[-1][0]

    _SEG_COLS = "s.id, s.doc_id, s.idx, s.start, s.end, s.tokens, s.status"

    @staticmethod
    def _segment_row(r: Sequence[Any]) -> dict[str, Any]:
        return {
            "id": r[0],
            "doc_id": r[1],
            "idx": r[2],
            "start": r[3],
            "end": r[4],
            "tokens": json.loads(r[5]),
            "status": r[6],
        }

    def segments_of(self, doc_id: int, *, tokens_json: bool = False) -> list[dict[str, Any]]:
        """The document's segments in order; ``tokens_json``: their tokens as the stored JSON text,
        left for the caller to parse when (and if) it needs them."""
        rows = self.conn.execute(
            f"SELECT {self._SEG_COLS} FROM segments s WHERE s.doc_id = ? ORDER BY s.idx", (doc_id,)
        ).fetchall()
        # one parse for a 13,000-segment document, not 13,000
        tokens = [r[5] for r in rows] if tokens_json else _loads_all([r[5] for r in rows])
        return [
            {"id": r[0], "doc_id": r[1], "idx": r[2], "start": r[3], "end": r[4], "tokens": t, "status": r[6]}
            for r, t in zip(rows, tokens)
        ]

    def segments_of_documents(self, doc_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        for chunk, marks in chunked(doc_ids):
            for r in self.conn.execute(
                f"SELECT {self._SEG_COLS} FROM segments s WHERE s.doc_id IN ({marks}) ORDER BY s.doc_id, s.idx",
                chunk,
            ):
                out.setdefault(r[1], []).append(self._segment_row(r))
        return out

    def segment(self, segment_id: int) -> dict[str, Any] | None:
        r = self.conn.execute(f"SELECT {self._SEG_COLS} FROM segments s WHERE s.id = ?", (segment_id,)).fetchone()
        return self._segment_row(r) if r else None

    def segments_with_text(self, segment_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Segments with their own text (a slice of the document), in the order given. Each document's
        text is read once per call (a page of a 1M-character line is one read, not one per segment)."""
        out: dict[int, dict[str, Any]] = {}
        for chunk, marks in chunked(segment_ids):
            rows = self.conn.execute(
                f"SELECT {self._SEG_COLS} FROM segments s WHERE s.id IN ({marks})", chunk
            ).fetchall()
            doc_ids = sorted({r[1] for r in rows})
            docs: dict[int, tuple[str, str]] = {}
            for part, part_marks in chunked(doc_ids):
                docs.update(
                    (d, (text, source))
                    for d, text, source in self.conn.execute(
                        f"SELECT id, text, source FROM documents WHERE id IN ({part_marks})", part
                    )
                )
            for r, tokens in zip(rows, _loads_all([r[5] for r in rows])):
                text, source = docs[r[1]]
                out[r[0]] = {
                    "id": r[0],
                    "doc_id": r[1],
                    "idx": r[2],
                    "start": r[3],
                    "end": r[4],
                    "tokens": tokens,
                    "status": r[6],
                    "text": text[r[3] : r[4]],
                    "source": source,
                }
        return [out[i] for i in segment_ids if i in out]

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

    # ---------------------------------------------------------------- counts and search
    def counts(self) -> dict[str, Any]:
        c = self.conn
        docs = c.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        rows = c.execute("SELECT status, COUNT(*) FROM segments GROUP BY status").fetchall()
        by_status = {r[0]: r[1] for r in rows}
        segs = sum(r[1] for r in rows)
        toks = self.get_setting("tokens_total", 0)  # kept by the importer: a SUM would scan every row
        return {"documents": docs, "segments": segs, "tokens": toks, "by_status": by_status}

    def annotated_label_counts(self) -> tuple[int, dict[str, int]]:
        """(segments with a human annotation, entity count per label in those annotations)."""
        n = self.conn.execute("SELECT COUNT(DISTINCT segment_id) FROM annotations").fetchone()[0]
        rows = self.conn.execute(
            "SELECT json_extract(j.value, '$.label') AS label, COUNT(*) FROM annotations a, "
            "json_each(a.spans) j GROUP BY label ORDER BY label"
        ).fetchall()
        return n, {r[0]: r[1] for r in rows}

    def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        try:
            return self._search(query, limit)
        except sqlite3.OperationalError as exc:
            raise err(Errors.E012, query=query, reason=str(exc)) from exc

    def _search(self, query: str, limit: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT d.id, d.source, snippet(documents_fts, 0, '[', ']', '…', 12), bm25(documents_fts) "
            "FROM documents_fts JOIN documents d ON d.id = documents_fts.rowid "
            "WHERE documents_fts MATCH ? ORDER BY bm25(documents_fts) LIMIT ?",
            (query, limit),
        ).fetchall()
        return [{"doc_id": r[0], "source": r[1], "snippet": r[2], "score": -r[3]} for r in rows]

    # ---------------------------------------------------------------- models and predictions
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

    def model_card(self, model_id: str) -> dict[str, Any]:
        """The card a registered model had when it was registered ({} for an unknown id)."""
        row = self.conn.execute("SELECT card FROM models WHERE id = ?", (model_id,)).fetchone()
        return json.loads(row[0]) if row else {}

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

    def reviewed_above(self, model_id: str, threshold: float, *, exclude: str) -> list[tuple[list, list]]:
        """(final spans, predicted spans) of accepted annotations (not by ``exclude``) of segments the
        model predicted with every span and the tag sequence at least ``threshold`` likely."""
        rows = self.conn.execute(
            "SELECT a.spans, p.spans FROM annotations a JOIN predictions p ON p.segment_id = a.segment_id "
            "AND p.model_id = ? WHERE a.status = 'accepted' AND a.annotator != ? AND p.min_confidence >= ? "
            "AND 1 - p.least_confidence >= ? GROUP BY a.segment_id",
            (model_id, exclude, threshold, threshold),
        )
        return [(json.loads(final), json.loads(pred)) for final, pred in rows]

    def reviewed_predictions(self, model_id: str) -> list[tuple[str, list, list]]:
        """(segment text, final spans, the model's predicted spans) per accepted segment it predicted
        (the latest accepted annotation of each)."""
        return [row[:3] for row in self.reviewed_predictions_by_source(model_id)]

    def reviewed_predictions_by_source(self, model_id: str) -> list[tuple[str, list, list, str, int]]:
        """As :meth:`reviewed_predictions`, with each segment's document source and start offset."""
        rows = self.conn.execute(
            "SELECT substr(d.text, s.start + 1, s.end - s.start), a.spans, p.spans, d.source, s.start, "
            "MAX(a.updated) FROM annotations a JOIN predictions p ON p.segment_id = a.segment_id AND p.model_id = ? "
            "JOIN segments s ON s.id = a.segment_id JOIN documents d ON d.id = s.doc_id "
            "WHERE a.status = 'accepted' GROUP BY a.segment_id",
            (model_id,),
        ).fetchall()
        return [
            (text, json.loads(final), json.loads(pred), source or "", start)
            for text, final, pred, source, start, _ in rows
        ]

    def reviewed_spans(self) -> list[tuple[str, int, list]]:
        """(segment text, segment start, final spans) of every accepted segment (its latest annotation)."""
        rows = self.conn.execute(
            "SELECT substr(d.text, s.start + 1, s.end - s.start), s.start, a.spans, MAX(a.updated) "
            "FROM annotations a JOIN segments s ON s.id = a.segment_id JOIN documents d ON d.id = s.doc_id "
            "WHERE a.status = 'accepted' GROUP BY a.segment_id"
        ).fetchall()
        return [(text, start, json.loads(spans)) for text, start, spans, _ in rows]

    def document_texts(self, first: int, last: int, limit: int) -> list[str]:
        """Texts of documents ``first``..``last`` (ids, import order), at most ``limit``."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT text FROM documents WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?", (first, last, limit)
            )
        ]

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

    def predictions_for(self, segment_ids: Sequence[int], model_id: str) -> dict[int, Prediction]:
        """The model's :class:`Prediction` of each of these segments that it predicted."""
        out: dict[int, Prediction] = {}
        for chunk, marks in chunked(segment_ids):
            rows = self.conn.execute(
                "SELECT segment_id, spans, least_confidence, margin, entropy, mnlp, uncertainty "
                f"FROM predictions WHERE model_id = ? AND segment_id IN ({marks})",
                [model_id, *chunk],
            ).fetchall()
            for r, spans in zip(rows, _loads_all([r[1] for r in rows])):
                out[r[0]] = Prediction(
                    r[0], model_id, tuple(Span(a, b, lab, c) for a, b, lab, c in spans), r[2], r[3], r[4], r[5], r[6]
                )
        return out

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
        return Annotation(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6], r[7], r[8], r[9])

    @staticmethod
    def _annotation_values(a: Annotation) -> tuple[Any, ...]:
        return (
            a.segment_id,
            a.annotator,
            a.tier,
            a.status,
            json.dumps(list(a.spans), ensure_ascii=False),
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

    # ---------------------------------------------------------------- event log
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
        where, args = [], []
        for col, val in (("segment_id", segment_id), ("annotator", annotator), ("category", category)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = f"SELECT {', '.join(self.CORRECTION_COLUMNS)} FROM corrections"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
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
        missed = [
            {"text": t, "label": lab, "count": n}
            for t, lab, n in c.execute(
                "SELECT surface, label, COUNT(*) AS n FROM corrections WHERE category = 'false_negative' "
                "GROUP BY surface, label ORDER BY n DESC, surface LIMIT ?",
                (top,),
            )
        ]
        false_pos = [
            {"text": t, "label": lab, "count": n}
            for t, lab, n in c.execute(
                "SELECT surface, label, COUNT(*) AS n FROM corrections WHERE category = 'false_positive' "
                "GROUP BY surface, label ORDER BY n DESC, surface LIMIT ?",
                (top,),
            )
        ]
        per_model = dict(c.execute("SELECT COALESCE(model_id, ''), COUNT(*) FROM corrections GROUP BY model_id"))
        return {
            "total": sum(per_category.values()),
            "per_category": per_category,
            "per_label": per_label,
            "confused_pairs": confused,
            "missed_surface_forms": missed,
            "false_positive_surface_forms": false_pos,
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

    def actions_since_last_accept(self, segment_id: int, annotator: str) -> int:
        """Edit actions on a segment (undos excluded) since it was last accepted."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM events WHERE segment_id = ? AND actor = ? AND kind = 'do' AND id > "
            "COALESCE((SELECT MAX(id) FROM events WHERE segment_id = ? AND actor = ? AND kind = 'do' "
            "AND action = 'accept' AND id < (SELECT MAX(id) FROM events WHERE segment_id = ? AND actor = ?)), 0)",
            (segment_id, annotator, segment_id, annotator, segment_id, annotator),
        ).fetchone()
        return int(row[0])

    def reviewed_predictions_by_segment(self, model_id: str) -> dict[int, tuple[str, list, list]]:
        """As :meth:`reviewed_predictions`, keyed by segment id (to compare two models on the same segments)."""
        rows = self.conn.execute(
            "SELECT a.segment_id, substr(d.text, s.start + 1, s.end - s.start), a.spans, p.spans, MAX(a.updated) "
            "FROM annotations a JOIN predictions p ON p.segment_id = a.segment_id AND p.model_id = ? "
            "JOIN segments s ON s.id = a.segment_id JOIN documents d ON d.id = s.doc_id "
            "WHERE a.status = 'accepted' GROUP BY a.segment_id",
            (model_id,),
        ).fetchall()
        return {sid: (text, json.loads(final), json.loads(pred)) for sid, text, final, pred, _ in rows}

    def unreviewed_segment_ids(self, limit: int) -> list[int]:
        """Up to ``limit`` segments no one has touched (status new, no annotation), spread over the
        project in a fixed pseudo-random order (the same every call)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT s.id FROM segments s WHERE s.status = 'new' AND NOT EXISTS "
                "(SELECT 1 FROM annotations a WHERE a.segment_id = s.id) "
                "ORDER BY (s.id * 2654435761) % 4294967296 LIMIT ?",
                (limit,),
            )
        ]


#: Ids per ``IN (...)`` query: well under SQLite's limit on bound parameters.
CHUNK = 500


def chunked(ids: Sequence[Any], size: int = CHUNK) -> Iterator[tuple[list[Any], str]]:
    """``(chunk, marks)`` for each run of ``size`` ids: the ids as a list and ``"?,?,..."`` for them."""
    for i in range(0, len(ids), size):
        chunk = list(ids[i : i + size])
        yield chunk, ",".join("?" * len(chunk))


def _loads_all(texts: list[str]) -> list[Any]:
    """Many JSON values parsed in one call (the per-call overhead dominates for small values)."""
    return json.loads("[" + ",".join(texts) + "]") if texts else []


def _event_value(value: Any) -> Any:
    """An event's before/after may hold annotations: written as their rows (:meth:`Annotation.to_dict`)."""
    if isinstance(value, Annotation):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _j(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)
