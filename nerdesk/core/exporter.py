"""Export a project's documents with their final spans, as DocRecords for any format writer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from nerdesk.core.tiers import best_annotation
from nerdesk.core.types import DocRecord, Span

if TYPE_CHECKING:
    from nerdesk.core.project import Project

REVIEWED = ("accepted",)


def export_records(project: Project, *, reviewed_only: bool = False, batch: int = 1000) -> Iterator[DocRecord]:
    """Each document with its tokens, sentence (segment) boundaries, the human spans where
    segments were annotated and the active model's predictions. ``reviewed_only`` keeps only
    documents whose every segment was accepted by a reviewer."""
    store = project.store
    model_id = store.active_model_id()
    docs = store.iter_documents(batch)
    while True:
        chunk = [d for _, d in zip(range(batch), docs)]
        if not chunk:
            return
        segs_by_doc = store.segments_of_documents([d["id"] for d in chunk])
        seg_ids = [s["id"] for segs in segs_by_doc.values() for s in segs]
        anns = store.annotations_of(seg_ids)
        preds = store.predictions_for(seg_ids, model_id) if model_id else {}
        for doc in chunk:
            segs = segs_by_doc.get(doc["id"], [])
            tokens: list[tuple[int, int]] = []
            spans: list[Span] = []
            predictions: list[Span] = []
            annotated = reviewed = 0
            annotators: set[str] = set()
            for seg in segs:
                base = seg["start"]
                flat = seg["tokens"]
                tokens.extend((base + a, base + b) for a, b in zip(flat[::2], flat[1::2]))
                best = best_annotation(anns.get(seg["id"], []))
                if best is not None:
                    annotated += 1
                    reviewed += best["status"] in REVIEWED
                    annotators.add(best["annotator"])
                    spans.extend(Span(sp["start"], sp["end"], sp["label"]) for sp in best["spans"])
                pred = preds.get(seg["id"])
                if pred:
                    predictions.extend(Span(a, b, lab, c) for a, b, lab, c in pred["spans"])
            if reviewed_only and (not segs or reviewed < len(segs)):
                continue
            yield DocRecord(
                text=doc["text"],
                spans=sorted(spans) if annotated else None,
                tokens=tokens,
                sentences=[(s["start"], s["end"]) for s in segs],
                predictions=sorted(predictions) if model_id else None,
                meta=doc["meta"],
                source=doc["source"],
                annotator=next(iter(annotators)) if len(annotators) == 1 else None,
                status="accepted" if segs and reviewed == len(segs) else None,
            )
