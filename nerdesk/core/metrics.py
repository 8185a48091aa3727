"""Quality per model version, calibration and drift, measured on the project's reviewed work.

Every model registered in a project keeps its predictions, so each version can be scored
against the spans humans accepted (auto-accepted segments are not evidence and are left out).

* quality: entity-level exact and partial P/R/F1, overall and per label;
* calibration: ECE of span confidence, and a reliability table (confidence bins against the
  share of spans that were exactly right);
* drift: the project's documents in import order, cut into windows; per window the active
  model's mean span confidence, mean uncertainty, and the correction rate of reviewed segments;
  plus the population stability index (PSI) of the uncertainty between the first and the last
  window (PSI > 0.2 is the customary threshold for a shift worth acting on). Input drift twice:
  words no earlier document used, and words the active model never saw in training (its
  package's vocabulary, :mod:`nerdesk.core.model.vocab`, plus the project's segments it was
  fine-tuned on), with the novelty of each segment (its share of such words) as quantiles and a
  histogram.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerdesk.core import edits
from nerdesk.core.model.evaluate import ece, score_spans
from nerdesk.core.model.vocab import held_out_rate, training_vocabulary
from nerdesk.core.model.vocab import words as vocab_words
from nerdesk.core.store import human as human_sql
from nerdesk.core.store import predictions as predictions_sql
from nerdesk.core.store import segments as segments_sql

if TYPE_CHECKING:
    from nerdesk.core.store import Store

BINS = 10
_WORD = re.compile(r"\w+")
#: Fewer never-trained-on reviewed segments than this, and no version is called the best.
MIN_SEGMENTS_FOR_BEST = 50


def segment_hash(text: str) -> str:
    """The content hash that names a trained-on segment in a model card (``trained_segments``)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def trained_segments(base: Iterable[str], texts: Iterable[str] = ()) -> list[str]:
    """The hashes of every segment a model was fine-tuned on: its base's (``base``, the base model
    card's ``trained_segments``) and ``texts``, the new bundles' segments. Written into the new card."""
    return sorted(set(base) | {segment_hash(t) for t in texts})


def trained_on(store: Store, model_id: str) -> set[str]:
    """The segment hashes a registered model's card names as trained on (none for a base model)."""
    card = store.model_card(model_id)
    return set(card.trained_segments) if card else set()


def reviewed_pairs(store: Store, model_id: str) -> tuple[list, list, int]:
    """(gold spans, predicted spans) per reviewed segment this model predicted and was not trained
    on (its card's ``trained_segments``), and how many reviewed segments were left out for that."""
    golds, preds, _, skipped = _reviewed(store, model_id)
    return golds, preds, skipped


def _reviewed(store: Store, model_id: str) -> tuple[list, list, list, int]:
    golds, preds, sources, _, skipped = _reviewed_with_surfaces(store, model_id)
    return golds, preds, sources, skipped


def _reviewed_with_surfaces(store: Store, model_id: str) -> tuple[list, list, list, list, int]:
    trained = trained_on(store, model_id)
    golds, preds, sources, surfaces, skipped = [], [], [], [], 0
    for text, final, pred, source, start in store.reviewed_predictions_by_source(model_id):
        if trained and segment_hash(text) in trained:
            skipped += 1
            continue
        golds.append([s.key() for s in final])
        surfaces.append([text[s.start - start : s.end - start].lower() for s in final])
        preds.append([(p.start, p.end, p.label, p.confidence) for p in pred])
        sources.append(source)
    return golds, preds, sources, surfaces, skipped


#: A surface form or label seen fewer times than this in a model's training segments is long-tail.
LONG_TAIL = 5


def long_tail(store: Store, model_id: str) -> dict[str, Any] | None:
    """Recall on the long tail: gold spans (of reviewed segments the model did not train on) whose
    surface form, or whose label, occurs fewer than LONG_TAIL times in the reviewed segments it did
    train on. None for a model that names no trained-on segment (a base model: its corpora are not
    in the project)."""
    trained = trained_on(store, model_id)
    if not trained:
        return None
    forms: dict[str, int] = {}
    labels: dict[str, int] = {}
    for text, start, spans in store.reviewed_spans():
        if segment_hash(text) not in trained:
            continue
        for sp in spans:
            k = text[sp.start - start : sp.end - start].lower()
            forms[k] = forms.get(k, 0) + 1
            labels[sp.label] = labels.get(sp.label, 0) + 1
    golds, preds, _, surfaces, _ = _reviewed_with_surfaces(store, model_id)
    rare_form = [0, 0]
    rare_label = [0, 0]
    for gold, pred, surf in zip(golds, preds, surfaces):
        found = {tuple(p[:3]) for p in pred}
        for g, form in zip(gold, surf):
            hit = tuple(g) in found
            if forms.get(form, 0) < LONG_TAIL:
                rare_form[0] += hit
                rare_form[1] += 1
            if labels.get(g[2], 0) < LONG_TAIL:
                rare_label[0] += hit
                rare_label[1] += 1
    return {
        "surface_spans": rare_form[1],
        "surface_recall": rare_form[0] / rare_form[1] if rare_form[1] else None,
        "rare_labels": sorted(lab for lab, n in labels.items() if n < LONG_TAIL),
        "label_spans": rare_label[1],
        "label_recall": rare_label[0] / rare_label[1] if rare_label[1] else None,
    }


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
    if len(models) < 2 or any(
        m["reviewed_segments"] < MIN_SEGMENTS_FOR_BEST or not m.get("f1_interval") for m in models
    ):
        return None
    top = max(models, key=lambda m: m["exact"]["f1"])
    if all(top["f1_interval"][0] > m["f1_interval"][1] for m in models if m is not top):
        return top
    return None


def reliability(golds: list, preds: list, bins: int = BINS) -> list[dict[str, Any]]:
    table = [{"low": b / bins, "high": (b + 1) / bins, "n": 0, "confidence": 0.0, "accuracy": 0.0} for b in range(bins)]
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


def model_quality(store: Store, model_id: str) -> dict[str, Any]:
    """Scores on reviewed segments the model did not train on, with their count and a 95% interval."""
    golds, preds, sources, skipped = _reviewed(store, model_id)
    scores = score_spans(golds, preds)
    per_source = {}
    for src in sorted(set(sources)):
        g = [x for x, s_ in zip(golds, sources) if s_ == src]
        p_ = [x for x, s_ in zip(preds, sources) if s_ == src]
        per_source[src] = {"segments": len(g), "f1": score_spans(g, p_)["exact"]["f1"]}
    confs = [s[3] for p in preds for s in p if s[3] is not None]
    correct = [tuple(s[:3]) in {tuple(g) for g in gold} for gold, p in zip(golds, preds) for s in p if s[3] is not None]
    return {
        "model_id": model_id,
        "reviewed_segments": len(golds),
        "trained_on_left_out": skipped,
        "exact": scores["exact"],
        "f1_interval": f1_interval(golds, preds),
        "partial": scores["partial"],
        "per_label": scores["per_label"],
        "ece": ece(confs, correct, BINS) if confs else None,
        "reliability": reliability(golds, preds),
        "per_source": per_source,
        "long_tail": long_tail(store, model_id),
    }


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


#: Buckets of the novelty histogram: a segment's share of words unseen in training, in tenths.
NOVELTY_BINS = 10


def model_vocabulary(store: Store, model_id: str) -> tuple[set[str] | None, dict[str, Any]]:
    """(the words model ``model_id`` was trained on, where they come from): its package's
    vocabulary (or its base's, or the training sample it ships; :func:`training_vocabulary`) and the
    words of the project's segments its card names as trained on (``trained_segments``: a fine-tune
    that wrote no vocabulary of its own still counts them). (None, ...) when nothing is known."""
    card = store.model_card(model_id)
    row = next((m for m in store.models() if m["id"] == model_id), None)
    path = row["path"] if row and row["path"] and Path(row["path"]).is_dir() else None
    found = training_vocabulary(path, card) if path else None
    vocab: set[str] | None = set(found[0]) if found else None
    info: dict[str, Any] = {"source": found[1] if found else None, "words": len(found[0]) if found else 0}
    ref = held_out_rate(path, vocab) if vocab is not None else None
    info["held_out_rate"], info["held_out_words"] = ref if ref else (None, 0)
    trained = set(card.trained_segments) if card else set()
    if trained:
        n = 0
        extra: set[str] = set()
        for text, _ in segments_sql.reviewed_texts(store):
            if segment_hash(text) in trained:
                extra.update(vocab_words(text))
                n += 1
        if n:
            vocab = (vocab or set()) | extra
            info["trained_segments"] = n
            info["words"] = len(vocab)
    return vocab, info


def novelty(rates: list[float]) -> dict[str, Any] | None:
    """Quantiles and a histogram (NOVELTY_BINS tenths) of the segments' unseen-in-training shares."""
    if not rates:
        return None
    xs = sorted(rates)

    def q(p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))]

    hist = [0] * NOVELTY_BINS
    for x in xs:
        hist[min(int(x * NOVELTY_BINS), NOVELTY_BINS - 1)] += 1
    return {
        "segments": len(xs),
        "mean": sum(xs) / len(xs),
        "p50": q(0.5),
        "p90": q(0.9),
        "max": xs[-1],
        "novel_share": sum(x > NOVEL_SEGMENT for x in xs) / len(xs),
        "histogram": hist,
    }


def drift(store: Store, windows: int = 5, sample: int = 5000) -> dict[str, Any]:
    model_id = store.active_model_id()
    n_docs = store.max_document_id()
    if not model_id or n_docs == 0:
        return {"model_id": model_id, "windows": [], "psi": None, "alerts": [], "training_vocabulary": None}
    train_vocab, vocab_info = model_vocabulary(store, model_id)
    size = max(1, math.ceil(n_docs / windows))
    out: list[dict[str, Any]] = []
    first_unc: list[float] = []
    last_unc: list[float] = []
    vocab: set[str] = set()
    for w in range(windows):
        lo, hi = w * size + 1, (w + 1) * size
        rows = list(predictions_sql.window_predictions(store, model_id, lo, hi, sample))
        if not rows:
            continue
        decoded = [spans for spans, _ in rows]
        confs = [sp[3] for spans in decoded for sp in spans if sp[3] is not None]
        labels: dict[str, int] = {}
        for spans in decoded:
            for sp in spans:
                labels[sp[2]] = labels.get(sp[2], 0) + 1
        n_spans = sum(labels.values())
        words = [w for t in store.document_texts(lo, hi, sample) for w in _WORD.findall(t.lower())]
        unseen = sum(w not in vocab for w in words)
        vocab.update(words)
        unc = [u for _, u in rows]
        reviewed, corrected = human_sql.reviewed_and_corrected(store, lo, hi)
        new_words = n_words = 0
        rates = []
        if train_vocab is not None:
            for text in segments_sql.window_texts(store, lo, hi, sample):
                ws = vocab_words(text)
                if ws:
                    u = sum(x not in train_vocab for x in ws)
                    new_words, n_words = new_words + u, n_words + len(ws)
                    rates.append(u / len(ws))
        out.append(
            {
                "documents": [lo, min(hi, n_docs)],
                "segments": len(rows),
                "mean_confidence": sum(confs) / len(confs) if confs else None,
                "mean_uncertainty": sum(unc) / len(unc),
                "reviewed": reviewed,
                "correction_rate": corrected / reviewed if reviewed else None,
                "labels": {k: v / n_spans for k, v in sorted(labels.items())} if n_spans else {},
                "unseen_word_rate": unseen / len(words) if words and w else None,
                "unseen_in_training_rate": new_words / n_words if n_words else None,
                "novelty": novelty(rates),
            }
        )
        if not first_unc:
            first_unc = unc
        last_unc = unc
    # PSI over a handful of segments is noise (two one-document windows "shifted" by 0.37)
    value = (
        psi(first_unc, last_unc) if len(out) > 1 and min(len(first_unc), len(last_unc)) >= PSI_MIN_SEGMENTS else None
    )
    return {
        "model_id": model_id,
        "windows": out,
        "psi": value,
        "alerts": drift_alerts(out, value),
        "training_vocabulary": vocab_info if train_vocab is not None else None,
    }


#: Alert thresholds: PSI of uncertainty, total-variation distance of the predicted label mix,
#: and the unseen-word rate of the newest window (words no earlier document used).
PSI_ALERT = 0.2
#: Segments each of the first and last windows needs before their PSI is computed.
PSI_MIN_SEGMENTS = 50
LABEL_SHIFT_ALERT = 0.2
UNSEEN_ALERT = 0.25
#: Alert when more than this share of the newest window's words never occurs in the active model's
#: training data. bench/input_drift.py (en-base, 1,000 test sentences each): the training corpora's
#: own test splits 6.3-16.2% (tweets the most), their held-out sentences 8.0% (btc 11-16%);
#: ncbi_disease abstracts 20.6%. Political news (crossner_politics, 8.9%) uses ordinary words:
#: its shift shows in the label mix and the correction rate, not here.
UNSEEN_IN_TRAINING_ALERT = 0.18
#: A segment more than this share of whose words are unseen in training counts as novel
#: (``novelty.novel_share``).
NOVEL_SEGMENT = 0.25


def drift_alerts(windows: list[dict[str, Any]], psi_value: float | None) -> list[str]:
    alerts = []
    if psi_value is not None and psi_value > PSI_ALERT:
        alerts.append(
            f"model uncertainty shifted: PSI {psi_value:.2f} between the first and the last window "
            f"(alert above {PSI_ALERT})"
        )
    if len(windows) > 1 and windows[0]["labels"] and windows[-1]["labels"]:
        a, b = windows[0]["labels"], windows[-1]["labels"]
        tv = 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))
        if tv > LABEL_SHIFT_ALERT:
            alerts.append(
                f"the predicted label mix shifted by {tv:.0%} (total variation) between the first and "
                f"the last window (alert above {LABEL_SHIFT_ALERT:.0%})"
            )
    last = windows[-1].get("unseen_in_training_rate") if windows else None
    if last is not None and last > UNSEEN_IN_TRAINING_ALERT:
        nov = windows[-1].get("novelty") or {}
        alerts.append(
            f"{last:.0%} of the newest documents' words never occur in the active model's training data "
            f"(alert above {UNSEEN_IN_TRAINING_ALERT:.0%}; {nov.get('novel_share', 0):.0%} of their segments "
            f"are over {NOVEL_SEGMENT:.0%} unseen): text unlike what it learnt from"
        )
    last = windows[-1]["unseen_word_rate"] if windows else None
    if last is not None and last > UNSEEN_ALERT:
        alerts.append(
            f"{last:.0%} of the newest documents' words appear in no earlier document "
            f"(alert above {UNSEEN_ALERT:.0%}): new vocabulary the model has not been corrected on"
        )
    return alerts


def recurrence(store: Store) -> list[dict[str, Any]]:
    """Per model version: the share of its corrections whose surface form, label and error type had
    already been corrected before the version was registered (what it should have learnt)."""
    models = store.models()
    corr = sorted(store.corrections(), key=lambda c: c["created"] or "")
    out = []
    for m in models:
        before = {
            (c["surface"].lower(), c["label"], c["category"])
            for c in corr
            if (c["created"] or "") < (m["created"] or "")
        }
        mine = [c for c in corr if c["model_id"] == m["id"]]
        again = sum((c["surface"].lower(), c["label"], c["category"]) in before for c in mine)
        out.append(
            {
                "model_id": m["id"],
                "corrections": len(mine),
                "recurring": again,
                "share": again / len(mine) if mine else None,
            }
        )
    return out


def severity_over_time(store: Store) -> list[dict[str, Any]]:
    """Corrections per day by severity (the label's severity when it was corrected)."""
    days: dict[str, dict[str, int]] = {}
    for c in store.corrections():
        d = days.setdefault((c["created"] or "")[:10], {"low": 0, "normal": 0, "high": 0})
        d[c["severity"] if c["severity"] in d else "normal"] += 1
    return [{"day": k, **v} for k, v in sorted(days.items())]


#: Reviewed segments that neither of two consecutive versions trained on (and both predicted):
#: fewer than this, and their cost per F1 point is not given (the difference would be noise).
MIN_COST_SEGMENTS = 20


def shared_unseen(store: Store, a: str, b: str) -> tuple[list, list, list]:
    """(gold, a's predictions, b's predictions) on the reviewed segments both models predicted and
    neither trained on: the one test set on which their F1 can be compared."""
    ta = trained_on(store, a)
    tb = trained_on(store, b)
    trained = ta | tb
    pa, pb = store.reviewed_predictions_by_segment(a), store.reviewed_predictions_by_segment(b)
    golds, preds_a, preds_b = [], [], []
    for sid in sorted(pa.keys() & pb.keys()):
        text, final, pred_a = pa[sid]
        if trained and segment_hash(text) in trained:
            continue
        golds.append([s.key() for s in final])
        preds_a.append([(p.start, p.end, p.label, p.confidence) for p in pred_a])
        preds_b.append([(p.start, p.end, p.label, p.confidence) for p in pb[sid][2]])
    return golds, preds_a, preds_b


def cost_per_point(store: Store, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Between consecutive versions: edit actions taken in between, per exact-F1 point gained, both
    versions scored on the same segments (reviewed, predicted by both, trained on by neither).
    Each version's own score is on a different set of unseen segments, so their difference would
    mix the model's gain with a change of test set. With fewer than MIN_COST_SEGMENTS shared
    segments, or where F1 did not rise, no figure: ``actions_per_point`` is None and ``reason``
    says why."""
    out = []
    for prev, cur in zip(models, models[1:]):
        actions = store.efforts_between(prev["created"], cur["created"])
        golds, pa, pb = shared_unseen(store, prev["id"], cur["id"])
        n = len(golds)
        row: dict[str, Any] = {
            "from": prev["id"],
            "to": cur["id"],
            "actions": actions,
            "segments": n,
            "f1_from": None,
            "f1_to": None,
            "f1_points": None,
            "actions_per_point": None,
            "reason": None,
        }
        if n < MIN_COST_SEGMENTS:
            row["reason"] = f"{n} reviewed segment(s) neither trained on ({MIN_COST_SEGMENTS} needed)"
        else:
            f_prev = score_spans(golds, pa)["exact"]["f1"]
            f_cur = score_spans(golds, pb)["exact"]["f1"]
            gain = (f_cur - f_prev) * 100
            row.update(f1_from=f_prev, f1_to=f_cur, f1_points=gain)
            if gain > 0:
                row["actions_per_point"] = actions / gain
            else:
                row["reason"] = f"F1 did not rise ({gain:+.1f} points on {n} shared segments)"
        out.append(row)
    return out


def report(store: Store, top: int = 10) -> dict[str, Any]:
    """Everything the dashboard shows: quality per model version, calibration, drift, errors."""
    models = [{**m, **model_quality(store, m["id"])} for m in store.models()]
    return {
        "models": models,
        "drift": drift(store),
        "errors": edits.error_report(store, top),
        "recurrence": recurrence(store),
        "severity": severity_over_time(store),
        "cost_per_point": cost_per_point(store, models),
    }
