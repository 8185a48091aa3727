"""BIO decoding: constrained Viterbi, calibrated span confidences, segment uncertainty scores.

Tag order for a label list ``[L1, L2, ...]`` is ``["O", "B-L1", "I-L1", "B-L2", "I-L2", ...]``.

* Decoding is a Viterbi search over the token log-probabilities with the BIO constraints as hard
  transitions (``I-X`` only after ``B-X`` or ``I-X``), so the output is always a valid sequence.
* Token probabilities are ``softmax(logits / T)`` with the temperature ``T`` fitted on dev data.
* A span's raw confidence is the probability, under these independent token distributions, that
  the span is exactly right: ``p(B-X at start) * prod p(I-X inside) * (1 - p(I-X right after))``.
  A monotone map fitted on dev spans then corrects its shape (raw products are too low for
  uncertain spans): ``span_calibration = {"x": [...], "y": [...]}``, isotonic regression stored as
  piecewise-linear knots, or ``{"per_label": {label: {"x", "y"}}, "x": [...], "y": [...]}`` with a
  map per label and a pooled fallback (or ``[a, b]`` for ``sigmoid(a * logit(c) + b)``);
  ``None``: the raw value.
* Segment scores (all in [0, 1], higher = more uncertain):
  ``least_confidence = 1 - p(best path)``, ``margin = 1 - min over tokens of (top1 - top2)``,
  ``entropy = max over tokens of the token entropy / log(n_tags)``,
  ``mnlp = 1 - exp(mean log p(best tag))`` (the length-normalised log-probability of the path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

SCORE_KEYS = ("least_confidence", "margin", "entropy", "mnlp")


@dataclass
class SegmentPrediction:
    """The model output for one segment (a list of tokens)."""

    spans: list[tuple[int, int, str, float]] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=lambda: {k: 0.0 for k in SCORE_KEYS})
    token_probs: np.ndarray | None = None  # (n_tokens, n_tags), temperature-scaled
    embedding: np.ndarray | None = None  # the segment in the model's feature space, where it has one


def bio_tags(labels: Sequence[str]) -> list[str]:
    tags = ["O"]
    for lab in labels:
        tags += [f"B-{lab}", f"I-{lab}"]
    return tags


def transition_mask(n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """(start (K,), trans (K, K)) additive log-masks: 0 where allowed, -inf where not."""
    k = 1 + 2 * n_labels
    trans = np.zeros((k, k), dtype=np.float32)
    start = np.zeros(k, dtype=np.float32)
    for j in range(n_labels):
        i_tag = 2 + 2 * j
        start[i_tag] = -np.inf
        allowed_prev = {1 + 2 * j, 2 + 2 * j}
        for prev in range(k):
            if prev not in allowed_prev:
                trans[prev, i_tag] = -np.inf
    return start, trans


def log_softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float32) / np.float32(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def viterbi(logp: np.ndarray, lengths: np.ndarray, n_labels: int) -> np.ndarray:
    """Best valid BIO path per row. logp (B, L, K); returns int tags (B, L), -1 beyond length.

    The search over ``transition_mask``'s constraints, in O(B K) a step instead of O(B K^2): O and
    every B-X may follow any tag, so their best predecessor is the best tag overall; I-X may follow
    only B-X or I-X, so its best predecessor is the better of the two. Ties go to the lower tag
    index, as an argmax over all predecessors would."""
    bsz, max_len, k = logp.shape
    out = np.full((bsz, max_len), -1, dtype=np.int64)
    if bsz == 0 or max_len == 0:
        return out
    if k != 1 + 2 * n_labels:
        raise ValueError(f"{k} tags for {n_labels} labels")
    lengths = np.asarray(lengths)
    rows = np.arange(bsz)
    score = logp[:, 0].copy()
    score[:, 2::2] = -np.inf  # no I-X at the start
    back = np.empty((bsz, max_len, k), dtype=np.int16 if k < 2**15 else np.int32)
    back[:, 0] = np.arange(k)
    b_tags = np.arange(1, k, 2, dtype=back.dtype)
    i_tags = b_tags + 1
    new = np.empty_like(score)
    best = np.empty((bsz, k), dtype=back.dtype)
    for t in range(1, max_len):
        top = score.argmax(axis=1)
        top_score = score[rows, top]
        b_score, i_score = score[:, 1::2], score[:, 2::2]
        from_i = i_score > b_score  # a tie goes to B-X (the lower index)
        new[:, 0] = top_score
        new[:, 1::2] = top_score[:, None]
        new[:, 2::2] = np.where(from_i, i_score, b_score)
        new += logp[:, t]
        best[:, 0] = top
        best[:, 1::2] = top[:, None]
        best[:, 2::2] = np.where(from_i, i_tags, b_tags)
        live = t < lengths
        if live.all():
            score, new = new, score
            back[:, t] = best
        else:
            score[live] = new[live]
            back[:, t] = np.where(live[:, None], best, np.arange(k, dtype=back.dtype))
    cur = score.argmax(axis=1)
    for t in range(max_len - 1, -1, -1):
        out[:, t] = cur
        cur = back[rows, t, cur]
    out[np.arange(max_len)[None] >= lengths[:, None]] = -1
    return out


def span_arrays(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The spans of a batch of valid BIO tag-id paths (B, L), -1 beyond each length, as arrays
    ``(segment, start, end, label index)`` in segment then start order: what
    :func:`spans_from_tag_ids` gives row by row, vectorised."""
    bsz, max_len = paths.shape
    lab = (paths - 1) // 2  # the label of B-X and I-X; -1 for O and padding
    prev = np.full_like(lab, -1)
    prev[:, 1:] = lab[:, :-1]
    cont = np.zeros((bsz, max_len + 1), dtype=bool)  # the token carries on the span before it
    cont[:, :max_len] = (paths > 0) & (paths % 2 == 0) & (prev == lab)
    starts = (paths > 0) & ~cont[:, :max_len]
    seg, start = np.nonzero(starts)
    stops = np.flatnonzero(~cont)  # a span ends at the first token after it that does not carry on
    flat = seg * (max_len + 1) + start
    end = stops[np.searchsorted(stops, flat, side="right")] - seg * (max_len + 1)
    return seg, start, end, lab[seg, start]


def spans_from_tag_ids(tag_ids: Sequence[int] | np.ndarray, labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """Spans from a valid BIO tag-id sequence (as Viterbi produces)."""
    spans = []
    start = None
    cur = -1
    for i, t in enumerate(tag_ids):
        t = int(t)
        if t <= 0 or t % 2 == 1 or (t - 2) // 2 != cur:
            if start is not None:
                spans.append((start, i, labels[cur]))
                start = None
            if t > 0:
                cur = (t - 1) // 2
                start = i
            else:
                cur = -1
    if start is not None:
        spans.append((start, len(tag_ids), labels[cur]))
    return spans


def spans_from_bio(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Token spans ``(start, end, label)`` from IOB2, IOB1 or BIOES/BILOU tags: the importer's
    decoder (:func:`nerdesk.core.formats._tokens.tags_to_spans`) over token indices, so training and
    evaluation read a file as an import does (a stray ``I-X`` starts a span, as conlleval's; ``E-``
    and ``S-`` end one). A bad tag raises ``InvalidTag``."""
    from nerdesk.core.formats._tokens import tags_to_spans

    return [(s.start, s.end, s.label) for s in tags_to_spans(tags, [(i, i + 1) for i in range(len(tags))])]


def calibrate_span(conf: float, span_calibration, label: str | None = None) -> float:
    if span_calibration is None:
        return conf
    if isinstance(span_calibration, dict):
        m = (span_calibration.get("per_label") or {}).get(label, span_calibration)
        return float(np.clip(np.interp(conf, m["x"], m["y"]), 0.0, 1.0))
    a, b = span_calibration
    c = min(max(conf, 1e-6), 1 - 1e-6)
    z = a * np.log(c / (1 - c)) + b
    return float(1.0 / (1.0 + np.exp(-z)))


def calibrate_spans(confs: Sequence[float], labels: Sequence[str], span_calibration) -> list[float]:
    """:func:`calibrate_span` for many spans at once (one interpolation per label)."""
    if span_calibration is None or not len(confs):
        return [float(c) for c in confs]
    names = sorted(set(labels))
    index = {lab: i for i, lab in enumerate(names)}
    return _calibrate(
        np.asarray(confs, dtype=np.float64), np.array([index[lab] for lab in labels]), names, span_calibration
    ).tolist()


def _calibrate(confs: np.ndarray, label_ids: np.ndarray, labels: Sequence[str], span_calibration) -> np.ndarray:
    """Calibrated confidences (float64) of spans given as raw confidences and indices into ``labels``."""
    if span_calibration is None or not len(confs):
        return confs.astype(np.float64)
    if not isinstance(span_calibration, dict):
        return np.array([calibrate_span(float(c), span_calibration, labels[j]) for c, j in zip(confs, label_ids)])
    c = np.asarray(confs, dtype=np.float64)
    out = np.empty_like(c)
    per = span_calibration.get("per_label") or {}
    for j in np.unique(label_ids).tolist():
        sel = label_ids == j
        m = per.get(labels[j], span_calibration)
        out[sel] = np.interp(c[sel], m["x"], m["y"])
    return np.clip(out, 0.0, 1.0)


def fold_target(label: str, wanted: set[str], parents: Mapping[str, str]) -> str | None:
    """The wanted label an unwanted ``label`` counts as: itself, else its nearest wanted ancestor
    in ``parents``, else None (O)."""
    seen = set()
    while label not in wanted:
        if label in seen or label not in parents:
            return None
        seen.add(label)
        label = parents[label]
    return label


def decode_batch(
    logits: np.ndarray,
    lengths: Sequence[int],
    labels: Sequence[str],
    temperature: float = 1.0,
    keep_probs: bool = False,
    span_calibration=None,
    only: Iterable[str] | None = None,
    parents: Mapping[str, str] | None = None,
) -> list[SegmentPrediction]:
    """Turn raw logits (B, L, K) into SegmentPredictions.

    ``only``: the labels asked for (a project's label set). The other labels' probability goes
    to O: a project that does not annotate a kind of entity wants its words left untagged. So
    spans, confidences and uncertainty scores are about the wanted labels only (a word torn
    between two unwanted labels is a confident O), and an unwanted entity is not forced into a
    wanted label. (Ruling the other tags out before the softmax instead turned MISC-like words
    into PER/ORG/LOC false positives in projects without MISC: review effort on uner_en_ewt and
    gum_ne was a third worse.) ``parents``: label -> the broader label it is a kind of (a
    fine-tune's ``politician`` -> ``PER``, see :func:`fold_target`); an unwanted label's
    probability goes to its nearest wanted ancestor's B/I tags instead of O.
    """
    lens = np.asarray(lengths, dtype=np.int64)
    n_labels = len(labels)
    logp = log_softmax(logits, temperature)
    if only is not None:
        wanted = set(only)
        index = {lab: j for j, lab in enumerate(labels)}
        off = []
        for j, lab in enumerate(labels):
            if lab in wanted:
                continue
            to = fold_target(lab, wanted, parents or {})
            for t in (1, 2):  # B-lab into B-to (or O), I-lab into I-to (or O)
                dst = 0 if to is None else t + 2 * index[to]
                logp[..., dst] = np.logaddexp(logp[..., dst], logp[..., t + 2 * j])
                off.append(t + 2 * j)
        if off:
            logp[..., off] = -1e4
    paths = viterbi(logp, lens, n_labels)
    probs = np.exp(logp)
    k = logp.shape[-1]
    # token-level quantities, vectorised over the whole batch
    path_idx = np.maximum(paths, 0)
    path_logp = np.take_along_axis(logp, path_idx[..., None], axis=-1)[..., 0]
    top2 = np.sort(probs, axis=-1)[..., -2:] if k >= 2 else np.concatenate([np.zeros_like(probs), probs], axis=-1)
    tok_margin = top2[..., 1] - top2[..., 0]
    tok_ent = -(probs * logp).sum(axis=-1) / max(np.log(k), 1e-9)
    # segment scores, vectorised with a mask of the real tokens
    live = np.arange(logp.shape[1])[None, :] < lens[:, None]
    n_tok = np.maximum(lens, 1)
    lp_sum = np.where(live, path_logp, 0.0).sum(axis=1)
    least = 1.0 - np.exp(lp_sum)
    mnlp = 1.0 - np.exp(lp_sum / n_tok)
    margin = 1.0 - np.where(live, tok_margin, np.inf).min(axis=1)
    entropy = np.clip(np.where(live, tok_ent, -np.inf).max(axis=1), 0.0, 1.0)
    # spans and their raw confidence p(B-X at start) * prod p(I-X inside) * (1 - p(I-X after)),
    # multiplied in the order (and the float32 inside product) of one span at a time
    seg, start, end, span_label = span_arrays(paths)
    conf = probs[seg, start, 1 + 2 * span_label].astype(np.float64)
    i_tag = 2 + 2 * span_label
    inside = np.ones(len(seg), dtype=np.float32)
    for d in range(1, int((end - start).max(initial=1))):
        sel = np.flatnonzero(end - start > d)
        inside[sel] *= probs[seg[sel], start[sel] + d, i_tag[sel]]
    after = np.ones(len(seg), dtype=np.float32)
    sel = np.flatnonzero(end < lens[seg])
    after[sel] = np.float32(1.0) - probs[seg[sel], end[sel], i_tag[sel]]
    conf = np.clip(conf * inside.astype(np.float64) * after.astype(np.float64), 0.0, 1.0)
    confs = _calibrate(conf, span_label, labels, span_calibration).tolist()
    names = [labels[j] for j in span_label.tolist()]
    found = list(zip(start.tolist(), end.tolist(), names, confs))
    bounds = np.searchsorted(seg, np.arange(len(lens) + 1)).tolist()
    per_seg = [found[bounds[b] : bounds[b + 1]] for b in range(len(lens))]
    out = []
    seg_scores = zip(least.tolist(), margin.tolist(), entropy.tolist(), mnlp.tolist())
    for b, (n, (lc, mg, en, mn)) in enumerate(zip(lens.tolist(), seg_scores)):
        if n == 0:
            out.append(SegmentPrediction(token_probs=probs[b, :0] if keep_probs else None))
            continue
        scores = {"least_confidence": lc, "margin": mg, "entropy": en, "mnlp": mn}
        out.append(
            SegmentPrediction(spans=per_seg[b], scores=scores, token_probs=probs[b, :n].copy() if keep_probs else None)
        )
    return out
