"""The shipped default model, the load_model API, and clear errors for broken packages."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from nerdesk.core.errors import NerdeskError
from nerdesk.core.model import default_model_path, load_model
from nerdesk.core.model.data import load_records
from nerdesk.core.model.evaluate import evaluate
from nerdesk.core.model.package import sha256_file


@pytest.fixture(scope="module")
def default_model():
    return load_model()


def test_default_model_api(default_model):
    m = default_model
    assert m.path.resolve() == default_model_path().resolve()
    assert {"PER", "ORG", "LOC"} <= set(m.labels)
    assert m.id.startswith(f"{m.card.name}@{m.card.version}+") and len(m.id.split("+")[1]) == 8
    assert "nerdesk train" in m.card.training["command"]
    preds = m.predict(
        [["Angela", "Merkel", "visited", "Germany", "and", "met", "Microsoft", "staff", "."], [], ["hello"]]
    )
    assert len(preds) == 3
    spans = preds[0].spans
    assert (0, 2, "PER") in [s[:3] for s in spans] and (3, 4, "LOC") in [s[:3] for s in spans]
    for s, e, lab, conf in spans:
        assert 0 <= s < e <= 9 and lab in m.labels and 0.0 <= conf <= 1.0
    assert preds[1].spans == []
    for p in preds:
        assert set(p.scores) == {"least_confidence", "margin", "entropy", "mnlp"}
        assert all(0.0 <= v <= 1.0 for v in p.scores.values())


def test_inference_never_imports_torch():
    import subprocess

    code = (
        "import sys; from nerdesk.core.model import load_model; m = load_model(); "
        "m.predict([['Ada', 'Lovelace']]); "
        "print(sys.modules.get('torch') is not None, sys.modules.get('PySide6') is not None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("variant,tol", [("fp32", 1e-4), ("int8", 0.02)])
def test_batched_equals_one_by_one(variant, tol):
    # fp32 is exact; dynamic int8 scales activations per batch, so confidences move a little
    m = load_model(variant=variant)
    batch = [
        ["John", "lives", "in", "New", "York"],
        ["Apple", "Inc", "."],
        ["a"] * 40,
        ["The", "United", "Nations", "met", "in", "Geneva", "on", "Monday"],
    ]
    together = m.predict(batch)
    for seg, p in zip(batch, together):
        alone = m.predict([seg])[0]
        assert [s[:3] for s in alone.spans] == [s[:3] for s in p.spans]
        assert np.allclose([s[3] for s in alone.spans], [s[3] for s in p.spans], atol=tol)
        assert np.allclose(list(alone.scores.values()), list(p.scores.values()), atol=tol)


def test_default_model_f1_floor_on_shared_test(default_model, shared_data):
    recs = load_records(shared_data / "train/gum_ne/test.jsonl")
    res = evaluate(default_model, recs, labels=["PER", "ORG", "LOC"])
    assert res["exact"]["f1"] > 0.50  # spaCy en_core_web_sm: 0.46
    assert res["ece"] is not None and res["ece"] < 0.15


def _copy_default(tmp_path):
    dst = tmp_path / "m"
    shutil.copytree(default_model_path(), dst)
    return dst


def _rewrite_card(d, **changes):
    card = json.loads((d / "model.json").read_text())
    card.update(changes)
    (d / "model.json").write_text(json.dumps(card))
    return card


def _reseal(d, name):
    card = json.loads((d / "model.json").read_text())
    card["files"][name]["sha256"] = sha256_file(d / name)
    (d / "model.json").write_text(json.dumps(card))


def _code(path, **kw):
    with pytest.raises(NerdeskError) as e:
        load_model(path, **kw)
    return e.value.code


def test_bad_models_give_clear_errors(tmp_path):
    assert _code(tmp_path / "nope") == "E200"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _code(empty) == "E207"

    d = _copy_default(tmp_path)
    before = sorted(p.name for p in d.iterdir())
    card = json.loads((d / "model.json").read_text())
    default_file = card["onnx"][card["onnx"]["default"]]

    # checksum mismatch, then corrupt ONNX (re-sealed so the checksum passes)
    (d / default_file).write_bytes(b"this is not an onnx file")
    assert _code(d) == "E206"
    _reseal(d, default_file)
    assert _code(d) == "E202"
    # missing file
    (d / default_file).unlink()
    assert _code(d) == "E201"
    # card labels not matching the output size
    d2 = _copy_default(tmp_path / "b")
    _rewrite_card(d2, labels=card["labels"] + ["EXTRA"])
    err = pytest.raises(NerdeskError, load_model, d2).value
    assert err.code == "E204" and "outputs" in err.message
    # a label parent that is not a label of the card
    _rewrite_card(d2, label_parents={"politician": "PER"})
    err = pytest.raises(NerdeskError, load_model, d2).value
    assert err.code == "E205" and "label_parents" in err.message
    # invalid card
    (d2 / "model.json").write_text("{not json")
    assert _code(d2) == "E205"
    # nothing written into the package by failed loads
    assert sorted(p.name for p in d.iterdir()) == sorted(set(before) - {default_file})


def test_unexpected_inputs(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    d = _copy_default(tmp_path)
    card = json.loads((d / "model.json").read_text())
    x = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "l"])
    y = helper.make_tensor_value_info("out", TensorProto.INT64, ["b", "l"])
    graph = helper.make_graph([helper.make_node("Identity", ["input_ids"], ["out"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    name = card["onnx"][card["onnx"]["default"]]
    onnx.save(model, str(d / name))
    _reseal(d, name)
    err = pytest.raises(NerdeskError, load_model, d).value
    assert err.code == "E203" and "input_ids" in err.message
