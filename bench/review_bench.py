"""Review across tiers (issue 16): adjudication speed through the API, and the agreement report on a
big project.

    .venv/bin/python bench/review_bench.py [--data ../shared/data] [--conflicts 1000] [--segments 100000]
        [--seed 0] [--json out.json]

**Adjudication.** A project of ``--conflicts`` sentences of ../shared/data, each accepted by
alice (the gold spans) and bob (the first entity relabelled): every one a conflict. Each is decided
through the API (``project.adjudication.adjudicate``: take alice, take bob or combine, in turn), one
transaction and one undoable event each, with synchronous=FULL as the app runs; reported: ms per
decision (median, mean, p95), then the same conflicts recorded in one step (``apply_protocol`` under
the majority rule, with a third annotator), and one undo of a decision.

**Agreement.** A project of ``--segments`` sentences (those of ../shared/data repeated; repetition k > 0
appends the token "·k", as bench/import_bench.py does), all accepted by alice (gold) and bob (10% of
entities relabelled, 5% dropped), a tenth also by carol: the whole report (span F1 exact and partial,
kappa, alpha; overall, per label, per pair) in seconds, read from the store.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import corpus  # noqa: E402  (every sentence of ../shared/data)

from nerdesk.core.project import Project  # noqa: E402
from nerdesk.core.store import now  # noqa: E402
from nerdesk.core.types import Annotation, Span, drain  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def spans_of(tokens: list[str], tags: list[str]) -> list[tuple[int, int, str]]:
    offs, pos = [], 0
    for w in tokens:
        offs.append((pos, pos + len(w)))
        pos += len(w) + 1
    out, i = [], 0
    while i < len(tags):
        if tags[i] != "O" and tags[i][:2] in ("B-", "I-"):
            lab, j = tags[i][2:], i + 1
            while j < len(tags) and tags[j] == f"I-{lab}":
                j += 1
            out.append((offs[i][0], offs[j - 1][1], lab))
            i = j
        else:
            i += 1
    return out


def build(path: Path, sentences: list[dict], annotators: dict, *, third_share: float = 0.0, seed: int = 0):
    """A project of these sentences, with alice's (gold) and others' accepted annotations; written
    through the store in one transaction (the set-up, not measured)."""
    rng = random.Random(seed)
    labels = sorted({t[2:] for s in sentences for t in s["tags"] if t != "O"})
    jl = path.with_suffix(".jsonl")
    with open(jl, "w", encoding="utf-8") as f:
        for s in sentences:
            f.write(json.dumps({"tokens": s["tokens"], "tags": ["O"] * len(s["tokens"])}) + "\n")
    p = Project.create(path, labels=labels, user="rob", tier="reviewer")
    drain(p.import_file(jl))
    store = p.store
    ts = now()
    seg_ids = [r[0] for r in store.conn.execute("SELECT id FROM segments ORDER BY doc_id, idx")]
    assert len(seg_ids) == len(sentences), (len(seg_ids), len(sentences))
    rows = []
    for sid, s in zip(seg_ids, sentences):
        base = 0  # one line, one document, one segment
        gold = spans_of(s["tokens"], s["tags"])
        for name, perturb in annotators.items():
            if name == "carol" and rng.random() >= third_share:
                continue
            mine = perturb(gold, labels, rng)
            rows.append(
                {
                    "segment_id": sid,
                    "annotator": name,
                    "tier": "annotator",
                    "status": "accepted",
                    "spans": [
                        {"start": a + base, "end": b + base, "label": lab, "confidence": None, "origin": "human"}
                        for a, b, lab in mine
                    ],
                    "note": "",
                    "guideline_version": None,
                    "model_id": None,
                    "created": ts,
                    "updated": ts,
                }
            )
    with store.transaction():
        store.put_annotations(map(Annotation.from_dict, rows))
        store.refresh_segment_status(seg_ids)
    return p, seg_ids, labels


def gold(spans, labels, rng):
    return list(spans)


def relabel_first(spans, labels, rng):
    if not spans:
        return spans
    a, b, lab = spans[0]
    return [(a, b, next(x for x in labels if x != lab)), *spans[1:]]


def noisy(spans, labels, rng):
    out = []
    for a, b, lab in spans:
        x = rng.random()
        if x < 0.05:
            continue
        if x < 0.15:
            lab = rng.choice([y for y in labels if y != lab] or [lab])
        out.append((a, b, lab))
    return out


def bench_adjudication(sentences: list[dict], n: int, work: Path, seed: int) -> dict:
    pool = [s for s in sentences if any(t != "O" for t in s["tags"]) and len(s["tokens"]) <= 80]
    rng = random.Random(seed)
    chosen = rng.sample(pool, n)
    # distinct texts (a repeated sentence would be one document)
    seen, picked = set(), []
    for s in chosen + pool:
        key = " ".join(s["tokens"])
        if key not in seen:
            seen.add(key)
            picked.append(s)
        if len(picked) == n:
            break
    p, ids, labels = build(work / "adj.nerdesk", picked, {"alice": gold, "bob": relabel_first})
    assert p.adjudication.summary()["unresolved"] == n
    times = []
    for k, sid in enumerate(ids):
        t0 = time.perf_counter()
        if k % 3 == 0:
            p.adjudication.adjudicate(sid, take="alice", reason="bench")
        elif k % 3 == 1:
            p.adjudication.adjudicate(sid, take="bob", reason="bench")
        else:
            v = {a.annotator: a for a in p.store.annotations_of([sid])[sid]}
            picks = [("bob", Span(*(sp.start, sp.end, sp.label))) for sp in v["bob"].spans[:1]] + [
                ("alice", Span(sp.start, sp.end, sp.label)) for sp in v["alice"].spans[1:]
            ]
            p.adjudication.adjudicate(sid, combine=picks, reason="bench")
        times.append((time.perf_counter() - t0) * 1000)
    assert p.adjudication.summary()["unresolved"] == 0
    t0 = time.perf_counter()
    p.undo()
    undo_ms = (time.perf_counter() - t0) * 1000
    p.close()
    # the same conflicts in one step: majority of three
    q, ids2, _ = build(
        work / "adj2.nerdesk", picked, {"alice": gold, "bob": relabel_first, "carol": gold}, third_share=1.0
    )
    q.adjudication.set_protocol("majority")
    t0 = time.perf_counter()
    ch = q.adjudication.apply_protocol()
    one_step = time.perf_counter() - t0
    q.close()
    times.sort()
    return {
        "conflicts": n,
        "ms_per_decision_median": round(statistics.median(times), 2),
        "ms_per_decision_mean": round(statistics.mean(times), 2),
        "ms_per_decision_p95": round(times[int(0.95 * len(times)) - 1], 2),
        "undo_ms": round(undo_ms, 2),
        "apply_protocol_segments": len(ch.segments),
        "apply_protocol_s": round(one_step, 3),
    }


def bench_agreement(sentences: list[dict], n: int, work: Path, seed: int) -> dict:
    rows = []
    for i in range(n):
        rep, k = divmod(i, len(sentences))
        s = sentences[k]
        toks, tags = s["tokens"], s["tags"]
        if rep:
            toks, tags = [*toks, f"·{rep}"], [*tags, "O"]
        rows.append({"tokens": toks, "tags": tags})
    t0 = time.perf_counter()
    p, ids, _ = build(
        work / "agr.nerdesk", rows, {"alice": gold, "bob": noisy, "carol": noisy}, third_share=0.1, seed=seed
    )
    log(f"  set-up: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    r = p.agreement()
    secs = time.perf_counter() - t0
    p.close()
    return {
        "segments": n,
        "compared_segments": r["segments"],
        "tokens": r["tokens"],
        "raters": r["raters"],
        "seconds": round(secs, 2),
        "overall": {k: round(v, 4) if isinstance(v, float) else v for k, v in r["overall"].items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--conflicts", type=int, default=1000)
    ap.add_argument("--segments", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    seen: set[str] = set()
    sentences = []
    for s in corpus(a.data):  # distinct texts that stay one segment each
        key = " ".join(s["tokens"])
        if s["tokens"] and len(s["tokens"]) <= 100 and key not in seen:
            seen.add(key)
            sentences.append(s)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log(f"adjudication: {a.conflicts} conflicts")
        out["adjudication"] = bench_adjudication(sentences, a.conflicts, work, a.seed)
        print(json.dumps({"adjudication": out["adjudication"]}), flush=True)
        log(f"agreement: {a.segments} segments")
        out["agreement"] = bench_agreement(sentences, a.segments, work, a.seed)
        print(json.dumps({"agreement": out["agreement"]}), flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
