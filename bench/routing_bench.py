"""Routing quality and review effort (issue 5), with the shipped default model.

    .venv/bin/python bench/routing_bench.py [--data ../shared/data] [--n 200] [--batch 20]

Routing: for each new domain in adapt/ (crossner_politics, ncbi_disease), and for one domain the
model knows (train/uner_en_ewt), the test split is imported (unannotated, pre-tokenised) into a
project for its labels and pre-annotated by the default model (asked for those labels only, so a
domain whose labels are all new gets no pre-annotation, and uncertainty starts cold: see
nerdesk.core.routing). Each strategy then
routes 200 segments in batches of 20; an oracle reviewer corrects each batch to the gold spans
(through the same project API the app uses, so corrections and error categories are recorded
and the error-cluster, novelty and rare-label strategies learn from them). Reported: the share
of the 200 routed segments that needed at least one correction (gold != prediction).

Effort: on the test splits of train/ (labels mapped to PER/ORG/LOC/MISC; the model is asked for
the labels the corpus annotates, as a project with that label set asks it), the edit actions
(add, delete, relabel, move a boundary, accept) to reach the gold spans from the model's
pre-annotation and from nothing, reviewing every segment; and with auto-accept at thresholds
0.8/0.9/0.95 and a 10% audit (nerdesk.core.autoaccept's rule: every span and the whole tag path
at least that likely): auto-accepted segments take no action but keep the model's mistakes,
reported as the share of all segments left wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core.categorize import effort  # noqa: E402
from nerdesk.core.formats import jsonl  # noqa: E402
from nerdesk.core.model.data import DEFAULT_LABEL_MAP  # noqa: E402
from nerdesk.core.project import Project  # noqa: E402
from nerdesk.core.routing import route  # noqa: E402
from nerdesk.core.types import Span, drain  # noqa: E402

STRATEGIES = ["random", "least_confidence", "margin", "entropy", "mnlp", "novelty", "rare", "errors", "blend"]


def build(path: Path, records, model) -> tuple[Project, dict[str, list[Span]]]:
    labels = sorted({s.label for r in records for s in r.spans or []})
    p = Project.create(path, labels=labels)
    drain(
        p.import_records(
            [r.__class__(r.text, None, r.tokens, r.sentences, source=r.source, line=r.line) for r in records]
        )
    )
    drain(p.predict(model))
    gold = {r.text: list(r.spans or []) for r in records}
    return p, gold


def routing(data: Path, domain: str, n: int, batch: int, model, seed: int) -> dict:
    folder = data / domain if "/" in domain else data / "adapt" / domain  # train/NAME: a known domain
    records = list(jsonl.read(folder / "test.jsonl"))
    out = {}
    for strategy in STRATEGIES:
        with tempfile.TemporaryDirectory() as tmp:
            p, gold = build(Path(tmp) / "r.nerdesk", records, model)
            needed = 0
            done = 0
            t = time.perf_counter()
            while done < n:
                items = route(p.store, strategy, min(batch, n - done), seed=seed + done)
                if not items:
                    break
                for it in items:
                    seg = p.segment(it.id)
                    g = gold[p.document(seg.doc_id)["text"]]
                    g = [s for s in g if seg.start <= s.start < seg.end]
                    pred = sorted((s.start, s.end, s.label) for s in seg.spans)
                    if pred != sorted(s.key() for s in g):
                        needed += 1
                        p.set_spans(it.id, g, action="oracle")
                    p.accept(it.id)
                    done += 1
            out[strategy] = {
                "routed": done,
                "needed_correction": needed,
                "share": round(needed / max(done, 1), 3),
                "seconds": round(time.perf_counter() - t, 1),
            }
            p.close()
    base = sum(1 for r in records if r.spans) / len(records)
    return {"domain": domain, "segments": len(records), "share_with_entities": round(base, 3), "strategies": out}


AUDIT = 0.1  # share of eligible segments auto-accept sends to humans


def effort_bench(data: Path, model) -> dict:
    out = {}
    for f in sorted((data / "train").glob("*/test.jsonl")):
        records = list(jsonl.read(f))
        labels_in_corpus = set()
        golds = []
        for r in records:
            spans = [
                Span(s.start, s.end, DEFAULT_LABEL_MAP[s.label]) for s in r.spans or [] if s.label in DEFAULT_LABEL_MAP
            ]
            labels_in_corpus |= {s.label for s in spans}
            golds.append(spans)
        preds = model.predict([[r.text[a:b] for a, b in r.tokens] for r in records], only=sorted(labels_in_corpus))
        with_model = from_scratch = 0
        segs = []  # (actions with the model, auto-accept confidence, wrong as predicted)
        for r, g, pr in zip(records, golds, preds):
            ps = [Span(r.tokens[a][0], r.tokens[b - 1][1], lab, c) for a, b, lab, c in pr.spans]
            e = effort(ps, g)
            with_model += e["with_model"]
            from_scratch += e["from_scratch"]
            sure = min([c for *_, c in pr.spans] + [1.0 - pr.scores["least_confidence"]])
            segs.append((e["with_model"], sure, sorted(s.key() for s in ps) != sorted(s.key() for s in g)))
        auto = {}
        for t in (0.8, 0.9, 0.95):  # expected values over the 10% audit draw
            el = [x for x in segs if x[1] >= t]
            actions = sum(x[0] for x in segs if x[1] < t) + AUDIT * sum(x[0] for x in el)
            auto[str(t)] = {
                "auto_accepted": round((1 - AUDIT) * len(el) / len(segs), 3),
                "fewer_actions": round(1 - actions / from_scratch, 3),
                "wrong_among_eligible": round(sum(x[2] for x in el) / max(len(el), 1), 3),
                "segments_left_wrong": round((1 - AUDIT) * sum(x[2] for x in el) / len(segs), 4),
            }
        out[f.parent.name] = {
            "segments": len(records),
            "labels": sorted(labels_in_corpus),
            "actions_per_segment_with_model": round(with_model / len(records), 3),
            "actions_per_segment_from_scratch": round(from_scratch / len(records), 3),
            "fewer_actions": round(1 - with_model / from_scratch, 3),
            "fewer_actions_excluding_accept": round(
                1 - (with_model - len(records)) / max(from_scratch - len(records), 1), 3
            ),
            "with_auto_accept": auto,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--domains", default="crossner_politics,ncbi_disease,train/uner_en_ewt")
    ap.add_argument("--skip-effort", action="store_true")
    args = ap.parse_args()
    from nerdesk.core.model import load_model

    model = load_model()
    print(f"model: {model.id}", flush=True)
    if not args.skip_effort:
        print(json.dumps({"effort": effort_bench(args.data, model)}, indent=1), flush=True)
    for d in args.domains.split(","):
        print(
            json.dumps({"routing": routing(args.data, d, args.n, args.batch, model, args.seed)}, indent=1), flush=True
        )


if __name__ == "__main__":
    main()
