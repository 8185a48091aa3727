"""SQL over the human layer (annotations, corrections; the module is not named annotations, which
``from __future__ import annotations`` binds in the store package) beyond the Store's own methods: what
routing learns from reviewed work and what monitoring counts. Plain functions over a
:class:`~nerdesk.core.store.Store`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nerdesk.core.store import Store


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


def accepted_span_lists(store: Store) -> Iterator[list[dict]]:
    """The spans of every accepted annotation."""
    return (
        json.loads(spans) for (spans,) in store.conn.execute("SELECT spans FROM annotations WHERE status = 'accepted'")
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
