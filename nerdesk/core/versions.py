"""Model versions in a project: register, compare, promote, roll back.

The active model is the one whose predictions the queue, the colours and auto-accept use.
Promoting a model registers it, makes it active and predicts every segment it has not seen;
rolling back re-activates the previous model, whose predictions are still stored, so it is
instant. The history of activations is kept in the project.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerdesk.core import edits
from nerdesk.core.errors import Errors, err
from nerdesk.core.types import Progress

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity


def history(store: Store) -> list[str]:
    return list(store.get_setting("model_history", []))


def _activate(store: Store, actor: Identity, model_id: str) -> None:
    with store.transaction():
        store.set_active_model(model_id)
        h = history(store)
        if not h or h[-1] != model_id:
            h.append(model_id)
        store.set_setting("model_history", h)
        store.log_event(actor.user, "activate model", "log", None, None, {"model": model_id})


def promote(store: Store, actor: Identity, model: Any, *, threads: int = 1) -> Generator[Progress, None, str]:
    """Register ``model`` (a loaded model or a path), make it active, predict what it has not seen."""
    from nerdesk.core.predict import predict_project, register

    if model is None or isinstance(model, (str, Path)):
        from nerdesk.core.model import load_model

        model = load_model(model, threads=threads)
    register(store, actor, model, activate=False)
    yield from predict_project(store, actor, model, activate=False)
    _activate(store, actor, model.id)
    edits.refresh_corrections(store)
    return model.id


def rollback(store: Store, actor: Identity) -> str:
    """Re-activate the model that was active before the current one."""
    h = history(store)
    current = store.active_model_id()
    while h and h[-1] == current:
        h.pop()
    if not h:
        raise err(Errors.E015)
    previous = h[-1]
    with store.transaction():
        store.set_active_model(previous)
        store.set_setting("model_history", h)
        store.log_event(actor.user, "roll back model", "log", None, None, {"from": current, "to": previous})
    return previous


def compare(store: Store) -> list[dict[str, Any]]:
    """Each registered model's quality on the reviewed segments it was not trained on (their count,
    the F1's 95% interval, how many trained-on ones were left out), newest first; ``best`` marks the
    one version that is better beyond doubt (see :func:`nerdesk.core.metrics.best_model`); for a
    fine-tuned model, also its card's forgetting measure (``base_domain_f1``: the base model's and
    its own F1 on held-out data of the base model's domain, or None)."""
    from nerdesk.core.metrics import best_model, model_quality

    out, quality = [], []
    for m in reversed(store.models()):
        q = model_quality(store, m["id"])
        quality.append(q)
        card = store.model_card(m["id"])
        fg = card.finetune.get("forgetting") if card else None
        out.append(
            {
                "id": m["id"],
                "name": m["name"],
                "version": m["version"],
                "active": m["active"],
                "created": m["created"],
                "reviewed_segments": q["reviewed_segments"],
                "trained_on_left_out": q["trained_on_left_out"],
                "f1": q["exact"]["f1"],
                "f1_interval": q["f1_interval"],
                "precision": q["exact"]["precision"],
                "recall": q["exact"]["recall"],
                "ece": q["ece"],
                "base_domain_f1": {"before": fg["before"], "after": fg["after"]} if fg else None,
            }
        )
    best = best_model(quality)
    for row in out:
        row["best"] = best is not None and row["id"] == best["model_id"]
    return out
