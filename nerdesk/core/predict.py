"""Pre-annotate a project's segments with a model, resumably.

Only segments without a prediction from this model are predicted, so an interrupted run picks
up where it stopped and new documents get predicted on the next run. Each batch commits on its
own, which is what makes the run resumable; a model is registered (and made active if the
project has none) before the first batch.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerdesk.core import labels as labelset
from nerdesk.core import settings
from nerdesk.core.model.sketch import sketch
from nerdesk.core.store import predictions as predictions_sql
from nerdesk.core.types import Progress

if TYPE_CHECKING:
    from nerdesk.core.model.card import ModelCard
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

BATCH = 512
#: The default routing score stored with each prediction (see nerdesk.core.model.decode).
ROUTING_SCORE = "mnlp"


def model_sha256(model: Any) -> str:
    return str(getattr(model, "sha256", "") or "")


def register(store: Store, actor: Identity, model: Any, *, activate: bool | None = None) -> str:
    """Record the model in the project; make it active if asked, or if none is. A project without
    labels takes the model's; a project with labels keeps them (the model is asked for those)."""
    card: ModelCard = model.card
    with store.transaction():
        store.register_model(
            model.id,
            card.name,
            card.version,
            str(getattr(model, "path", "")),
            model_sha256(model),
            list(model.labels),
            card.to_dict(),
        )
        if activate or (activate is None and store.active_model_id() is None):
            store.set_active_model(model.id)
            history = store.get_setting("model_history", [])
            if not history or history[-1] != model.id:
                store.set_setting("model_history", [*history, model.id])
        if not settings.label_names(store):
            labelset.add_labels(store, actor, list(model.labels))
    return model.id


def active_model_source(store: Store) -> tuple[str | None, str]:
    """(what to load: the active model's package path, or None for the shipped default; its id or
    name): :func:`nerdesk.core.store.predictions.active_model_source` of the project's store."""
    return predictions_sql.active_model_source(store)


def preannotate(store: Store, actor: Identity, *, threads: int = 1) -> Generator[Progress, None, int]:
    """Pre-annotate every segment the active model (else the default) has not seen: what every
    import does afterwards, in the background in the app. Resumable: it only predicts what is
    missing."""
    source, _ = active_model_source(store)
    return _then_terms(store, predict_project(store, actor, source, threads=threads))


def _then_terms(store: Store, model_run: Generator[Progress, None, int]) -> Generator[Progress, None, int]:
    """The model's run, then the project's term lists over what they have not matched (nerdesk.core.terms):
    every import is pre-annotated by both. Returns the model's count."""
    from nerdesk.core.terms import match_project

    n = yield from model_run
    yield from match_project(store)
    return n


def predict_project(
    store: Store,
    actor: Identity,
    model: Any = None,
    *,
    threads: int = 1,
    batch_size: int = BATCH,
    activate: bool | None = None,
) -> Generator[Progress, None, int]:
    """Predict every segment that has no prediction from ``model`` (a loaded model, a path, or
    None for the default model). Yields Progress; returns the number of segments predicted."""
    if model is None or isinstance(model, (str, Path)):
        from nerdesk.core.model import load_model

        model = load_model(model, threads=threads)
    model_id = register(store, actor, model, activate=activate)
    # the model is asked for the project's labels only: spans of others would be noise to delete,
    # and uncertainty about them would route segments for nothing
    # a label renamed or merged in the project keeps the model's outputs: the model-label map
    # (nerdesk.core.taxonomy) names them as the project does now
    from nerdesk.core.taxonomy import model_label_map

    mapping = model_label_map(store)
    wanted = set(settings.label_names(store))
    scope = [label for label in model.labels if mapping.get(label, label) in wanted]
    ask = {"only": scope} if len(scope) < len(model.labels) else {}
    total = store.count_segments_without_prediction(model_id)
    done = 0
    last = 0
    yield Progress(0, total, "predicting")
    while True:
        ids = store.segments_without_prediction(model_id, last, batch_size)
        if not ids:
            break
        segs = store.segments_with_text(ids)
        preds = model.predict([seg.words() for seg in segs], **ask)
        rows = []
        for seg, pred in zip(segs, preds):
            flat, base = seg.tokens.flat, seg.start
            spans = [
                [base + flat[2 * ts], base + flat[2 * te - 1], mapping.get(label, label), round(float(conf), 4)]
                for ts, te, label, conf in pred.spans
            ]
            sc = pred.scores
            rows.append(
                (
                    seg.id,
                    spans,
                    sc["least_confidence"],
                    sc["margin"],
                    sc["entropy"],
                    sc["mnlp"],
                    sc[ROUTING_SCORE],
                    _sketch_of(pred),
                )
            )
        with store.transaction():
            store.insert_predictions(model_id, rows)
        done += len(ids)
        last = ids[-1]
        yield Progress(done, total, "predicting")
    return done


def _sketch_of(pred: Any) -> bytes | None:
    """The stored sketch of a prediction's embedding; None for models without one."""
    emb = getattr(pred, "embedding", None)
    return None if emb is None else sketch(emb)


def teacher_labels(
    store: Store, teacher: str | Path, limit: int = 1000
) -> tuple[list[tuple[list[str], list[tuple[int, int, str]]]], list[str]]:
    """What a teacher model (e.g. the accurate model fine-tuned on the same bundles) finds in up to
    ``limit`` unreviewed segments of the project: ((words, token spans) per segment, their texts),
    the silver data of ``nerdesk finetune --teacher`` (learning from the project's own text)."""
    from nerdesk.core.model import load_model

    segs = store.segments_with_text(store.unreviewed_segment_ids(limit))
    words = [seg.words() for seg in segs]
    model = load_model(teacher)
    out: list[tuple[list[str], list[tuple[int, int, str]]]] = []
    for i in range(0, len(words), BATCH):
        part = words[i : i + BATCH]
        out.extend((w, [(a, b, lab) for a, b, lab, _ in p.spans]) for w, p in zip(part, model.predict(part)))
    return out, [seg.own_text() for seg in segs]
