"""NER models: load a package, predict spans with calibrated confidences, evaluate.

    from nerdesk.core.model import load_model
    m = load_model()                  # the shipped default (resources/models/en-base)
    preds = m.predict([["Ada", "Lovelace", "lived", "in", "London"]])
    preds[0].spans                    # [(0, 2, "PER", 0.97), (4, 5, "LOC", 0.93)]
    preds[0].scores                   # least_confidence, margin, entropy, mnlp (higher = less sure)

Only onnxruntime, numpy and spaCy's vocab are used here; training lives in ``nerdesk.train``.
"""

from __future__ import annotations

import os
from pathlib import Path

from nerdesk.core.errors import Errors, err
from nerdesk.core.model.card import ModelCard
from nerdesk.core.model.decode import SCORE_KEYS, SegmentPrediction
from nerdesk.core.model.package import (
    default_model_path,
    list_models,
    load_card,
    models_dir,
    resources_dir,
)

__all__ = [
    "SCORE_KEYS",
    "ModelCard",
    "SegmentPrediction",
    "default_model_path",
    "list_models",
    "load_card",
    "load_model",
    "models_dir",
    "resources_dir",
]


def load_model(
    path: str | os.PathLike | None = None, threads: int = 1, *, variant: str | None = None, verify: bool = True
):
    """Load a model package (nerdesk card) or a Hugging Face ONNX export (optimum layout).

    ``path=None`` loads the shipped default. ``variant`` picks "fp32" or "int8" (the card's
    default otherwise). Raises NerdeskError (E200-E207) on a missing or broken model.
    """
    from nerdesk.core.model.package import CARD_NAME, resolve_model_path

    p = resolve_model_path(path)
    if (p / CARD_NAME).is_file():
        from nerdesk.core.model.onnx_model import OnnxModel

        return OnnxModel(p, threads=threads, variant=variant, verify=verify)
    if (p / "config.json").is_file():
        from nerdesk.core.model.hf import HFModel

        return HFModel(p, threads=threads)
    if (p / "model.onnx").is_file():
        raise err(Errors.E201, path=str(Path(p) / CARD_NAME))
    raise err(Errors.E207, path=str(p), reason="no model.json (nerdesk) or config.json (Hugging Face)")
