"""Training configurations: the one place every training default is written.

``TrainConfig`` (``nerdesk train``: :func:`nerdesk.train.train.train_iter`), ``FinetuneConfig``
(``nerdesk finetune`` of the fast model: :func:`nerdesk.train.finetune.finetune_iter`) and
``HFFinetuneConfig`` (the accurate, BERT-style model: :func:`nerdesk.train.hf_finetune.finetune_hf_iter`)
are frozen dataclasses. The functions take one (``config=``, or the same fields as keyword
overrides), the CLI builds its options from their fields (:func:`config_options`: default, type and
help come from here), and the model card records ``asdict(config)``.

Torch-free: the CLI imports this module to build ``--help``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

C = TypeVar("C")

# The hash-CNN's architecture (nerdesk.train.model builds it; ``nerdesk train --width`` etc. override).
DEFAULT_ARCH: dict[str, Any] = {
    "type": "hash-cnn/1",
    "emb_width": 64,
    "width": 128,
    "depth": 4,
    "window": 1,
    "dropout": 0.3,
    "word_dropout": 0.25,
}


def _f(default: Any, help: str = "", flag: str | None = None) -> Any:
    """A config field: its default, the help of its CLI option, and the option's spelling where it is
    not ``--field-name`` (e.g. ``--int8/--no-int8``)."""
    return field(default=default, metadata={"help": help, "flag": flag})


@dataclass(frozen=True)
class TrainConfig:
    """How the fast hash-CNN tagger is trained (from scratch, or warm-started by a fine-tune)."""

    epochs: int = _f(12, "Most epochs.")
    batch_size: int = _f(32, "Sentences per optimiser step.")
    lr: float = _f(2e-3, "Learning rate (AdamW, linear warm-up and decay).")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    ema: float = _f(0.999, "Parameter averaging decay (0: off); the average is evaluated and shipped.")
    label_smoothing: float = _f(0.0, "Mass spread over all tags: less overconfidence.")
    case_augment: float = _f(
        0.0,
        "Share of sentences added again lower-cased (and 0.3x that upper-cased), for "
        "text that does not capitalise names.",
    )
    patience: int = _f(3, "Epochs without a better mean dev F1 before stopping.")
    max_minutes: float | None = _f(None, "Stop after the epoch that passes this.")
    seed: int = _f(0, "Random seed (same seed, same data, same threads: the same weights).")
    holdout: float = _f(
        0.0,
        "Also hold out this share of every DATA file (blocks of 20 sentences) as dev data "
        "(recorded, so fine-tunes can measure forgetting on it).",
    )
    ship_replay: int = _f(
        0,
        "Ship this many training sentences (and as many held-out ones) in the package, so "
        "fine-tuning replays them where the training data is not at hand.",
    )
    limit: int | None = _f(None, "Read at most this many lines per file.")
    quantize: bool = _f(
        True,
        "Also export an int8 ONNX model and make it the default if dev F1 holds (drops "
        "by at most int8_max_drop, 0.01).",
        flag="--int8/--no-int8",
    )
    int8_max_drop: float = 0.01
    # used by fine-tuning (FinetuneConfig sets them); plain training leaves them off
    anchor: float = 0.0
    distill: float = 0.0
    head_lr: float = 1.0
    trainable: tuple[str, ...] | None = None
    select: str = "best"


@dataclass(frozen=True)
class FinetuneConfig:
    """How ``nerdesk finetune`` adapts the fast model to correction bundles (see nerdesk.train.finetune)."""

    holdout: float = _f(0.15, "Share of bundle segments held out for early stopping.")
    replay: int = _f(1000, "Sentences of the base model's training data to mix in.")
    replay_ratio: float | None = _f(
        2.0, "Each epoch trains on a fresh sample of that many replay sentences per bundle segment."
    )
    distill: float = _f(
        1.0,
        "On replay sentences, weight of the base model's own predictions as targets (0-1; "
        "the rest: the corpus's labels).",
    )
    error_weight: float = _f(2.0, "Loss weight of segments the human corrected.")
    epochs: int = _f(40, "Most epochs.")
    patience: int = _f(8, "Epochs without a better held-out F1 before stopping.")
    lr: float = _f(3e-3, "Learning rate.")
    batch_size: int = 16
    head_lr: float = _f(10.0, "Learning-rate multiplier of the output rows of new labels (they start from scratch).")
    anchor: float = _f(0.003, "L2 pull towards the base weights: higher forgets less of the base domain, learns less.")
    refit: bool = _f(
        True,
        "After early stopping chose the epoch count, train again on every segment, the "
        "held-out ones included (about twice the time; where refit_min_held_out (20) or more "
        "are held out).",
        flag="--refit/--no-refit",
    )
    refit_min_held_out: int = 20
    max_steps: int | None = _f(1300, "Step budget: fewer epochs for big bundles (0: no budget).")
    seed: int = _f(0, "Random seed.")
    quantize: bool = _f(True, "Also export int8 (the default where accuracy holds).", flag="--int8/--no-int8")
    forgetting_sample: int = 5000
    trainable: tuple[str, ...] | None = None
    silver_weight: float = _f(0.5, "Loss weight of a teacher-labelled segment.")
    silver_ratio: float = 1.0


@dataclass(frozen=True)
class HFFinetuneConfig:
    """How the accurate (BERT-style) tagger is fine-tuned (see nerdesk.train.hf_finetune)."""

    holdout: float = 0.15
    epochs: int = 60
    min_steps: int = 260
    batch_size: int = 16
    lr: float = 5e-5
    head_lr: float = 1e-3
    error_weight: float = 2.0
    max_pieces: int = 256
    seed: int = 0
    quantize: bool = True
    int8_max_drop: float = 0.01
    refit: bool = False  # after the held-out segments chose int8 and fitted the calibration, train on all
    refit_min_held_out: int = 20
    augment: int = 0  # copies of each segment with its mentions swapped for others of the same label
    # replay from the base package's shipped sample (replay.jsonl.gz) where it has one: each epoch a
    # fresh replay_ratio x the bundle's windows; forgetting_sample of its held-out part are scored.
    # Measured (bench/finetune_bench.py --accurate en-accurate, 200 segments, seed 0): politics 0.650 ->
    # 0.674, the original test splits' F1 after it 0.26-0.48 -> 0.59-0.75 (README)
    replay: int = 1000
    replay_ratio: float = 0.5
    forgetting_sample: int = 2000
    # batches of windows of similar length (each epoch: shuffled, sorted by length, cut into batches,
    # the batches shuffled; each word weighs the same): 35% less time per step, but crossner_politics at
    # 200 segments 0.660 / 0.656 / 0.654 against 0.674 / 0.664 / 0.663 (seeds 0-2): not the default
    length_buckets: bool = False
    # replay targets: this share of each replay word's target is the base model's own distribution over
    # its tags (the rest its gold tag), so replay keeps what the base predicted, not only its labels
    # (learning without forgetting / dark experience replay); 0: gold only. Measured at 0.5 (seed 0,
    # politics): redocred -3.3 against -4.0, but the domain 0.647 against 0.660: not the default
    replay_distill: float = 0.0


def configure(cls: type[C], config: C | None, overrides: dict[str, Any]) -> C:
    """``config`` (or the defaults) with ``overrides`` applied; an unknown name is a TypeError."""
    unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    base = config if config is not None else cls()
    return dataclasses.replace(base, **overrides)  # type: ignore[type-var]


def card_config(config: Any) -> dict[str, Any]:
    """The config as the model card records it (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def config_options(cls: type, *names: str) -> Callable[[Callable], Callable]:
    """A decorator adding one click option per named field of ``cls``: its flag (``--batch-size``, or
    the field's own spelling), default, type and help all from the dataclass."""
    import click

    fields = {f.name: f for f in dataclasses.fields(cls)}

    def deco(fn: Callable) -> Callable:
        for name in reversed(names):
            f = fields[name]
            flag = f.metadata.get("flag") or "--" + name.replace("_", "-")
            default = f.default
            kw: dict[str, Any] = {"default": default, "show_default": True, "help": f.metadata.get("help") or None}
            if isinstance(default, bool):
                if "/" not in flag:
                    kw["is_flag"] = True
            elif default is None:
                kw["type"] = int if "int" in str(f.type) else float
                kw["show_default"] = False
            else:
                kw["type"] = type(default)
            fn = click.option(flag, name, **kw)(fn)
        return fn

    return deco


def pick(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` (e.g. a click command's arguments) that are fields of ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}
