"""Which segments a human should review next: the uncertain, the novel, the rare, the error-prone.

Every strategy returns :class:`QueueItem` s (id, score, reasons), best first. Reading the queue
changes nothing. Scores of the blend are ranks normalised to [0, 1], so the parts mix fairly.

* ``random``: a seeded shuffle (the baseline).
* ``least_confidence``, ``margin``, ``entropy``, ``mnlp``: the model's uncertainty scores. While
  the project has a label the active model cannot predict and fewer than ``COLD_START`` reviewed
  examples of it, these are random picks instead (a cold start: the model's uncertainty says
  nothing about that label; the next fine-tuned model learns it from them).
* ``novelty``: how unlike the reviewed segments a segment is: the distance to its nearest
  reviewed segment in the model's feature space (stored sketches, nerdesk.core.model.sketch),
  plus the share of its words never seen in a reviewed segment, plus a bonus for a source no
  reviewed segment came from.
* ``rare``: segments the model thinks contain a label with few reviewed examples.
* ``errors``: segments sharing surface forms with spans that needed corrections.
* ``blend`` (default): 0.4 mnlp + 0.2 novelty + 0.2 rare + 0.2 errors.
* term lists (nerdesk.core.terms): while no model knows a label (the active model cannot predict it, or
  there is no model) and a term list matches it, the uncertainty strategies and blend put segments with
  its term hits first (conflicting matches, then rare terms first; blend orders them by its other parts),
  the rest after them (at random; blend by its other parts).

Within a batch, near-duplicates (word-set Jaccard similarity ≥ 0.8 with an item already chosen)
are held back (``diverse=True``), so a run of retweets or boilerplate does not fill the queue.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nerdesk.core import settings
from nerdesk.core.errors import Errors, err
from nerdesk.core.model.sketch import distance_to_nearest, unpack
from nerdesk.core.store import human as human_sql
from nerdesk.core.store import predictions as predictions_sql
from nerdesk.core.store import segments as segments_sql

if TYPE_CHECKING:
    from nerdesk.core.store import Store

UNCERTAINTY = ("least_confidence", "margin", "entropy", "mnlp")
STRATEGIES = ("blend", "random", *UNCERTAINTY, "novelty", "rare", "errors")
BLEND = {"mnlp": 0.4, "novelty": 0.2, "rare": 0.2, "errors": 0.2}
#: Strategies that need every candidate's text look at this many candidates at most: half the
#: most uncertain, half a random sample (so routing stays well under a second on 1M segments).
POOL = 4_000
#: Candidates this similar (Jaccard over their words) to an item already picked wait until the end.
NEAR_DUPLICATE = 0.8
#: A label the active model cannot predict needs this many reviewed examples before uncertainty
#: routing (which is blind to it) takes over from random picks.
COLD_START = 20
#: Novelty compares candidates with at most this many reviewed segments (the most recent).
REVIEWED_SKETCHES = 20_000
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class QueueItem:
    id: int
    score: float
    reasons: list[str] = field(default_factory=list)
    text: str = ""
    spans: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": round(self.score, 4),
            "reasons": self.reasons,
            "text": self.text,
            "spans": self.spans,
        }


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if not w.isdigit()}


def route(
    store: Store,
    strategy: str = "blend",
    limit: int = 50,
    *,
    status: str = "new",
    seed: int = 0,
    diverse: bool = True,
    pool: int = POOL,
    label: str | None = None,
    source: str | None = None,
    max_confidence: float | None = None,
) -> list[QueueItem]:
    """The next ``limit`` segments by ``strategy``. ``label``/``source``/``max_confidence`` restrict
    the candidates in SQL, with the meaning of :meth:`nerdesk.core.store.Store.queue`."""
    if strategy not in STRATEGIES:
        raise err(Errors.E014, strategy=strategy, strategies=", ".join(STRATEGIES))
    model_id = store.active_model_id()
    filters = {
        k: v for k, v in (("label", label), ("source", source), ("max_confidence", max_confidence)) if v is not None
    }
    reviewed: list = []  # computed once, by the first strategy that needs it

    def seen():
        if not reviewed:
            reviewed.append(_reviewed(store))
        return reviewed[0]

    cold = _cold_labels(store, model_id, seen()[2])
    # term lists know labels no model does yet: start from their hits (nerdesk.core.terms)
    from nerdesk.core import terms as term_lists

    by_terms = term_lists.routing_labels(store, status) if strategy != "random" else []
    # random picks (the strategy, or uncertainty starting cold) need a uniform pool: half of the
    # usual pool is the most uncertain segments, which biased "random" on corpora over ``pool``
    uniform = strategy == "random" or (strategy in UNCERTAINTY and bool(cold))
    cands = _candidates(store, model_id, status, pool, seed, filters, uniform=uniform)
    if by_terms and not filters:  # the pool holds segments with term hits (half of it at most)
        have = {c["id"] for c in cands}
        extra = [i for i in term_lists.hit_segments(store, status, by_terms, pool // 2, seed) if i not in have]
        cands = _rows(store, model_id, extra) + cands[: max(0, pool - len(extra))]
    if not cands:
        return []
    scorers: dict[str, Callable[..., dict[int, tuple[float, list[str]]]]] = {
        "random": lambda: _random(cands, seed),
        "novelty": lambda: _novelty(seen(), cands, _feature_distance(store, model_id, cands)),
        "rare": lambda: _rare(seen(), cands),
        "errors": lambda: _errors(store, cands),
    }
    for key in UNCERTAINTY:
        if by_terms:  # term hits of the labels the model does not know first, conflicts and rare terms first
            scorers[key] = lambda: term_lists.routing_scores(store, cands, by_terms, seed)
            continue
        if cold:  # the model's uncertainty says nothing about labels it cannot predict
            why = f"cold start: the model does not know {', '.join(cold)} yet (random)"
            scorers[key] = lambda why=why: {i: (v, [why]) for i, (v, _) in _random(cands, seed).items()}
            continue
        scorers[key] = lambda key=key: {
            c["id"]: (c[key], [f"uncertain ({key.replace('_', ' ')} {c[key]:.2f})"])
            for c in cands
            if c[key] is not None
        }
    if strategy == "blend":
        parts = {name: scorers[name]() for name in BLEND}
        ranked = {name: _rank01({i: v[0] for i, v in part.items()}) for name, part in parts.items()}
        scored = {}
        for c in cands:
            i = c["id"]
            total = sum(w * ranked[name].get(i, 0.0) for name, w in BLEND.items())
            if by_terms and parts["mnlp"].get(i, (0.0,))[0] >= 1.0:  # a term hit: before every segment without
                total += 1.0
            reasons = [r for name in BLEND for r in parts[name].get(i, (0, []))[1] if parts[name].get(i, (0.0,))[0] > 0]
            scored[i] = (total, reasons)
    else:
        scored = scorers[strategy]()
    order = sorted(scored, key=lambda i: (-scored[i][0], i))
    by_id = {c["id"]: c for c in cands}
    out: list[QueueItem] = []
    chosen = _NearDuplicates([c["words"] for c in cands], NEAR_DUPLICATE)
    held: list[int] = []
    for i in order:
        if len(out) >= limit:
            break
        c = by_id[i]
        if diverse:
            if chosen.similar(c["words"]):
                held.append(i)
                continue
            chosen.add(c["words"])
        out.append(QueueItem(i, scored[i][0], scored[i][1], c["text"], c["spans"]))
    for i in held:  # only when too few distinct items remain
        if len(out) >= limit:
            break
        c = by_id[i]
        out.append(QueueItem(i, scored[i][0], [*scored[i][1], "near-duplicate"], c["text"], c["spans"]))
    return out


def _cold_labels(store: Store, model_id: str | None, reviewed_counts: Counter) -> list[str]:
    """Project labels the active model cannot predict and that have fewer than COLD_START
    reviewed examples: until then uncertainty routing is replaced by random (a cold start)."""
    if not model_id:
        return []
    known = next((set(m["labels"]) for m in store.models() if m["id"] == model_id), set())
    if not known:  # imported predictions: no label set to be blind with
        return []
    return [lab for lab in settings.label_names(store) if lab not in known and reviewed_counts.get(lab, 0) < COLD_START]


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class _NearDuplicates:
    """The sets added so far, asked whether one of them has Jaccard similarity >= ``t`` with a new
    set. Exact, with the prefix filter of set-similarity joins (Chaudhuri et al. 2006; Bayardo et
    al. 2007, "All-Pairs"): J(a, b) >= t needs an overlap of at least t * |a|, so with the words of
    every set in one order (rarest first) the first |a| - ceil(t * |a|) + 1 words of a and of b
    must share one. Only those prefixes are indexed, and only sets that share a prefix word are
    compared: 500 picks from 500 candidates cost ~3,000 comparisons, not 125,000."""

    def __init__(self, universe: list[set[str]], t: float):
        freq = Counter(w for ws in universe for w in ws)
        self.rank = {w: (n, w) for w, n in freq.items()}
        self.t = t
        self.sets: list[set[str]] = []
        self.empty = False
        self.index: dict[str, list[int]] = {}

    def _prefix(self, ws: set[str]) -> list[str]:
        ordered = sorted(ws, key=lambda w: self.rank.get(w, (0, w)))
        return ordered[: len(ordered) - math.ceil(self.t * len(ordered) - 1e-9) + 1]

    def similar(self, ws: set[str]) -> bool:
        if not ws:
            return self.empty
        seen: set[int] = set()
        for w in self._prefix(ws):
            for k in self.index.get(w, ()):
                if k not in seen:
                    seen.add(k)
                    if _jaccard(ws, self.sets[k]) >= self.t:
                        return True
        return False

    def add(self, ws: set[str]) -> None:
        if not ws:
            self.empty = True
            return
        k = len(self.sets)
        self.sets.append(ws)
        for w in self._prefix(ws):
            self.index.setdefault(w, []).append(k)


def _rank01(values: dict[int, float]) -> dict[int, float]:
    """Ranks scaled to [0, 1] (ties share a rank); all-equal values give 0."""
    if not values:
        return {}
    distinct = sorted(set(values.values()))
    if len(distinct) == 1:
        return {i: 0.0 for i in values}
    pos = {v: k / (len(distinct) - 1) for k, v in enumerate(distinct)}
    return {i: pos[v] for i, v in values.items()}


def _candidates(
    store: Store,
    model_id: str | None,
    status: str,
    pool: int,
    seed: int,
    filters: dict[str, Any] | None = None,
    uniform: bool = False,
) -> list[dict]:
    """Up to ``pool`` segments with the given status: the most uncertain half, the rest at random
    (``uniform``: all at random)."""
    if filters:  # the filtered set, in SQL: its most uncertain, then a seeded sample of the rest
        top = [] if uniform else [i for i, _ in store.queue(model_id, status, pool // 2, **filters)]
        rest = [i for i, _ in store.queue(model_id, status, 10 * pool, order="document", **filters)]
        rest = [i for i in rest if i not in set(top)]
        random.Random(seed).shuffle(rest)
        return _rows(store, model_id, list(dict.fromkeys(top + rest[: pool - len(top)])))
    top = predictions_sql.most_uncertain_ids(store, model_id, status, pool // 2) if model_id and not uniform else []
    rnd = segments_sql.random_ids(store, status, pool - len(top), seed)
    return _rows(store, model_id, list(dict.fromkeys(top + rnd)))


def _rows(store: Store, model_id: str | None, ids: list[int]) -> list[dict]:
    rows = store.segments_with_text(ids)
    preds = store.predictions_for(ids, model_id) if model_id else {}
    out = []
    for r in rows:
        p = preds.get(r.id)
        out.append(
            {
                "id": r.id,
                "text": r.text,
                "start": r.start,
                "source": r.source,
                "words": words(r.own_text()),
                "spans": p.span_lists() if p else [],
                **{k: (getattr(p, k) if p else None) for k in UNCERTAINTY},
            }
        )
    return out


def _random(cands: list[dict], seed: int) -> dict[int, tuple[float, list[str]]]:
    rng = random.Random(seed)
    return {c["id"]: (rng.random(), ["random"]) for c in cands}


def _reviewed(store: Store) -> tuple[set[str], set[str], Counter]:
    """Words and sources of reviewed segments, and reviewed entity counts per label."""
    seen: set[str] = set()
    sources: set[str] = set()
    for text, source in segments_sql.reviewed_texts(store):
        seen |= words(text)
        sources.add(source)
    counts: Counter = Counter()
    for spans in human_sql.accepted_span_lists(store):
        counts.update(sp.label for sp in spans)
    return seen, sources, counts


def _feature_distance(store: Store, model_id: str | None, cands: list[dict]) -> dict[int, float]:
    """Per candidate with a sketch, the distance to the nearest reviewed segment's sketch."""
    if not model_id:
        return {}
    reviewed = store.reviewed_sketches(model_id, REVIEWED_SKETCHES)
    if not reviewed:
        return {}
    own = store.sketches(model_id, [c["id"] for c in cands])
    ids = [c["id"] for c in cands if c["id"] in own]
    dist = distance_to_nearest(unpack([own[i] for i in ids]), unpack(reviewed))
    return dict(zip(ids, dist.tolist()))


def _novelty(
    reviewed: tuple, cands: list[dict], distance: dict[int, float] | None = None
) -> dict[int, tuple[float, list[str]]]:
    seen, sources, _ = reviewed
    distance = distance or {}
    out = {}
    for c in cands:
        w = c["words"]
        unseen = len(w - seen) / len(w) if w else 0.0
        new_source = bool(sources) and c["source"] not in sources
        d = distance.get(c["id"], 0.0)
        score = d + unseen + (0.5 if new_source else 0.0)
        reasons = []
        if d >= 0.5:
            reasons.append(f"unlike reviewed: feature distance {d:.2f}")
        if unseen >= 0.3:
            reasons.append(f"novel: {unseen:.0%} unseen words")
        if new_source:
            reasons.append(f"new source: {c['source']}")
        out[c["id"]] = (score, reasons)
    return out


def _rare(reviewed: tuple, cands: list[dict]) -> dict[int, tuple[float, list[str]]]:
    _, _, counts = reviewed
    out = {}
    for c in cands:
        best, why = 0.0, []
        for _, _, label, conf in c["spans"]:
            rarity = 1.0 / (1.0 + counts.get(label, 0))
            score = rarity * (conf if conf is not None else 1.0)
            if score > best:
                best, why = score, [f"rare label: {label} ({counts.get(label, 0)} reviewed)"]
        out[c["id"]] = (best, why if best >= 0.05 else [])
    return out


def _errors(store: Store, cands: list[dict]) -> dict[int, tuple[float, list[str]]]:
    forms: Counter[str] = Counter()
    for surface in human_sql.correction_surfaces(store):
        forms[surface] += 1
    forms = Counter(dict(forms.most_common(500)))  # bounded work per candidate
    forms_words = {w for f in forms for w in words(f) if len(w) > 2}
    out = {}
    for c in cands:
        text = c["text"].lower()
        hits = [f for f in forms if f and f in text]
        score = sum(forms[f] for f in hits) + 0.25 * len(c["words"] & forms_words)
        reasons = [f"like corrected: '{hits[0]}'"] if hits else []
        out[c["id"]] = (score, reasons)
    return out
