"""Model packages: where they live, the model card (model.json), checksums and validation.

A package is a directory::

    model.json          the card: name, version, labels, tag scheme, features, architecture,
                        temperature, training data and licences, command, metrics, sha256 per file
    model.onnx          fp32 ONNX graph: inputs ids (B, L, F) int64 and mask (B, L) float32,
                        output logits (B, L, 1 + 2 * n_labels)
    model.int8.onnx     optional dynamically quantised variant (used when the card says so)
    model.safetensors   the weights for further training (architecture config in the card)
    gazetteer.tsv       optional name list (features.gazetteer)
    vectors.npz, vectors.words.txt
                        optional frozen pretrained word vectors (features.vectors): an extra
                        ONNX input ``vectors`` (B, L, dim) float32
    replay.jsonl.gz     optional sample of the training data, for fine-tuning without forgetting
                        (card: ``replay``)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from nerdesk.core.errors import Errors, err
from nerdesk.core.model.card import ModelCard
from nerdesk.core.resources import resources_dir
from nerdesk.core.schema import problem

CARD_NAME = "model.json"
CARD_FORMAT = "nerdesk-model/1"
DEFAULT_MODEL_NAME = "en-base"


def models_dir() -> Path:
    return resources_dir() / "models"


def default_model_path() -> Path:
    return models_dir() / DEFAULT_MODEL_NAME


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_model_path(path: str | os.PathLike | None) -> Path:
    """None -> the default model; a bare name -> resources/models/<name> if that exists."""
    if path is None:
        p = default_model_path()
    else:
        p = Path(path)
        if not p.exists() and not p.is_absolute() and len(p.parts) == 1:
            shipped = models_dir() / p
            if shipped.exists():
                p = shipped
    if not p.exists():
        raise err(Errors.E200, path=str(p))
    if p.is_file():
        if p.name == CARD_NAME or p.suffix == ".onnx":
            p = p.parent
        else:
            raise err(Errors.E200, path=str(p))
    return p


def _valid_span_calibration(sc: Any) -> bool:
    """What the schema cannot say of a span calibration (its shapes are checked there): a Platt
    slope above 0; isotonic points with increasing x, as many as y."""
    if sc is None:
        return True
    if isinstance(sc, list):
        return sc[0] > 0
    x, y = sc["x"], sc["y"]
    return (
        len(x) == len(y)
        and all(a < b for a, b in zip(x, x[1:]))
        and all(_valid_span_calibration(v) for v in sc.get("per_label", {}).values())
    )


def load_card(model_dir: Path, *, verify: bool = True) -> ModelCard:
    """Read and validate ``model.json``; with ``verify`` check every listed file and its sha256."""
    from nerdesk.core.model.features import validate_config, vector_files

    card_path = model_dir / CARD_NAME
    if not card_path.is_file():
        raise err(Errors.E201, path=str(card_path))
    try:
        parsed = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise err(Errors.E205, path=str(card_path), reason=str(exc)) from None
    if not isinstance(parsed, dict):
        raise err(Errors.E205, path=str(card_path), reason="not a JSON object")
    wrong = problem("model-card", parsed)  # resources/schemas/model-card.schema.json
    if wrong:
        raise err(Errors.E205, path=str(card_path), reason=f"'{wrong[0]}' {wrong[1]}")
    card = ModelCard.from_dict(parsed)  # the schema holds: every key has its field's type
    labels = card.labels
    if "-" in "".join(labels) or len(set(labels)) != len(labels):
        raise err(Errors.E205, path=str(card_path), reason="labels must be distinct non-empty names without '-'")
    if not card.temperature > 0:
        raise err(Errors.E205, path=str(card_path), reason="temperature must be a positive number")
    if not _valid_span_calibration(card.span_calibration):
        raise err(
            Errors.E205,
            path=str(card_path),
            reason="span_calibration must be null, [a > 0, b] or {x: [...], y: [...]} with increasing x, as many y",
        )
    parents = card.label_parents or {}
    if not isinstance(parents, dict) or any(k not in labels or v not in labels or k == v for k, v in parents.items()):
        raise err(
            Errors.E205,
            path=str(card_path),
            reason="label_parents must map labels of the card to other labels of the card",
        )
    reason = validate_config(card.features)
    if reason:
        raise err(Errors.E205, path=str(card_path), reason=reason)
    for name in vector_files(card.features):  # the gazetteer, the word vectors
        if not (model_dir / name).is_file():
            raise err(Errors.E201, path=str(model_dir / name))
    for variant in ("fp32", "int8"):
        graph = card.onnx.get(variant)
        if graph is not None and not (model_dir / graph).is_file():
            raise err(Errors.E201, path=str(model_dir / graph))
    if verify:
        for name, meta in card.files.items():
            fp = model_dir / name
            if not fp.is_file():
                raise err(Errors.E201, path=str(fp))
            want = meta.get("sha256") if isinstance(meta, dict) else meta
            if want and sha256_file(fp) != want:
                raise err(Errors.E206, path=str(fp))
    return card


def write_card(model_dir: Path, card: ModelCard) -> ModelCard:
    """Fill in ``files`` (sha256 and size of every other file in the package), write the card
    (``to_dict``: its keys in their order) and return it as written."""
    files = {}
    for fp in sorted(model_dir.iterdir()):
        if fp.is_file() and fp.name != CARD_NAME:
            files[fp.name] = {"sha256": sha256_file(fp), "bytes": fp.stat().st_size}
    card = card.replace(files=files)
    (model_dir / CARD_NAME).write_text(dump_card(card), encoding="utf-8")
    return card


def dump_card(card: ModelCard) -> str:
    """The text of a card file (model.json, nerdesk.json): indented JSON, non-ASCII as it is."""
    return json.dumps(card.to_dict(), indent=2, ensure_ascii=False) + "\n"


def list_models(extra_dirs: list[Path] | None = None) -> list[dict[str, Any]]:
    """Shipped (and any extra) model packages, with a short summary each; broken ones are reported."""
    out = []
    dirs = [models_dir()] + list(extra_dirs or [])
    for base in dirs:
        if not base.is_dir():
            continue
        for d in sorted(base.iterdir()):
            if not d.is_dir():
                continue
            entry: dict[str, Any] = {"path": str(d), "name": d.name}
            if not (d / CARD_NAME).is_file() and (d / "config.json").is_file():  # a Hugging Face package
                try:
                    meta = (
                        json.loads((d / "nerdesk.json").read_text(encoding="utf-8"))
                        if (d / "nerdesk.json").is_file()
                        else {}
                    )
                    cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
                    labels = meta.get("labels") or sorted(
                        {str(t).split("-", 1)[-1] for t in (cfg.get("id2label") or {}).values() if t != "O"}
                    )
                    entry.update(
                        name=meta.get("name", d.name),
                        version=meta.get("version", "hf"),
                        labels=labels,
                        default=False,
                        kind="hf",
                    )
                except (OSError, ValueError, AttributeError) as exc:
                    entry["error"] = str(exc)
                out.append(entry)
                continue
            try:
                card = load_card(d, verify=False)
                entry.update(
                    name=card.name,
                    version=card.version,
                    labels=card.labels,
                    default=d.resolve() == default_model_path().resolve(),
                )
            except Exception as exc:  # noqa: BLE001 - listing must not stop at a broken package
                entry["error"] = str(exc)
            out.append(entry)
    return out
