"""Dump or compare a model's predictions on the four test splits (a refactor's before/after check).

    .venv/bin/python bench/model_outputs.py --save /tmp/before.npz [--model DIR] [--variant int8]
    .venv/bin/python bench/model_outputs.py --compare /tmp/before.npz [--model DIR] [--variant int8]
    [--batch-tokens N]: the runner's batch size (its default otherwise)

Saved per segment: the spans (start, end, label) and their confidences, and the four uncertainty
scores. ``--compare`` reports the segments whose spans differ (must be 0) and the largest absolute
difference of a confidence and of a score (float tolerance: 1e-5).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core.model import SCORE_KEYS, load_model  # noqa: E402
from nerdesk.core.model.data import load_records  # noqa: E402

TESTS = ["gum_ne/test", "btc/test", "uner_en_ewt/test", "redocred/test"]
TOL = 1e-5


def predictions(model, data: Path) -> dict[str, dict]:
    out = {}
    for name in TESTS:
        recs = load_records(data / f"{name}.jsonl")
        toks = [t for t, _ in recs]
        preds = model.predict(toks)
        out[name] = {
            "gold": [{tuple(g[:3]) for g in gs} for _, gs in recs],
            "spans": [[[s, e, lab] for s, e, lab, _ in p.spans] for p in preds],
            "conf": np.array([c for p in preds for *_, c in p.spans], dtype=np.float64),
            "scores": np.array([[p.scores[k] for k in SCORE_KEYS] for p in preds], dtype=np.float64),
            "tokens": sum(map(len, toks)),
        }
    return out


def changes(ref: list, new: list, gold: list[set]) -> dict[str, int]:
    """What changed in the segments whose spans differ: spans only in the reference / only in the
    new predictions (and how many of each are gold), and of the reference's: relabelled (the same
    tokens), moved (overlapping, other boundaries) or dropped; of the new ones: added."""
    c = dict.fromkeys(
        ("only_ref", "only_ref_gold", "only_new", "only_new_gold", "relabelled", "moved", "dropped", "added"), 0
    )
    for r, n, g in zip(ref, new, gold):
        a, b = {tuple(x) for x in r}, {tuple(x) for x in n}
        if a == b:
            continue
        old, fresh = a - b, b - a
        c["only_ref"] += len(old)
        c["only_new"] += len(fresh)
        c["only_ref_gold"] += len(old & g)
        c["only_new_gold"] += len(fresh & g)
        for s in old:
            if any(x[:2] == s[:2] for x in fresh):
                c["relabelled"] += 1
            elif any(x[0] < s[1] and s[0] < x[1] for x in fresh):
                c["moved"] += 1
            else:
                c["dropped"] += 1
        c["added"] += sum(not any(x[0] < s[1] and s[0] < x[1] for x in old) for s in fresh)
    return c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--variant", default=None)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "train"))
    ap.add_argument("--batch-tokens", type=int, default=None, help="the runner's batch size (default its own)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save")
    g.add_argument("--compare")
    args = ap.parse_args()
    m = load_model(args.model, threads=1, variant=args.variant)
    if args.batch_tokens:  # a dynamically quantised int8 graph's spans move with the batch
        m.batch_tokens = args.batch_tokens
    got = predictions(m, Path(args.data))
    if args.save:
        arrays = {}
        for name, p in got.items():
            arrays[f"{name}/spans"] = np.array(json.dumps(p["spans"]))
            arrays[f"{name}/conf"] = p["conf"]
            arrays[f"{name}/scores"] = p["scores"]
        np.savez_compressed(args.save, model=np.array(m.id), **arrays)
        for name, p in got.items():
            print(f"{name}: {len(p['spans'])} segments, {p['tokens']} tokens, {len(p['conf'])} spans saved")
        return
    ref = np.load(args.compare)
    print(f"model {m.id} ({m.variant}) against {args.compare} (model {ref['model']})")
    ok = True
    total = dict.fromkeys(changes([], [], []), 0)
    for name, p in got.items():
        spans = json.loads(str(ref[f"{name}/spans"]))
        diff = sum(a != b for a, b in zip(spans, p["spans"])) + abs(len(spans) - len(p["spans"]))
        same = diff == 0
        dc = float(np.abs(ref[f"{name}/conf"] - p["conf"]).max(initial=0.0)) if same else float("nan")
        ds = float(np.abs(ref[f"{name}/scores"] - p["scores"]).max(initial=0.0))
        print(
            f"{name:18} {len(p['spans']):5} segments {len(p['conf']):5} spans: "
            f"{diff} segments with other spans ({100 * diff / max(len(spans), 1):.2f}%), "
            f"max |d conf| {dc:.2e}, max |d score| {ds:.2e}"
        )
        ok = ok and same and dc <= TOL and ds <= TOL
        for k, v in changes(spans, p["spans"], p["gold"]).items():
            total[k] += v
    if any(total.values()):
        print(
            f"changed segments: {total['only_ref']} spans only in the reference ({total['only_ref_gold']} of them gold), "
            f"{total['only_new']} only in the new predictions ({total['only_new_gold']} gold); of the reference's "
            f"{total['relabelled']} relabelled (same tokens), {total['moved']} other boundaries, "
            f"{total['dropped']} dropped; {total['added']} new spans elsewhere"
        )
    print("same predictions" if ok else "PREDICTIONS DIFFER")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
