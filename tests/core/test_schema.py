"""nerdesk's schema checker (nerdesk/core/schema.py) says what the jsonschema package says about
bundles: on documents nerdesk writes and on thousands of broken copies of them."""

from __future__ import annotations

import copy
import json
import random
import zipfile
from pathlib import Path

import jsonschema
import pytest

from nerdesk.core import bundle
from nerdesk.core.schema import SchemaError, compile_schema, problem, where
from tests.core.test_bundle import reviewed_project

SCHEMAS = Path(__file__).resolve().parents[2] / "resources" / "schemas"
NAMES = ("bundle-manifest", "bundle-correction", "model-card")
CARD = Path(__file__).resolve().parents[2] / "resources" / "models" / "en-base" / "model.json"


def _documents(tmp_path):
    p = reviewed_project(tmp_path / "a.nerdesk")
    p.taxonomy.add_label("CITY", parent="LOC")  # the manifest's labels then hold a parent and a guide
    p.guidelines.set_fields("PER", definition="people by name", boundaries="no titles")
    p.guidelines.add_example("PER", p.document(1)["segments"][0].id, 0, 13)
    out = tmp_path / "b.zip"
    bundle.write_bundle(p.store, p.identity, out)
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        lines = [json.loads(x) for x in z.read("corrections.jsonl").decode().splitlines()]
    return {"bundle-manifest": [manifest], "bundle-correction": lines, "model-card": [json.loads(CARD.read_text())]}


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


REPLACEMENTS = [None, True, -1, 7, 2.5, "", "x", "send_back", [], [1, 2], {}, {"start": 1}]


def _mutate(doc, rng):
    doc = copy.deepcopy(doc)
    path = rng.choice([p for p in _paths(doc) if p])
    *head, last = path
    parent = doc
    for k in head:
        parent = parent[k]
    if isinstance(parent, dict) and rng.random() < 0.3:
        del parent[last]
    elif isinstance(parent, dict) and rng.random() < 0.15:
        parent["unknown_field"] = 1
    else:
        parent[last] = copy.deepcopy(rng.choice(REPLACEMENTS))
    return doc


@pytest.mark.parametrize("name", NAMES)
def test_the_checker_agrees_with_jsonschema(tmp_path, name):
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    reference = jsonschema.Draft202012Validator(schema)
    docs = _documents(tmp_path)[name]
    for doc in docs:
        assert problem(name, doc) is None and reference.is_valid(doc)
    rng = random.Random(0)
    broken = 0
    n = 1500 if name != "model-card" else 600
    for _ in range(n):
        doc = _mutate(rng.choice(docs), rng)
        ours, theirs = problem(name, doc), reference.is_valid(doc)
        assert (ours is None) == theirs, (doc, ours)
        broken += ours is not None
    assert broken > n // 10  # many mutations break the document (a card has many free-form fields)


def test_problems_name_the_field():
    compiled = compile_schema(
        {
            "type": "object",
            "required": ["a"],
            "additionalProperties": False,
            "properties": {"a": {"type": "array", "items": {"type": "integer", "minimum": 0}}},
        }
    )

    def check(value, _):
        bad = compiled(value, None)
        return None if bad is None else (where(bad[0]), bad[1])

    assert check({"a": [1, 2]}, "") is None
    assert check({}, "") == ("a", "is missing")
    assert check({"a": [1, -2]}, "") == ("a[1]", "must be at least 0")
    assert check({"a": [1, "2"]}, "") == ("a[1]", "must be an integer")
    assert check({"a": [], "b": 1}, "") == ("b", "is not a known field")
    assert check({"a": [True]}, "") == ("a[0]", "must be an integer")


def test_a_keyword_the_checker_does_not_know_is_refused():
    with pytest.raises(SchemaError, match="uniqueItems"):
        compile_schema({"type": "array", "uniqueItems": True})


def test_a_card_that_breaks_its_schema_names_the_field(tmp_path):
    import shutil

    from nerdesk.core.errors import NerdeskError
    from nerdesk.core.model.package import load_card

    d = tmp_path / "m"
    shutil.copytree(CARD.parent, d)
    card = json.loads(CARD.read_text())
    del card["onnx"]["fp32"]
    (d / "model.json").write_text(json.dumps(card))
    with pytest.raises(NerdeskError) as e:
        load_card(d)
    assert e.value.code == "E205" and "'onnx.fp32' is missing" in e.value.message
    card = json.loads(CARD.read_text())
    card["span_calibration"] = {"x": [0.1, 0.5], "y": [0.2, 1.5]}
    (d / "model.json").write_text(json.dumps(card))
    with pytest.raises(NerdeskError) as e:
        load_card(d)
    assert "'span_calibration" in e.value.message
