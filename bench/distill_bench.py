"""Learning from the project's unlabeled text (issue 12, deliverable 5): the accurate model as a
teacher for the fast one, and self-training.

    .venv/bin/python bench/distill_bench.py [--n 200] [--seeds 0] [--pool 1000] [--threads 2]
        [--domains crossner_politics,ncbi_disease] [--variants base,teacher,student,self]

Per domain and seed, N corrected segments of the domain's train split (shuffled with
Random(0), as bench/finetune_bench.py takes them; crossner_politics' person/organisation/location
are PER/ORG/LOC) go into a bundle, and the unlabeled pool stands for the project's unreviewed
segments: for ncbi_disease the next POOL sentences of its train split, for crossner_politics (whose
train split is 200 sentences) its dev split; their gold labels are never read. The test split is
only scored. Variants, each scored on the test split (exact F1, the domain's labels):

- base:    the fast model fine-tuned on the bundle (``nerdesk finetune``)
- teacher: en-accurate fine-tuned on the bundle (``nerdesk finetune --base en-accurate``)
- student: the fast model fine-tuned on the bundle + the pool labelled by the teacher (silver,
           loss weight ``--silver-weight``, ``--silver-ratio`` x N silver sentences per epoch)
- self:    en-accurate fine-tuned on the bundle + the pool labelled by the teacher (self-training)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from finetune_bench import SYNONYMS, make_bundle, rename  # noqa: E402

from nerdesk.core.model import load_model  # noqa: E402
from nerdesk.core.model.data import load_records  # noqa: E402
from nerdesk.core.model.evaluate import evaluate  # noqa: E402
from nerdesk.core.types import drain  # noqa: E402


def records(lines: list[str], tmp: Path, name: str):
    (tmp / name).write_text("".join(lines), encoding="utf-8")
    return load_records(tmp / name, {})


def f1(model, test) -> float:
    return round(evaluate(model, test)["exact"]["f1"], 4)


def label(model, pool) -> list[tuple[list[str], list[tuple[int, int, str]]]]:
    preds = model.predict([w for w, _ in pool])
    return [(w, [(a, b, lab) for a, b, lab, _ in p.spans]) for (w, _), p in zip(pool, preds)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--pool", type=int, default=1000)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--domains", default="crossner_politics,ncbi_disease")
    ap.add_argument("--variants", default="base,teacher,student,self")
    ap.add_argument("--silver-weight", type=float, default=0.5)
    ap.add_argument("--silver-ratio", type=float, default=1.0)
    ap.add_argument("--teacher", default="en-accurate")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from nerdesk.train.finetune import finetune_iter
    from nerdesk.train.hf_finetune import finetune_hf_iter

    variants = args.variants.split(",")
    quiet = dict(log=lambda s: None)
    for domain in args.domains.split(","):
        d = args.data / "adapt" / domain
        names = SYNONYMS.get(domain, {})
        train = rename((d / "train.jsonl").read_text(encoding="utf-8").splitlines(True), names)
        random.Random(0).shuffle(train)
        gold = train[: args.n]
        pool_lines = (
            train[args.n : args.n + args.pool]
            if len(train) > args.n
            else (d / "dev.jsonl").read_text(encoding="utf-8").splitlines(True)[: args.pool]
        )
        test_lines = rename((d / "test.jsonl").read_text(encoding="utf-8").splitlines(True), names)
        for seed in map(int, args.seeds.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                test = records(test_lines, tmp, "test.jsonl")
                pool = [(w, []) for w, _ in records(pool_lines, tmp, "pool.jsonl")]  # gold never read
                bundle = make_bundle(gold, tmp)
                res = {"domain": domain, "n": args.n, "seed": seed, "pool": len(pool)}

                def timed(key, gen, out):
                    t = time.perf_counter()
                    drain(gen)
                    res[key + "_seconds"] = round(time.perf_counter() - t, 1)
                    res[key + "_f1"] = f1(load_model(out), test)
                    print(json.dumps({key: res[key + "_f1"], "seconds": res[key + "_seconds"]}), flush=True)

                if "base" in variants:
                    timed(
                        "base",
                        finetune_iter([bundle], tmp / "base", seed=seed, threads=args.threads, **quiet),
                        tmp / "base",
                    )
                if {"teacher", "student", "self"} & set(variants):
                    timed(
                        "teacher",
                        finetune_hf_iter(
                            [bundle], tmp / "teacher", base=args.teacher, seed=seed, threads=args.threads, **quiet
                        ),
                        tmp / "teacher",
                    )
                    t = time.perf_counter()
                    silver = label(load_model(tmp / "teacher"), pool)
                    res["silver_seconds"] = round(time.perf_counter() - t, 1)
                    res["silver_spans"] = sum(len(s) for _, s in silver)
                if "student" in variants:
                    timed(
                        "student",
                        finetune_iter(
                            [bundle],
                            tmp / "student",
                            seed=seed,
                            threads=args.threads,
                            silver=silver,
                            silver_weight=args.silver_weight,
                            silver_ratio=args.silver_ratio,
                            **quiet,
                        ),
                        tmp / "student",
                    )
                if "self" in variants:
                    from nerdesk.train.finetune import bundle_sentences, to_tokens

                    lines, _, _ = bundle_sentences([bundle])
                    rng = random.Random(seed)
                    rng.shuffle(lines)
                    n_dev = int(round(len(lines) * 0.15))
                    segs = [to_tokens(x) for x in lines]
                    timed(
                        "self",
                        finetune_hf_iter(
                            [],
                            tmp / "self",
                            base=args.teacher,
                            seed=seed,
                            threads=args.threads,
                            segments=(segs[n_dev:] + silver, segs[:n_dev]),
                            **quiet,
                        ),
                        tmp / "self",
                    )
                print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
