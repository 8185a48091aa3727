"""One full simulated loop and its monitoring (issue 14): what `nerdesk report` shows after it.

    .venv/bin/python bench/monitoring_loop.py [--data ../shared/data] [--rounds 4] [--batch 50]
        [--out bench-out/monitoring] [--threads 1]

A Disease project gets the first 1,500 sentences of ncbi_disease/train (source "train.jsonl"),
pre-annotated by the default model (which has no Disease label: the cold start). Each round routes
--batch segments (the app's default strategy, blend), an oracle corrects them to the gold spans
through the project API, the corrections leave as a bundle, the active model is fine-tuned on all of
them (nerdesk's fast fine-tune) and promoted (it pre-annotates what it has not seen). Before round 3
the dev split arrives as a second source ("dev.jsonl", input drift). Then the report is written as
JSON and self-contained HTML (report.json, report.html in --out) and summarised here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core import retrain  # noqa: E402
from nerdesk.core.bundle import write_bundle  # noqa: E402
from nerdesk.core.formats import jsonl  # noqa: E402
from nerdesk.core.metrics import report  # noqa: E402
from nerdesk.core.model import load_model  # noqa: E402
from nerdesk.core.project import Project  # noqa: E402
from nerdesk.core.report_html import write_html  # noqa: E402
from nerdesk.core.routing import route  # noqa: E402
from nerdesk.core.types import DocRecord, drain  # noqa: E402
from nerdesk.core.versions import promote  # noqa: E402
from nerdesk.train.finetune import finetune_iter  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--pool", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="bench-out/monitoring")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(a.data) / "adapt" / "ncbi_disease"
    train = list(jsonl.read(folder / "train.jsonl"))[: a.pool]
    dev = list(jsonl.read(folder / "dev.jsonl"))
    gold = {r.text: list(r.spans or []) for r in [*train, *dev]}
    path = out / "loop.nerdesk"
    for q in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        q.unlink(missing_ok=True)
    t0 = time.time()
    p = Project.create(path, labels=["Disease"], user="oracle")
    retrain.configure(p.store, every=100)
    drain(p.import_records([DocRecord(r.text, None, r.tokens, r.sentences, source="train.jsonl") for r in train]))
    drain(p.preannotate())
    for rnd in range(a.rounds):
        if rnd == 2:
            drain(p.import_records([DocRecord(r.text, None, r.tokens, r.sentences, source="dev.jsonl") for r in dev]))
            drain(p.preannotate())
        for it in route(p.store, "blend", a.batch, seed=rnd):
            seg = p.segment(it.id)
            g = [s for s in gold[p.document(seg.doc_id)["text"]] if seg.start <= s.start < seg.end]
            if sorted((s.start, s.end, s.label) for s in seg.spans) != sorted(s.key() for s in g):
                p.set_spans(it.id, g, action="oracle")
            p.accept(it.id)
        bundle = out / f"round{rnd + 1}.zip"
        write_bundle(p.store, p.identity, bundle)
        model_dir = out / f"model-round{rnd + 1}"
        base = next((m["path"] for m in p.store.models() if m["active"] and m["path"]), None)
        t = time.time()
        drain(finetune_iter([bundle], model_dir, base=base, seed=0, threads=a.threads, force=True, log=lambda s: None))
        ft = time.time() - t
        retrain.mark_finetuned(p.store)
        drain(promote(p.store, p.identity, load_model(model_dir)))
        st = p.stats()
        print(
            f"round {rnd + 1}: {st['by_status'].get('accepted', 0)} reviewed, fine-tune {ft:.0f} s, "
            f"active {p.active_model_id()} ({time.time() - t0:.0f} s)",
            flush=True,
        )
    rep = report(p.store)
    rep["retrain"] = retrain.state(p.store)
    (out / "report.json").write_text(json.dumps(rep, indent=1, default=str))
    write_html(out / "report.html", p.name, rep, rep["retrain"], datetime.now().isoformat(timespec="seconds"))
    print("\nversion                                   unseen   F1     95% interval   ECE")
    for m in rep["models"]:
        ci = m["f1_interval"]
        print(
            f"  {m['id']:<40} {m['reviewed_segments']:>5}  {m['exact']['f1']:.3f}  "
            + (f"{ci[0]:.3f}-{ci[1]:.3f}" if ci else "     -     ")
            + f"  {m['ece'] if m['ece'] is None else round(m['ece'], 3)}"
        )
    print(
        "recurrence:",
        [(r["model_id"], r["corrections"], r["share"] and round(r["share"], 3)) for r in rep["recurrence"]],
    )
    print(
        "cost per point:",
        [
            (
                c["to"],
                c["actions"],
                c["f1_points"] and round(c["f1_points"], 1),
                c["actions_per_point"] and round(c["actions_per_point"]),
            )
            for c in rep["cost_per_point"]
        ],
    )
    print(
        "drift windows (unseen-word rate, mean confidence):",
        [
            (
                w["documents"],
                w["unseen_word_rate"] and round(w["unseen_word_rate"], 3),
                w["mean_confidence"] and round(w["mean_confidence"], 3),
            )
            for w in rep["drift"]["windows"]
        ],
    )
    print(
        "drift windows (unseen in the active model's training data, novelty p50/p90, segments over 25%):",
        [
            (
                w["documents"],
                w["unseen_in_training_rate"] and round(w["unseen_in_training_rate"], 3),
                w["novelty"] and (round(w["novelty"]["p50"], 3), round(w["novelty"]["p90"], 3)),
                w["novelty"] and round(w["novelty"]["novel_share"], 3),
            )
            for w in rep["drift"]["windows"]
        ],
    )
    print("training vocabulary:", rep["drift"]["training_vocabulary"])
    print("alerts:", rep["drift"]["alerts"])
    print("retrain:", retrain.describe(rep["retrain"]))
    print(f"wrote {out / 'report.html'} ({time.time() - t0:.0f} s)")
    p.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
