"""Export a project's documents with their final spans, as DocRecords for any format writer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from nerdesk.core import edits
from nerdesk.core.adjudicate import resolutions
from nerdesk.core.store import human
from nerdesk.core.tiers import best_annotation
from nerdesk.core.types import DocRecord, Span

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

REVIEWED = ("accepted",)


def export_records(store: Store, *, reviewed_only: bool = False, batch: int = 1000) -> Iterator[DocRecord]:
    """Each document with its tokens, sentence (segment) boundaries, the human spans where
    segments were annotated and the active model's predictions. ``reviewed_only`` keeps only
    documents whose every segment was accepted by a reviewer."""
    model_id = store.active_model_id()
    docs = store.iter_documents(batch)
    while True:
        chunk = [d for _, d in zip(range(batch), docs)]
        if not chunk:
            return
        segs_by_doc = store.segments_of_documents([d["id"] for d in chunk])
        seg_ids = [s.id for segs in segs_by_doc.values() for s in segs]
        anns = store.annotations_of(seg_ids)
        resolved = resolutions(store, [i for i in seg_ids if i in anns], anns)  # conflicts: the resolved version
        preds = store.predictions_for(seg_ids, model_id) if model_id else {}
        for doc in chunk:
            segs = segs_by_doc.get(doc["id"], [])
            tokens: list[tuple[int, int]] = []
            spans: list[Span] = []
            predictions: list[Span] = []
            annotated = reviewed = 0
            annotators: set[str] = set()
            for seg in segs:
                tokens.extend(seg.tokens)
                res = resolved.get(seg.id)
                if res is not None and not res.resolved:
                    pass  # an unresolved conflict: nothing of it is exported (nerdesk adjudicate lists it)
                elif res is not None:
                    annotated += 1
                    reviewed += 1
                    annotators.add(res.by or "")
                    spans.extend(Span(sp.start, sp.end, sp.label) for sp in res.spans or [])
                elif (best := best_annotation(anns.get(seg.id, []))) is not None:
                    annotated += 1
                    reviewed += best.status in REVIEWED
                    annotators.add(best.annotator)
                    spans.extend(Span(sp.start, sp.end, sp.label) for sp in best.spans)
                pred = preds.get(seg.id)
                if pred:
                    predictions.extend(pred.spans)
            if reviewed_only and (not segs or reviewed < len(segs)):
                continue
            yield DocRecord(
                text=doc["text"],
                spans=sorted(spans) if annotated else None,
                tokens=tokens,
                sentences=[(s.start, s.end) for s in segs],
                predictions=sorted(predictions) if model_id else None,
                meta=doc["meta"],
                source=doc["source"],
                annotator=next(iter(annotators)) if len(annotators) == 1 else None,
                status="accepted" if segs and reviewed == len(segs) else None,
            )


def export_suggestions(store: Store, actor: Identity, *, batch: int = 1000) -> Iterator[DocRecord]:
    """Silver data: each unreviewed segment (no annotation yet) as its own record, its ``spans`` the
    current suggestions (the active model's merged with the term lists', as the app shows them), with
    their sources in ``meta["suggestions"]`` ([start, end, label, confidence, source] in the record's
    text: "model:ID" or "terms:LIST"), and the document and segment ids in ``meta``."""
    model_id = store.active_model_id()
    last = 0
    while True:
        ids = human.unannotated_ids(store, last, batch)
        if not ids:
            return
        last = ids[-1]
        segs = edits.segments(store, actor.user, ids)
        docs = {d: store.document(d) for d in {s.doc_id for s in segs}}
        for seg in segs:
            base = seg.start
            doc = docs[seg.doc_id] or {}
            spans = [Span(sp.start - base, sp.end - base, sp.label, sp.confidence) for sp in seg.spans]
            sources = [
                [
                    sp.start - base,
                    sp.end - base,
                    sp.label,
                    sp.confidence,
                    sp.source or (f"model:{model_id}" if sp.origin == "model" else "human"),
                ]
                for sp in seg.spans
            ]
            yield DocRecord(
                text=seg.own_text(),
                spans=sorted(spans),
                tokens=[(a - base, b - base) for a, b in seg.tokens],
                sentences=[(0, len(seg.own_text()))],
                meta={
                    **(doc.get("meta") or {}),
                    "document_id": seg.doc_id,
                    "segment_id": seg.id,
                    "suggestions": sources,
                },
                source=doc.get("source", ""),
            )
