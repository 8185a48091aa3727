"""Evaluation: entity-level exact P/R/F1 (overall and per label), partial-match scores, ECE.

* exact: a predicted span counts when start, end and label all match a gold span.
* partial (SemEval-2013 "partial"/"type" style): a prediction overlapping a gold span of the same
  label scores 0.5 when the boundaries differ and 1 when they match; each gold span matched once.
* ECE: 15 equal-width bins over span confidence, accuracy = the span is exactly right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

Record = tuple[Sequence[str], Sequence[tuple[int, int, str]]]


def prf(tp: float, n_pred: float, n_gold: float) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "predicted": n_pred, "gold": n_gold}


def ece(confidences: Sequence[float], correct: Sequence[bool], bins: int = 15) -> float:
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return 0.0
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.sum() / conf.size * abs(conf[sel].mean() - ok[sel].mean())
    return float(total)


def score_spans(
    golds: Iterable[Sequence[tuple[int, int, str]]],
    preds: Iterable[Sequence[tuple]],
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Scores from gold spans and predicted spans (with an optional 4th item, the confidence)."""
    keep = set(labels) if labels is not None else None
    per: dict[str, list[float]] = {}
    partial_tp = 0.0
    confs: list[float] = []
    correct: list[bool] = []
    n_pred = n_gold = tp = 0
    for gold, pred in zip(golds, preds):
        g = [(s[0], s[1], s[2]) for s in gold if keep is None or s[2] in keep]
        p = [s for s in pred if keep is None or s[2] in keep]
        gset = set(g)
        used: set[int] = set()
        for s in p:
            key = tuple(s[:3])
            hit = key in gset
            for lab in (key[2],):
                per.setdefault(lab, [0, 0, 0])[1] += 1
                if hit:
                    per[lab][0] += 1
            tp += hit
            if len(s) > 3 and s[3] is not None:
                confs.append(float(s[3]))
                correct.append(hit)
            # partial: best unmatched overlapping gold of the same label
            best, best_j = 0.0, -1
            for j, (gs, ge, gl) in enumerate(g):
                if j in used or gl != key[2] or ge <= key[0] or key[1] <= gs:
                    continue
                v = 1.0 if (gs, ge) == key[:2] else 0.5
                if v > best:
                    best, best_j = v, j
            if best_j >= 0:
                used.add(best_j)
                partial_tp += best
        for s in g:
            per.setdefault(s[2], [0, 0, 0])[2] += 1
        n_pred += len(p)
        n_gold += len(g)
    out: dict[str, Any] = {
        "exact": prf(tp, n_pred, n_gold),
        "partial": prf(partial_tp, n_pred, n_gold),
        "per_label": {lab: prf(*v) for lab, v in sorted(per.items())},
    }
    out["ece"] = ece(confs, correct) if confs else None
    out["n_spans_with_confidence"] = len(confs)
    return out


def evaluate(
    model, records: Sequence[Record], *, labels: Sequence[str] | None = None, batch_size: int = 1024
) -> dict[str, Any]:
    """Run ``model`` over ``records`` ((tokens, gold spans) pairs) and score it.

    ``labels`` restricts scoring to those labels on both sides (e.g. a corpus without MISC);
    default: the labels the model and the data share.
    """
    records = list(records)
    if labels is None:
        gold_labels = {s[2] for _, spans in records for s in spans}
        labels = sorted(set(model.labels) & gold_labels) if gold_labels else list(model.labels)
    preds: list[Sequence[tuple]] = []
    for i in range(0, len(records), batch_size):
        preds.extend(p.spans for p in model.predict([list(t) for t, _ in records[i : i + batch_size]]))
    out = score_spans([g for _, g in records], preds, labels)
    out["labels"] = list(labels)
    out["n_segments"] = len(records)
    out["n_tokens"] = sum(len(t) for t, _ in records)
    return out
