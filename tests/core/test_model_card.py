"""The model card as a ModelCard: the round trip through from_dict / to_dict is exact (values, key
order, bytes written), so reading and rewriting a package changes nothing; a broken card still
gives E205 naming what is wrong; model ids do not depend on the card object."""

from __future__ import annotations

import json
import shutil

import pytest

from nerdesk.core.errors import NerdeskError
from nerdesk.core.model import ModelCard, load_model, models_dir
from nerdesk.core.model.package import CARD_FORMAT, dump_card, load_card, sha256_file, write_card

SHIPPED_CARDS = [models_dir() / "en-base" / "model.json", models_dir() / "en-accurate" / "nerdesk.json"]


def _old_write_card_text(model_dir, card: dict) -> str:
    """What write_card wrote before cards were objects (the dict with ``files`` filled in)."""
    files = {
        fp.name: {"sha256": sha256_file(fp), "bytes": fp.stat().st_size}
        for fp in sorted(model_dir.iterdir())
        if fp.is_file() and fp.name != "model.json"
    }
    return json.dumps({**card, "files": files}, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", SHIPPED_CARDS, ids=lambda p: p.parent.name)
def test_the_shipped_cards_round_trip_exactly(path):
    text = path.read_text(encoding="utf-8")
    d = json.loads(text)
    card = ModelCard.from_dict(d)
    assert card.to_dict() == d and list(card.to_dict()) == list(d)
    assert dump_card(card) == text  # the same bytes: key order, indentation, non-ASCII
    assert ModelCard.from_dict(card.to_dict()) == card
    assert card.name == d["name"] and card.labels == d["labels"] and card.temperature == d["temperature"]


def test_rewriting_the_shipped_package_writes_the_same_bytes(tmp_path):
    d = tmp_path / "m"
    shutil.copytree(models_dir() / "en-base", d)
    before = (d / "model.json").read_bytes()
    written = write_card(d, load_card(d))
    assert (d / "model.json").read_bytes() == before
    assert written == load_card(d)


def test_write_card_writes_what_it_wrote_for_a_dict(tmp_path):
    """A card as training builds it: its own key order (not the fields'), an explicit null, an int
    where a float is usual, keys the schema does not name; ``files`` filled in at the end."""
    d = tmp_path / "m"
    shutil.copytree(models_dir() / "en-base", d)
    shipped = json.loads((d / "model.json").read_text(encoding="utf-8"))
    built = {
        "format": CARD_FORMAT,
        "name": "custom",
        "version": "1.0.0",
        "kind": "nerdesk-hash-cnn",
        "labels": shipped["labels"],
        "tags": shipped["tags"],
        "features": shipped["features"],
        "temperature": 1,
        "span_calibration": None,
        "onnx": {"fp32": "model.onnx", "int8": "model.int8.onnx", "default": "int8"},
        "replay": None,
        "training": {"command": "nerdesk train x.jsonl", "data": []},
        "metrics": {"dev": {}},
        "finetune": {"held_out": {"before": None, "after": None}},
        "label_parents": {},
        "notes": "Ünïcode stays as it is",
        "trained_segments": [],
    }
    want = _old_write_card_text(d, built)
    written = write_card(d, ModelCard.from_dict(built))
    assert (d / "model.json").read_text(encoding="utf-8") == want
    assert written.to_dict() == json.loads(want)
    again = write_card(d, written)  # a rewrite keeps ``files`` where it was
    assert (d / "model.json").read_text(encoding="utf-8") == want and again == written
    card = load_card(d)
    assert card.temperature == 1 and type(card.temperature) is int and card.span_calibration is None
    assert card.extra == {"kind": "nerdesk-hash-cnn", "notes": "Ünïcode stays as it is"}


def test_a_key_the_card_lacks_is_written_only_once_set():
    card = ModelCard.from_dict({"name": "m", "version": "1", "labels": ["PER"]})
    assert card.to_dict() == {"name": "m", "version": "1", "labels": ["PER"]}
    assert card.temperature == 1.0 and card.tag_scheme == "BIO" and card.weights == "model.safetensors"
    assert card.finetune == {} and card.label_parents is None and card.onnx_file() is None
    changed = card.replace(temperature=1.25, vocab={"words": 3})
    assert list(changed.to_dict()) == ["name", "version", "labels", "temperature", "vocab"]
    assert changed.extra == {"vocab": {"words": 3}} and card.extra == {}
    # a key the card had keeps its place, whatever its new value
    kept = ModelCard.from_dict({"temperature": 1.0, "name": "m", "version": "1", "labels": ["PER"]})
    assert list(kept.replace(temperature=2.0, name="n").to_dict()) == ["temperature", "name", "version", "labels"]


def test_the_default_onnx_file():
    card = ModelCard.from_dict(
        {"name": "m", "version": "1", "labels": ["A"], "onnx": {"fp32": "a.onnx", "int8": "b.onnx"}}
    )
    assert card.onnx_file() == "a.onnx" and card.onnx_file("int8") == "b.onnx"
    assert card.replace(onnx={**card.onnx, "default": "int8"}).onnx_file() == "b.onnx"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"labels": None}, "'labels' is missing"),
        ({"name": None}, "'name' is missing"),
        ({"onnx": None}, "'onnx' is missing"),
        ({"labels": "PER"}, "'labels' must be a list"),
        ({"version": 2}, "'version' must be a string"),
        ({"temperature": "warm"}, "'temperature' must be a number"),
        ({"temperature": 0}, "temperature must be a positive number"),
        ({"features": []}, "'features' must be an object"),
        ({"labels": ["PER", "PER"]}, "labels must be distinct"),
    ],
)
def test_a_card_missing_a_key_or_of_a_wrong_type_gives_E205(tmp_path, change, says):
    d = tmp_path / "m"
    shutil.copytree(models_dir() / "en-base", d)
    card = json.loads((d / "model.json").read_text(encoding="utf-8"))
    for k, v in change.items():
        if v is None:
            del card[k]
        else:
            card[k] = v
    (d / "model.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(NerdeskError) as e:
        load_card(d)
    assert e.value.code == "E205" and says in e.value.message


def test_model_ids_hash_the_onnx_file_as_before():
    base = load_model("en-base")
    graph = models_dir() / "en-base" / base.card.onnx_file()
    assert base.id == f"en-base@{base.card.version}+{sha256_file(graph)[:8]}" == "en-base@2.1.0+680bea60"
    accurate = load_model("en-accurate")
    meta = json.loads((models_dir() / "en-accurate" / "nerdesk.json").read_text(encoding="utf-8"))
    assert accurate.id == f"en-accurate@hf+{sha256_file(models_dir() / 'en-accurate' / 'model.onnx')[:8]}"
    # the Hugging Face package's card: its nerdesk.json (but the calibration) and what config.json says
    d = accurate.card.to_dict()
    assert accurate.card.format == "hf-onnx" and d["id2label"] and ModelCard.from_dict(d) == accurate.card
    assert {k: v for k, v in meta.items() if k not in ("temperature", "span_calibration")}.items() <= d.items()


def test_the_store_gives_a_registered_models_card_as_a_model_card(tmp_path):
    """A project's stored card is read back as a ModelCard (the row's name, version and labels where
    the stored JSON records less, as an import of predictions does); an unknown id has none."""
    from nerdesk.core.store import Store

    model = load_model()
    st = Store(tmp_path / "p.nerdesk", create=True)
    with st.transaction():
        st.register_model(model.id, model.card.name, model.card.version, "", "", model.labels, model.card.to_dict())
        st.register_model("import:x", "import:x", "0", "", "", [], {"description": "imported"})
    card = st.model_card(model.id)
    assert isinstance(card, ModelCard) and card == model.card
    assert card.trained_segments == [] and card.to_dict() == model.card.to_dict()
    bare = st.model_card("import:x")
    assert (bare.name, bare.version, bare.labels, bare.extra) == ("import:x", "0", [], {"description": "imported"})
    assert st.model_card("nobody@1") is None
    st.close()
