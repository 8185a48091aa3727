"""SQL over models' predictions joined to their segments: the queue's most uncertain segments,
what auto-accept may take, the audits it leaves, and the monitoring windows. Plain functions over
a :class:`~nerdesk.core.store.Store`; the rules are in routing.py, autoaccept.py and metrics.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nerdesk.core.store import Store

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


def reviewed_audits(store: Store) -> list[tuple[int, list[dict], list[list]]]:
    """(segment id, the reviewer's spans, the model's spans) of every audited segment reviewed so far."""
    rows = store.conn.execute(
        "SELECT u.segment_id, a.spans, p.spans FROM audits u "
        "JOIN annotations a ON a.segment_id = u.segment_id AND a.status = 'accepted' "
        "JOIN predictions p ON p.segment_id = u.segment_id AND p.model_id = u.model_id "
        "GROUP BY u.segment_id"
    ).fetchall()
    return [(sid, json.loads(final), json.loads(pred)) for sid, final, pred in rows]


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
