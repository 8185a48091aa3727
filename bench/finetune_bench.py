"""Fine-tuning figures (issue 6), from the shipped default model.

    .venv/bin/python bench/finetune_bench.py [--data ../shared/data] [--spacy] [--base DIR] [--seed N] [--threads N]

A. For crossner_politics and ncbi_disease: 200 corrected segments of the domain's train split
   go through the real loop (project, predict, corrections imported, bundle, `finetune`).
   Label synonyms, as a user would have them: a project that already has PER/ORG/LOC annotates
   persons as PER, not as a new `person` label, so crossner_politics' person, organisation and
   location are renamed PER, ORG, LOC (SYNONYMS), in the bundle and in the domain's test split
   alike. A 1:1 renaming: spaCy's F1 on the domain does not change. Its other labels
   (politician, politicalparty, country, election, event, misc) stay new labels.
   Reported: wall time, F1 on the domain's test split (its own labels), and F1 on the original
   domain (the test splits of train/, PER/ORG/LOC) before and after, asked as a project with
   the base labels asks (``only``): new labels count as the base label the fine-tune found them
   to be a kind of (its card's label_parents: politician -> PER, ...), else as O. Also reported
   (``..._hand_map``): all labels predicted, then the new labels that name a kind of PER/ORG/LOC
   mapped back by hand (BACK_MAP), the measure before label_parents existed.
   With --spacy: `spacy train` (blank English, efficiency NER config, CPU) on the same 200
   segments (the same 15% held out as its dev set), its F1 on the test split and wall time
   (``--spacy-seed``: its system.seed).
B. `finetune` on 1,000 corrected segments (ncbi_disease train) with replay: wall time.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core.bundle import write_bundle  # noqa: E402
from nerdesk.core.model import load_model  # noqa: E402
from nerdesk.core.model.data import DEFAULT_LABEL_MAP, load_records  # noqa: E402
from nerdesk.core.model.evaluate import evaluate, score_spans  # noqa: E402
from nerdesk.core.project import Project  # noqa: E402
from nerdesk.core.types import drain  # noqa: E402

SYNONYMS = {"crossner_politics": {"person": "PER", "organisation": "ORG", "location": "LOC"}}
BASE_LABELS = ["PER", "ORG", "LOC", "MISC"]
BACK_MAP = {"politician": "PER", "country": "LOC", "politicalparty": "ORG"}


def rename(lines: list[str], names: dict[str, str]) -> list[str]:
    """JSONL lines with their BIO tags' labels renamed."""
    out = []
    for line in lines:
        o = json.loads(line)
        o["tags"] = [t if t == "O" else f"{t[:2]}{names.get(t[2:], t[2:])}" for t in o["tags"]]
        out.append(json.dumps(o, ensure_ascii=False) + "\n")
    return out


def make_bundle(lines: list[str], tmp: Path, base: Path | None = None) -> Path:
    src = tmp / "corrected.jsonl"
    src.write_text("".join(lines), encoding="utf-8")
    labels = sorted({t[2:] for line in lines for t in json.loads(line)["tags"] if t != "O"})
    p = Project.create(tmp / "p.nerdesk", labels=labels)  # a project for the domain's labels
    drain(p.import_file(src, "jsonl"))
    drain(p.predict(base))
    drain(p.import_file(src, "jsonl", annotations=True, annotator="expert", add_labels=True))
    out = tmp / "bundle.zip"
    write_bundle(p.store, p.identity, out)
    p.close()
    return out


def original_domain_f1(model, data: Path, hand_map: bool = False) -> dict[str, float]:
    out = {}
    for f in sorted((data / "train").glob("*/test.jsonl")):
        recs = load_records(f, DEFAULT_LABEL_MAP)
        if hand_map:
            preds = model.predict([t for t, _ in recs])
            mapped = [[(a, b, BACK_MAP.get(lab, lab), c) for a, b, lab, c in p.spans] for p in preds]
        else:  # as a project with the base model's labels asks
            mapped = [p.spans for p in model.predict([t for t, _ in recs], only=BASE_LABELS)]
        out[f.parent.name] = round(score_spans([g for _, g in recs], mapped, ["PER", "ORG", "LOC"])["exact"]["f1"], 4)
    return out


def spacy_train(lines: list[str], test: list[str], tmp: Path, holdout: int, seed: int = 0) -> dict:
    from nerdesk.core._spacy import import_spacy

    spacy = import_spacy()
    from spacy.tokens import Doc, DocBin

    nlp = spacy.blank("en")

    def docbin(ls, path):
        db = DocBin()
        for line in ls:
            o = json.loads(line)
            doc = Doc(nlp.vocab, words=o["tokens"])
            from spacy.training import iob_to_biluo
            from spacy.training.iob_utils import biluo_tags_to_spans

            doc.ents = biluo_tags_to_spans(doc, iob_to_biluo(o["tags"]))
            db.add(doc)
        db.to_disk(path)

    docbin(lines[holdout:], tmp / "train.spacy")
    docbin(lines[:holdout], tmp / "dev.spacy")
    docbin(test, tmp / "test.spacy")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "init",
            "config",
            str(tmp / "config.cfg"),
            "--lang",
            "en",
            "--pipeline",
            "ner",
            "--optimize",
            "efficiency",
            "--force",
        ],
        check=True,
        capture_output=True,
    )
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "train",
            str(tmp / "config.cfg"),
            "--output",
            str(tmp / "out"),
            "--paths.train",
            str(tmp / "train.spacy"),
            "--paths.dev",
            str(tmp / "dev.spacy"),
            "--system.seed",
            str(seed),
        ],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - t
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "evaluate",
            str(tmp / "out" / "model-best"),
            str(tmp / "test.spacy"),
            "--output",
            str(tmp / "scores.json"),
        ],
        check=True,
        capture_output=True,
    )
    scores = json.loads((tmp / "scores.json").read_text())
    return {"f1": round(scores["ents_f"], 4), "train_seconds": round(seconds, 1)}


def timed_finetune(lines: list[str], tmp: Path, args, kw: dict) -> tuple[dict, float]:
    """The bundle of these corrected lines, fine-tuned into tmp/ft: (its card, seconds of finetune).
    With --accurate, the BERT tagger (``finetune --base minilm``) instead of the fast model."""
    from nerdesk.train.finetune import finetune_iter

    bundle = make_bundle(lines, tmp, args.base)
    t = time.perf_counter()
    if args.accurate:
        from nerdesk.train.hf_finetune import finetune_hf_iter

        card = drain(
            finetune_hf_iter(
                [bundle], tmp / "ft", base=args.accurate, seed=args.seed, threads=args.threads, log=lambda s: None, **kw
            )
        )
    else:
        card = drain(
            finetune_iter(
                [bundle], tmp / "ft", base=args.base, seed=args.seed, threads=args.threads, log=lambda s: None, **kw
            )
        )
    return card, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--spacy", action="store_true")
    ap.add_argument("--spacy-seed", type=int, default=0, help="spaCy's system.seed")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--base", type=Path, default=None, help="base model package (default: the shipped default model)")
    ap.add_argument("--seed", type=int, default=0, help="fine-tuning seed (held-out slice, replay sample, batches)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for fine-tuning")
    ap.add_argument("--domains", default="crossner_politics,ncbi_disease")
    ap.add_argument("--big", choices=["yes", "no", "only"], default="yes", help="B: 1,000 segments")
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep each fine-tuned model as KEEP/<domain>-s<seed> (for forgetting_diagnosis.py)",
    )
    ap.add_argument(
        "--accurate",
        default=None,
        metavar="BASE",
        help="fine-tune the BERT tagger from BASE (e.g. minilm) instead of the fast model; "
        "the original-domain rows then score it on the labels it learned (no base labels)",
    )
    ap.add_argument(
        "--ft",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra finetune_iter argument (Python literal), for experiments",
    )
    args = ap.parse_args()
    import ast

    kw = {k: ast.literal_eval(v) for k, v in (x.split("=", 1) for x in args.ft)}

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    base = load_model(args.base)
    base_orig = original_domain_f1(base, args.data) if args.big != "only" else {}
    print(json.dumps({"base": base.id, "original_domain_f1": base_orig, "ft": kw}), flush=True)
    for domain in args.domains.split(",") if args.big != "only" else ():
        d = args.data / "adapt" / domain
        names = SYNONYMS.get(domain, {})
        lines = rename((d / "train.jsonl").read_text(encoding="utf-8").splitlines(True), names)
        random.Random(0).shuffle(lines)
        lines = lines[: args.n]
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            card, seconds = timed_finetune(lines, tmp, args, kw)
            model = load_model(tmp / "ft")
            test_lines = rename((d / "test.jsonl").read_text(encoding="utf-8").splitlines(True), names)
            (tmp / "test.jsonl").write_text("".join(test_lines), encoding="utf-8")
            test = load_records(tmp / "test.jsonl", {})
            t = time.perf_counter()
            after = round(evaluate(model, test)["exact"]["f1"], 4)
            words_s = round(sum(len(tk) for tk, _ in test) / (time.perf_counter() - t))
            training = card.training or {"epochs_run": card.finetune["recipe"]["epochs"], "best_epoch": None}
            res = {
                "domain": domain,
                "segments": args.n,
                "finetune_seconds": round(seconds, 1),
                "model": model.id,
                "test_f1_before": round(evaluate(base, test)["exact"]["f1"], 4),
                "test_f1_after": after,
                "test_words_per_s_one_pass": words_s,
                "epochs_run": training["epochs_run"],
                "best_epoch": training["best_epoch"],
                "base_domain_held_out_f1": {
                    k: card.finetune.get("forgetting", {}).get(k) for k in ("before", "after", "sentences")
                },
                "held_out": card.finetune["held_out"],
                "label_parents": {k: v["parent"] for k, v in card.finetune["label_parents"].items()},
                "original_domain_f1_after": original_domain_f1(model, args.data),
                "original_domain_f1_after_hand_map": original_domain_f1(model, args.data, hand_map=True),
            }
            for key in ("", "_hand_map"):
                res["original_domain_drop" + key] = {
                    k: round(base_orig[k] - v, 4) for k, v in res["original_domain_f1_after" + key].items()
                }
            if args.spacy:
                res["spacy_train"] = spacy_train(
                    lines, test_lines, tmp, card.finetune["segments"]["held_out"], args.spacy_seed
                )
            print(json.dumps(res), flush=True)
            if args.keep:
                import shutil

                shutil.copytree(tmp / "ft", args.keep / f"{domain}-s{args.seed}", dirs_exist_ok=True)
    if args.big == "no":
        return
    # B: 1,000 corrected segments with replay
    d = args.data / "adapt" / "ncbi_disease"
    lines = (d / "train.jsonl").read_text(encoding="utf-8").splitlines(True)[:1000]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        card, seconds = timed_finetune(lines, tmp, args, kw)
        print(
            json.dumps(
                {
                    "finetune_1000_segments_seconds": round(seconds, 1),
                    "replay_sentences": card.finetune["replay"]["sentences"],
                    "epochs_run": card.training["epochs_run"],
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
