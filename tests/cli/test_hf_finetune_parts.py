"""Parts of the accurate model's fine-tune loop (nerdesk.train.hf_finetune): batches of windows of
like length, and replay targets that keep the base model's own distribution."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

pytest.importorskip("torch")


def _windows(n: int, seed: int = 0):
    rng = random.Random(seed)
    return [([1] * rng.choice([5, 8, 20, 60, 120]), None, [0], 1.0) for _ in range(n)]


def test_length_buckets_cover_every_window_once_and_pad_less():
    from nerdesk.train.hf_finetune import _batches

    ex = _windows(300)

    def padded(batches):
        return sum(max(len(x[0]) for x in b) * len(b) for b in batches)

    plain = _batches(ex, 16, random.Random(0), False)
    buckets = _batches(ex, 16, random.Random(0), True)
    for batches in (plain, buckets):
        assert sorted(id(x) for b in batches for x in b) == sorted(id(x) for x in ex)
        assert sorted(len(b) for b in batches) == [12] + [16] * 18
    assert padded(buckets) < 0.7 * padded(plain)
    # the batches themselves come in a shuffled order, not shortest first
    firsts = [len(b[0][0]) for b in buckets]
    assert firsts != sorted(firsts)


def test_replay_targets_mix_gold_with_the_base_models_distribution():
    import torch

    from nerdesk.core.model.decode import bio_tags
    from nerdesk.core.model.hf import WordPiece, _tag_map
    from nerdesk.train.bert import build_classifier, read_checkpoint
    from nerdesk.train.hf_finetune import _examples, _pad, _soft_loss, _with_base_targets, resolve_base

    base_dir, _ = resolve_base("en-accurate")
    cfg, sd = read_checkpoint(base_dir)
    old, src = _tag_map({int(k): v for k, v in cfg["id2label"].items()})
    tags = bio_tags([*old, "Disease"])
    rows = list(src) + [None] * (len(tags) - len(src))
    known = [r is not None for r in rows]
    tok = WordPiece(json.loads((base_dir / "tokenizer.json").read_text()), str(base_dir / "tokenizer.json"))
    segs = [("Ada Lovelace lived in London with Charles Babbage .".split(), [(0, 2, "PER"), (4, 5, "LOC")])]
    ex = _examples(segs, tok, tags, 256, [1.0])
    model = build_classifier(cfg, sd, len(tags), rows)
    gold_only = _with_base_targets(ex, model, known, 0.0, tok.pad_id)[0]
    pos, soft = gold_only[4]
    assert pos == [j for j, t in enumerate(ex[0][2]) if t >= 0]
    assert np.array_equal(soft.argmax(1), [ex[0][2][j] for j in pos]) and np.allclose(soft.max(1), 1.0)
    mixed = _with_base_targets(ex, model, known, 0.5, tok.pad_id)[0]
    pos, soft = mixed[4]
    assert np.allclose(soft.sum(1), 1.0, atol=1e-5)
    assert np.all(soft[:, ~np.array(known)] == 0)  # the new label's tags: no base probability
    assert np.all(soft.max(1) >= 0.5)  # half gold, half the base model's belief
    # the loss of a replay window is the cross entropy against those targets; other windows keep theirs
    ids = torch.from_numpy(_pad([ex[0][0]] * 2, tok.pad_id))
    cas = torch.from_numpy(_pad([ex[0][1]] * 2, 5))
    y = torch.from_numpy(_pad([ex[0][2]] * 2, -100))
    model.eval()
    logits = model(ids, (ids != tok.pad_id).long(), cas)
    hard = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y.clamp(min=0), reduction="none")
    out = _soft_loss(hard, logits, [ex[0], mixed])
    assert torch.equal(out[0], hard[0])
    expect = -(torch.from_numpy(soft) * torch.log_softmax(logits[1, pos], -1)).sum(-1)
    assert torch.allclose(out[1, pos], expect)
