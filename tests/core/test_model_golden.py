"""Golden check of the default model's whole path, tokens -> spans: ``OnnxModel.predict`` (cached
hash features, padded batches, vector lookup, vectorised Viterbi and span confidences) against a
slow reference written token by token: spaCy Lexeme attributes, splitmix64 in Python integers,
one padded row per segment, a Viterbi over the BIO rule in plain loops, span confidences as
products, calibration by interpolation. Fails if features, batching or decoding change."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nerdesk.core.model import load_model
from nerdesk.core.model.decode import bio_tags

SENTENCES = [
    ["Ada", "Lovelace", "was", "born", "in", "London", "in", "1815", "."],
    ["Barack", "Obama", "met", "Angela", "Merkel", "at", "the", "White", "House", "on", "Tuesday"],
    ["The", "United", "Nations", "Security", "Council", "voted", "in", "New", "York", "."],
    ["@colgo", "hey", ",", "congrats", "to", "you", "and", "the", "#Lakers", "team", "!", ":)"],
    ["I", "bought", "a", "Nokia", "phone", "from", "Amazon", "in", "Berlin"],
    ["東京", "and", "São", "Paulo", "are", "big", ";", "😀", "e\u0301", "US$", "n't", "XIII"],
    [],
    ["Microsoft"],
    ["he", "said", "that", "the", "committee", "would", "meet", "again", "next", "week", "."],
    ["Dr.", "Jane", "Goodall", "of", "the", "Jane", "Goodall", "Institute", "visited", "Tanzania", "and", "Kenya"],
]

MASK64 = (1 << 64) - 1


def mix(h: int, seed: int) -> int:
    """splitmix64's finaliser on one Python integer."""
    z = (h + (0x9E3779B97F4A7C15 * (seed + 1))) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def reference_ids(fe, word: str) -> list[int]:
    vocab = fe._vocab
    lex = vocab[word]
    names = {"NORM": "norm", "PREFIX": "prefix", "SUFFIX": "suffix", "SHAPE": "shape"}
    out = []
    for j, a in enumerate(fe.attrs):
        if a == "GAZ":
            raw = vocab.strings.add("GAZ=" + fe.gazetteer.get(word.lower(), ""))
        elif a == "ORTH":
            raw = vocab.strings.add(word)
        else:
            raw = getattr(lex, names[a])
        for k in range(fe.hashes):
            out.append(mix(int(raw), fe.seed * 1000 + j * 16 + k) % int(fe.rows[j]))
    if fe.vectors is not None:
        out.append(fe.vectors.index.get(word.lower(), 0))
    return out


def reference_logits(m, sents: list[list[str]]) -> list[np.ndarray]:
    """The graph's logits per segment, fed one padded batch built row by row. The segments go in
    as one batch in length order, as predict groups them (int8 graphs quantise over the batch)."""
    fe = m.features
    order = sorted(range(len(sents)), key=lambda i: len(sents[i]))
    width = max(len(s) for s in sents)
    ids = np.zeros((len(sents), width, fe.width), dtype=np.int64)
    mask = np.zeros((len(sents), width), dtype=np.float32)
    for b, i in enumerate(order):
        for t, w in enumerate(sents[i]):
            ids[b, t] = reference_ids(fe, w)
            mask[b, t] = 1.0
    feed = {"ids": ids, "mask": mask}
    if fe.vectors is not None:
        vec = np.zeros((len(sents), width, fe.vectors.dim), dtype=np.float32)
        for b in range(len(sents)):
            for t in range(width):
                row = ids[b, t, -1]
                vec[b, t] = fe.vectors.q[row].astype(np.float32) * fe.vectors.scale[row]
        feed["vectors"] = vec
    logits = m.session.run([m._out_name], feed)[0]
    out: list[np.ndarray] = [np.zeros(0)] * len(sents)
    for b, i in enumerate(order):
        out[i] = logits[b, : len(sents[i])]
    return out


def allowed(prev: int | None, cur: int) -> bool:
    """BIO: I-X (even tag ids from 2) only right after B-X or I-X."""
    if cur == 0 or cur % 2 == 1:
        return True
    return prev is not None and prev in (cur - 1, cur)


def reference_decode(logits: np.ndarray, labels: list[str], temperature: float, calibration, only=None):
    k = len(bio_tags(labels))
    z = logits.astype(np.float32) / np.float32(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    if only is not None:  # an unwanted label's B and I go to O
        for j, lab in enumerate(labels):
            if lab not in only:
                for t in (1 + 2 * j, 2 + 2 * j):
                    logp[:, 0] = np.logaddexp(logp[:, 0], logp[:, t])
                    logp[:, t] = -1e4
    n = len(logits)
    # Viterbi in loops
    best = [[float(logp[0, c]) if allowed(None, c) else -math.inf for c in range(k)]]
    back = [[0] * k]
    for t in range(1, n):
        row, ptr = [], []
        for c in range(k):
            cands = [best[-1][p] if allowed(p, c) else -math.inf for p in range(k)]
            p = max(range(k), key=lambda q: (cands[q], -q))
            row.append(cands[p] + float(logp[t, c]))
            ptr.append(p)
        best.append(row)
        back.append(ptr)
    path = [max(range(k), key=lambda q: (best[-1][q], -q))]
    for t in range(n - 1, 0, -1):
        path.append(back[t][path[-1]])
    path.reverse()
    probs = np.exp(logp).astype(np.float64)
    spans = []
    t = 0
    while t < n:
        tag = path[t]
        if tag > 0:
            j = (tag - 1) // 2
            e = t + 1
            while e < n and path[e] == 2 + 2 * j:
                e += 1
            conf = probs[t, 1 + 2 * j]
            for u in range(t + 1, e):
                conf *= probs[u, 2 + 2 * j]
            if e < n:
                conf *= 1.0 - probs[e, 2 + 2 * j]
            m = calibration.get("per_label", {}).get(labels[j], calibration)
            spans.append((t, e, labels[j], float(np.clip(np.interp(conf, m["x"], m["y"]), 0, 1))))
            t = e
        else:
            t += 1
    top = np.sort(probs, axis=-1)
    path_logp = sum(float(logp[t, path[t]]) for t in range(n))
    ent = max(float(-(probs[t] * logp[t]).sum()) for t in range(n)) / math.log(k)
    scores = {
        "least_confidence": 1 - math.exp(path_logp),
        "margin": 1 - min(top[t, -1] - top[t, -2] for t in range(n)),
        "entropy": min(max(ent, 0.0), 1.0),
        "mnlp": 1 - math.exp(path_logp / n),
    }
    return spans, scores


@pytest.mark.parametrize("only", [None, ["PER", "LOC"]])
def test_predict_equals_the_slow_reference(only):
    m = load_model()  # the shipped default (int8 graph)
    assert m.span_calibration and isinstance(m.span_calibration, dict)
    preds = m.predict(SENTENCES, only=only)
    logits = reference_logits(m, SENTENCES)
    n_spans = 0
    for sent, pred, lg in zip(SENTENCES, preds, logits):
        if not sent:
            assert pred.spans == []
            continue
        spans, scores = reference_decode(lg, m.labels, m.temperature, m.span_calibration, only)
        assert [s[:3] for s in pred.spans] == [s[:3] for s in spans], sent
        np.testing.assert_allclose([s[3] for s in pred.spans], [s[3] for s in spans], atol=1e-5)
        for key, value in scores.items():
            assert pred.scores[key] == pytest.approx(value, abs=1e-5), key
        n_spans += len(spans)
    assert n_spans >= (8 if only else 12)  # the sentences really do hold entities for the model
    # the same predictions when the feature cache already holds every word
    again = m.predict(SENTENCES, only=only)
    assert [p.spans for p in again] == [p.spans for p in preds]
