"""SQL for labels, their guidelines and label changes (tables ``labels``, ``guidelines``,
``label_change_rows``, migration m007). Plain functions over a :class:`~nerdesk.core.store.Store`;
the rules (what a rename, merge, split or retire does, what undo puts back) are in
:mod:`nerdesk.core.taxonomy`, the guideline's fields in :mod:`nerdesk.core.guideline`.

A label change rewrites span lists in SQL, never row by row in Python: every span list is written by
``json.dumps`` with its default separators, so a label appears in the stored text exactly as
``"label": "PER"`` (annotations) or ``, "PER", `` (predictions: ``[start, end, label, confidence]``),
and ``replace()`` over the rows holding that text is the rename (1M rows in about a second).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nerdesk.core.store import Store

LABEL_COLS = ("name", "color", "shortcut", "description", "position", "status", "parent",
              "changed_version", "guide")


def _q(label: str) -> str:
    return json.dumps(label, ensure_ascii=False)


def ann_needle(label: str) -> str:
    """How ``label`` appears in an annotation's stored span list."""
    return '"label": ' + _q(label)


def pred_needle(label: str) -> str:
    """How ``label`` appears in a prediction's stored span list (or a correction's ``predicted``)."""
    return ", " + _q(label) + ", "


def final_needle(label: str) -> str:
    """How ``label`` appears at the end of a correction's ``final`` ([start, end, label])."""
    return ", " + _q(label) + "]"


# ---------------------------------------------------------------- labels
def labels(store: Store) -> list[dict[str, Any]]:
    """Every label, retired and split ones included, in palette order; ``guide`` parsed."""
    rows = store.conn.execute(f"SELECT {', '.join(LABEL_COLS)} FROM labels ORDER BY position, name")
    out = []
    for r in rows:
        row = dict(zip(LABEL_COLS, r))
        row["guide"] = json.loads(row["guide"] or "{}")
        out.append(row)
    return out


def put_labels(store: Store, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the whole label table with ``rows`` (undo of a change puts the snapshot back)."""
    store.conn.execute("DELETE FROM labels")
    store.conn.executemany(
        f"INSERT INTO labels ({', '.join(LABEL_COLS)}) VALUES ({', '.join('?' * len(LABEL_COLS))})",
        ([json.dumps(r.get("guide") or {}, ensure_ascii=False) if c == "guide" else r.get(c) for c in LABEL_COLS]
         for r in rows))


def update_label(store: Store, name: str, **fields: Any) -> None:
    """Set some columns of one label (``guide`` as a dict)."""
    if not fields:
        return
    cols = [c for c in fields if c in LABEL_COLS]
    vals = [json.dumps(fields[c], ensure_ascii=False) if c == "guide" else fields[c] for c in cols]
    store.conn.execute(f"UPDATE labels SET {', '.join(c + ' = ?' for c in cols)} WHERE name = ?", [*vals, name])


def insert_label(store: Store, row: dict[str, Any]) -> None:
    put = {c: row.get(c) for c in LABEL_COLS}
    put["status"] = put["status"] or "active"
    put["guide"] = json.dumps(put["guide"] or {}, ensure_ascii=False)
    store.conn.execute(f"INSERT INTO labels ({', '.join(LABEL_COLS)}) VALUES ({', '.join('?' * len(LABEL_COLS))})",
                       [put[c] for c in LABEL_COLS])


def delete_label(store: Store, name: str) -> None:
    store.conn.execute("DELETE FROM labels WHERE name = ?", (name,))


def reparent(store: Store, old: str, new: str | None) -> None:
    """Children of ``old`` become children of ``new``."""
    store.conn.execute("UPDATE labels SET parent = ? WHERE parent = ?", (new, old))


def delete_setting(store: Store, key: str) -> None:
    """Remove a project setting (undo of a change that wrote one the project did not have)."""
    store.conn.execute("DELETE FROM project WHERE key = ?", (key,))


# ---------------------------------------------------------------- guideline versions
def guideline_versions(store: Store) -> list[dict[str, Any]]:
    """Every version, oldest first, without the label snapshots (author, time, what changed)."""
    rows = store.conn.execute("SELECT version, created, author, summary FROM guidelines ORDER BY version")
    return [dict(zip(("version", "created", "author", "summary"), r)) for r in rows]


def guideline_version(store: Store, version: int) -> dict[str, Any] | None:
    r = store.conn.execute("SELECT version, created, author, labels, text, summary FROM guidelines WHERE version = ?",
                           (version,)).fetchone()
    if r is None:
        return None
    return {"version": r[0], "created": r[1], "author": r[2], "labels": json.loads(r[3]), "text": r[4],
            "summary": r[5]}


def set_summary(store: Store, version: int, summary: str) -> None:
    store.conn.execute("UPDATE guidelines SET summary = ? WHERE version = ?", (summary, version))


def delete_guideline_version(store: Store, version: int) -> None:
    """Drop a version that an undone change made (only the latest one is ever dropped)."""
    store.conn.execute("DELETE FROM guidelines WHERE version = ? AND version = (SELECT MAX(version) FROM guidelines)",
                       (version,))


# ---------------------------------------------------------------- renaming in the work
def rename_in_work(store: Store, old: str, new: str) -> dict[str, int]:
    """Every span, prediction, correction and term labelled ``old`` becomes ``new`` (text-exact: the
    reverse rename gives back the same bytes). Returns the rows changed per table."""
    c = store.conn
    n: dict[str, int] = {}
    a_old, a_new = ann_needle(old), ann_needle(new)
    n["annotations"] = c.execute("UPDATE annotations SET spans = replace(spans, ?, ?) WHERE instr(spans, ?) > 0",
                                 (a_old, a_new, a_old)).rowcount
    p_old, p_new = pred_needle(old), pred_needle(new)
    n["predictions"] = c.execute("UPDATE predictions SET spans = replace(spans, ?, ?) WHERE instr(spans, ?) > 0",
                                 (p_old, p_new, p_old)).rowcount
    f_old, f_new = final_needle(old), final_needle(new)
    n["corrections"] = c.execute(
        "UPDATE corrections SET label = CASE WHEN label = ? THEN ? ELSE label END, "
        "predicted_label = CASE WHEN predicted_label = ? THEN ? ELSE predicted_label END, "
        "final_label = CASE WHEN final_label = ? THEN ? ELSE final_label END, "
        "predicted = replace(predicted, ?, ?), final = replace(final, ?, ?) "
        "WHERE label = ? OR predicted_label = ? OR final_label = ?",
        (old, new, old, new, old, new, p_old, p_new, f_old, f_new, old, old, old)).rowcount
    n["terms"] = c.execute("UPDATE terms SET label = ? WHERE label = ?", (new, old)).rowcount
    return n


def count_in_annotations(store: Store, label: str) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM annotations WHERE instr(spans, ?) > 0",
                              (ann_needle(label),)).fetchone()[0]


# ---------------------------------------------------------------- rows kept for undo
def keep_rows(store: Store, event_id: int, labels_: Sequence[str],
              tables: Sequence[str] = ("annotations", "predictions", "corrections", "terms")) -> None:
    """Keep (for undo) every annotation, prediction, correction and term row that holds one of
    ``labels_``, as it is now. One INSERT ... SELECT per table."""
    c = store.conn
    for label in labels_:
        a, p = ann_needle(label), pred_needle(label)
        if "annotations" in tables:
            c.execute("INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, k2, value) "
                      "SELECT ?, 'annotations', segment_id, annotator, spans FROM annotations WHERE instr(spans, ?) > 0",
                      (event_id, a))
        if "predictions" in tables:
            c.execute("INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, k2, value, extra) "
                      "SELECT ?, 'predictions', segment_id, model_id, spans, min_confidence FROM predictions "
                      "WHERE instr(spans, ?) > 0", (event_id, p))
        if "corrections" in tables:
            c.execute("INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, value) "
                      "SELECT ?, 'corrections', id, json_object(" + _corr_json() + ") FROM corrections "
                      "WHERE label = ? OR predicted_label = ? OR final_label = ?", (event_id, label, label, label))
        if "terms" in tables:
            c.execute("INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, value) "
                      "SELECT ?, 'terms', id, json_object('label', label, 'enabled', enabled) FROM terms "
                      "WHERE label = ?", (event_id, label))


_CORR = ("id", "segment_id", "annotator", "tier", "category", "auto_category", "reason", "label", "predicted",
         "final", "predicted_label", "final_label", "surface", "severity", "model_id", "guideline_version",
         "created")


def _corr_json() -> str:
    return ", ".join(f"'{col}', {col}" for col in _CORR)


def kept_count(store: Store, event_id: int) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM label_change_rows WHERE event_id = ?", (event_id,)).fetchone()[0]


def kept_rows(store: Store, event_id: int, tbl: str) -> list[tuple[int, str, str | None, float | None]]:
    return store.conn.execute("SELECT k1, k2, value, extra FROM label_change_rows WHERE event_id = ? AND tbl = ?",
                              (event_id, tbl)).fetchall()


def restore_rows(store: Store, event_id: int) -> None:
    """Put back every row kept for this event, then forget them."""
    c = store.conn
    c.execute("UPDATE annotations SET spans = k.value FROM label_change_rows k WHERE k.event_id = ? AND "
              "k.tbl = 'annotations' AND annotations.segment_id = k.k1 AND annotations.annotator = k.k2", (event_id,))
    c.execute("UPDATE predictions SET spans = k.value, min_confidence = k.extra FROM label_change_rows k "
              "WHERE k.event_id = ? AND k.tbl = 'predictions' AND predictions.segment_id = k.k1 "
              "AND predictions.model_id = k.k2", (event_id,))
    c.execute("UPDATE terms SET label = json_extract(k.value, '$.label'), enabled = json_extract(k.value, '$.enabled') "
              "FROM label_change_rows k WHERE k.event_id = ? AND k.tbl = 'terms' AND terms.id = k.k1", (event_id,))
    c.execute("DELETE FROM corrections WHERE id IN (SELECT k1 FROM label_change_rows WHERE event_id = ? "
              "AND tbl = 'corrections')", (event_id,))
    c.execute(f"INSERT INTO corrections ({', '.join(_CORR)}) SELECT "
              + ", ".join(f"json_extract(value, '$.{col}')" for col in _CORR)
              + " FROM label_change_rows WHERE event_id = ? AND tbl = 'corrections'", (event_id,))
    forget_rows(store, event_id)


def forget_rows(store: Store, event_id: int) -> None:
    store.conn.execute("DELETE FROM label_change_rows WHERE event_id = ?", (event_id,))


# ---------------------------------------------------------------- reading rows of one label
def annotation_rows_with(store: Store, label: str) -> list[tuple[int, str, str]]:
    """(segment id, annotator, spans JSON) of the annotations holding ``label``."""
    return store.conn.execute("SELECT segment_id, annotator, spans FROM annotations WHERE instr(spans, ?) > 0",
                              (ann_needle(label),)).fetchall()


def prediction_rows_with(store: Store, label: str) -> list[tuple[int, str, str]]:
    return store.conn.execute("SELECT segment_id, model_id, spans FROM predictions WHERE instr(spans, ?) > 0",
                              (pred_needle(label),)).fetchall()


def set_annotation_spans(store: Store, rows: Iterable[tuple[str, int, str]]) -> None:
    """rows: (spans JSON, segment id, annotator)."""
    store.conn.executemany("UPDATE annotations SET spans = ? WHERE segment_id = ? AND annotator = ?", rows)


def set_prediction_spans(store: Store, rows: Iterable[tuple[str, float, int, str]]) -> None:
    """rows: (spans JSON, min confidence, segment id, model id)."""
    store.conn.executemany("UPDATE predictions SET spans = ?, min_confidence = ? WHERE segment_id = ? AND model_id = ?",
                           rows)


def delete_corrections_of(store: Store, label: str) -> int:
    return store.conn.execute("DELETE FROM corrections WHERE label = ?", (label,)).rowcount


def disable_terms_of(store: Store, label: str) -> int:
    return store.conn.execute("UPDATE terms SET enabled = 0 WHERE label = ? AND enabled = 1", (label,)).rowcount


# ---------------------------------------------------------------- stale work
def _stale_sql() -> str:
    # a segment is stale for a label when an annotation holds a span of it made under a guideline
    # version older than the one that last changed what the label means, and no one has accepted
    # the segment since (under that version or a later one)
    return ("SELECT DISTINCT a.segment_id, l.name FROM labels l JOIN annotations a "
            "ON instr(a.spans, '\"label\": ' || json_quote(l.name)) > 0 "
            "WHERE l.changed_version IS NOT NULL AND COALESCE(a.guideline_version, 0) < l.changed_version "
            "AND NOT EXISTS (SELECT 1 FROM annotations b WHERE b.segment_id = a.segment_id AND "
            "b.status = 'accepted' AND COALESCE(b.guideline_version, 0) >= l.changed_version)")


def stale_segments(store: Store, limit: int, offset: int = 0, label: str | None = None) -> list[int]:
    sql = f"SELECT DISTINCT segment_id FROM ({_stale_sql()})"
    args: list[Any] = []
    if label is not None:
        sql += " WHERE name = ?"
        args.append(label)
    sql += " ORDER BY segment_id LIMIT ? OFFSET ?"
    return [r[0] for r in store.conn.execute(sql, [*args, limit, offset])]


def currency_per_label(store: Store) -> dict[str, dict[str, int]]:
    """Per label: segments annotated with it ('annotations') and how many of them are stale ('stale')."""
    out: dict[str, dict[str, int]] = {}
    for name, n in store.conn.execute(
            "SELECT l.name, COUNT(DISTINCT a.segment_id) FROM labels l LEFT JOIN annotations a "
            "ON instr(a.spans, '\"label\": ' || json_quote(l.name)) > 0 GROUP BY l.name"):
        out[name] = {"annotations": n, "stale": 0}
    for name, n in store.conn.execute(f"SELECT name, COUNT(*) FROM ({_stale_sql()}) GROUP BY name"):
        out.setdefault(name, {"annotations": n, "stale": 0})["stale"] = n
    return out


def span_counts(store: Store) -> dict[str, int]:
    """Spans per label over every annotation."""
    rows = store.conn.execute("SELECT json_extract(j.value, '$.label') AS label, COUNT(*) FROM annotations a, "
                              "json_each(a.spans) j GROUP BY label")
    return {r[0]: r[1] for r in rows}
