"""Input drift against the model's training data (issue 14): the share of an import's words the
active model's training vocabulary lacks, each segment's novelty, the alert, and where the
vocabulary comes from (the package's vocab.txt.gz, its base's, its training sample, the project's
trained-on segments)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from nerdesk.core import metrics
from nerdesk.core.formats import jsonl
from nerdesk.core.metrics import UNSEEN_IN_TRAINING_ALERT, drift, segment_hash
from nerdesk.core.model.vocab import read_vocab, training_vocabulary, words, write_vocab
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Span, drain
from tests.core.test_honest_scores import _Model

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"


def _project(path: Path, texts: list[str], package: Path | None, card: dict | None = None) -> Project:
    p = Project.create(path, labels=["PER"], user="r")
    drain(p.import_records([DocRecord(t) for t in texts]))
    drain(p.predict(_Model("m@1")))
    p.store.conn.execute(
        "UPDATE models SET path = ?, card = ? WHERE id = 'm@1'", (str(package or ""), json.dumps(card or {}))
    )
    return p


def test_words_are_lower_cased_with_digits_as_zero():
    assert words("Ada met BOB in 1984, room 7b.") == ["ada", "met", "bob", "in", "0000", "room", "0b"]


def test_the_rate_and_novelty_count_each_segments_words_against_the_package_vocabulary(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    note = write_vocab(pkg, {"ada": 5, "met": 3, "bob": 2, "number": 1, "0": 1})
    assert note["words"] == 5 and read_vocab(pkg) == {"ada": 5, "met": 3, "bob": 2, "number": 1, "0": 1}
    texts = [f"Ada met Bob number {i} ." for i in range(4)] + ["Ada met Zed and Kim ."]
    with _project(tmp_path / "p.nerdesk", texts, pkg) as p:
        d = drift(p.store, windows=1)
        (w,) = d["windows"]
        # 4 segments of 5 known words (the number reads as 0), one of 5 words with 3 unknown
        assert w["unseen_in_training_rate"] == pytest.approx(3 / 25)
        nov = w["novelty"]
        assert nov["segments"] == 5 and nov["p50"] == 0.0 and nov["max"] == pytest.approx(0.6)
        assert nov["histogram"] == [4, 0, 0, 0, 0, 0, 1, 0, 0, 0] and nov["novel_share"] == pytest.approx(0.2)
        assert d["training_vocabulary"]["source"] == "vocab.txt.gz of pkg" and d["training_vocabulary"]["words"] == 5
        # the newest window over the threshold raises the alert; the others are kept as they were
        d = drift(p.store, windows=5)
        assert d["windows"][-1]["unseen_in_training_rate"] == pytest.approx(0.6)
        assert any("never occur in the active model's training data" in a for a in d["alerts"])
    # an import in the vocabulary's own words: no such alert
    with _project(tmp_path / "q.nerdesk", texts[:4], pkg) as p:
        d = drift(p.store, windows=2)
        assert d["windows"][-1]["unseen_in_training_rate"] == 0.0
        assert not any("training data" in a for a in d["alerts"])


def test_without_a_vocabulary_nothing_is_claimed(tmp_path):
    with _project(tmp_path / "p.nerdesk", ["Ada met Zed ."] * 3, None) as p:
        d = drift(p.store, windows=1)
        assert d["training_vocabulary"] is None
        assert d["windows"][0]["unseen_in_training_rate"] is None and d["windows"][0]["novelty"] is None


def test_a_fine_tune_without_its_own_vocabulary_adds_its_trained_segments_to_its_bases(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    write_vocab(base, {w: 1 for w in ["ada", "met", "bob", "number", "0"]})
    ft = tmp_path / "ft"  # an accurate fine-tune's package: nerdesk.json, no vocab.txt.gz
    ft.mkdir()
    card = {"name": "ft", "finetune": {"base": {"name": "base", "path": str(base)}}}
    (ft / "nerdesk.json").write_text(json.dumps(card))
    texts = ["Ada met Zed .", "Ada met Kim ."]
    card["trained_segments"] = [segment_hash(texts[0])]
    with _project(tmp_path / "p.nerdesk", texts, ft, card) as p:
        # unreviewed, the trained-on segment is not known to be one yet: only the base's words count
        assert drift(p.store, windows=1)["windows"][0]["unseen_in_training_rate"] == pytest.approx(2 / 6)
        for sid, _ in p.next_items(2, order="document"):
            p.set_spans(sid, [Span(0, 3, "PER")])
            p.accept(sid)
        d = drift(p.store, windows=1)
        tv = d["training_vocabulary"]
        assert tv["source"] == "vocab.txt.gz of base (the base of ft)" and tv["trained_segments"] == 1
        assert "zed" in metrics.model_vocabulary(p.store, "m@1")[0]
        assert d["windows"][0]["unseen_in_training_rate"] == pytest.approx(1 / 6)  # only 'kim' is new


def test_the_shipped_sample_stands_in_for_a_missing_vocabulary(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    with gzip.open(pkg / "replay.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"source": "a", "part": "replay", "tokens": ["Ada", "met", "Bob"], "spans": []}) + "\n")
        f.write(json.dumps({"source": "a", "part": "guard", "tokens": ["Ada", "saw", "Zed"], "spans": []}) + "\n")
    vocab, where = training_vocabulary(pkg)
    assert set(vocab) == {"ada", "met", "bob"} and "replay.jsonl.gz, 1 sentences" in where
    with _project(tmp_path / "p.nerdesk", ["Ada met Zed ."] * 3, pkg) as p:
        tv = drift(p.store, windows=1)["training_vocabulary"]
        assert tv["held_out_rate"] == pytest.approx(2 / 3)  # the guard sentence: 'saw', 'zed' unseen


def test_the_shipped_models_carry_their_training_vocabulary_under_the_same_id():
    from nerdesk.core.model import load_model

    for name in ("en-base", "en-accurate"):
        vocab, where = training_vocabulary(MODELS / name)
        assert where == f"vocab.txt.gz of {name}" and len(vocab) > 30_000
        assert vocab["the"] > 10_000
    assert load_model("en-base").id == "en-base@2.1.0+680bea60"  # the file is not part of the id


def test_text_of_another_domain_is_clearly_more_unseen_in_training(tmp_path, shared_data):
    """gum_ne's test split (a training corpus's, never trained on) against ncbi_disease's abstracts."""
    from nerdesk.core.model import load_model
    from nerdesk.core.predict import predict_project

    model = load_model("en-base")
    rates = {}
    for kind, name in (("train", "gum_ne"), ("adapt", "ncbi_disease")):
        recs = list(jsonl.read(shared_data / kind / name / "test.jsonl"))[:150]
        with Project.create(tmp_path / f"{name}.nerdesk", labels=["PER", "ORG", "LOC"], user="r") as p:
            drain(p.import_records([DocRecord(r.text, None, r.tokens, r.sentences) for r in recs]))
            drain(predict_project(p.store, p.identity, model, activate=True))
            d = drift(p.store, windows=1)
            assert d["training_vocabulary"]["source"] == "vocab.txt.gz of en-base"
            assert 0.05 < d["training_vocabulary"]["held_out_rate"] < 0.12
            rates[name] = d["windows"][0]["unseen_in_training_rate"]
            fired = any("training data" in a for a in d["alerts"])
            assert fired == (rates[name] > UNSEEN_IN_TRAINING_ALERT)
    assert rates["gum_ne"] < UNSEEN_IN_TRAINING_ALERT < rates["ncbi_disease"]
    assert rates["ncbi_disease"] > 2 * rates["gum_ne"]
