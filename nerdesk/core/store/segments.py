"""Documents and their segments (tables ``documents``, ``segments``, the full-text index
``documents_fts``): :class:`DocumentTables`, the Store's methods for them (imports write, the editor and
the exporter read), and plain functions over a :class:`~nerdesk.core.store.Store` for the rest: random
samples, reviewed text, status counts and changes.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from nerdesk.core.errors import Errors, err
from nerdesk.core.store.base import Tables, chunked, loads_all
from nerdesk.core.types import Segment, TokenOffsets

if TYPE_CHECKING:
    from nerdesk.core.store import Store


class DocumentTables(Tables):
    """The Store's methods over documents and segments (and the counts and search over them)."""

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

    def document_texts(self, first: int, last: int, limit: int) -> list[str]:
        """Texts of documents ``first``..``last`` (ids, import order), at most ``limit``."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT text FROM documents WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?", (first, last, limit)
            )
        ]

    _SEG_COLS = "s.id, s.doc_id, s.idx, s.start, s.end, s.tokens, s.status"

    @staticmethod
    def _segments(rows: Sequence[Sequence[Any]], *, lazy_tokens: bool = False) -> list[Segment]:
        """Segments of rows of ``_SEG_COLS``. Their tokens are parsed in one call for all the rows (a
        13,000-segment document is one parse, not 13,000), or, ``lazy_tokens``, each on first use
        (opening a document reads the tokens of the few segments a user moves in)."""
        texts = [r[5] for r in rows]
        tokens = texts if lazy_tokens else loads_all(texts)
        return [Segment(r[0], r[1], r[2], r[3], r[4], TokenOffsets(t, r[3]), r[6]) for r, t in zip(rows, tokens)]

    def segments_of(self, doc_id: int, *, lazy_tokens: bool = False) -> list[Segment]:
        """The document's segments in order; ``lazy_tokens``: each one's tokens parsed on first use."""
        rows = self.conn.execute(
            f"SELECT {self._SEG_COLS} FROM segments s WHERE s.doc_id = ? ORDER BY s.idx", (doc_id,)
        ).fetchall()
        return self._segments(rows, lazy_tokens=lazy_tokens)

    def segments_of_documents(self, doc_ids: Sequence[int]) -> dict[int, list[Segment]]:
        out: dict[int, list[Segment]] = {}
        for chunk, marks in chunked(doc_ids):
            rows = self.conn.execute(
                f"SELECT {self._SEG_COLS} FROM segments s WHERE s.doc_id IN ({marks}) ORDER BY s.doc_id, s.idx",
                chunk,
            ).fetchall()
            for seg in self._segments(rows):
                out.setdefault(seg.doc_id, []).append(seg)
        return out

    def segment(self, segment_id: int) -> Segment | None:
        rows = self.conn.execute(f"SELECT {self._SEG_COLS} FROM segments s WHERE s.id = ?", (segment_id,)).fetchall()
        return self._segments(rows)[0] if rows else None

    def segments_with_text(self, segment_ids: Sequence[int]) -> list[Segment]:
        """Segments with their own text (a slice of the document) and their document's source, in the
        order given. Each document's text is read once per call (a page of a 1M-character line is one
        read, not one per segment)."""
        out: dict[int, Segment] = {}
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
            for seg in self._segments(rows):
                text, seg.source = docs[seg.doc_id]
                seg.text = text[seg.start : seg.end]
                out[seg.id] = seg
        return [out[i] for i in segment_ids if i in out]

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

    def counts(self) -> dict[str, Any]:
        c = self.conn
        docs = c.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        rows = c.execute("SELECT status, COUNT(*) FROM segments GROUP BY status").fetchall()
        by_status = {r[0]: r[1] for r in rows}
        segs = sum(r[1] for r in rows)
        toks = self.get_setting("tokens_total", 0)  # kept by the importer: a SUM would scan every row
        return {"documents": docs, "segments": segs, "tokens": toks, "by_status": by_status}

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


def random_ids(store: Store, status: str, k: int, seed: int) -> list[int]:
    """A seeded random sample of ``k`` segment ids with this status, without scanning the table
    (ids are dense from import); falls back to a full seeded shuffle when the status is rare."""
    if k <= 0:
        return []
    conn = store.conn
    lo, hi = conn.execute("SELECT MIN(id), MAX(id) FROM segments").fetchone()
    if lo is None:
        return []
    rng = random.Random(seed)
    want = list(dict.fromkeys(rng.randint(lo, hi) for _ in range(min(3 * k, hi - lo + 1))))
    found: list[int] = []
    for chunk, marks in chunked(want):
        ok = {
            r[0]
            for r in conn.execute(f"SELECT id FROM segments WHERE status = ? AND id IN ({marks})", [status, *chunk])
        }
        found += [x for x in chunk if x in ok]
        if len(found) >= k:
            return found[:k]
    return [
        r[0]
        for r in conn.execute(
            "SELECT id FROM segments WHERE status = ? ORDER BY (id * 2654435761 + ?) % 4294967296 LIMIT ?",
            (status, seed, k),
        )
    ]


def reviewed_texts(store: Store, limit: int = 200_000) -> Iterator[tuple[str, str]]:
    """(text, document source) of up to ``limit`` reviewed (accepted or auto-accepted) segments."""
    # CROSS JOIN keeps SQLite from scanning every document: start from the (few) reviewed segments
    return iter(
        store.conn.execute(
            "SELECT substr(d.text, s.start + 1, s.end - s.start), d.source FROM segments s "
            "CROSS JOIN documents d ON d.id = s.doc_id WHERE s.status IN ('accepted', 'auto') LIMIT ?",
            (limit,),
        )
    )


def count_status(store: Store, status: str) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM segments WHERE status = ?", (status,)).fetchone()[0]


def set_statuses(store: Store, segment_ids: Iterable[int], status: str) -> None:
    """Set the status of these segments (inside the caller's transaction)."""
    store.conn.executemany("UPDATE segments SET status = ? WHERE id = ?", [(status, sid) for sid in segment_ids])


def window_texts(store: Store, first_doc: int, last_doc: int, limit: int) -> list[str]:
    """Texts of up to ``limit`` segments of documents first_doc..last_doc (ids, import order)."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT substr(d.text, s.start + 1, s.end - s.start) FROM segments s CROSS JOIN documents d "
            "ON d.id = s.doc_id WHERE s.doc_id BETWEEN ? AND ? ORDER BY s.doc_id, s.idx LIMIT ?",
            (first_doc, last_doc, limit),
        )
    ]
