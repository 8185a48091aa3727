"""Agreement between people who annotated the same segments (double annotation from bundles, or a
share of the queue sent to two annotators).

Over every segment with two or more accepted annotations (each annotator a rater; the model is not
one), per label and overall:

* ``span_f1_exact``: pairwise span-level F1, a span matching only a span of the same start, end and
  label (2·matches / (spans of one + spans of the other), summed over the pairs' shared segments);
* ``span_f1_partial``: the same with overlapping spans of the same label matching, one to one;
* ``kappa``: Cohen's κ on token tags (a token's tag is the label of the span it starts in, ``O``
  outside any), per pair; overall and per label (the label against everything else) it is the
  mean over the pairs (Light's κ);
* ``alpha``: Krippendorff's α, nominal, with tokens as units and every rater who annotated a
  token's segment as a coder (missing elsewhere); for two raters or more.

A figure that is undefined (no pair shares a segment, or every tag is the same so chance agreement
is total) is ``None``. The figures equal scikit-learn's ``cohen_kappa_score`` and the
``krippendorff`` package's ``alpha`` (tests/core/test_agreement.py).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from nerdesk.core.store import review as review_store

if TYPE_CHECKING:
    from nerdesk.core.store import Store

Key = tuple[int, int, str]
FIGURES = ("span_f1_exact", "span_f1_partial", "kappa", "alpha")


def partial_matches(a: Sequence[Key], b: Sequence[Key]) -> int:
    """Overlapping spans of the same label matched one to one (exact pairs first, then the largest
    overlap first)."""
    sa, sb = set(a), set(b)
    exact = sa & sb
    ra = sorted(sa - exact)
    rb = sorted(sb - exact)
    pairs = sorted(
        (
            (min(x[1], y[1]) - max(x[0], y[0]), i, j)
            for i, x in enumerate(ra)
            for j, y in enumerate(rb)
            if x[2] == y[2] and x[0] < y[1] and y[0] < x[1]
        ),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    for _, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return len(exact) + len(used_a)


def _f1(matches: float, total: float) -> float | None:
    return 2 * matches / total if total else None


def cohen_kappa(cm: np.ndarray) -> float | None:
    """κ from a confusion matrix of two raters (None where chance agreement is total)."""
    n = cm.sum()
    if n == 0:
        return None
    po = np.trace(cm) / n
    pe = float((cm.sum(axis=0) * cm.sum(axis=1)).sum()) / (n * n)
    if pe >= 1.0:
        return None
    return float((po - pe) / (1 - pe))


def krippendorff_alpha(values: np.ndarray, n_values: int) -> float | None:
    """Nominal α of a coders × units matrix of value ids (-1: missing)."""
    if values.size == 0:
        return None
    counts = np.stack([(values == c).sum(axis=0) for c in range(n_values)])  # values × units
    m = counts.sum(axis=0)
    keep = m >= 2
    counts, m = counts[:, keep], m[keep]
    if m.size == 0:
        return None
    n_c = counts.sum(axis=1).astype(np.float64)
    n = n_c.sum()
    expected = n * n - (n_c * n_c).sum()
    if expected <= 0:
        return None
    observed = ((m.astype(np.float64) ** 2 - (counts.astype(np.float64) ** 2).sum(axis=0)) / (m - 1)).sum()
    return float(1 - (n - 1) * observed / expected)


def pairs_alpha(
    values: np.ndarray, n_values: int, label: int | None = None, _cache: dict[str, Any] | None = None
) -> float | None:
    """:func:`krippendorff_alpha` of a coders × units matrix (-1: missing), from pairwise comparisons
    of the coders (no values × units table: a few coders, millions of units); ``label``: that value
    against every other (binary). ``_cache``: a dict kept between calls on the same matrix."""
    if values.size == 0:
        return None
    cache = _cache if _cache is not None else {}
    if "v" not in cache:
        valid = values >= 0
        m = valid.sum(axis=0)
        keep = m >= 2
        cache.update(v=values[:, keep], ok=valid[:, keep], mk=m[keep].astype(np.float64))
    v, ok, mk = cache["v"], cache["ok"], cache["mk"]
    if mk.size == 0:
        return None
    if label is not None:
        v = (v == label).astype(np.int16)
        n_values = 2
    # sum over values of (coders giving it)^2 per unit = m + 2 * (agreeing pairs of coders)
    same = np.zeros(mk.shape, dtype=np.float64)
    for r, s in combinations(range(v.shape[0]), 2):
        same += ok[r] & ok[s] & (v[r] == v[s])
    sq = mk + 2 * same
    n_c = np.zeros(n_values, dtype=np.float64)
    for r in range(v.shape[0]):
        n_c += np.bincount(v[r][ok[r]].astype(np.int64), minlength=n_values)[:n_values]
    n = n_c.sum()
    expected = n * n - (n_c * n_c).sum()
    if expected <= 0:
        return None
    observed = ((mk * mk - sq) / (mk - 1)).sum()
    return float(1 - (n - 1) * observed / expected)


class _Data:
    """Everything the figures need, read once: per segment the raters' span keys and a raters ×
    tokens matrix of tag ids."""

    def __init__(
        self,
        segments: Iterable[tuple[int, int, Any, list[tuple[str, str, Any]]]],
        tiers: set[str] | None,
        people: set[str] | None,
        tokens: bool = True,
    ):
        self.raters: list[str] = []
        rater_ix: dict[str, int] = {}
        self.labels: list[str] = ["O"]
        label_ix: dict[str, int] = {"O": 0}
        self.segments: list[tuple[int, dict[int, list[Key]]]] = []  # (segment id, rater -> keys)
        fills: list[tuple[int, int, int, int]] = []  # (rater, from, to, label id) in the token matrix
        owners: list[tuple[int, list[int]]] = []  # (token offset, raters) per segment
        self.tokens = 0
        for sid, start, tokens_json, anns in segments:
            chosen = [(a, sp) for a, t, sp in anns if (tiers is None or t in tiers) and (people is None or a in people)]
            if len(chosen) < 2:
                continue
            if tokens:
                flat = json.loads(tokens_json) if isinstance(tokens_json, str) else tokens_json
                starts = [start + x for x in flat[::2]]
            else:
                starts = []
            keys: dict[int, list[Key]] = {}
            for name, spans_json in chosen:
                r = rater_ix.setdefault(name, len(rater_ix))
                if r == len(self.raters):
                    self.raters.append(name)
                spans = json.loads(spans_json) if isinstance(spans_json, str) else spans_json
                ks = sorted({(sp["start"], sp["end"], sp["label"]) for sp in spans})
                keys[r] = ks
                for s, e, lab in ks:
                    li = label_ix.get(lab)
                    if li is None:
                        li = label_ix[lab] = len(self.labels)
                        self.labels.append(lab)
                    lo, hi = (bisect_left(starts, s), bisect_left(starts, e)) if tokens else (0, 0)
                    if hi > lo:
                        fills.append((r, self.tokens + lo, self.tokens + hi, li))
            self.segments.append((sid, keys))
            owners.append((self.tokens, list(keys)))
            self.tokens += len(starts)
        n_tok = self.tokens
        self.matrix = np.full((len(self.raters), n_tok), -1, dtype=np.int16)
        bounds = [o for o, _ in owners] + [n_tok]
        for k, (off, rs) in enumerate(owners):
            self.matrix[rs, off : bounds[k + 1]] = 0
        for r, a, b, li in fills:
            self.matrix[r, a:b] = li


def agreement(
    store: Store,
    *,
    tiers: Iterable[str] | None = None,
    people: Iterable[str] | None = None,
    spans_only: bool = False,
) -> dict[str, Any]:
    """The agreement report of a project (see the module docstring): ``overall``, ``per_label`` and
    ``pairs`` (each with the four figures), the raters, the segments and tokens compared.
    ``spans_only``: the span F1 figures alone (kappa and alpha None; no token is read)."""
    return agreement_of(
        review_store.iter_multi_annotated(store),
        tiers=set(tiers) if tiers else None,
        people=set(people) if people else None,
        spans_only=spans_only,
    )


def agreement_of(
    segments: Iterable[tuple[int, int, Any, list[tuple[str, str, Any]]]],
    *,
    tiers: set[str] | None = None,
    people: set[str] | None = None,
    spans_only: bool = False,
) -> dict[str, Any]:
    """As :func:`agreement`, over (segment id, segment start, flat token offsets, [(annotator, tier,
    spans)]) rows (the offsets and spans as lists or as their JSON)."""
    d = _Data(segments, tiers, people, tokens=not spans_only)
    labels = d.labels[1:]
    n_raters = len(d.raters)
    # span F1, per pair and label: [matches exact, matches partial, spans]
    span = {(a, b): {lab: [0, 0, 0] for lab in [None, *labels]} for a, b in combinations(range(n_raters), 2)}
    shared = {pair: 0 for pair in span}
    for _, keys in d.segments:
        for a, b in combinations(sorted(keys), 2):
            ka, kb = keys[a], keys[b]
            shared[(a, b)] += 1
            acc = span[(a, b)]
            if ka == kb:  # the common case: the two agree, every span matches
                n = len(ka)
                row = acc[None]
                row[0] += n
                row[1] += n
                row[2] += 2 * n
                for k in ka:
                    row = acc[k[2]]
                    row[0] += 1
                    row[1] += 1
                    row[2] += 2
                continue
            by_label: dict[str | None, tuple[list[Key], list[Key]]] = {None: (ka, kb)}
            for k in ka:
                by_label.setdefault(k[2], ([], []))[0].append(k)
            for k in kb:
                by_label.setdefault(k[2], ([], []))[1].append(k)
            for lab, (xa, xb) in by_label.items():
                row = acc[lab]
                row[0] += len(set(xa) & set(xb))
                row[1] += partial_matches(xa, xb)
                row[2] += len(xa) + len(xb)
    L = len(d.labels)
    pairs_out = []
    kappas: dict[str | None, list[float]] = {lab: [] for lab in [None, *labels]}
    for (a, b), acc in span.items():
        if not shared[(a, b)]:
            continue
        ta, tb = d.matrix[a], d.matrix[b]
        mask = (ta >= 0) & (tb >= 0)
        xa, xb = ta[mask].astype(np.int64), tb[mask].astype(np.int64)
        cm = np.bincount(xa * L + xb, minlength=L * L).reshape(L, L)
        per_label = {}
        k_all = cohen_kappa(cm) if not spans_only else None
        if k_all is not None:
            kappas[None].append(k_all)
        for li, lab in enumerate(labels, start=1):
            bcm = np.array(
                [
                    [cm.sum() - cm[li, :].sum() - cm[:, li].sum() + cm[li, li], cm[:, li].sum() - cm[li, li]],
                    [cm[li, :].sum() - cm[li, li], cm[li, li]],
                ]
            )
            k_label = cohen_kappa(bcm) if not spans_only else None
            if k_label is not None:
                kappas[lab].append(k_label)
            m_exact, m_partial, total = acc[lab]
            per_label[lab] = {
                "span_f1_exact": _f1(m_exact, total),
                "span_f1_partial": _f1(m_partial, total),
                "kappa": k_label,
                "spans": total,
            }
        m_exact, m_partial, total = acc[None]
        pairs_out.append(
            {
                "a": d.raters[a],
                "b": d.raters[b],
                "segments": shared[(a, b)],
                "tokens": int(mask.sum()),
                "span_f1_exact": _f1(m_exact, total),
                "span_f1_partial": _f1(m_partial, total),
                "kappa": k_all,
                "spans": total,
                "per_label": per_label,
            }
        )

    alpha_cache: dict[str, Any] = {}

    def summed(lab: str | None) -> dict[str, Any]:
        rows = [acc[lab] for pair, acc in span.items() if shared[pair]]
        m_exact, m_partial, total = (sum(r[i] for r in rows) for i in range(3))
        ks = kappas[lab]
        alpha = (
            None if spans_only else pairs_alpha(d.matrix, L, None if lab is None else d.labels.index(lab), alpha_cache)
        )
        return {
            "span_f1_exact": _f1(m_exact, total) if rows else None,
            "span_f1_partial": _f1(m_partial, total) if rows else None,
            "kappa": sum(ks) / len(ks) if ks else None,
            "alpha": alpha,
            "spans": total,
        }

    return {
        "segments": len(d.segments),
        "tokens": d.tokens,
        "raters": d.raters,
        "overall": summed(None),
        "per_label": {lab: summed(lab) for lab in labels},
        "pairs": pairs_out,
    }


def low_agreement_labels(report: dict[str, Any], threshold: float) -> dict[str, float]:
    """Labels whose exact span F1 is below ``threshold``: {label: figure}."""
    return {
        lab: v["span_f1_exact"]
        for lab, v in report["per_label"].items()
        if v["span_f1_exact"] is not None and v["span_f1_exact"] < threshold
    }
