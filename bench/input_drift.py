"""Input drift against the model's training data (issue 14): the unseen-in-training word rate and
the segments' novelty of imports from the training corpora's own test splits vs the adapt domains.

    .venv/bin/python bench/input_drift.py [--data ../shared/data] [--n 1000] [--model en-base]
        [--out bench-out/input-drift]

Per corpus a project imports the first --n sentences of its test split (never trained on), the
model pre-annotates them, and ``metrics.drift`` (one window) gives the share of their words the
model's training vocabulary (its package's ``vocab.txt.gz``) lacks, and the quantiles of each
segment's share. Then one project imports gum_ne's test split and, after it, ncbi_disease's:
the drift windows, and whether the newest window's alert fires (and only there).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core.formats import jsonl  # noqa: E402
from nerdesk.core.metrics import UNSEEN_IN_TRAINING_ALERT, drift  # noqa: E402
from nerdesk.core.model import load_model  # noqa: E402
from nerdesk.core.project import Project  # noqa: E402
from nerdesk.core.predict import predict_project  # noqa: E402
from nerdesk.core.types import DocRecord, drain  # noqa: E402

CORPORA = [
    ("train", "gum_ne"),
    ("train", "btc"),
    ("train", "uner_en_ewt"),
    ("train", "redocred"),
    ("adapt", "crossner_politics"),
    ("adapt", "ncbi_disease"),
]


def project(path: Path, model, parts: list[tuple[str, list]]) -> Project:
    for q in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        q.unlink(missing_ok=True)
    p = Project.create(path, labels=list(model.labels), user="bench")
    for source, recs in parts:
        drain(p.import_records([DocRecord(r.text, None, r.tokens, r.sentences, source=source) for r in recs]))
    drain(predict_project(p.store, p.identity, model, activate=True))
    return p


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--model", default="en-base")
    ap.add_argument("--out", default="bench-out/input-drift")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(a.model, threads=1)
    t0 = time.time()
    print(f"model {model.id}; alert above {UNSEEN_IN_TRAINING_ALERT:.0%} unseen in training")
    print(f"{'corpus (test split)':<28} {'segments':>8} {'unseen':>7} {'p50':>6} {'p90':>6} {'novel>25%':>9}")
    recs = {}
    for kind, name in CORPORA:
        recs[name] = list(jsonl.read(Path(a.data) / kind / name / "test.jsonl"))[: a.n]
        p = project(out / f"{name}.nerdesk", model, [(f"{name}/test.jsonl", recs[name])])
        d = drift(p.store, windows=1)
        w = d["windows"][0]
        nov = w["novelty"]
        print(
            f"{kind + '/' + name:<28} {nov['segments']:>8} {w['unseen_in_training_rate']:>7.1%} "
            f"{nov['p50']:>6.1%} {nov['p90']:>6.1%} {nov['novel_share']:>9.1%}"
        )
        if name == CORPORA[0][1]:
            print(f"  vocabulary: {d['training_vocabulary']}")
        p.close()
    p = project(
        out / "mixed.nerdesk",
        model,
        [("gum_ne/test.jsonl", recs["gum_ne"]), ("ncbi_disease/test.jsonl", recs["ncbi_disease"])],
    )
    d = drift(p.store)
    print(f"gum_ne then ncbi_disease, {len(recs['gum_ne'])} + {len(recs['ncbi_disease'])} sentences, 5 windows:")
    for w in d["windows"]:
        print(
            f"  docs {w['documents'][0]}-{w['documents'][1]}: unseen in training {w['unseen_in_training_rate']:.1%}, "
            f"novelty p50 {w['novelty']['p50']:.1%} p90 {w['novelty']['p90']:.1%}, "
            f"unseen in earlier documents {w['unseen_word_rate'] if w['unseen_word_rate'] is None else round(w['unseen_word_rate'], 3)}"
        )
    print("alerts:", d["alerts"])
    p.close()
    print(f"({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
