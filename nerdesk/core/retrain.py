"""When to fine-tune again: the retraining trigger, kept in the project (the app, the CLI and
``nerdesk report`` see the same state).

Two rules, either one makes a fine-tune due: ``every`` corrections have been made since the last
fine-tune, or the audited error rate of auto-accepted segments may exceed ``max_error`` (the upper
end of its 95% interval). :func:`mark_finetuned` records the corrections count a fine-tune used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nerdesk.core import edits
from nerdesk.core.autoaccept import audit_estimate

if TYPE_CHECKING:
    from nerdesk.core.store import Store

DEFAULT_EVERY = 200
DEFAULT_MAX_ERROR = 0.10


def settings(store: Store) -> dict[str, Any]:
    s = store.get_setting("retrain", {}) or {}
    return {"every": int(s.get("every", DEFAULT_EVERY)), "max_error": float(s.get("max_error", DEFAULT_MAX_ERROR))}


def configure(store: Store, *, every: int | None = None, max_error: float | None = None) -> dict[str, Any]:
    if every is not None and every < 1:
        raise ValueError("every must be at least 1")
    if max_error is not None and not 0.0 <= max_error <= 1.0:
        raise ValueError("max_error must be in [0, 1]")
    with store.transaction():
        s = settings(store)
        s.update({k: v for k, v in (("every", every), ("max_error", max_error)) if v is not None})
        store.set_setting("retrain", s)
    return s


def corrections_total(store: Store) -> int:
    return edits.error_report(store, 1)["total"]


def mark_finetuned(store: Store, corrections: int | None = None) -> None:
    """Record that a fine-tune used the corrections made so far (or ``corrections`` of them)."""
    with store.transaction():
        store.set_setting("retrain_last", corrections_total(store) if corrections is None else corrections)


def state(store: Store) -> dict[str, Any]:
    """The trigger's state: corrections since the last fine-tune against ``every``, the audited error
    rate against ``max_error``, whether a fine-tune is ``due`` and why."""
    s = settings(store)
    total = corrections_total(store)
    since = total - int(store.get_setting("retrain_last", 0) or 0)
    est = audit_estimate(store)
    reason = ""
    if since >= s["every"]:
        reason = f"{since} corrections since the last fine-tune"
    elif est["audited"] and est["high"] > s["max_error"]:
        reason = f"the audited error rate may be as high as {est['high']:.0%} (threshold {s['max_error']:.0%})"
    return {
        **s,
        "corrections": total,
        "since_last": since,
        "audited": est["audited"],
        "audited_rate": est["rate"],
        "audited_high": est["high"] if est["audited"] else None,
        "due": bool(reason),
        "reason": reason,
    }


def describe(st: dict[str, Any]) -> str:
    """One line for a status bar or a report."""
    text = f"{st['since_last']}/{st['every']} corrections since the last fine-tune"
    if st["audited"]:
        text += (
            f" · audited error {st['audited_rate']:.0%} (up to {st['audited_high']:.0%}; "
            f"threshold {st['max_error']:.0%})"
        )
    return text + (" · fine-tune due" if st["due"] else "")
