"""What the facade and the services over the store share when they edit: the spans a user is shown
for a segment, the error categories of an accepted annotation, and the ``Changes`` of a segment's
edit (new labels: :func:`nerdesk.core.labels.add_labels`).

These are functions over the :class:`~nerdesk.core.store.Store` (and who is acting, where that
matters) so that a service (review, adjudication, import, predict, bundles, versions) uses them
without importing :class:`~nerdesk.core.project.Project`; the Project's methods of the same names
call them with its store and identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nerdesk.core import settings
from nerdesk.core.categorize import categorize, effort
from nerdesk.core.errors import Errors, err
from nerdesk.core.store import human, now
from nerdesk.core.terms import attach_suggestions
from nerdesk.core.tiers import best_annotation
from nerdesk.core.types import ChangeKind, Changes, Segment, ShownSpan, Span, Step

if TYPE_CHECKING:
    from nerdesk.core.store import Store


# ------------------------------------------------------------------ what a user is shown
def segment(store: Store, user: str, segment_id: int) -> Segment:
    """One segment with its text and the spans ``user`` is shown (E005 if there is none)."""
    rows = store.segments_with_text([segment_id])
    if not rows:
        raise err(Errors.E005, id=segment_id)
    attach_spans(store, user, rows)
    return rows[0]


def segments(store: Store, user: str, segment_ids: list[int]) -> list[Segment]:
    rows = store.segments_with_text(segment_ids)
    attach_spans(store, user, rows)
    return rows


def attach_spans(store: Store, user: str, segments: list[Segment]) -> None:
    """Fill each segment's shown fields: ``spans`` (what ``user`` is shown: their own annotation, else
    the one that counts, else the active model's prediction), ``prediction``, ``annotations`` and
    ``annotation``."""
    ids = [s.id for s in segments]
    model_id = store.active_model_id()
    preds = store.predictions_for(ids, model_id) if model_id else {}
    anns = store.annotations_of(ids)
    for s in segments:
        pred = preds.get(s.id)
        s.prediction = pred
        s.annotations = anns.get(s.id, [])
        mine = next((a for a in s.annotations if a.annotator == user), None)
        shown = mine or best_annotation(s.annotations)
        s.annotation = shown
        if shown is not None:
            confirmed = shown.status == "accepted"
            s.spans = [
                ShownSpan(
                    sp.start,
                    sp.end,
                    sp.label,
                    sp.confidence,
                    sp.origin,
                    sp.source,
                    confirmed=confirmed or sp.origin == "human",
                )
                for sp in shown.spans
            ]
        elif pred is not None:
            s.spans = [ShownSpan(sp.start, sp.end, sp.label, sp.confidence, "model") for sp in pred.spans]
        else:
            s.spans = []
    attach_suggestions(store, segments)  # term-list suggestions merged with the model's (nerdesk.core.terms)


def segment_changes(
    store: Store,
    segment_id: int,
    action: str,
    kind: ChangeKind,
    step: Step = Step.DO,
    *,
    undoable: int | None = None,
) -> Changes:
    """The Changes of an edit of one segment (its document too, for the views); ``undoable``: the
    event it logged that its author can undo."""
    seg = store.segment(segment_id)
    documents = {seg.doc_id} if seg else set()
    return Changes(kind, segments={segment_id}, documents=documents, action=action, step=step, undoable=undoable)


# ------------------------------------------------------------------ error categories
def refresh_corrections_of(store: Store, segment_id: int, annotator: str) -> None:
    """Recompute the corrections and effort of one accepted annotation (inside a transaction)."""
    row = store.annotation(segment_id, annotator)
    if row is None or row.status != "accepted":
        store.replace_corrections(segment_id, annotator, [])
        store.delete_effort(segment_id, annotator)
        return
    model_id = row.model_id or store.active_model_id()
    pred = store.predictions_for([segment_id], model_id).get(segment_id) if model_id else None
    final = [Span(sp.start, sp.end, sp.label) for sp in row.spans]
    if pred is None:  # no pre-annotation to compare with (yet): nothing to categorise
        store.replace_corrections(segment_id, annotator, [])
        store.delete_effort(segment_id, annotator)
        return
    predicted = list(pred.spans)
    seg = store.segments_with_text([segment_id])[0]
    text, base = seg.own_text(), seg.start
    severity = settings.severity(store)
    created = now()
    rows = []
    for c in categorize(predicted, final):
        ref = c.final or c.predicted
        if ref is None:  # a category always has a span on one side
            raise ValueError(f"a correction without a span: {c}")
        rows.append(
            {
                "segment_id": segment_id,
                "annotator": annotator,
                "tier": row.tier,
                "category": c.category,
                "auto_category": c.category,
                "reason": "",
                "label": c.label,
                "predicted": [c.predicted.start, c.predicted.end, c.predicted.label, c.predicted.confidence]
                if c.predicted
                else None,
                "final": [c.final.start, c.final.end, c.final.label] if c.final else None,
                "predicted_label": c.predicted.label if c.predicted else None,
                "final_label": c.final.label if c.final else None,
                "surface": text[ref.start - base : ref.end - base],
                "severity": severity.get(c.label, "normal"),
                "model_id": model_id,
                "guideline_version": row.guideline_version,
                "created": created,
            }
        )
    store.replace_corrections(segment_id, annotator, rows)
    e = effort(predicted, final)
    store.put_effort(
        segment_id,
        annotator,
        e["with_model"],
        e["from_scratch"],
        store.actions_since_last_accept(segment_id, annotator),
    )


def refresh_corrections(store: Store, *, all_: bool = False) -> int:
    """Categorise accepted annotations that have not been yet (imported ones, or ones reviewed
    before any model predicted); ``all_`` recomputes every one. Edits made in the app are
    categorised as they are accepted, so this stays cheap on big projects."""
    rows = human.accepted_keys(store, uncategorised_only=not all_)
    with store.transaction():
        for segment_id, annotator in rows:
            refresh_corrections_of(store, segment_id, annotator)
    return len(rows)


def error_report(store: Store, top: int = 20) -> dict[str, Any]:
    """The corrections by category, label and surface, with the effort they cost."""
    report = store.error_report(top)
    report["effort"] = store.effort_report()
    return report
