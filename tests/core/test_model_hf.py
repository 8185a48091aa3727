"""Bring your own model: a tiny randomly initialised BERT-style token classifier, exported to ONNX
in optimum's layout by the test itself (no downloads), loads and predicts; word pieces align."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "john",
    "smith",
    "lives",
    "in",
    "lon",
    "##don",
    "##s",
    ".",
    "'",
    "s",
    "new",
    "york",
    "cafe",
    "un",
    "##believ",
    "##able",
]
ID2LABEL = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}


class TinyBert(torch.nn.Module):
    def __init__(self, vocab: int, n_out: int, dim: int = 16):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Embedding(64, dim)
        self.typ = torch.nn.Embedding(2, dim)
        self.norm = torch.nn.LayerNorm(dim)
        self.q, self.k, self.v = (torch.nn.Linear(dim, dim) for _ in range(3))
        self.ff = torch.nn.Sequential(torch.nn.Linear(dim, 32), torch.nn.GELU(), torch.nn.Linear(32, dim))
        self.cls = torch.nn.Linear(dim, n_out)

    def forward(self, input_ids, attention_mask, token_type_ids):
        pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.norm(self.tok(input_ids) + self.pos(pos) + self.typ(token_type_ids))
        att = self.q(x) @ self.k(x).transpose(1, 2) / 4.0
        att = att + (1.0 - attention_mask[:, None, :].float()) * -1e4
        x = x + torch.softmax(att, -1) @ self.v(x)
        x = x + self.ff(x)
        return self.cls(x)


def _tokenizer_json() -> dict:
    return {
        "version": "1.0",
        "normalizer": {
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": True,
            "strip_accents": None,
            "lowercase": True,
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": {w: i for i, w in enumerate(VOCAB)},
        },
    }


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    net = TinyBert(len(VOCAB), len(ID2LABEL)).eval()
    ids = torch.tensor([[2, 6, 7, 3]])
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    torch.onnx.export(
        net,
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(d / "model.onnx"),
        dynamo=False,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        opset_version=17,
        dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids", "logits")},
    )
    (d / "config.json").write_text(
        json.dumps({"model_type": "bert", "id2label": ID2LABEL, "label2id": {v: k for k, v in ID2LABEL.items()}})
    )
    (d / "tokenizer.json").write_text(json.dumps(_tokenizer_json()))
    return d, net


def test_wordpiece_matches_bert_rules():
    from nerdesk.core.model.hf import WordPiece

    wp = WordPiece(_tokenizer_json(), "tokenizer.json")
    v = {w: i for i, w in enumerate(VOCAB)}
    assert wp.word("London") == [v["lon"], v["##don"]]
    assert wp.word("Londons") == [v["lon"], v["##don"], v["##s"]]
    assert wp.word("John's") == [v["john"], v["'"], v["s"]]
    assert wp.word("Unbelievable") == [v["un"], v["##believ"], v["##able"]]
    assert wp.word("Café") == [v["cafe"]]  # accents stripped with lowercase
    assert wp.word("zzz") == [v["[UNK]"]]
    assert wp.word("") == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_hf_model_loads_and_aligns_pieces_to_words(hf_dir):
    from nerdesk.core.model import load_model

    d, net = hf_dir
    m = load_model(d)
    assert m.kind == "hf" and m.labels == ["PER", "LOC"] and m.id.endswith(m.id.split("+")[1])
    words = ["John", "Smith", "lives", "in", "Londons", "."]
    v = {w: i for i, w in enumerate(VOCAB)}
    pieces = [[v["john"]], [v["smith"]], [v["lives"]], [v["in"]], [v["lon"], v["##don"], v["##s"]], [v["."]]]
    row = [v["[CLS]"]] + [p for ps in pieces for p in ps] + [v["[SEP]"]]
    first = [1, 2, 3, 4, 5, 8]
    ids = torch.tensor([row])
    with torch.no_grad():
        ref = net(ids, torch.ones_like(ids), torch.zeros_like(ids))[0].numpy()[first]
    got = m.logits([words])[0]
    # nerdesk tag order O, B-PER, I-PER, B-LOC, I-LOC equals id2label order here
    assert np.allclose(got, ref, atol=1e-4)
    preds = m.predict([words, [], ["New", "York"]])
    assert len(preds) == 3 and preds[1].spans == []
    for p, seg in zip(preds, [words, [], ["New", "York"]]):
        for s, e, lab, conf in p.spans:
            assert 0 <= s < e <= len(seg) and lab in m.labels and 0 <= conf <= 1
        assert all(0 <= x <= 1 for x in p.scores.values())


def test_hf_long_segments_are_windowed(hf_dir):
    from nerdesk.core.model.hf import HFModel

    d, _ = hf_dir
    m = HFModel(d, max_pieces=8)
    words = ["John", "Smith", "lives", "in", "London"] * 5
    lg = m.logits([words])[0]
    assert lg.shape == (25, 5) and np.isfinite(lg).all()
    assert len(m.predict([words])[0].scores) == 4


def test_hf_label_count_mismatch_is_an_error(hf_dir, tmp_path):
    import shutil

    from nerdesk.core.errors import NerdeskError
    from nerdesk.core.model import load_model

    d, _ = hf_dir
    bad = tmp_path / "bad"
    shutil.copytree(d, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["id2label"] = {**cfg["id2label"], "5": "B-ORG", "6": "I-ORG"}
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(NerdeskError) as e:
        load_model(bad)
    assert e.value.code == "E204"
    (bad / "tokenizer.json").unlink()
    with pytest.raises(NerdeskError) as e:
        load_model(bad)
    assert e.value.code == "E201"


def test_the_shipped_accurate_model_runs_without_torch():
    """resources/models/en-accurate: the BERT tagger for PER/ORG/LOC, run by onnxruntime with its
    casing input and calibration; listed beside en-base."""
    import subprocess
    import sys

    code = (
        "import sys; from nerdesk.core.model import load_model, list_models; m = load_model('en-accurate'); "
        "p = m.predict([['Angela', 'Merkel', 'visited', 'Paris', '.']])[0]; print(p.spans); "
        "assert m.labels == ['LOC', 'ORG', 'PER'] and 'casing_ids' in m._inputs and m.temperature > 0; "
        "assert [s[2] for s in p.spans] == ['PER', 'LOC'], p.spans; "
        "assert any(e['name'] == 'en-accurate' and e['labels'] == m.labels for e in list_models()); "
        "sys.exit(1 if [x for x in sys.modules if x.split('.')[0] == 'torch'] else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
