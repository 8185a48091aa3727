"""SQL for review across tiers (tables ``people``, ``reviews``, ``adjudications``, ``person_errors``,
migration m006). Plain functions over a :class:`~nerdesk.core.store.Store`; the rules (who may review
what, how a conflict resolves, what counts as agreement) are in :mod:`nerdesk.core.review`,
:mod:`nerdesk.core.adjudicate` and :mod:`nerdesk.core.agreement`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from nerdesk.core.store.base import chunked, final_spans, loads_all, now, where_equal

if TYPE_CHECKING:
    from nerdesk.core.store import Store

_REVIEW_COLS = ("id", "segment_id", "annotator", "reviewed_updated", "reviewer", "tier", "decision", "note", "created")
_ADJ_COLS = ("id", "segment_id", "adjudicator", "tier", "method", "sources", "spans", "reason", "basis", "created")
ERROR_COLUMNS = (
    "id",
    "segment_id",
    "annotator",
    "by_user",
    "by_tier",
    "source",
    "ref",
    "category",
    "label",
    "annotated",
    "final",
    "surface",
    "created",
)


# ------------------------------------------------------------------ people
def upsert_person(store: Store, name: str, tier: str, source: str) -> None:
    store.conn.execute(
        "INSERT INTO people (name, tier, source, updated) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE "
        "SET tier = excluded.tier, source = excluded.source, updated = excluded.updated",
        (name, tier, source, now()),
    )


def people(store: Store) -> list[dict[str, Any]]:
    return [
        dict(zip(("name", "tier", "source", "updated"), r))
        for r in store.conn.execute("SELECT name, tier, source, updated FROM people ORDER BY name")
    ]


def set_imported_tiers(store: Store, tiers: dict[str, str]) -> int:
    """Give annotations imported at the default tier ('annotator') their author's tier, for the
    authors named in ``tiers`` (bundle authors; a conflict row "NAME~ORIGIN" is NAME's)."""
    n = 0
    for name, tier in tiers.items():
        if tier == "annotator":
            continue
        esc = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        n += store.conn.execute(
            "UPDATE annotations SET tier = ? WHERE tier = 'annotator' AND (annotator = ? OR annotator LIKE ? "
            "ESCAPE '\\')",
            (tier, name, esc + "~%"),
        ).rowcount
    return n


# ------------------------------------------------------------------ annotations by several people
def multi_annotated_ids(store: Store, *, min_people: int = 2) -> list[int]:
    """Segments with at least ``min_people`` accepted annotations."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT segment_id FROM annotations WHERE status = 'accepted' GROUP BY segment_id "
            "HAVING COUNT(*) >= ? ORDER BY segment_id",
            (min_people,),
        )
    ]


def iter_multi_annotated(
    store: Store, batch: int = 5000
) -> Iterator[tuple[int, int, list, list[tuple[str, str, list]]]]:
    """(segment id, segment start, flat token offsets, [(annotator, tier, spans), ...]) of every
    segment with two or more accepted annotations, in segment order: one pass over the
    annotations, JSON parsed a batch at a time."""
    cur = store.conn.execute(
        "SELECT a.segment_id, s.start, s.tokens, a.annotator, a.tier, a.spans FROM annotations a "
        "JOIN segments s ON s.id = a.segment_id WHERE a.status = 'accepted' AND a.segment_id IN "
        "(SELECT segment_id FROM annotations WHERE status = 'accepted' GROUP BY segment_id HAVING COUNT(*) >= 2) "
        "ORDER BY a.segment_id, a.annotator"
    )
    pending: list[tuple] = []

    def flush(rows: list[tuple]) -> Iterator[tuple[int, int, list, list[tuple[str, str, list]]]]:
        spans = loads_all([r[5] for r in rows])
        tokens = loads_all([r[2] for r in rows])
        k = 0
        while k < len(rows):
            sid, start = rows[k][0], rows[k][1]
            j = k
            while j < len(rows) and rows[j][0] == sid:
                j += 1
            yield sid, start, tokens[k], [(rows[i][3], rows[i][4], spans[i]) for i in range(k, j)]
            k = j

    while True:
        chunk = cur.fetchmany(batch)
        if not chunk:
            break
        pending += chunk
        last = pending[-1][0]
        cut = len(pending)
        while cut and pending[cut - 1][0] == last:  # the last segment may go on in the next chunk
            cut -= 1
        if cut:
            yield from flush(pending[:cut])
            pending = pending[cut:]
    if pending:
        yield from flush(pending)


# ------------------------------------------------------------------ reviews
def insert_review(store: Store, row: dict[str, Any]) -> int:
    cols = [c for c in _REVIEW_COLS if c != "id" or row.get("id") is not None]
    cur = store.conn.execute(
        f"INSERT INTO reviews ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", [row[c] for c in cols]
    )
    if cur.lastrowid is None:
        raise RuntimeError("INSERT INTO reviews did not report a row id")
    return cur.lastrowid


def delete_review(store: Store, review_id: int) -> None:
    store.conn.execute("DELETE FROM reviews WHERE id = ?", (review_id,))


def review(store: Store, review_id: int) -> dict[str, Any] | None:
    r = store.conn.execute(f"SELECT {', '.join(_REVIEW_COLS)} FROM reviews WHERE id = ?", (review_id,)).fetchone()
    return dict(zip(_REVIEW_COLS, r)) if r else None


def reviews_of(store: Store, segment_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk, marks in chunked(segment_ids):
        for r in store.conn.execute(
            f"SELECT {', '.join(_REVIEW_COLS)} FROM reviews WHERE segment_id IN ({marks}) ORDER BY id", chunk
        ):
            row = dict(zip(_REVIEW_COLS, r))
            out.setdefault(row["segment_id"], []).append(row)
    return out


def unreviewed_accepted(store: Store) -> list[tuple[int, str, str]]:
    """(segment id, annotator, updated) of accepted annotations made at the annotator tier whose
    current version no review decided on, in segment order."""
    return store.conn.execute(
        "SELECT a.segment_id, a.annotator, a.updated FROM annotations a WHERE a.status = 'accepted' "
        "AND a.tier = 'annotator' AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.segment_id = a.segment_id "
        "AND r.annotator = a.annotator AND r.reviewed_updated = a.updated) ORDER BY a.segment_id, a.annotator"
    ).fetchall()


def sent_back(store: Store, annotator: str) -> list[dict[str, Any]]:
    """The latest send-back of each of ``annotator``'s annotations that is still the current version
    (the annotator has not accepted it again since)."""
    rows = store.conn.execute(
        f"SELECT {', '.join('r.' + c for c in _REVIEW_COLS)} FROM reviews r JOIN annotations a ON "
        "a.segment_id = r.segment_id AND a.annotator = r.annotator AND a.updated = r.reviewed_updated "
        "WHERE r.annotator = ? AND r.decision = 'send_back' AND r.id = (SELECT MAX(r2.id) FROM reviews r2 "
        "WHERE r2.segment_id = r.segment_id AND r2.annotator = r.annotator) ORDER BY r.id",
        (annotator,),
    )
    return [dict(zip(_REVIEW_COLS, r)) for r in rows]


def current_send_backs(store: Store) -> list[dict[str, Any]]:
    """Every send-back that is still the latest decision on the annotation version it was made on,
    with the segment's document hash and offsets and that version's spans (for a bundle)."""
    rows = store.conn.execute(
        f"SELECT {', '.join('r.' + c for c in _REVIEW_COLS)}, d.content_hash, s.start, s.end, a.spans "
        "FROM reviews r JOIN annotations a ON a.segment_id = r.segment_id AND a.annotator = r.annotator "
        "AND a.updated = r.reviewed_updated JOIN segments s ON s.id = r.segment_id JOIN documents d ON d.id = s.doc_id "
        "WHERE r.decision = 'send_back' AND r.id = (SELECT MAX(r2.id) FROM reviews r2 WHERE "
        "r2.segment_id = r.segment_id AND r2.annotator = r.annotator) ORDER BY r.id"
    ).fetchall()
    n = len(_REVIEW_COLS)
    return [
        {
            **dict(zip(_REVIEW_COLS, r[:n])),
            "hash": r[n],
            "start": r[n + 1],
            "end": r[n + 2],
            "spans": final_spans(r[n + 3]),
        }
        for r in rows
    ]


def segment_at(store: Store, content_hash: str, start: int, end: int) -> int | None:
    """The segment of the document with this content hash at these offsets."""
    r = store.conn.execute(
        "SELECT s.id FROM segments s JOIN documents d ON d.id = s.doc_id WHERE d.content_hash = ? AND s.start = ? "
        "AND s.end = ?",
        (content_hash, start, end),
    ).fetchone()
    return r[0] if r else None


def has_review(store: Store, segment_id: int, annotator: str, reviewer: str, created: str) -> bool:
    return (
        store.conn.execute(
            "SELECT 1 FROM reviews WHERE segment_id = ? AND annotator = ? AND reviewer = ? AND created = ?",
            (segment_id, annotator, reviewer, created),
        ).fetchone()
        is not None
    )


def open_segments_for(store: Store, annotator: str, after_id: int, limit: int) -> list[tuple[int, str, int]]:
    """(segment id, document hash, segment start) of segments after ``after_id`` that ``annotator``
    has not accepted or skipped, in id order."""
    return store.conn.execute(
        "SELECT s.id, d.content_hash, s.start FROM segments s JOIN documents d ON d.id = s.doc_id WHERE s.id > ? "
        "AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.segment_id = s.id AND a.annotator = ? AND a.status IN "
        "('accepted', 'skipped')) ORDER BY s.id LIMIT ?",
        (after_id, annotator, limit),
    ).fetchall()


def flagged(store: Store) -> list[tuple[int, str, str, str]]:
    """(segment id, annotator, tier, note) of flagged annotations that no reviewer or expert has
    accepted a version of since."""
    return store.conn.execute(
        "SELECT f.segment_id, f.annotator, f.tier, f.note FROM annotations f WHERE f.status = 'flagged' "
        "AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.segment_id = f.segment_id AND a.annotator != f.annotator "
        "AND a.status = 'accepted' AND a.tier IN ('reviewer', 'expert') AND a.updated > f.updated) "
        "ORDER BY f.segment_id, f.annotator"
    ).fetchall()


# ------------------------------------------------------------------ adjudications
def insert_adjudication(store: Store, row: dict[str, Any]) -> int:
    cols = [c for c in _ADJ_COLS if c != "id" or row.get("id") is not None]
    vals = [json.dumps(row[c], ensure_ascii=False) if c in ("sources", "spans") else row[c] for c in cols]
    cur = store.conn.execute(
        f"INSERT INTO adjudications ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", vals
    )
    if cur.lastrowid is None:
        raise RuntimeError("INSERT INTO adjudications did not report a row id")
    return cur.lastrowid


def delete_adjudication(store: Store, adjudication_id: int) -> None:
    store.conn.execute("DELETE FROM adjudications WHERE id = ?", (adjudication_id,))


def _adj_row(r: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(_ADJ_COLS, r))
    row["sources"] = json.loads(row["sources"])
    row["spans"] = json.loads(row["spans"])
    return row


def adjudication(store: Store, adjudication_id: int) -> dict[str, Any] | None:
    r = store.conn.execute(
        f"SELECT {', '.join(_ADJ_COLS)} FROM adjudications WHERE id = ?", (adjudication_id,)
    ).fetchone()
    return _adj_row(r) if r else None


def latest_adjudications(store: Store, segment_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The latest adjudication of each of these segments that has one."""
    out: dict[int, dict[str, Any]] = {}
    for chunk, marks in chunked(segment_ids):
        for r in store.conn.execute(
            f"SELECT {', '.join(_ADJ_COLS)} FROM adjudications WHERE segment_id IN ({marks}) ORDER BY id", chunk
        ):
            row = _adj_row(r)
            out[row["segment_id"]] = row
    return out


# ------------------------------------------------------------------ errors people made
def insert_person_errors(store: Store, rows: list[dict[str, Any]]) -> None:
    cols = [c for c in ERROR_COLUMNS if c != "id"]
    store.conn.executemany(
        f"INSERT INTO person_errors ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        (
            [json.dumps(row[c]) if c in ("annotated", "final") and row[c] is not None else row[c] for c in cols]
            for row in rows
        ),
    )


def delete_person_errors(store: Store, source: str, ref: int) -> None:
    store.conn.execute("DELETE FROM person_errors WHERE source = ? AND ref = ?", (source, ref))


def person_errors(store: Store, *, annotator: str | None = None, segment_id: int | None = None) -> list[dict[str, Any]]:
    where, args = where_equal((("annotator", annotator), ("segment_id", segment_id)))
    rows = []
    for r in store.conn.execute(f"SELECT {', '.join(ERROR_COLUMNS)} FROM person_errors{where} ORDER BY id", args):
        row = dict(zip(ERROR_COLUMNS, r))
        row["annotated"] = json.loads(row["annotated"]) if row["annotated"] else None
        row["final"] = json.loads(row["final"]) if row["final"] else None
        rows.append(row)
    return rows


def error_profiles(store: Store) -> dict[str, dict[str, Any]]:
    """Per annotator: counts per category, per label and category, and per week (ISO year-week of
    when the error was found) and category."""
    out: dict[str, dict[str, Any]] = {}

    def prof(name: str) -> dict[str, Any]:
        return out.setdefault(name, {"total": 0, "per_category": {}, "per_label": {}, "per_week": {}})

    for name, cat, n in store.conn.execute(
        "SELECT annotator, category, COUNT(*) FROM person_errors GROUP BY annotator, category"
    ):
        p = prof(name)
        p["per_category"][cat] = n
        p["total"] += n
    for name, label, cat, n in store.conn.execute(
        "SELECT annotator, label, category, COUNT(*) FROM person_errors GROUP BY annotator, label, category"
    ):
        prof(name)["per_label"].setdefault(label, {})[cat] = n
    for name, week, cat, n in store.conn.execute(
        "SELECT annotator, strftime('%Y-W%W', substr(created, 1, 19)), category, COUNT(*) FROM person_errors "
        "GROUP BY 1, 2, 3 ORDER BY 2"
    ):
        prof(name)["per_week"].setdefault(week, {})[cat] = n
    reviewed = dict(store.conn.execute("SELECT annotator, COUNT(DISTINCT segment_id) FROM reviews GROUP BY annotator"))
    for name, n in reviewed.items():
        prof(name)["reviewed_segments"] = n
    for p in out.values():
        p.setdefault("reviewed_segments", 0)
    return out
