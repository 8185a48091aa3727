"""SQL over segments and their documents beyond the Store's own methods: random samples, reviewed
text, status counts and changes. Plain functions over a :class:`~nerdesk.core.store.Store`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from nerdesk.core.store import chunked

if TYPE_CHECKING:
    from nerdesk.core.store import Store


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
    for chunk, marks in chunked(want, 500):
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
