"""Quality per model version, calibration and drift, measured on the project's reviewed work.

Every model registered in a project keeps its predictions, so each version can be scored
against the spans humans accepted (auto-accepted segments are not evidence and are left out).

* quality: entity-level exact and partial P/R/F1, overall and per label;
* calibration: ECE of span confidence, and a reliability table (confidence bins against the
  share of spans that were exactly right);
* drift: the project's documents in import order, cut into windows; per window the active
  model's mean span confidence, mean uncertainty, and the correction rate of reviewed segments;
  plus the population stability index (PSI) of the uncertainty between the first and the last
  window (PSI > 0.2 is the customary threshold for a shift worth acting on).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from nerdesk.core.model.evaluate import ece, score_spans

if TYPE_CHECKING:
    from nerdesk.core.project import Project

BINS = 10
#: Fewer never-trained-on reviewed segments than this, and no version is called the best.
MIN_SEGMENTS_FOR_BEST = 50


def segment_hash(text: str) -> str:
    """The content hash that names a trained-on segment in a model card (``trained_segments``)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def trained_segments(card: dict[str, Any], texts: Iterable[str] = ()) -> list[str]:
    """The hashes of every segment a model was fine-tuned on: its base's (from ``card``, the base
    model's card) and ``texts``, the new bundles' segments. Written into the new card."""
    return sorted(set(card.get("trained_segments") or []) | {segment_hash(t) for t in texts})


def reviewed_pairs(project: Project, model_id: str) -> tuple[list, list, int]:
    """(gold spans, predicted spans) per reviewed segment this model predicted and was not trained
    on (its card's ``trained_segments``), and how many reviewed segments were left out for that."""
    trained = set(project.store.model_card(model_id).get("trained_segments") or [])
    golds, preds, skipped = [], [], 0
    for text, final, pred in project.store.reviewed_predictions(model_id):
        if trained and segment_hash(text) in trained:
            skipped += 1
            continue
        golds.append([(s["start"], s["end"], s["label"]) for s in final])
        preds.append([tuple(s) for s in pred])
    return golds, preds, skipped


def f1_interval(golds: list, preds: list, *, rounds: int = 300, seed: int = 0) -> tuple[float, float] | None:
    """A 95% bootstrap interval of exact F1 over segments (None below 2 segments)."""
    if len(golds) < 2:
        return None
    per = []
    for gold, pred in zip(golds, preds):
        g = {tuple(x[:3]) for x in gold}
        p = {tuple(x[:3]) for x in pred}
        per.append((len(g & p), len(p), len(g)))
    rng = random.Random(seed)
    n = len(per)
    f1s = []
    for _ in range(rounds):
        tp = fp_ = gold = 0
        for _ in range(n):
            a, b, c = per[rng.randrange(n)]
            tp, fp_, gold = tp + a, fp_ + b, gold + c
        f1s.append(2 * tp / (fp_ + gold) if fp_ + gold else 0.0)
    f1s.sort()
    return f1s[int(0.025 * rounds)], f1s[min(rounds - 1, int(0.975 * rounds))]


def best_model(models: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The version to call best: with two or more versions each scored on at least
    MIN_SEGMENTS_FOR_BEST unseen reviewed segments, the highest F1 if its 95% interval lies above
    every other's; else None (not known yet)."""
    if len(models) < 2 or any(m["reviewed_segments"] < MIN_SEGMENTS_FOR_BEST or not m.get("f1_interval")
                              for m in models):
        return None
    top = max(models, key=lambda m: m["exact"]["f1"])
    if all(top["f1_interval"][0] > m["f1_interval"][1] for m in models if m is not top):
        return top
    return None


def reliability(golds: list, preds: list, bins: int = BINS) -> list[dict[str, Any]]:
    table = [{"low": b / bins, "high": (b + 1) / bins, "n": 0, "confidence": 0.0, "accuracy": 0.0}
             for b in range(bins)]
    for gold, pred in zip(golds, preds):
        gset = {tuple(g) for g in gold}
        for s in pred:
            if s[3] is None:
                continue
            b = min(int(s[3] * bins), bins - 1)
            t = table[b]
            t["n"] += 1
            t["confidence"] += s[3]
            t["accuracy"] += tuple(s[:3]) in gset
    for t in table:
        if t["n"]:
            t["confidence"] /= t["n"]
            t["accuracy"] /= t["n"]
    return table


def model_quality(project: Project, model_id: str) -> dict[str, Any]:
    """Scores on reviewed segments the model did not train on, with their count and a 95% interval."""
    golds, preds, skipped = reviewed_pairs(project, model_id)
    scores = score_spans(golds, preds)
    confs = [s[3] for p in preds for s in p if s[3] is not None]
    correct = [tuple(s[:3]) in {tuple(g) for g in gold} for gold, p in zip(golds, preds) for s in p
               if s[3] is not None]
    return {"model_id": model_id, "reviewed_segments": len(golds), "trained_on_left_out": skipped,
            "exact": scores["exact"], "f1_interval": f1_interval(golds, preds),
            "partial": scores["partial"], "per_label": scores["per_label"],
            "ece": ece(confs, correct, BINS) if confs else None, "reliability": reliability(golds, preds)}


def psi(expected: list[float], actual: list[float], bins: int = BINS) -> float | None:
    if not expected or not actual:
        return None
    lo = min(min(expected), min(actual))
    hi = max(max(expected), max(actual))
    width = (hi - lo) / bins or 1.0

    def hist(xs):
        h = [0] * bins
        for x in xs:
            h[min(int((x - lo) / width), bins - 1)] += 1
        return [(c + 0.5) / (len(xs) + 0.5 * bins) for c in h]

    e, a = hist(expected), hist(actual)
    return sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a))


def drift(project: Project, windows: int = 5, sample: int = 5000) -> dict[str, Any]:
    store = project.store
    model_id = store.active_model_id()
    n_docs = store.max_document_id()
    if not model_id or n_docs == 0:
        return {"model_id": model_id, "windows": [], "psi": None}
    size = max(1, math.ceil(n_docs / windows))
    out, first_unc, last_unc = [], [], []
    for w in range(windows):
        lo, hi = w * size + 1, (w + 1) * size
        rows = store.conn.execute(
            "SELECT p.spans, p.uncertainty FROM predictions p JOIN segments s ON s.id = p.segment_id "
            "WHERE p.model_id = ? AND s.doc_id BETWEEN ? AND ? LIMIT ?", (model_id, lo, hi, sample)).fetchall()
        if not rows:
            continue
        confs = [sp[3] for spans, _ in rows for sp in json.loads(spans) if sp[3] is not None]
        unc = [u for _, u in rows]
        reviewed, corrected = store.conn.execute(
            "SELECT COUNT(DISTINCT a.segment_id), COUNT(DISTINCT c.segment_id) FROM annotations a "
            "JOIN segments s ON s.id = a.segment_id LEFT JOIN corrections c ON c.segment_id = a.segment_id "
            "WHERE a.status = 'accepted' AND s.doc_id BETWEEN ? AND ?", (lo, hi)).fetchone()
        out.append({"documents": [lo, min(hi, n_docs)], "segments": len(rows),
                    "mean_confidence": sum(confs) / len(confs) if confs else None,
                    "mean_uncertainty": sum(unc) / len(unc), "reviewed": reviewed,
                    "correction_rate": corrected / reviewed if reviewed else None})
        if not first_unc:
            first_unc = unc
        last_unc = unc
    return {"model_id": model_id, "windows": out, "psi": psi(first_unc, last_unc) if len(out) > 1 else None}


def report(project: Project, top: int = 10) -> dict[str, Any]:
    """Everything the dashboard shows: quality per model version, calibration, drift, errors."""
    models = project.store.models()
    return {
        "models": [{**m, **model_quality(project, m["id"])} for m in models],
        "drift": drift(project),
        "errors": project.error_report(top),
    }
