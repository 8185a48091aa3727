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
    card = train([shared_data / "train/btc/train.jsonl", shared_data / "train/wikigold/train.jsonl"],
                 out, dev_paths=[shared_data / "train/btc/dev.jsonl"], limit=100, epochs=1,
                 threads=1, arch={"emb_width": 16, "width": 32, "depth": 2},
                 features={"type": "spacy-hash", "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
                           "rows": [2000, 200, 500, 200], "hashes": 2, "seed": 1},
                 command="nerdesk train (test)", log=lines.append)
    assert card["labels"] == ["PER", "ORG", "LOC", "MISC"]  # MISC only from wikigold
    assert card["training"]["partial_labels"] == {str(shared_data / "train/btc/train.jsonl"): ["MISC"]}
    assert any("epoch 1" in x for x in lines)
    names = {p.name for p in out.iterdir()}
    assert {"model.json", "model.onnx", "model.safetensors"} <= names
    on_disk = json.loads((out / "model.json").read_text())
    for name, meta in on_disk["files"].items():
        assert sha256_file(out / name) == meta["sha256"]
    assert on_disk["temperature"] > 0 and on_disk["training"]["command"] == "nerdesk train (test)"
    assert not list(tmp_path.glob(".tiny.tmp*"))

    m = load_model(out, variant="fp32")
    assert m.labels == card["labels"]
    preds = m.predict([["Obama", "visited", "Paris"], ["x"] * 3])
    assert len(preds) == 2 and all(0 <= s[3] <= 1 for p in preds for s in p.spans)

    # the safetensors weights reproduce the ONNX graph's logits (so training can resume from them)
    import numpy as np
    import torch
    from safetensors.torch import load_file

    from nerdesk.train.model import build_model

    net = build_model(len(card["tags"]), card["features"], card["architecture"])
    net.load_state_dict(load_file(str(out / "model.safetensors")))
    net.eval()
    ids, mask = m.features.batch([["Obama", "visited", "Paris"]])
    ref = net(torch.from_numpy(ids), torch.from_numpy(mask)).detach().numpy()
    assert np.allclose(ref, m._run(ids, mask), atol=1e-4)


def test_train_refuses_non_empty_out(tmp_path, shared_data):
    from nerdesk.core.errors import NerdeskError
    from nerdesk.train.train import train

    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(NerdeskError) as e:
        train([shared_data / "train/btc/train.jsonl"], tmp_path, limit=10, epochs=1)
    assert e.value.code == "E211"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
