"""Auto-accept confident segments, under audit.

A segment is *eligible* when the model predicted it and every predicted span has a calibrated
confidence of at least the threshold, and the whole tag sequence is at least that likely
(``1 - least_confidence``; this keeps out segments where the model may have missed an entity).
Of the eligible segments, a random audit sample (``audit_rate``) goes to humans with status
``audit``; the rest are accepted as the model predicted them (status ``auto``).

The error rate of auto-accepted segments is estimated from the audited ones a human has
since reviewed: a segment is an error when the human's final spans differ from the model's.
The interval is Wilson's score interval, which keeps its coverage for small samples and rates
near 0, where the normal approximation fails.
"""

from __future__ import annotations

import json
import math
import random
from typing import TYPE_CHECKING, Any

from nerdesk.core.store import now

if TYPE_CHECKING:
    from nerdesk.core.project import Project

AUTO_ANNOTATOR = "auto-accept"


def eligible_count(project: Project, threshold: float) -> int:
    """How many new segments the threshold would route past review (for the app's slider)."""
    model_id = project.store.active_model_id()
    if model_id is None:
        return 0
    return project.store.conn.execute(
        "SELECT COUNT(*) FROM predictions p JOIN segments s ON s.id = p.segment_id "
        "WHERE p.model_id = ? AND s.status = 'new' AND p.min_confidence >= ? AND 1 - p.least_confidence >= ?",
        (model_id, threshold, threshold)).fetchone()[0]


def auto_accept(project: Project, threshold: float, *, audit_rate: float = 0.1, seed: int | None = None,
                limit: int | None = None) -> dict[str, int]:
    """Accept eligible new segments without review, except an audit sample. One transaction."""
    if not 0.0 <= audit_rate <= 1.0:
        raise ValueError("audit_rate must be in [0, 1]")
    store = project.store
    model_id = store.active_model_id()
    if model_id is None:
        return {"auto": 0, "audit": 0}
    rng = random.Random(seed)
    rows = store.conn.execute(
        "SELECT p.segment_id, p.spans FROM predictions p JOIN segments s ON s.id = p.segment_id "
        "WHERE p.model_id = ? AND s.status = 'new' AND p.min_confidence >= ? AND 1 - p.least_confidence >= ? "
        "ORDER BY p.segment_id" + (f" LIMIT {int(limit)}" if limit else ""),
        (model_id, threshold, threshold)).fetchall()
    g = store.guideline()
    ts = now()
    auto, audit = [], []
    for segment_id, spans in rows:
        (audit if rng.random() < audit_rate else auto).append((segment_id, json.loads(spans)))
    with store.transaction():
        store.put_annotations({
            "segment_id": sid, "annotator": AUTO_ANNOTATOR, "tier": "annotator", "status": "auto",
            "spans": [{"start": a, "end": b, "label": lab, "confidence": c, "origin": "model"}
                      for a, b, lab, c in spans],
            "note": f"auto-accepted at threshold {threshold}", "guideline_version": g["version"] if g else None,
            "model_id": model_id, "created": ts, "updated": ts} for sid, spans in auto)
        store.conn.executemany("UPDATE segments SET status = 'auto' WHERE id = ?", [(sid,) for sid, _ in auto])
        store.conn.executemany("UPDATE segments SET status = 'audit' WHERE id = ?", [(sid,) for sid, _ in audit])
        store.conn.executemany("INSERT OR REPLACE INTO audits (segment_id, model_id, threshold, created) "
                               "VALUES (?, ?, ?, ?)", [(sid, model_id, threshold, ts) for sid, _ in audit])
        store.set_setting("auto_accept", {"threshold": threshold, "audit_rate": audit_rate, "model": model_id})
        store.log_event(project.user, "auto-accept", "log", None, None,
                        {"threshold": threshold, "audit_rate": audit_rate, "auto": len(auto), "audit": len(audit)})
    return {"auto": len(auto), "audit": len(audit)}


def wilson(errors: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = errors / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def audit_estimate(project: Project) -> dict[str, Any]:
    """Estimated error rate of auto-accepted segments from the audited ones reviewed so far."""
    store = project.store
    rows = store.conn.execute(
        "SELECT u.segment_id, a.spans, p.spans FROM audits u "
        "JOIN annotations a ON a.segment_id = u.segment_id AND a.status = 'accepted' "
        "JOIN predictions p ON p.segment_id = u.segment_id AND p.model_id = u.model_id "
        "GROUP BY u.segment_id").fetchall()
    n = errors = 0
    for _, final, pred in rows:
        n += 1
        f = sorted((sp["start"], sp["end"], sp["label"]) for sp in json.loads(final))
        p = sorted((a, b, lab) for a, b, lab, _ in json.loads(pred))
        errors += f != p
    low, high = wilson(errors, n)
    pending = store.conn.execute("SELECT COUNT(*) FROM segments WHERE status = 'audit'").fetchone()[0]
    auto = store.conn.execute("SELECT COUNT(*) FROM segments WHERE status = 'auto'").fetchone()[0]
    return {"audited": n, "errors": errors, "rate": errors / n if n else None, "low": low, "high": high,
            "pending_audits": pending, "auto_accepted": auto}
