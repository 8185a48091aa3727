"""The model card as a typed, frozen object: what a package's ``model.json`` says (and what a Hugging
Face package's ``config.json`` and ``nerdesk.json`` say, as :class:`nerdesk.core.model.hf.HFModel`
presents them, with ``format`` "hf-onnx").

A card becomes an object in one place, :meth:`ModelCard.from_dict` (``load_card`` calls it after
the schema, resources/schemas/model-card.schema.json, and its hand checks have passed), and goes back
to JSON in one, :meth:`ModelCard.to_dict` (what ``write_card`` writes). The round trip is exact,
key order included: a card names its package's files by sha256, so rewriting one (a vocabulary
added, a graph requantised) must not reorder or retype what was there, and the model's id (a hash
of its ONNX file) never depends on the card.

Every key the schema allows has a typed field, and so has every other key nerdesk reads (``training``,
``metrics``, ``finetune``, ...); the rest of what a card records (its notes: ``kind``, ``inputs``,
``outputs``, ``licences``, ``vocab``, ``requantized``, ...) is kept, in order, in ``extra``. A field
whose key the card lacked reads as its default and is written back only once it is set to something
else, so a card written from an object says no more than the card it came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: A span calibration (``decode.calibrate_span``): a Platt pair [a, b], an isotonic map {x, y,
#: per_label}, or None for none.
SpanCalibration = list[float] | dict[str, Any] | None

_NOT_FIELDS = ("extra", "order")


@dataclass(frozen=True)
class ModelCard:
    """A model card. ``order``: the keys of the card it was read from, in their order (to_dict
    writes them back in that order; new keys follow). Nested parts stay the JSON they are."""

    name: str
    version: str
    labels: list[str]
    format: str | None = None  # "nerdesk-model/1"; "hf-onnx"; None in a Hugging Face nerdesk.json
    tag_scheme: str = "BIO"
    tags: list[str] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)  # the FeatureExtractor's config
    architecture: dict[str, Any] = field(default_factory=dict)  # train/model.py's build_model config
    parameters: int | None = None
    temperature: float = 1.0
    span_calibration: SpanCalibration = None
    onnx: dict[str, str] = field(default_factory=dict)  # fp32, int8: file names; default: a variant
    weights: str = "model.safetensors"
    replay: dict[str, Any] | None = None  # the training sample shipped for fine-tuning
    training: dict[str, Any] = field(default_factory=dict)  # command, config, data, holdout, history
    calibration: dict[str, Any] = field(default_factory=dict)  # what the calibration was fitted on
    metrics: dict[str, Any] = field(default_factory=dict)  # dev and report scores per file
    label_parents: dict[str, str] | None = None  # a label -> the label it is a kind of
    finetune: dict[str, Any] = field(default_factory=dict)  # base, bundles, held_out, forgetting, ...
    variant: str | None = None  # a BERT fine-tune's graph in use (nerdesk.json)
    trained_segments: list[str] = field(default_factory=list)  # metrics.segment_hash of each
    files: dict[str, Any] = field(default_factory=dict)  # name -> {sha256, bytes} (or a bare sha256)
    extra: dict[str, Any] = field(default_factory=dict)
    order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelCard:
        """The card of a parsed (and validated) ``model.json``: its values as they are (no coercion,
        so to_dict gives the same JSON back)."""
        known = {f.name for f in dataclasses.fields(cls)} - set(_NOT_FIELDS)
        return cls(
            **{k: v for k, v in d.items() if k in known},
            extra={k: v for k, v in d.items() if k not in known},
            order=tuple(d),
        )

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON: the keys it was read with, in their order, then those set since."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in _NOT_FIELDS:
                continue
            value = getattr(self, f.name)
            if f.name in self.order or not _is_default(f, value):
                out[f.name] = value
        out.update(self.extra)
        rank = {k: i for i, k in enumerate(self.order)}
        return {k: out[k] for k in sorted(out, key=lambda k: rank.get(k, len(rank)))}

    def onnx_file(self, variant: str | None = None) -> str | None:
        """The ONNX file of ``variant`` ("fp32" or "int8"; the card's default variant when None)."""
        return self.onnx.get(variant or self.onnx.get("default", "fp32"))

    def replace(self, **changes: Any) -> ModelCard:
        """A copy with ``changes``: fields by name, any other key into ``extra``."""
        known = {f.name for f in dataclasses.fields(self)} - set(_NOT_FIELDS)
        notes = {k: v for k, v in changes.items() if k not in known}
        fields = {k: v for k, v in changes.items() if k in known}
        return dataclasses.replace(self, **fields, extra={**self.extra, **notes} if notes else self.extra)


def _is_default(f: dataclasses.Field, value: Any) -> bool:
    """Whether ``value`` is field ``f``'s default: what a card lacking the key reads as (never true
    of a field without a default: name, version, labels are always written)."""
    factory = f.default_factory
    if callable(factory):
        return bool(value == factory())
    return f.default is not dataclasses.MISSING and bool(value == f.default)
