"""Training a tiny model end to end: the package it writes loads with onnxruntime and predicts."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")


def test_train_tiny_model_then_load_and_predict(tmp_path, shared_data):
    from nerdesk.core.model import load_model
    from nerdesk.core.model.package import sha256_file
    from nerdesk.train.train import train

    lines = []
    out = tmp_path / "tiny"
    card = train(
        [shared_data / "train/btc/train.jsonl", shared_data / "train/wikigold/train.jsonl"],
        out,
        dev_paths=[shared_data / "train/btc/dev.jsonl"],
        limit=100,
        epochs=1,
        threads=1,
        arch={"emb_width": 16, "width": 32, "depth": 2},
        features={
            "type": "spacy-hash",
            "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
            "rows": [2000, 200, 500, 200],
            "hashes": 2,
            "seed": 1,
        },
        command="nerdesk train (test)",
        log=lines.append,
    )
    assert card.labels == ["PER", "ORG", "LOC", "MISC"]  # MISC only from wikigold
    assert card.training["partial_labels"] == {str(shared_data / "train/btc/train.jsonl"): ["MISC"]}
    assert any("epoch 1" in x for x in lines)
    names = {p.name for p in out.iterdir()}
    assert {"model.json", "model.onnx", "model.safetensors"} <= names
    on_disk = json.loads((out / "model.json").read_text())
    for name, meta in on_disk["files"].items():
        assert sha256_file(out / name) == meta["sha256"]
    assert on_disk["temperature"] > 0 and on_disk["training"]["command"] == "nerdesk train (test)"
    # the card records every hyperparameter: the defaults, with the run's overrides
    from nerdesk.train.config import TrainConfig, card_config

    assert on_disk["training"]["config"] == card_config(TrainConfig(limit=100, epochs=1))
    assert not list(tmp_path.glob(".tiny.tmp*"))

    m = load_model(out, variant="fp32")
    assert m.labels == card.labels
    preds = m.predict([["Obama", "visited", "Paris"], ["x"] * 3])
    assert len(preds) == 2 and all(0 <= s[3] <= 1 for p in preds for s in p.spans)

    # the safetensors weights reproduce the ONNX graph's logits (so training can resume from them)
    import numpy as np
    import torch
    from safetensors.torch import load_file

    from nerdesk.train.model import build_model

    net = build_model(len(card.tags), card.features, card.architecture)
    net.load_state_dict(load_file(str(out / "model.safetensors")))
    net.eval()
    ids, mask = m.features.batch([["Obama", "visited", "Paris"]])
    ref = net(torch.from_numpy(ids), torch.from_numpy(mask)).detach().numpy()
    assert np.allclose(ref, m._run(ids, mask), atol=1e-4)
    # the second output: the segment in the model's feature space (novelty routing), whitened
    # principal components of the mean token embedding, fitted on the training data
    from nerdesk.train.model import fit_embedding_projection, pooled_embeddings

    assert card.extra["outputs"]["embedding"] == ["batch", 64] and preds[0].embedding.shape == (64,)
    from nerdesk.core.model.data import read_jsonl

    train_feats = [m.features(s.tokens) for s in read_jsonl(shared_data / "train/btc/train.jsonl", limit=50)]
    center, proj = fit_embedding_projection(pooled_embeddings(net, train_feats))
    assert proj.shape == (64, 64)
    z = ((pooled_embeddings(net, train_feats) - center) @ proj).numpy()
    assert np.allclose(z[:, :5].mean(0), 0, atol=1e-4) and np.allclose(z.std(0)[:5] * np.sqrt(len(z)), 1, atol=0.05)


def test_holdout_takes_spread_blocks_and_keeps_labels():
    from nerdesk.core.model.data import HOLDOUT_BLOCK
    from nerdesk.train.train import Corpus, split_holdout

    n = 1000
    c = Corpus("x.jsonl", [[str(i)] for i in range(n)], [[] for _ in range(n)], {"PER", "LOC"})
    train, held = split_holdout(c, 0.15)
    got = sorted(int(t[0]) for t in train.tokens + held.tokens)
    assert got == list(range(n))  # a partition
    assert abs(len(held.tokens) / n - 0.15) < 0.03
    blocks = {int(t[0]) // HOLDOUT_BLOCK for t in held.tokens}
    assert all(int(t[0]) // HOLDOUT_BLOCK not in blocks for t in train.tokens)  # whole blocks
    assert min(blocks) < 10 and max(blocks) > 40  # spread over the file, not its tail
    assert held.labels == train.labels == {"PER", "LOC"} and held.path == "x.jsonl#holdout"
    assert split_holdout(c, 0.15)[1].tokens == held.tokens  # the same every run


def test_distillation_gives_new_tags_no_mass_on_replay_text():
    """Where the base model says O, a student that puts probability on a new label's tag is
    penalised as for any other mistake (not folded into O): replay text holds no new entity."""
    import math

    import torch

    from nerdesk.train.train import distill_loss

    q = torch.tensor([[[1.0, 0.0, 0.0]]])  # base tags O, B-PER, I-PER: the base model says O
    on_o = torch.log(torch.tensor([[[0.998, 0.0005, 0.0005, 0.0005, 0.0005]]]))
    on_new = torch.log(torch.tensor([[[0.5, 0.0, 0.0, 0.5, 0.0]]]).clamp(min=1e-9))  # half on B-Disease
    on_old = torch.log(torch.tensor([[[0.5, 0.5, 0.0, 0.0, 0.0]]]).clamp(min=1e-9))  # half on B-PER
    assert distill_loss(on_o, q).item() < 0.01
    assert distill_loss(on_new, q).item() == pytest.approx(math.log(2), rel=1e-4)
    assert distill_loss(on_new, q).item() == pytest.approx(distill_loss(on_old, q).item(), rel=1e-4)


def test_train_with_frozen_word_vectors(tmp_path, shared_data):
    """Pretrained word vectors travel in the package (not in the weights), feed the ONNX graph as
    an input, stay frozen in training, and the card credits their source."""
    import numpy as np
    import torch
    from safetensors.torch import load_file

    from nerdesk.core.model import load_model
    from nerdesk.core.model.data import read_jsonl
    from nerdesk.train.model import build_model
    from nerdesk.train.train import train
    from nerdesk.train.vectors import write_table

    src = shared_data / "train/btc/train.jsonl"
    words = sorted({w.lower() for s in read_jsonl(src, limit=100) for w in s.tokens})
    vecs = np.random.default_rng(1).normal(size=(len(words), 8)).astype(np.float32)
    write_table(words, vecs, tmp_path / "vec")
    out = tmp_path / "m"
    card = train(
        [src],
        out,
        limit=100,
        epochs=1,
        threads=1,
        vectors=tmp_path / "vec",
        ship_replay=0,
        arch={"emb_width": 8, "width": 16, "depth": 1},
        log=lambda s: None,
        features={"type": "spacy-hash", "attrs": ["NORM", "SHAPE"], "rows": [500, 50], "hashes": 1, "seed": 1},
    )
    assert card.features["vectors"]["file"] == "vectors.npz" and card.features["vectors"]["dim"] == 8
    assert {"vectors.npz", "vectors.words.txt"} <= set(json.loads((out / "model.json").read_text())["files"])
    assert "GloVe" in card.extra["licences"]["word_vectors"]["name"]
    assert card.extra["inputs"]["vectors"] == ["batch", "length", 8]
    state = load_file(str(out / "model.safetensors"))
    assert not any("vec_table" in k for k in state)  # the table ships once, not in the weights
    m = load_model(out, variant="fp32")
    assert {i.name for i in m.session.get_inputs()} == {"ids", "mask", "vectors"}
    net = build_model(len(card.tags), card.features, card.architecture, m.features.vectors)
    net.load_state_dict(state)
    net.eval()
    toks = [["Obama", "visited", "Paris", "today"]]
    ids, mask = m.features.batch(toks)
    ref = net(torch.from_numpy(ids), torch.from_numpy(mask)).detach().numpy()
    assert np.allclose(ref, m._run(ids, mask), atol=1e-4)
    # the vectors matter: zeroing them changes the logits
    feed = m.features.feed(ids, mask)
    feed["vectors"] = np.zeros_like(feed["vectors"])
    assert not np.allclose(m.session.run(["logits"], feed)[0], ref, atol=1e-3)
    with np.load(out / "vectors.npz") as z:
        assert np.array_equal(z["q"], np.load(tmp_path / "vec" / "vectors.npz")["q"])  # frozen, copied
