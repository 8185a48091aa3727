"""What a fine-tuned model lost on the original domain, against its base model (issue 6).

    .venv/bin/python bench/finetune_bench.py --domains crossner_politics --big no --keep bench-out/ft
    .venv/bin/python bench/forgetting_diagnosis.py bench-out/ft/crossner_politics-s0 [--split redocred]

Both models are asked for the base labels (PER/ORG/LOC/MISC, as a project of that domain asks;
the fine-tune's new labels count as their label_parents or as O) on ../shared/data/train/SPLIT/
test.jsonl, scored on PER/ORG/LOC. Printed: per label precision/recall/F1 before -> after; the
fine-tuned model's new false positives (spans the base model did not predict) by kind: another
boundary on a gold entity, a gold entity's span with another label, or no gold entity at all;
and the true positives it lost, by what the fine-tuned model says there when asked for every label.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core.model import load_model  # noqa: E402
from nerdesk.core.model.data import DEFAULT_LABEL_MAP, load_records  # noqa: E402
from nerdesk.core.model.evaluate import score_spans  # noqa: E402

ASK = ["PER", "ORG", "LOC", "MISC"]
SCORED = ["PER", "ORG", "LOC"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="the fine-tuned model package")
    ap.add_argument("--base", type=Path, default=None, help="its base (default: the shipped default model)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--split", default="redocred")
    args = ap.parse_args()
    base, ft = load_model(args.base), load_model(args.model, verify=False)
    recs = load_records(args.data / "train" / args.split / "test.jsonl", DEFAULT_LABEL_MAP)
    toks = [t for t, _ in recs]
    gold = [g for _, g in recs]
    before = base.predict(toks, only=ASK)
    after = ft.predict(toks, only=ASK)
    every = ft.predict(toks)
    sb = score_spans(gold, [p.spans for p in before], SCORED)
    sa = score_spans(gold, [p.spans for p in after], SCORED)
    out = {
        "split": args.split,
        "f1": [round(sb["exact"]["f1"], 4), round(sa["exact"]["f1"], 4)],
        "per_label": {
            lab: {
                k: [round(sb["per_label"][lab][k], 3), round(sa["per_label"][lab][k], 3)]
                for k in ("precision", "recall", "f1")
            }
            for lab in SCORED
        },
    }
    new_fp, lost = Counter(), Counter()
    for g, b, a, e in zip(gold, before, after, every):
        gs, bs, fs = set(g), {s[:3] for s in b.spans}, {s[:3] for s in a.spans}
        at = {(s[0], s[1]): s[2] for s in g}
        said = {(s[0], s[1]): s[2] for s in e.spans}
        for s, t, lab in fs - bs - gs:
            if lab not in SCORED:
                continue
            if (s, t) in at:
                new_fp[f"{lab} on a gold {at[(s, t)]}"] += 1
            elif any(max(s, x) < min(t, y) for x, y, _ in g):
                new_fp[f"{lab}, another boundary"] += 1
            else:
                new_fp[f"{lab}, no gold entity"] += 1
        for s, t, lab in (gs & bs) - fs:
            if lab in SCORED:
                lost[f"{lab} now {said.get((s, t), 'other spans or O')}"] += 1
    out["new_false_positives"] = dict(new_fp.most_common())
    out["lost_true_positives"] = dict(lost.most_common())
    for k, v in out.items():
        print(f"{k}: {json.dumps(v)}")


if __name__ == "__main__":
    main()
