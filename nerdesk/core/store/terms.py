"""SQL for term lists (tables ``term_lists``, ``terms``, ``term_matches``, ``term_versions``,
migration m005). Plain functions over a :class:`~nerdesk.core.store.Store`; the rules (what a
list may hold, how matches are resolved and merged) are in :mod:`nerdesk.core.terms`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from nerdesk.core.store.base import chunked, final_spans
from nerdesk.core.types import Span

if TYPE_CHECKING:
    from nerdesk.core.store import Store

_LIST_COLS = (
    "id",
    "name",
    "source",
    "format",
    "case_sensitive",
    "lemma",
    "enabled",
    "version",
    "guideline_version",
    "author",
    "created",
    "updated",
)
_TERM_COLS = ("id", "list_id", "label", "pattern", "kind", "note", "line", "version", "enabled")


def _list_row(r: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(_LIST_COLS, r))
    for k in ("case_sensitive", "lemma", "enabled"):
        row[k] = bool(row[k])
    return row


def has_lists(store: Store) -> bool:
    return store.conn.execute("SELECT 1 FROM term_lists LIMIT 1").fetchone() is not None


def lists(store: Store) -> list[dict[str, Any]]:
    """Every list with its term counts (all, enabled) and label counts."""
    rows = [_list_row(r) for r in store.conn.execute(f"SELECT {', '.join(_LIST_COLS)} FROM term_lists ORDER BY id")]
    counts = {
        lid: (n, on)
        for lid, n, on in store.conn.execute("SELECT list_id, COUNT(*), SUM(enabled) FROM terms GROUP BY list_id")
    }
    labels: dict[int, dict[str, int]] = {}
    for lid, label, n in store.conn.execute("SELECT list_id, label, COUNT(*) FROM terms GROUP BY list_id, label"):
        labels.setdefault(lid, {})[label] = n
    for row in rows:
        n, on = counts.get(row["id"], (0, 0))
        row["terms"], row["enabled_terms"] = n, int(on or 0)
        row["labels"] = labels.get(row["id"], {})
    return rows


def list_by_id(store: Store, list_id: int) -> dict[str, Any] | None:
    r = store.conn.execute(f"SELECT {', '.join(_LIST_COLS)} FROM term_lists WHERE id = ?", (list_id,)).fetchone()
    return _list_row(r) if r else None


def list_by_name(store: Store, name: str) -> dict[str, Any] | None:
    r = store.conn.execute(f"SELECT {', '.join(_LIST_COLS)} FROM term_lists WHERE name = ?", (name,)).fetchone()
    return _list_row(r) if r else None


def insert_list(
    store: Store,
    *,
    name: str,
    source: str,
    fmt: str,
    case_sensitive: bool,
    lemma: bool,
    guideline_version: int | None,
    author: str,
    ts: str,
) -> int:
    cur = store.conn.execute(
        "INSERT INTO term_lists (name, source, format, case_sensitive, lemma, enabled, version, "
        "guideline_version, author, created, updated) VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?, ?, ?)",
        (name, source, fmt, int(case_sensitive), int(lemma), guideline_version, author, ts, ts),
    )
    if cur.lastrowid is None:  # sqlite3 sets it after every INSERT
        raise RuntimeError("inserting the term list gave no row id")
    return cur.lastrowid


def bump_version(store: Store, list_id: int, *, ts: str, guideline_version: int | None) -> int:
    store.conn.execute(
        "UPDATE term_lists SET version = version + 1, updated = ?, guideline_version = COALESCE(?, guideline_version) "
        "WHERE id = ?",
        (ts, guideline_version, list_id),
    )
    return int(store.conn.execute("SELECT version FROM term_lists WHERE id = ?", (list_id,)).fetchone()[0])


def set_list_enabled(store: Store, list_id: int, enabled: bool) -> None:
    store.conn.execute("UPDATE term_lists SET enabled = ? WHERE id = ?", (int(enabled), list_id))


def delete_list(store: Store, list_id: int) -> None:
    # matches first, by term (indexed): the cascade would do it one term at a time
    store.conn.execute("DELETE FROM term_matches WHERE term_id IN (SELECT id FROM terms WHERE list_id = ?)", (list_id,))
    store.conn.execute("DELETE FROM terms WHERE list_id = ?", (list_id,))
    store.conn.execute("DELETE FROM term_lists WHERE id = ?", (list_id,))


def insert_terms(store: Store, list_id: int, version: int, rows: Iterable[tuple[str, str, str, str, int]]) -> int:
    """rows: (label, pattern, kind, note, line). Returns how many were inserted."""
    cur = store.conn.executemany(
        "INSERT INTO terms (list_id, label, pattern, kind, note, line, version) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((list_id, label, pattern, kind, note, line, version) for label, pattern, kind, note, line in rows),
    )
    return cur.rowcount


def terms(store: Store, list_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join('t.' + c for c in _TERM_COLS)} FROM terms t"
    args: list[Any] = []
    if list_ids is not None:
        sql += f" WHERE t.list_id IN ({','.join('?' * len(list_ids))})"
        args = list(list_ids)
    rows = []
    for r in store.conn.execute(sql + " ORDER BY t.id", args):
        row = dict(zip(_TERM_COLS, r))
        row["enabled"] = bool(row["enabled"])
        rows.append(row)
    return rows


def existing_patterns(store: Store, list_id: int) -> set[tuple[str, str, str]]:
    """(label, kind, pattern) of the list's terms, to leave out duplicates when adding."""
    return set(store.conn.execute("SELECT label, kind, pattern FROM terms WHERE list_id = ?", (list_id,)).fetchall())


def set_terms_enabled(store: Store, term_ids: Sequence[int], enabled: bool) -> None:
    for chunk, marks in chunked(term_ids):
        store.conn.execute(f"UPDATE terms SET enabled = ? WHERE id IN ({marks})", [int(enabled), *chunk])


def delete_terms(store: Store, term_ids: Sequence[int]) -> None:
    for chunk, marks in chunked(term_ids):
        store.conn.execute(f"DELETE FROM term_matches WHERE term_id IN ({marks})", chunk)
        store.conn.execute(f"DELETE FROM terms WHERE id IN ({marks})", chunk)


def terms_by_id(store: Store, term_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for chunk, marks in chunked(term_ids):
        for r in store.conn.execute(f"SELECT {', '.join(_TERM_COLS)} FROM terms WHERE id IN ({marks})", chunk):
            row = dict(zip(_TERM_COLS, r))
            row["enabled"] = bool(row["enabled"])
            out[row["id"]] = row
    return out


def log_version(
    store: Store,
    *,
    list_id: int,
    name: str,
    version: int,
    action: str,
    author: str,
    ts: str,
    guideline_version: int | None,
    detail: dict[str, Any],
) -> None:
    store.conn.execute(
        "INSERT INTO term_versions (list_id, list_name, version, action, author, ts, guideline_version, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (list_id, name, version, action, author, ts, guideline_version, json.dumps(detail, ensure_ascii=False)),
    )


def versions(store: Store, list_id: int | None = None) -> list[dict[str, Any]]:
    cols = ("id", "list_id", "list_name", "version", "action", "author", "ts", "guideline_version", "detail")
    sql = f"SELECT {', '.join(cols)} FROM term_versions"
    args: list[Any] = []
    if list_id is not None:
        sql += " WHERE list_id = ?"
        args.append(list_id)
    rows = []
    for r in store.conn.execute(sql + " ORDER BY id", args):
        row = dict(zip(cols, r))
        row["detail"] = json.loads(row["detail"])
        rows.append(row)
    return rows


# ------------------------------------------------------------------------ matching
def max_segment_id(store: Store) -> int:
    return int(store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM segments").fetchone()[0])


def count_segments_after(store: Store, after_id: int) -> int:
    return int(store.conn.execute("SELECT COUNT(*) FROM segments WHERE id > ?", (after_id,)).fetchone()[0])


def segment_ids_after(store: Store, after_id: int, until_id: int, limit: int) -> list[int]:
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT id FROM segments WHERE id > ? AND id <= ? ORDER BY id LIMIT ?", (after_id, until_id, limit)
        )
    ]


def insert_matches(store: Store, rows: Iterable[tuple[int, int, int, int]]) -> None:
    """rows: (segment_id, term_id, start, end) in document characters."""
    store.conn.executemany(
        "INSERT OR IGNORE INTO term_matches (segment_id, term_id, start, end) VALUES (?, ?, ?, ?)", rows
    )


def add_watermark(store: Store, list_id: int, version: int) -> None:
    store.conn.execute(
        "INSERT OR IGNORE INTO term_watermarks (list_id, version, matched_upto) VALUES (?, ?, 0)", (list_id, version)
    )


def watermarks(store: Store) -> list[tuple[int, int, int]]:
    """(list id, version, matched up to segment id) of every list version that added terms."""
    return store.conn.execute(
        "SELECT list_id, version, matched_upto FROM term_watermarks ORDER BY list_id, version"
    ).fetchall()


def set_watermarks(store: Store, marks: Sequence[tuple[int, int]], upto: int) -> None:
    store.conn.executemany(
        "UPDATE term_watermarks SET matched_upto = MAX(matched_upto, ?) WHERE list_id = ? AND version = ?",
        ((upto, lid, v) for lid, v in marks),
    )


def terms_of_versions(store: Store, marks: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    """The terms (enabled or not) that these (list id, version) pairs added."""
    out = []
    for lid, v in marks:
        for r in store.conn.execute(
            f"SELECT {', '.join(_TERM_COLS)} FROM terms WHERE list_id = ? AND version = ? ORDER BY id", (lid, v)
        ):
            row = dict(zip(_TERM_COLS, r))
            row["enabled"] = bool(row["enabled"])
            out.append(row)
    return out


_MATCH_SQL = (
    "SELECT m.segment_id, m.start, m.end, t.id, t.label, t.pattern, t.kind, l.id, l.name, "
    "t.enabled AND l.enabled FROM term_matches m JOIN terms t ON t.id = m.term_id "
    "JOIN term_lists l ON l.id = t.list_id"
)


def _match_row(r: Sequence[Any]) -> dict[str, Any]:
    return {
        "start": r[1],
        "end": r[2],
        "term_id": r[3],
        "label": r[4],
        "pattern": r[5],
        "kind": r[6],
        "list_id": r[7],
        "list": r[8],
        "enabled": bool(r[9]),
    }


def matches_for(
    store: Store, segment_ids: Sequence[int], *, enabled_only: bool = True
) -> dict[int, list[dict[str, Any]]]:
    """Every stored match of these segments, with its term and list."""
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk, marks in chunked(segment_ids):
        sql = _MATCH_SQL + f" WHERE m.segment_id IN ({marks})"
        if enabled_only:
            sql += " AND t.enabled = 1 AND l.enabled = 1"
        for r in store.conn.execute(sql, chunk):
            out.setdefault(r[0], []).append(_match_row(r))
    return out


def reviewed_matches(store: Store) -> list[tuple[int, str, int, list, list[dict[str, Any]]]]:
    """(segment id, segment text, segment start, final spans, every match) of each accepted segment
    with a match (its latest accepted annotation). Starts from the (few) accepted segments: the matches
    of a big project are millions."""
    ids = [r[0] for r in store.conn.execute("SELECT id FROM segments WHERE status = 'accepted' ORDER BY id")]
    return _with_final(store, matches_for(store, ids, enabled_only=False))


def _with_final(store: Store, by_seg: dict[int, list[dict[str, Any]]]) -> list:
    out = []
    ids = sorted(by_seg)
    for chunk, marks in chunked(ids):
        for sid, text, start, spans, _ in store.conn.execute(
            "SELECT a.segment_id, substr(d.text, s.start + 1, s.end - s.start), s.start, a.spans, MAX(a.updated) "
            "FROM annotations a JOIN segments s ON s.id = a.segment_id JOIN documents d ON d.id = s.doc_id "
            f"WHERE a.status = 'accepted' AND a.segment_id IN ({marks}) "
            "GROUP BY a.segment_id",
            chunk,
        ):
            out.append((sid, text, start, final_spans(spans), by_seg[sid]))
    return out


def human_spans(store: Store) -> list[tuple[str, int, list[Span]]]:
    """(segment text, segment start, final spans) of every accepted segment (latest annotation): the
    annotations' query, :meth:`~nerdesk.core.store.human.AnnotationTables.reviewed_spans`."""
    return store.reviewed_spans()


_HITS_SQL = (
    "SELECT m.segment_id FROM term_matches m JOIN terms t ON t.id = m.term_id "
    "JOIN term_lists l ON l.id = t.list_id JOIN segments s ON s.id = m.segment_id "
    "WHERE m.segment_id >= ? AND m.segment_id < ? AND t.enabled = 1 AND l.enabled = 1 "
    "AND t.label IN ({marks}) AND s.status = ? "
    "GROUP BY m.segment_id ORDER BY m.segment_id LIMIT ?"
)


def has_hits(store: Store, status: str, label: str) -> bool:
    """Whether an enabled term of ``label`` matches in a segment with this status (stops at the first)."""
    return (
        store.conn.execute(
            "SELECT 1 FROM term_matches m JOIN terms t ON t.id = m.term_id JOIN term_lists l ON l.id = t.list_id "
            "JOIN segments s ON s.id = m.segment_id WHERE t.enabled = 1 AND l.enabled = 1 AND t.label = ? "
            "AND s.status = ? LIMIT 1",
            (label, status),
        ).fetchone()
        is not None
    )


def segments_with_hits(
    store: Store, status: str, labels: Sequence[str], limit: int, seed: int, runs: int = 20
) -> list[int]:
    """Up to ``limit`` segments with this status and a match of an enabled term of one of ``labels``: the
    segment ids are cut into ``runs`` windows, and each gives its first hits from a seeded random place in
    it (so a batch is not one document's run), read in the matches' key order: no sort of millions of
    matches, and never more than one pass over them."""
    import random

    if not labels or limit <= 0:
        return []
    lo, hi = store.conn.execute("SELECT MIN(segment_id), MAX(segment_id) FROM term_matches").fetchone()
    if lo is None:
        return []
    rng = random.Random(seed)
    sql = _HITS_SQL.format(marks=",".join("?" * len(labels)))
    per = max(1, -(-limit // runs))
    width = max(1, -(-(hi - lo + 1) // runs))
    found: dict[int, None] = {}
    for w in range(lo, hi + 1, width):
        start = rng.randint(w, w + width - 1)
        for lo_, hi_ in ((start, w + width), (w, start)):  # from the random place to the window's end, then its head
            need = per - sum(1 for x in found if w <= x < w + width)
            if need <= 0:
                break
            for (sid,) in store.conn.execute(sql, [lo_, hi_, *labels, status, need]):
                found[sid] = None
    if len(found) < limit:  # windows with few hits: take more from the others, in one more pass
        for (sid,) in store.conn.execute(sql, [lo, hi + 1, *labels, status, limit + len(found)]):
            found[sid] = None
            if len(found) >= limit:
                break
    ids = list(found)
    rng.shuffle(ids)
    return ids[:limit]


def hit_counts(store: Store, term_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Matches per term over the whole project."""
    if term_ids is None:
        return dict(store.conn.execute("SELECT term_id, COUNT(*) FROM term_matches GROUP BY term_id").fetchall())
    out: dict[int, int] = {}
    for chunk, marks in chunked(term_ids):
        out.update(
            store.conn.execute(
                f"SELECT term_id, COUNT(*) FROM term_matches WHERE term_id IN ({marks}) GROUP BY term_id", chunk
            ).fetchall()
        )
    return out
