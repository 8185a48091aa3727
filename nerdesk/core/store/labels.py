"""SQL for labels, their guidelines and label changes (tables ``labels``, ``guidelines``,
``label_change_rows``, migration m007): :class:`LabelTables`, the Store's methods for labels and the
guideline, and plain functions over a :class:`~nerdesk.core.store.Store` for the rest; the rules (what
a rename, merge, split or retire does, what undo puts back) are in :mod:`nerdesk.core.taxonomy`, the
guideline's fields in :mod:`nerdesk.core.guideline`.

A label change rewrites span lists in SQL, never row by row in Python: every span list is written by
``json.dumps`` with its default separators, so a label appears in the stored text exactly as
``"label": "PER"`` (annotations) or ``, "PER", `` (predictions: ``[start, end, label, confidence]``),
and ``replace()`` over the rows holding that text is the rename (1M rows in about a second).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from nerdesk.core.store import review as review_sql
from nerdesk.core.store.base import Tables, now
from nerdesk.core.store.human import AnnotationTables

if TYPE_CHECKING:
    from nerdesk.core.store import Store

LABEL_COLS = ("name", "color", "shortcut", "description", "position", "status", "parent", "changed_version", "guide")


def _q(label: str) -> str:
    return json.dumps(label, ensure_ascii=False)


def ann_needle(label: str) -> str:
    """How ``label`` appears in an annotation's stored span list."""
    return '"label": ' + _q(label)


def final_needle(label: str) -> str:
    """How ``label`` appears at the end of a correction's ``final`` ([start, end, label])."""
    return ", " + _q(label) + "]"


class LabelTables(Tables):
    """The Store's methods over labels and the guideline's versions (label changes: the functions below)."""

    def labels(self) -> list[dict[str, Any]]:
        """Every label, retired and split ones included, in palette order; ``guide`` parsed."""
        rows = self.conn.execute(f"SELECT {', '.join(LABEL_COLS)} FROM labels ORDER BY position, name")
        out = []
        for r in rows:
            row = dict(zip(LABEL_COLS, r))
            row["guide"] = json.loads(row["guide"] or "{}")
            out.append(row)
        return out

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


# ---------------------------------------------------------------- labels
def labels(store: Store) -> list[dict[str, Any]]:
    """Every label (:meth:`LabelTables.labels`), for the label-change code that speaks in functions."""
    return store.labels()


def put_labels(store: Store, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the whole label table with ``rows`` (undo of a change puts the snapshot back)."""
    store.conn.execute("DELETE FROM labels")
    store.conn.executemany(
        f"INSERT INTO labels ({', '.join(LABEL_COLS)}) VALUES ({', '.join('?' * len(LABEL_COLS))})",
        (
            [json.dumps(r.get("guide") or {}, ensure_ascii=False) if c == "guide" else r.get(c) for c in LABEL_COLS]
            for r in rows
        ),
    )


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
    store.conn.execute(
        f"INSERT INTO labels ({', '.join(LABEL_COLS)}) VALUES ({', '.join('?' * len(LABEL_COLS))})",
        [put[c] for c in LABEL_COLS],
    )


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
    r = store.conn.execute(
        "SELECT version, created, author, labels, text, summary FROM guidelines WHERE version = ?", (version,)
    ).fetchone()
    if r is None:
        return None
    return {"version": r[0], "created": r[1], "author": r[2], "labels": json.loads(r[3]), "text": r[4], "summary": r[5]}


def set_summary(store: Store, version: int, summary: str) -> None:
    store.conn.execute("UPDATE guidelines SET summary = ? WHERE version = ?", (summary, version))


def delete_guideline_version(store: Store, version: int) -> None:
    """Drop a version that an undone change made (only the latest one is ever dropped)."""
    store.conn.execute(
        "DELETE FROM guidelines WHERE version = ? AND version = (SELECT MAX(version) FROM guidelines)", (version,)
    )


# ---------------------------------------------------------------- renaming in the work
#: How many textual forms a label may have in stored predictions (see :func:`merge_in_work`).
MAX_FORMS = 8
#: Between the labels of a chain in a span's "was" (merged twice): U+001F as json.dumps writes it.
WAS_SEP = "\\u001f"


def pred_form(label: str, k: int) -> str:
    """Form ``k`` of ``label`` in a prediction's stored span list: form 1 is what json.dumps writes; the
    others have k spaces after the comma (the same JSON): a merge writes its non-base labels' spans so,
    which tells them apart again for an undo without keeping a copy of any row."""
    return "," + " " * k + _q(label) + ", "


def forms(store: Store) -> dict[str, int]:
    return dict(store.get_setting("label_forms", {}))


def forms_of(store: Store, label: str) -> int:
    return int(forms(store).get(label, 1))


def _set_forms(store: Store, label: str, n: int | None) -> None:
    f = forms(store)
    if n is None or n <= 1:
        f.pop(label, None)
    else:
        f[label] = n
    store.set_setting("label_forms", f)


def _nested_replace(col: str, pairs: list[tuple[str, str]]) -> tuple[str, list[str]]:
    expr, args = col, []
    for a, b in pairs:
        expr = f"replace({expr}, ?, ?)"
        args += [a, b]
    return expr, args


def _any_of(col: str, needles: list[str]) -> tuple[str, list[str]]:
    return " OR ".join(f"instr({col}, ?) > 0" for _ in needles), list(needles)


def _rename_annotations(store: Store, old: str, new: str) -> int:
    a_old, a_new = ann_needle(old), ann_needle(new)
    return store.conn.execute(
        "UPDATE annotations SET spans = replace(spans, ?, ?) WHERE instr(spans, ?) > 0", (a_old, a_new, a_old)
    ).rowcount


def _rename_predictions(store: Store, pairs: list[tuple[str, int, str, int]]) -> int:
    """(old label, its form, new label, the new form) for each form to rewrite, in one pass."""
    if not pairs:
        return 0
    texts = [(pred_form(o, k), pred_form(n, kn)) for o, k, n, kn in pairs]
    expr, args = _nested_replace("spans", texts)
    where, wargs = _any_of("spans", [a for a, _ in texts])
    return store.conn.execute(f"UPDATE predictions SET spans = {expr} WHERE {where}", [*args, *wargs]).rowcount


def _rename_corrections_and_terms(store: Store, old: str, new: str) -> dict[str, int]:
    c = store.conn
    p_old, p_new = pred_form(old, 1), pred_form(new, 1)
    f_old, f_new = final_needle(old), final_needle(new)
    n = {
        "corrections": c.execute(
            "UPDATE corrections SET label = CASE WHEN label = ? THEN ? ELSE label END, "
            "predicted_label = CASE WHEN predicted_label = ? THEN ? ELSE predicted_label END, "
            "final_label = CASE WHEN final_label = ? THEN ? ELSE final_label END, "
            "predicted = replace(predicted, ?, ?), final = replace(final, ?, ?) "
            "WHERE label = ? OR predicted_label = ? OR final_label = ?",
            (old, new, old, new, old, new, p_old, p_new, f_old, f_new, old, old, old),
        ).rowcount
    }
    n["terms"] = c.execute("UPDATE terms SET label = ? WHERE label = ?", (new, old)).rowcount
    return n


def rename_in_work(store: Store, old: str, new: str) -> dict[str, int]:
    """Every span, prediction, correction and term labelled ``old`` becomes ``new`` (text-exact: the
    reverse rename gives back the same bytes; each form of a prediction keeps its form). Returns the rows
    changed per table."""
    n_forms = forms_of(store, old)
    n = {
        "annotations": _rename_annotations(store, old, new),
        "predictions": _rename_predictions(store, [(old, k, new, k) for k in range(1, n_forms + 1)]),
        **_rename_corrections_and_terms(store, old, new),
    }
    _set_forms(store, old, None)
    _set_forms(store, new, n_forms)
    return n


def merge_plan(
    forms_before: dict[str, int], base: str | None, others: list[str], target: str
) -> tuple[list[list[Any]], bool]:
    """The prediction forms a merge gives the others' spans: ([[label, form, target form], ...], whether
    they fit in MAX_FORMS). A pure function of the forms before the merge, so undo works it out again."""
    n = int(forms_before.get(base if base is not None and base != target else target, 1))
    plan = []
    for o in others:
        for k in range(1, int(forms_before.get(o, 1)) + 1):
            n += 1
            plan.append([o, k, n])
    return plan, n <= MAX_FORMS


def merge_in_work(store: Store, event_id: int, base: str | None, others: list[str], target: str) -> dict[str, int]:
    """Every span of ``base`` (None: ``target`` is one of the sources and keeps its spans) and of ``others``
    becomes ``target``, so that :func:`unmerge_in_work` can tell them apart again without a copy of any
    annotation or prediction: an annotation's span of another label gets ``"was": "B"`` after its label
    (a chain where it was merged before), a prediction's span a form of ``target`` of its own (see
    :func:`pred_form`; past ``MAX_FORMS`` the rows are kept instead). Corrections and terms of the others
    are kept (few). One UPDATE per table."""
    c = store.conn
    before = forms(store)
    plan, fits = merge_plan(before, base, others, target)
    renamed = base is not None and base != target
    old = base if base is not None else target  # the base's own name (only read where renamed)
    a_t = ann_needle(target)
    pairs = [(ann_needle(old), a_t)] if renamed else []
    for o in others:
        a_o = ann_needle(o)
        pairs += [(a_o + ', "was": "', a_t + ', "was": ' + _q(o)[:-1] + WAS_SEP), (a_o, a_t + ', "was": ' + _q(o))]
    expr, args = _nested_replace("spans", pairs)
    where, wargs = _any_of("spans", ([ann_needle(old)] if renamed else []) + [ann_needle(o) for o in others])
    n_ann = c.execute(f"UPDATE annotations SET spans = {expr} WHERE {where}", [*args, *wargs]).rowcount
    keep_rows(
        store, event_id, others, tables=("corrections", "terms") if fits else ("corrections", "terms", "predictions")
    )
    n_base = int(before.get(old, 1)) if renamed else 0
    moves = [(old, k, target, k) for k in range(1, n_base + 1)]
    moves += [(o, k, target, kt if fits else 1) for o, k, kt in plan]
    n_pred = _rename_predictions(store, moves)
    for label in ([old] if renamed else []) + others:
        _rename_corrections_and_terms(store, label, target)
        _set_forms(store, label, None)
    _set_forms(store, target, plan[-1][2] if plan and fits else int(before.get(old, 1)))
    return {"annotations": n_ann, "predictions": n_pred}


def unmerge_in_work(
    store: Store, event_id: int, base: str | None, others: list[str], target: str, forms_before: dict[str, int]
) -> None:
    """The reverse of :func:`merge_in_work`, given the forms before it (the caller then puts back the label
    table and the settings). One UPDATE per table."""
    c = store.conn
    plan, fits = merge_plan(forms_before, base, others, target)
    renamed = base is not None and base != target
    old = base if base is not None else target  # the base's own name (only read where renamed)
    a_t = ann_needle(target)
    pairs = []
    for o in others:
        pairs += [
            (a_t + ', "was": ' + _q(o), ann_needle(o)),
            (a_t + ', "was": ' + _q(o)[:-1] + WAS_SEP, ann_needle(o) + ', "was": "'),
        ]
    if renamed:  # what is left of the target was the base
        pairs.append((a_t, ann_needle(old)))
    expr, args = _nested_replace("spans", pairs)
    where, wargs = _any_of("spans", [a_t])
    c.execute(f"UPDATE annotations SET spans = {expr} WHERE {where}", [*args, *wargs])
    moves = [(target, kt, o, k) for o, k, kt in plan] if fits else []
    if renamed:
        moves += [(target, k, old, k) for k in range(1, int(forms_before.get(old, 1)) + 1)]
    _rename_predictions(store, moves)
    restore_rows(store, event_id)  # corrections and terms of the others (and predictions past MAX_FORMS)
    if renamed:
        _rename_corrections_and_terms(store, target, old)


def count_in_annotations(store: Store, label: str) -> int:
    return counts_in_annotations(store, [label])[label]


def counts_in_annotations(store: Store, labels_: Sequence[str]) -> dict[str, int]:
    """Annotations holding each label, in one scan."""
    if not labels_:
        return {}
    cols = ", ".join("COALESCE(SUM(instr(spans, ?) > 0), 0)" for _ in labels_)
    row = store.conn.execute(f"SELECT {cols} FROM annotations", [ann_needle(lab) for lab in labels_]).fetchone()
    return dict(zip(labels_, row))


# ---------------------------------------------------------------- rows kept for undo
def keep_rows(
    store: Store,
    event_id: int,
    labels_: Sequence[str],
    tables: Sequence[str] = ("annotations", "predictions", "corrections", "terms"),
) -> None:
    """Keep (for undo) every annotation, prediction, correction and term row that holds one of
    ``labels_``, as it is now. One INSERT ... SELECT per table."""
    c = store.conn
    for label in labels_:
        a = ann_needle(label)
        if "annotations" in tables:
            c.execute(
                "INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, k2, value) "
                "SELECT ?, 'annotations', segment_id, annotator, spans FROM annotations WHERE instr(spans, ?) > 0",
                (event_id, a),
            )
        if "predictions" in tables:
            where, wargs = _any_of("spans", [pred_form(label, k) for k in range(1, forms_of(store, label) + 1)])
            c.execute(
                "INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, k2, value, extra) "
                f"SELECT ?, 'predictions', segment_id, model_id, spans, min_confidence FROM predictions "
                f"WHERE {where}",
                (event_id, *wargs),
            )
        if "corrections" in tables:
            # every correction of each (segment, annotator) that has one of the label: undo puts back the
            # whole set (an edit in between may have categorised that annotation again)
            c.execute(
                "INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, value) "
                "SELECT ?, 'corrections', id, json_object(" + _corr_json() + ") FROM corrections "
                "WHERE (segment_id, annotator) IN (SELECT segment_id, annotator FROM corrections "
                "WHERE label = ? OR predicted_label = ? OR final_label = ?)",
                (event_id, label, label, label),
            )
        if "terms" in tables:
            c.execute(
                "INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, value) "
                "SELECT ?, 'terms', id, json_object('label', label, 'enabled', enabled) FROM terms "
                "WHERE label = ?",
                (event_id, label),
            )


_CORR = AnnotationTables.CORRECTION_COLUMNS  # the corrections table, as the Store reads and writes it


def _corr_json() -> str:
    return ", ".join(f"'{col}', {col}" for col in _CORR)


def change_stamp(store: Store) -> tuple[int, int]:
    """What tells whether the project changed between two moments: commits by other connections
    (``PRAGMA data_version``) and this connection's own writes (``total_changes``). Equal stamps: rows
    read at the first moment are still what is stored (a split reads its rows before the write lock,
    while a model places them, and writes them under it without reading them again)."""
    return store.conn.execute("PRAGMA data_version").fetchone()[0], store.conn.total_changes


def annotation_rows_of(store: Store, label: str) -> list[tuple[int, int, str, str]]:
    """(rowid, segment id, annotator, spans JSON) of the annotations holding ``label``."""
    return store.conn.execute(
        "SELECT rowid, segment_id, annotator, spans FROM annotations WHERE instr(spans, ?) > 0", (ann_needle(label),)
    ).fetchall()


def rewrite_annotations(store: Store, event_id: int, rows: Sequence[tuple[int, int, str, str, str]]) -> int:
    """Write new span lists, keeping the old text of each row for undo. rows: (rowid, segment id, annotator,
    spans JSON as stored now, new spans JSON), read by :func:`annotation_rows_of` in this transaction or
    under the same :func:`change_stamp`. Two executemany: the kept rows go in from the text already read
    (no join back to annotations), the update finds each row by its rowid (no index lookup)."""
    c = store.conn
    c.executemany(
        "INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, k2, value) VALUES (?, 'annotations', ?, ?, ?)",
        ((event_id, sid, annotator, old) for _rowid, sid, annotator, old, _new in rows),
    )
    c.executemany("UPDATE annotations SET spans = ? WHERE rowid = ?", ((new, rowid) for rowid, *_, new in rows))
    return len(rows)


def capture_redo(store: Store, event_id: int) -> None:
    """Before an undo puts the kept rows back: keep what the change wrote in them, for a redo (a split
    whose spans a model placed cannot ask the model again)."""
    store.conn.execute(
        "INSERT OR REPLACE INTO label_change_rows (event_id, tbl, k1, k2, value) SELECT ?, 'redo', "
        "a.segment_id, a.annotator, a.spans FROM label_change_rows k JOIN annotations a ON "
        "a.segment_id = k.k1 AND a.annotator = k.k2 WHERE k.event_id = ? AND k.tbl = 'annotations'",
        (event_id, event_id),
    )


def redo_annotations(store: Store, event_id: int) -> int:
    """Write again what :func:`capture_redo` kept (keeping the rows as they are now for the next undo)."""
    c = store.conn
    c.execute(
        "INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, k2, value) SELECT ?, 'annotations', "
        "a.segment_id, a.annotator, a.spans FROM label_change_rows k JOIN annotations a ON "
        "a.segment_id = k.k1 AND a.annotator = k.k2 WHERE k.event_id = ? AND k.tbl = 'redo'",
        (event_id, event_id),
    )
    n = c.execute(
        "UPDATE annotations SET spans = k.value FROM label_change_rows k WHERE k.event_id = ? AND "
        "k.tbl = 'redo' AND annotations.segment_id = k.k1 AND annotations.annotator = k.k2",
        (event_id,),
    ).rowcount
    c.execute("DELETE FROM label_change_rows WHERE event_id = ? AND tbl = 'redo'", (event_id,))
    return n


def kept_count(store: Store, event_id: int) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM label_change_rows WHERE event_id = ?", (event_id,)).fetchone()[0]


def restore_rows(store: Store, event_id: int) -> None:
    """Put back every row kept for this event, then forget them."""
    c = store.conn
    c.execute(
        "UPDATE annotations SET spans = k.value FROM label_change_rows k WHERE k.event_id = ? AND "
        "k.tbl = 'annotations' AND annotations.segment_id = k.k1 AND annotations.annotator = k.k2",
        (event_id,),
    )
    c.execute(
        "UPDATE predictions SET spans = k.value, min_confidence = k.extra FROM label_change_rows k "
        "WHERE k.event_id = ? AND k.tbl = 'predictions' AND predictions.segment_id = k.k1 "
        "AND predictions.model_id = k.k2",
        (event_id,),
    )
    c.execute(
        "UPDATE terms SET label = json_extract(k.value, '$.label'), enabled = json_extract(k.value, '$.enabled') "
        "FROM label_change_rows k WHERE k.event_id = ? AND k.tbl = 'terms' AND terms.id = k.k1",
        (event_id,),
    )
    c.execute(
        "DELETE FROM corrections WHERE id IN (SELECT k1 FROM label_change_rows WHERE event_id = ? "
        "AND tbl = 'corrections') OR (segment_id, annotator) IN (SELECT json_extract(value, '$.segment_id'), "
        "json_extract(value, '$.annotator') FROM label_change_rows WHERE event_id = ? AND tbl = 'corrections')",
        (event_id, event_id),
    )
    c.execute(
        f"INSERT INTO corrections ({', '.join(_CORR)}) SELECT "
        + ", ".join(f"json_extract(value, '$.{col}')" for col in _CORR)
        + " FROM label_change_rows WHERE event_id = ? AND tbl = 'corrections'",
        (event_id,),
    )
    _restore_review_tables(store, event_id)
    forget_rows(store, event_id)


def forget_rows(store: Store, event_id: int) -> None:
    """Forget the rows kept for undo (what a redo needs stays)."""
    store.conn.execute("DELETE FROM label_change_rows WHERE event_id = ? AND tbl != 'redo'", (event_id,))


# ---------------------------------------------------------------- review tables (issue 16) under a label change
_PE = review_sql.ERROR_COLUMNS  # the person_errors table (store/review.py)


def adjudication_rows(store: Store) -> list[tuple[int, int, str, str]]:
    """(id, segment id, spans JSON, basis) of every adjudication (a small table: one row per decision)."""
    return store.conn.execute("SELECT id, segment_id, spans, basis FROM adjudications ORDER BY id").fetchall()


def keep_and_set_adjudications(store: Store, event_id: int, rows: Iterable[tuple[int, str, str]]) -> None:
    """rows: (id, new spans JSON, new basis): the old values are kept for undo first."""
    c = store.conn
    for adj_id, spans, basis in rows:
        c.execute(
            "INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, value) SELECT ?, 'adjudications', id, "
            "json_object('spans', spans, 'basis', basis) FROM adjudications WHERE id = ?",
            (event_id, adj_id),
        )
        c.execute("UPDATE adjudications SET spans = ?, basis = ? WHERE id = ?", (spans, basis, adj_id))


def migrate_person_errors(store: Store, event_id: int, mapping: dict[str, str | None]) -> None:
    """The errors people made (reviews, adjudications) follow a label change: ``mapping`` old label -> new
    label, or None where the label was retired (its errors go). The rows touched are kept for undo."""
    c = store.conn
    for old, new in mapping.items():
        c.execute(
            "INSERT OR IGNORE INTO label_change_rows (event_id, tbl, k1, value) SELECT ?, 'person_errors', id, "
            "json_object(" + ", ".join(f"'{col}', {col}" for col in _PE) + ") FROM person_errors WHERE label = ? "
            "OR instr(COALESCE(annotated, ''), ?) > 0 OR instr(COALESCE(final, ''), ?) > 0",
            (event_id, old, _q(old), _q(old)),
        )
        if new is None:
            c.execute("DELETE FROM person_errors WHERE label = ?", (old,))
            continue
        c.execute(
            "UPDATE person_errors SET label = CASE WHEN label = ? THEN ? ELSE label END, "
            "annotated = replace(replace(annotated, ?, ?), ?, ?), final = replace(replace(final, ?, ?), ?, ?) "
            "WHERE label = ? OR instr(COALESCE(annotated, ''), ?) > 0 OR instr(COALESCE(final, ''), ?) > 0",
            (
                old,
                new,
                pred_form(old, 1),
                pred_form(new, 1),
                final_needle(old),
                final_needle(new),
                pred_form(old, 1),
                pred_form(new, 1),
                final_needle(old),
                final_needle(new),
                old,
                _q(old),
                _q(old),
            ),
        )


def _restore_review_tables(store: Store, event_id: int) -> None:
    c = store.conn
    c.execute(
        "UPDATE adjudications SET spans = json_extract(k.value, '$.spans'), basis = json_extract(k.value, "
        "'$.basis') FROM label_change_rows k WHERE k.event_id = ? AND k.tbl = 'adjudications' AND "
        "adjudications.id = k.k1",
        (event_id,),
    )
    c.execute(
        "DELETE FROM person_errors WHERE id IN (SELECT k1 FROM label_change_rows WHERE event_id = ? AND "
        "tbl = 'person_errors')",
        (event_id,),
    )
    c.execute(
        f"INSERT INTO person_errors ({', '.join(_PE)}) SELECT "
        + ", ".join(f"json_extract(value, '$.{col}')" for col in _PE)
        + " FROM label_change_rows WHERE event_id = ? AND tbl = 'person_errors'",
        (event_id,),
    )


# ---------------------------------------------------------------- reading rows of one label
def annotation_rows_with(store: Store, label: str) -> list[tuple[int, str, str]]:
    """(segment id, annotator, spans JSON) of the annotations holding ``label``."""
    return store.conn.execute(
        "SELECT segment_id, annotator, spans FROM annotations WHERE instr(spans, ?) > 0", (ann_needle(label),)
    ).fetchall()


def prediction_rows_with(store: Store, label: str) -> list[tuple[int, str, str]]:
    where, wargs = _any_of("spans", [pred_form(label, k) for k in range(1, forms_of(store, label) + 1)])
    return store.conn.execute(f"SELECT segment_id, model_id, spans FROM predictions WHERE {where}", wargs).fetchall()


def predicted_among(store: Store, model_id: str, labels_: Sequence[str], annotated_with: str) -> dict[int, list]:
    """The model's stored spans of segments whose prediction holds one of ``labels_`` and whose annotation
    holds ``annotated_with`` (one query: a split with no such prediction reads no row into Python)."""
    needles = [pred_form(lab, k) for lab in labels_ for k in range(1, forms_of(store, lab) + 1)]
    where, wargs = _any_of("p.spans", needles)
    rows = store.conn.execute(
        f"SELECT DISTINCT p.segment_id, p.spans FROM predictions p JOIN annotations a ON a.segment_id = p.segment_id "
        f"WHERE p.model_id = ? AND ({where}) AND instr(a.spans, ?) > 0",
        [model_id, *wargs, ann_needle(annotated_with)],
    ).fetchall()
    return {sid: json.loads(spans) for sid, spans in rows}


def set_annotation_spans(store: Store, rows: Iterable[tuple[str, int, str]]) -> None:
    """rows: (spans JSON, segment id, annotator)."""
    store.conn.executemany("UPDATE annotations SET spans = ? WHERE segment_id = ? AND annotator = ?", rows)


def set_prediction_spans(store: Store, rows: Iterable[tuple[str, float, int, str]]) -> None:
    """rows: (spans JSON, min confidence, segment id, model id)."""
    store.conn.executemany(
        "UPDATE predictions SET spans = ?, min_confidence = ? WHERE segment_id = ? AND model_id = ?", rows
    )


def delete_corrections_of(store: Store, label: str) -> int:
    return store.conn.execute("DELETE FROM corrections WHERE label = ?", (label,)).rowcount


def disable_terms_of(store: Store, label: str) -> int:
    return store.conn.execute("UPDATE terms SET enabled = 0 WHERE label = ? AND enabled = 1", (label,)).rowcount


# ---------------------------------------------------------------- stale work
def _stale_sql() -> str:
    # a segment is stale for a label when an annotation holds a span of it made under a guideline
    # version older than the one that last changed what the label means, and no one has accepted
    # the segment since (under that version or a later one)
    return (
        "SELECT DISTINCT a.segment_id, l.name FROM labels l JOIN annotations a "
        "ON instr(a.spans, '\"label\": ' || json_quote(l.name)) > 0 "
        "WHERE l.changed_version IS NOT NULL AND COALESCE(a.guideline_version, 0) < l.changed_version "
        "AND NOT EXISTS (SELECT 1 FROM annotations b WHERE b.segment_id = a.segment_id AND "
        "b.status = 'accepted' AND COALESCE(b.guideline_version, 0) >= l.changed_version)"
    )


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
        "ON instr(a.spans, '\"label\": ' || json_quote(l.name)) > 0 GROUP BY l.name"
    ):
        out[name] = {"annotations": n, "stale": 0}
    for name, n in store.conn.execute(f"SELECT name, COUNT(*) FROM ({_stale_sql()}) GROUP BY name"):
        out.setdefault(name, {"annotations": n, "stale": 0})["stale"] = n
    return out


def span_counts(store: Store) -> dict[str, int]:
    """Spans per label over every annotation."""
    rows = store.conn.execute(
        "SELECT json_extract(j.value, '$.label') AS label, COUNT(*) FROM annotations a, "
        "json_each(a.spans) j GROUP BY label"
    )
    return {r[0]: r[1] for r in rows}
