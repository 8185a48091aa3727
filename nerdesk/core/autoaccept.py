"""Auto-accept confident segments, under audit.

A segment is *eligible* when the model predicted it and every predicted span has a calibrated
confidence of at least the threshold, and the whole tag sequence is at least that likely
(``1 - least_confidence``; this keeps out segments where the model may have missed an entity).
Of the eligible segments, a random audit sample (``audit_rate``) goes to humans with status
``audit``; the rest are accepted as the model predicted them (status ``auto``).

Guard rails (:func:`readiness`): auto-accept refuses (E017, unless forced) while the active model
cannot predict one of the project's labels (every segment would pass without them), and while the
segments humans reviewed that were at or above the threshold do not show it to be safe: fewer than
:data:`MIN_EVIDENCE` of them, or a share needing corrections above the rate the user accepts.

The error rate of auto-accepted segments is estimated from the audited ones a human has
since reviewed: a segment is an error when the human's final spans differ from the model's.
The interval is Wilson's score interval, which keeps its coverage for small samples and rates
near 0, where the normal approximation fails.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from nerdesk.core import settings
from nerdesk.core.errors import Errors, err
from nerdesk.core.store import now
from nerdesk.core.store import predictions as predictions_sql
from nerdesk.core.store import segments as segments_sql
from nerdesk.core.types import Annotation, Span

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

AUTO_ANNOTATOR = "auto-accept"
#: The share of segments above the threshold that may need a correction, by default.
MAX_ERROR_RATE = 0.05
#: Reviewed segments at or above the threshold needed before their correction rate is trusted.
MIN_EVIDENCE = 20


def readiness(store: Store, threshold: float, max_error_rate: float = MAX_ERROR_RATE) -> dict[str, Any]:
    """Whether auto-accept may pass segments at ``threshold``: ``ok``, the ``reasons`` it may not
    (each readable as it stands), and the evidence: the human-reviewed segments the active model
    predicted at or above the threshold, how many needed a correction, the rate and its 95%
    (Wilson) interval."""
    model_id = store.active_model_id()
    reasons: list[str] = []
    out: dict[str, Any] = {
        "model": model_id,
        "threshold": threshold,
        "max_error_rate": max_error_rate,
        "reviewed": 0,
        "corrected": 0,
        "rate": None,
        "low": 0.0,
        "high": 1.0,
    }
    if model_id is None:
        return {**out, "ok": False, "reasons": ["no model has pre-annotated the project yet"]}
    model_labels: list[str] = next((m["labels"] for m in store.models() if m["id"] == model_id), [])
    missing = [lab for lab in settings.label_names(store) if lab not in model_labels]
    if missing:
        reasons.append(
            f"the active model ({model_id}) cannot predict {', '.join(missing)}: a segment would "
            "pass review with none of them; fine-tune it on corrections that use them first"
        )
    n = corrected = 0
    for final, pred in store.reviewed_above(model_id, threshold, exclude=AUTO_ANNOTATOR):
        n += 1
        corrected += sorted(sp.key() for sp in final) != sorted(sp.key() for sp in pred)
    low, high = wilson(corrected, n)
    out.update(reviewed=n, corrected=corrected, rate=corrected / n if n else None, low=low, high=high)
    if n < MIN_EVIDENCE:
        reasons.append(
            f"only {n} reviewed segments were predicted at or above {threshold:.2f}: review at least "
            f"{MIN_EVIDENCE - n} more before their correction rate can be trusted"
        )
    elif corrected / n > max_error_rate:
        reasons.append(
            f"{corrected} of {n} reviewed segments predicted at or above {threshold:.2f} needed a "
            f"correction ({corrected / n:.0%}, 95% interval {low:.0%}-{high:.0%}), more than the "
            f"{max_error_rate:.0%} accepted; raise the threshold or fine-tune first"
        )
    return {**out, "ok": not reasons, "reasons": reasons}


def eligible_count(store: Store, threshold: float) -> int:
    """How many new segments the threshold would route past review (for the app's slider)."""
    model_id = store.active_model_id()
    if model_id is None:
        return 0
    return predictions_sql.eligible_count(store, model_id, threshold)


def auto_accept(
    store: Store,
    actor: Identity,
    threshold: float,
    *,
    audit_rate: float = 0.1,
    seed: int | None = None,
    limit: int | None = None,
    max_error_rate: float = MAX_ERROR_RATE,
    force: bool = False,
) -> dict[str, Any]:
    """Accept eligible new segments without review, except an audit sample. One transaction.
    Refused (E017) where :func:`readiness` says no, unless ``force``; the result holds the check."""
    if not 0.0 <= audit_rate <= 1.0:
        raise ValueError("audit_rate must be in [0, 1]")
    check = readiness(store, threshold, max_error_rate)
    if not check["ok"] and not force:
        raise err(Errors.E017, reasons="; ".join(check["reasons"]))
    model_id = store.active_model_id()
    if model_id is None:
        return {"auto": 0, "audit": 0, "check": check}
    rng = random.Random(seed)
    rows = predictions_sql.eligible(store, model_id, threshold, limit)
    g = store.guideline()
    ts = now()
    auto: list[tuple[int, list[Any]]] = []  # (segment id, its predicted spans)
    audit: list[tuple[int, list[Any]]] = []
    for segment_id, spans in rows:
        (audit if rng.random() < audit_rate else auto).append((segment_id, spans))
    with store.transaction():
        store.put_annotations(
            Annotation(
                sid,
                AUTO_ANNOTATOR,
                "annotator",
                "auto",
                tuple(Span(a, b, lab, c, "model") for a, b, lab, c in spans),
                f"auto-accepted at threshold {threshold}",
                g["version"] if g else None,
                model_id,
                ts,
                ts,
            )
            for sid, spans in auto
        )
        segments_sql.set_statuses(store, [sid for sid, _ in auto], "auto")
        segments_sql.set_statuses(store, [sid for sid, _ in audit], "audit")
        predictions_sql.add_audits(store, model_id, threshold, [sid for sid, _ in audit], ts)
        store.set_setting("auto_accept", {"threshold": threshold, "audit_rate": audit_rate, "model": model_id})
        store.log_event(
            actor.user,
            "auto-accept",
            "log",
            None,
            None,
            {"threshold": threshold, "audit_rate": audit_rate, "auto": len(auto), "audit": len(audit)},
        )
    return {"auto": len(auto), "audit": len(audit), "check": check}


def wilson(errors: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = errors / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def audit_estimate(store: Store) -> dict[str, Any]:
    """Estimated error rate of auto-accepted segments from the audited ones reviewed so far."""
    n = errors = 0
    for _, final, pred in predictions_sql.reviewed_audits(store):
        n += 1
        f = sorted(sp.key() for sp in final)
        p = sorted(sp.key() for sp in pred)
        errors += f != p
    low, high = wilson(errors, n)
    pending = segments_sql.count_status(store, "audit")
    auto = segments_sql.count_status(store, "auto")
    return {
        "audited": n,
        "errors": errors,
        "rate": errors / n if n else None,
        "low": low,
        "high": high,
        "pending_audits": pending,
        "auto_accepted": auto,
    }
