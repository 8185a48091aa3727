"""The accurate model: a BERT tagger (all-MiniLM-L6-v2 + casing) fine-tuned from bundles through the
CLI, run by the app's onnxruntime HF runner with its calibration; a fine-tune of that model (or of
any BERT token classifier a user brings) keeps its labels' output rows and adds the new ones."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli.helpers import gold_bundle, run

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def accurate(tmp_path_factory, shared_data_dir):
    tmp = tmp_path_factory.mktemp("acc")
    bundle = gold_bundle(tmp, shared_data_dir / "adapt" / "crossner_politics" / "train.jsonl", 40)
    out = tmp / "ft"
    lines = [
        json.loads(x)
        for x in run(
            "finetune",
            bundle,
            "--base",
            "minilm",
            "--out",
            out,
            "--epochs",
            "3",
            "--threads",
            "1",
            "--allow-small",
            "--progress",
            "jsonl",
        ).splitlines()
    ]
    return tmp, bundle, out, lines


@pytest.fixture(scope="module")
def shared_data_dir():
    from tests.conftest import SHARED

    assert SHARED.exists()
    return SHARED


def test_finetune_minilm_writes_a_package_the_app_runs(accurate):
    from nerdesk.core.model import load_model
    from nerdesk.core.model.hf import HFModel

    tmp, bundle, out, lines = accurate
    result = lines[-1]["result"]
    assert any("done" in x for x in lines) and result["labels"][0] == "country" and "politician" in result["labels"]
    assert {p.name for p in out.iterdir()} == {
        "model.onnx",
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "nerdesk.json",
        "vocab.txt.gz",  # the words of the 34 segments it trained on (a bare encoder has no base vocabulary)
    }
    meta = json.loads((out / "nerdesk.json").read_text())
    assert meta["vocab"]["sentences"] == 34 and meta["vocab"]["base_words"] == 0
    assert meta["kind"] == "nerdesk-bert-tagger" and meta["finetune"]["segments"] == {"train": 34, "held_out": 6}
    assert meta["finetune"]["recipe"]["epochs"] == 3 and meta["temperature"] > 0
    assert "Apache-2.0" in meta["licences"]["base"]
    m = load_model(out)
    assert isinstance(m, HFModel) and "casing_ids" in m._inputs and m.labels == meta["labels"]
    assert m.card.finetune["segments"]["train"] == 34
    words = "Barack Obama of the Democratic Party won the 2008 United States presidential election .".split()
    pred = m.predict([words, [], words[:3]], only=["politician", "election"])
    assert len(pred) == 3 and pred[1].spans == [] and set(pred[0].scores) >= {"mnlp", "margin"}
    assert all(s[2] in ("politician", "election") and 0 <= s[3] <= 1 for s in pred[0].spans)
    # casing reaches the graph: the same words lower-cased give other logits
    assert not np.allclose(m.logits([words])[0], m.logits([[w.lower() for w in words]])[0])
    # a project predicts with it like with any model
    p = tmp / "p.nerdesk"
    run("init", p, "--labels", "politician,election")
    src = tmp / "t.txt"
    src.write_text(" ".join(words) + "\n", encoding="utf-8")
    run("import", p, src)
    assert "Predicted 1 segments" in run("predict", p, "--model", out)


def test_a_finetune_of_the_finetune_keeps_its_rows_and_adds_labels(accurate, tmp_path, shared_data_dir):
    from safetensors.numpy import load_file

    from nerdesk.core.types import drain
    from nerdesk.train.hf_finetune import finetune_hf_iter

    tmp, _, out, _ = accurate
    disease = gold_bundle(tmp_path, shared_data_dir / "adapt" / "ncbi_disease" / "train.jsonl", 20)
    meta = drain(
        finetune_hf_iter(
            [disease],
            tmp_path / "ft2",
            base=out,
            epochs=1,
            min_steps=0,
            lr=0.0,
            head_lr=0.0,
            threads=1,
            log=lambda s: None,
        )
    )
    old = json.loads((out / "config.json").read_text())["id2label"]
    new = json.loads((tmp_path / "ft2" / "config.json").read_text())["id2label"]
    assert meta.labels[:-1] == json.loads((out / "nerdesk.json").read_text())["labels"]
    assert meta.labels[-1] == "Disease" and len(new) == len(old) + 2
    assert all(new[k] == v for k, v in old.items())
    from safetensors.torch import load_file as load_torch

    from nerdesk.train.bert import QSCALE, dequantize_state

    raw = load_file(str(out / "model.safetensors"))
    assert raw["classifier.weight"].dtype == np.int8 and "classifier.weight" + QSCALE in raw  # stored as int8 rows
    a = dequantize_state(load_torch(str(out / "model.safetensors")))
    b = dequantize_state(load_torch(str(tmp_path / "ft2" / "model.safetensors")))
    k = len(old)
    # lr 0: the rows as they were (within a quantisation step)
    assert np.allclose(a["classifier.weight"].numpy(), b["classifier.weight"][:k].numpy(), atol=1e-2)
    assert (b["classifier.bias"][k:] < a["classifier.bias"].min()).all()  # new tags start unlikely
    assert meta.version == "1.0.1"


def test_a_base_that_is_not_bert_is_refused(tmp_path):
    from nerdesk.core.errors import NerdeskError
    from nerdesk.core.types import drain
    from nerdesk.train.hf_finetune import finetune_hf_iter

    d = tmp_path / "gpt"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (d / "model.safetensors").write_bytes(b"")
    (d / "tokenizer.json").write_text("{}")
    with pytest.raises(NerdeskError) as e:
        drain(finetune_hf_iter([tmp_path / "none.zip"], tmp_path / "o", base=d, log=lambda s: None))
    assert e.value.code == "E205" and "model_type bert" in str(e.value)


def test_train_the_bert_tagger_on_corpora(tmp_path, shared_data_dir):
    """`nerdesk train --base minilm`: the accurate model for a corpus's labels, its held-out share
    fitting the calibration; the card names the data and the command."""
    from nerdesk.core.model import load_model

    out = tmp_path / "acc"
    run(
        "train",
        shared_data_dir / "train" / "btc" / "dev.jsonl",
        "--base",
        "minilm",
        "--limit",
        "60",
        "--holdout",
        "0.2",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--label-map",
        "PER=PER,ORG=ORG,LOC=LOC",
        "--name",
        "tiny-acc",
        "--out",
        out,
    )
    meta = json.loads((out / "nerdesk.json").read_text())
    assert meta["name"] == "tiny-acc" and meta["labels"] == ["LOC", "ORG", "PER"]
    assert meta["finetune"]["segments"]["held_out"] > 0 and meta["finetune"]["recipe"]["epochs"] == 1
    assert meta["training"]["data"][0]["licence"] == "Broad Twitter Corpus, CC BY 4.0"
    assert meta["training"]["command"].startswith("nerdesk")  # sys.argv: pytest's under CliRunner
    m = load_model(out)
    assert m.labels == ["LOC", "ORG", "PER"] and len(m.predict([["Paris", "is", "nice"]])) == 1


def test_refit_ships_a_model_that_also_learned_the_held_out_segments(accurate, tmp_path):
    """``refit``: the first model (34 segments) chooses int8 and fits the calibration on the 6 held
    out; the model that ships is trained again on all 40 with the same recipe and keeps both."""
    from nerdesk.core.model import load_model
    from nerdesk.core.types import drain
    from nerdesk.train.hf_finetune import finetune_hf_iter

    tmp, bundle, out, _ = accurate
    kw = dict(base=out, epochs=1, min_steps=0, threads=1, log=lambda s: None)
    plain = drain(finetune_hf_iter([bundle], tmp_path / "plain", **kw))
    meta = drain(finetune_hf_iter([bundle], tmp_path / "refit", refit=True, refit_min_held_out=5, **kw))
    assert plain.finetune["refit"] is None
    r = meta.finetune["refit"]
    assert r["segments"] == 40 and r["epochs"] == 1 and r["steps"] == 3  # 40 segments, batch 16
    assert meta.finetune["recipe"]["steps"] == 3 - 0 and meta.finetune["segments"]["held_out"] == 6
    # the calibration and the variant are the first model's: the same as the plain run's
    assert (meta.temperature, meta.variant) == (plain.temperature, plain.variant)
    assert meta.finetune["held_out"] == plain.finetune["held_out"]
    a = (tmp_path / "plain" / "model.safetensors").read_bytes()
    assert a != (tmp_path / "refit" / "model.safetensors").read_bytes()
    m = load_model(tmp_path / "refit")
    assert m.labels == meta.labels and len(m.predict([["Barack", "Obama", "won", "."]])) == 1


def test_a_finetune_of_en_accurate_replays_its_shipped_sample_and_measures_forgetting(accurate, tmp_path):
    """en-accurate ships a sample of its training data (replay.jsonl.gz, from no ../shared): a
    fine-tune mixes a fresh share of it into every epoch, scores the base labels on its held-out part
    before and after, and passes the sample on to the new package."""
    from nerdesk.core.types import drain
    from nerdesk.train.hf_finetune import finetune_hf_iter

    _, bundle, _, _ = accurate
    lines: list[str] = []
    meta = drain(
        finetune_hf_iter(
            [bundle],
            tmp_path / "ft",
            base="en-accurate",
            epochs=1,
            min_steps=0,
            replay=40,
            replay_ratio=0.5,
            forgetting_sample=30,
            threads=1,
            log=lines.append,
        )
    )
    rp = meta.finetune["replay"]
    assert 30 <= rp["sentences"] <= 40 and rp["ratio"] == 0.5
    # 34 segments and half as many replay windows each epoch, batch 16
    assert meta.finetune["recipe"]["steps"] == 4
    fg = meta.finetune["forgetting"]
    assert fg["labels"] == ["LOC", "ORG", "PER"] and 20 <= fg["sentences"] <= 30
    assert 0 < fg["before"] <= 1 and 0 <= fg["after"] <= 1
    assert (tmp_path / "ft" / "replay.jsonl.gz").is_file() and meta.replay["file"] == "replay.jsonl.gz"
    on_disk = json.loads((tmp_path / "ft" / "nerdesk.json").read_text())
    assert on_disk["finetune"]["forgetting"] == fg
    assert any("base domain, held-out F1" in x for x in lines)
    # a new label the base model called PER counts as PER where a project asks for the base labels
    assert meta.label_parents["politician"] == "PER" == meta.finetune["label_parents"]["politician"]["parent"]
    assert meta.finetune["term_lists"] == []  # a gold bundle: no term list's suggestion in it
    # the recipe's switches are on the card (replay targets: gold only by default)
    assert meta.finetune["config"]["replay_distill"] == 0.0 and "length_buckets" in meta.finetune["config"]
    # the words it learnt from: the base's and its 34 trained segments' (input drift reads them)
    from nerdesk.core.model.vocab import read_vocab

    vocab, base_vocab = read_vocab(tmp_path / "ft"), read_vocab("resources/models/en-accurate")
    assert vocab is not None and base_vocab is not None and set(base_vocab) < set(vocab)
    assert meta.extra["vocab"]["sentences"] == 34 and meta.extra["vocab"]["base_words"] == len(base_vocab)
