"""``nerdesk finetune``: turn correction bundles into a new model, warm-started from a base model.

* Warm start: the base package's features, architecture and weights; labels the bundles add
  grow the output layer (the base tags keep their rows).
* Replay: a random sample of the base model's own training data is mixed in, so the model does
  not forget what it knew: from ``replay_paths`` when given, else from the sample the base package
  ships (``replay.jsonl.gz``, ``nerdesk train --ship-replay``: what a user's machine has), else
  from the paths in its card when they can be found (a base model trained without a sample).
  Their corpus labels say nothing about the new labels (partial labels: an O may hide a new label).
  Each epoch draws a fresh ``replay_ratio`` replay sentences per bundle segment from that sample,
  so a small bundle is not drowned (1000 replay sentences against 170 segments learned the new
  domain poorly) and many epochs stay cheap.
* Distillation (learning without forgetting): on replay sentences the target is, with weight
  ``distill``, the base model's own tag distribution instead of the corpus labels, so the shared
  layers can move while the old labels' behaviour stays put. The new tags get no target mass
  there: the base domain is taken to hold no entity of the new labels (with the new tags folded
  into O instead, Disease fired on general text and ncbi_disease was learned ~4 F1 points worse).
* The output layer's new rows learn ``head_lr`` times faster than the rest: they start from
  scratch. The base tags' rows keep the shared rate (at ``head_lr`` they drifted: the original
  domain lost 0.6-0.75 F1 points more on average, over 2 seeds and 2 domains).
* Error-tagged segments (where the human corrected the model) weigh ``error_weight`` times more.
* L2-SP: a penalty ``anchor * ||w - w_base||^2`` on the shared layers keeps the model near the
  base; it trades new-domain F1 for old-domain F1 (measured trade-offs: README, Fine-tuning).
* ``max_steps``: epochs are capped so that a big bundle trains for about that many steps.
* Forgetting, measured: where the base model held part of its training files out (``--holdout``),
  a sample of those parts (never replayed) is scored before and after, on the base labels; the card
  records it (``finetune.forgetting``). Choosing the epoch by it was tried: the held-out F1 dips
  early and recovers, and a 1-point budget stopped learning at epoch 1.
* Refit (``refit``): early stopping on the held-out slice chooses the epoch count, then the model
  is trained again from the base on every segment, the held-out ones included, for that many
  epochs, for about twice the time. At 200 segments, test F1 +1.9 (crossner_politics) and +2.5
  (ncbi_disease) points, mean of 2 seeds. Only where at least ``refit_min_held_out`` (20)
  segments are held out: at 50 ncbi_disease segments (8 held out) the refit scored 0.337 against
  0.372 without it (seed 0, both 10 epochs). The held-out F1 "after" in the card is the first
  model's (the refit has seen those segments), and the temperature and span calibration are the
  first model's, fitted where it had not trained.
* The temperature and the span calibration are refitted on the held-out data; ONNX (and int8
  where accuracy holds) is exported.
* The card records the bundles used (ids, sha256), the base model, F1 before and after on the
  held-out slice, and the error counts per category.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

from nerdesk.core.bundle import read_bundle, term_list_use
from nerdesk.core.errors import Errors, err
from nerdesk.core.metrics import trained_segments
from nerdesk.core.tiers import tier_rank
from nerdesk.core.model.data import read_jsonl
from nerdesk.core.model.card import ModelCard
from nerdesk.core.model.package import load_card, resolve_model_path, write_card
from nerdesk.core.resources import resources_dir
from nerdesk.core.types import Progress
from nerdesk.train.config import FinetuneConfig, card_config, configure
from nerdesk.train.train import Corpus, split_holdout, train_iter


def bundle_sentences(paths: Sequence[str | Path]) -> tuple[list[dict], list[dict], list[str]]:
    """(lines, manifests, annotated labels). A segment reviewed more than once keeps the line of
    the highest tier, then the latest."""
    best: dict[str, dict] = {}
    manifests = []
    labels: list[str] = []
    for p in paths:
        manifest, lines = read_bundle(p)
        manifest["sha256"] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
        manifest["path"] = str(p)
        manifests.append(manifest)
        labels += [lab["name"] for lab in manifest["guideline"]["labels"]]
        for line in lines:
            key = line["text"]
            old = best.get(key)
            if old is None or (tier_rank(line["tier"]), line["updated"]) > (tier_rank(old["tier"]), old["updated"]):
                best[key] = line
    return list(best.values()), manifests, list(dict.fromkeys(labels))


#: Below these, ``nerdesk finetune`` refuses (E214) unless --allow-small: a model fine-tuned on one
#: segment marks its memorised phrase 1.00 everywhere.
MIN_SEGMENTS = 20
MIN_SPANS_PER_NEW_LABEL = 3


def too_little(bundles: Sequence[str | Path], base_labels: Sequence[str]) -> list[str]:
    """What the bundles lack for a fine-tune worth promoting (empty: enough): reviewed segments,
    and examples of each label the base model does not have."""
    lines, _, _ = bundle_sentences(bundles)
    problems = []
    if len(lines) < MIN_SEGMENTS:
        problems.append(f"{len(lines)} reviewed segments, {MIN_SEGMENTS} needed ({MIN_SEGMENTS - len(lines)} more)")
    counts: dict[str, int] = {}
    for line in lines:
        for sp in line["final"]:
            counts[sp["label"]] = counts.get(sp["label"], 0) + 1
    for lab, n in sorted(counts.items()):
        if lab not in base_labels and n < MIN_SPANS_PER_NEW_LABEL:
            problems.append(f"the new label {lab} has {n} example(s), {MIN_SPANS_PER_NEW_LABEL} needed")
    return problems


def to_tokens(line: dict) -> tuple[list[str], list[tuple[int, int, str]]]:
    """Token strings and token-index spans of one bundle line."""
    text = line["text"]
    toks = line["tokens"]
    words = [text[a:b] for a, b in toks]
    starts = {a: i for i, (a, _) in enumerate(toks)}
    spans = []
    for sp in line["final"]:
        i = starts.get(sp["start"])
        if i is None:  # not on a token start: take the token that contains it
            i = max(j for j, (a, _) in enumerate(toks) if a <= sp["start"])
        j = i
        while j < len(toks) and toks[j][0] < sp["end"]:
            j += 1
        spans.append((i, max(j, i + 1), sp["label"]))
    return words, spans


PARENT_SHARE = 0.5  # a new label is a kind of the base label that took at least this share of its spans
PARENT_MIN_SPANS = 5
PARENT_IOU = 0.5  # a predicted span counts for a gold span it overlaps this much (tokens, IoU)


def label_parents(
    base_dir: Path, segments: Sequence[tuple[list[str], list[tuple[int, int, str]]]], base_labels: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per label the segments add: which base label the base model gave its spans (the predicted
    span overlapping most, with an IoU of at least PARENT_IOU; "none" where none did), as shares,
    and its parent: the base label that took at least PARENT_SHARE of at least PARENT_MIN_SPANS
    spans, else None. (Any overlap made ``election`` a kind of LOC: "the 2004 United States
    presidential election" holds a country.)

    A project that asks for the base labels only then counts the new label as its parent
    (``politician`` spans as PER: what the base model did) instead of dropping it to O."""
    from nerdesk.core.model import load_model

    counts: dict[str, dict[str, int]] = {}
    new = [(toks, [sp for sp in spans if sp[2] not in base_labels]) for toks, spans in segments]
    new = [(toks, spans) for toks, spans in new if spans]
    if not new:
        return {}
    preds = load_model(base_dir, verify=False).predict([toks for toks, _ in new])
    for (_, spans), pred in zip(new, preds):
        for a, b, lab in spans:
            iou, got = max(
                [((min(b, pb) - max(a, pa)) / (max(b, pb) - min(a, pa)), pl) for pa, pb, pl, _ in pred.spans],
                default=(0.0, "none"),
            )
            got = got if iou >= PARENT_IOU else "none"
            c = counts.setdefault(lab, {})
            c[got] = c.get(got, 0) + 1
    out = {}
    for lab, c in sorted(counts.items()):
        n = sum(c.values())
        top = max((k for k in c if k != "none"), key=c.get, default=None)
        parent = top if top is not None and n >= PARENT_MIN_SPANS and c[top] / n >= PARENT_SHARE else None
        out[lab] = {
            "parent": parent,
            "spans": n,
            "base_predicted": {k: round(v / n, 3) for k, v in sorted(c.items(), key=lambda kv: -kv[1])},
        }
    return out


def _replay(
    base_card: ModelCard,
    base_dir: Path,
    n: int,
    paths: Sequence[str | Path] | None,
    seed: int,
    log: Callable[[str], None],
    n_guard: int = 0,
) -> tuple[list[Corpus], list[Corpus]]:
    """(replay, guard): per file of the base model's training data, a replay sample (``n``
    sentences in all) and, where the base model held part of each file out (``--holdout``), a
    sample of that held-out part (``n_guard`` in all) to watch forgetting on: data the base model
    never trained on, which replay never draws from."""
    if n <= 0 and (n_guard <= 0 or paths):  # given replay files hold nothing held out
        return [], []
    shipped = base_card.replay
    if not paths and isinstance(shipped, dict) and (base_dir / str(shipped.get("file"))).is_file():
        return _shipped_replay(base_dir / shipped["file"], shipped, n, n_guard, seed, log)
    lmap = base_card.training.get("label_map") or None
    entries = [{"path": str(p)} for p in paths] if paths else base_card.training.get("data", [])
    found = []
    for e in entries:
        p = Path(e["path"])
        for cand in (p, resources_dir().parent / p, base_dir / p):
            if cand.is_file():
                found.append((cand, e))
                break
        else:
            log(f"replay: {e['path']} not found; skipped")
    if not found:
        log(
            "replay: none of the base model's training data is available; fine-tuning without replay "
            "and without a forgetting measure"
        )
        return [], []
    rng = random.Random(seed)
    per, per_guard = (max(1, n // len(found)) if n > 0 else 0), n_guard // len(found)
    holdout = 0.0 if paths else float(base_card.training.get("holdout") or 0.0)
    limit = None if paths else base_card.training.get("limit")  # as the base model read them
    replay, guard = [], []
    for path, e in found:
        sents = list(read_jsonl(path, lmap, limit))
        labels = set(e.get("labels") or {lab for s in sents for _, _, lab in s.spans})
        whole = Corpus(str(path), [s.tokens for s in sents], [s.spans for s in sents], labels)
        train_part, held = split_holdout(whole, holdout) if holdout > 0 else (whole, None)
        for part, k, name, out in (
            (train_part, per, f"replay:{path}", replay),
            (held, per_guard, f"guard:{path}#holdout", guard),
        ):
            if part is None or k <= 0 or not part.tokens:
                continue
            idx = sorted(rng.sample(range(len(part.tokens)), min(k, len(part.tokens))))
            out.append(Corpus(name, [part.tokens[i] for i in idx], [part.spans[i] for i in idx], labels))
    return replay, guard


def _shipped_replay(
    path: Path, note: dict, n: int, n_guard: int, seed: int, log: Callable[[str], None]
) -> tuple[list[Corpus], list[Corpus]]:
    """(replay, guard) from the sample of its training data the base package ships
    (``replay.jsonl.gz``, written by ``nerdesk train --ship-replay``): per source file, its
    replay and its guard sentences, each keeping the file's label set."""
    import gzip
    import json

    by: dict[tuple[str, str], list[dict]] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    o = json.loads(line)
                    by.setdefault((o["part"], o["source"]), []).append(o)
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise err(Errors.E205, path=str(path), reason=f"unreadable replay sample: {exc}") from None
    rng = random.Random(seed)
    out: dict[str, list[Corpus]] = {"replay": [], "guard": []}
    for part, total in (("replay", n), ("guard", n_guard)):
        keys = sorted(k for k in by if k[0] == part)
        per = max(1, total // len(keys)) if keys and total > 0 else 0
        for _, source in keys:
            sents = by[(part, source)]
            labels = set(
                (note.get("sources", {}).get(source) or {}).get("labels") or {sp[2] for o in sents for sp in o["spans"]}
            )
            pick = sorted(rng.sample(range(len(sents)), min(per, len(sents)))) if per else []
            if pick:
                name = f"replay:{source}" if part == "replay" else f"guard:{source}#holdout"
                out[part].append(
                    Corpus(
                        name,
                        [sents[i]["tokens"] for i in pick],
                        [[tuple(sp) for sp in sents[i]["spans"]] for i in pick],
                        labels,
                    )
                )
    log(
        f"replay: the base model's shipped sample ({path.name}): "
        f"{sum(len(c.tokens) for c in out['replay'])} replay, {sum(len(c.tokens) for c in out['guard'])} "
        f"guard sentences"
    )
    return out["replay"], out["guard"]


def finetune_iter(
    bundles: Sequence[str | Path],
    out_dir: str | Path,
    config: FinetuneConfig | None = None,
    *,
    base: str | Path | None = None,
    replay_paths: Sequence[str | Path] | None = None,
    threads: int | None = None,
    name: str | None = None,
    version: str | None = None,
    command: str | None = None,
    force: bool = False,
    report_paths: Sequence[str | Path] = (),
    silver: Sequence[tuple[list[str], list[tuple[int, int, str]]]] | None = None,
    silver_source: str = "teacher",
    silver_texts: Sequence[str] = (),
    log: Callable[[str], None] = print,
    **overrides: Any,
) -> Generator[Progress, None, ModelCard]:
    """Fine-tune ``base`` on the bundles' reviewed segments (see the module docstring). ``config``
    (a :class:`FinetuneConfig`, the defaults when omitted; ``overrides`` replace its fields) holds
    every hyperparameter. ``silver``: (words, spans) of unreviewed segments labelled by a teacher
    (``nerdesk finetune --teacher``), learnt beside the bundles with loss weight ``silver_weight``, a
    fresh sample of ``silver_ratio`` x the bundles' segments each epoch; never held out;
    ``silver_texts`` (their segments' texts) join the card's ``trained_segments``, so they are never
    scored either."""
    cfg = configure(FinetuneConfig, config, overrides)
    t0 = time.time()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:  # before any training
        raise err(Errors.E211, path=str(out_dir))
    out_dir.resolve().parent.mkdir(parents=True, exist_ok=True)
    base_dir = resolve_model_path(base)
    base_card = load_card(base_dir)
    lines, manifests, annotated = bundle_sentences(bundles)
    if not lines:
        raise err(Errors.E212, path=", ".join(map(str, bundles)))
    rng = random.Random(cfg.seed)
    rng.shuffle(lines)
    n_dev = int(round(len(lines) * cfg.holdout)) if len(lines) >= 20 else 0
    dev_lines, train_lines = lines[:n_dev], lines[n_dev:]

    def corpus(name_: str, ls: list[dict], weighted: bool) -> Corpus:
        toks, spans = zip(*(to_tokens(x) for x in ls)) if ls else ((), ())
        weights = [cfg.error_weight if (weighted and x["errors"]) else 1.0 for x in ls]
        # Labels the reviewers actually used are taken as annotated; a label of the project that
        # no reviewed span uses (e.g. the base model's labels, registered when it predicted) is
        # treated as unknown, so the bundles do not teach the model to forget it.
        seen = {lab for sp in spans for _, _, lab in sp}
        return Corpus(name_, list(toks), list(spans), seen, weights=weights)

    ids = ",".join(m["bundle_id"][:8] for m in manifests)
    train_c = corpus(f"bundles:{ids}", train_lines, True)
    dev_c = corpus(f"held-out:{ids}", dev_lines, False)
    dev_c.labels = set(train_c.labels)
    replay_c, guard_c = _replay(base_card, base_dir, cfg.replay, replay_paths, cfg.seed, log, cfg.forgetting_sample)
    for c in replay_c:
        c.distill = cfg.distill > 0
    silver_c: list[Corpus] = []
    if silver:
        keep = set(train_c.labels)
        s_toks = [list(w) for w, _ in silver]
        s_spans = [[tuple(x) for x in sp if x[2] in keep] for _, sp in silver]
        silver_c = [Corpus(f"silver:{silver_source}", s_toks, s_spans, keep, weights=[cfg.silver_weight] * len(s_toks))]

    def _per_epoch(cs: list[Corpus], n_segments: int) -> None:
        for c in cs:  # each epoch: a fresh sample, in proportion to the bundles
            if cfg.replay_ratio is not None:
                c.per_epoch = max(1, round(cfg.replay_ratio * n_segments / len(cs)))

    _per_epoch(replay_c, len(train_lines))
    for c in silver_c:
        c.per_epoch = max(1, round(cfg.silver_ratio * len(train_lines)))
    replay_per_epoch = sum(min(c.per_epoch or len(c.tokens), len(c.tokens)) for c in [*replay_c, *silver_c])
    epochs = cfg.epochs
    if cfg.max_steps:  # a step budget: a big bundle needs fewer passes (and would take too long)
        epochs = max(1, min(epochs, cfg.max_steps * cfg.batch_size // max(len(train_lines) + replay_per_epoch, 1)))
    log(
        f"bundles: {len(lines)} segments ({len(train_lines)} train, {len(dev_lines)} held out), "
        f"{sum(1 for x in train_lines if x['errors'])} with corrections (weight {cfg.error_weight}); "
        f"replay: {sum(len(c.tokens) for c in replay_c)} sentences"
    )
    before = _evaluate(base_dir, dev_c) if dev_lines else None
    parents_seen = label_parents(base_dir, [to_tokens(x) for x in lines], base_card.labels)
    parents = {
        **(base_card.label_parents or {}),
        **{lab: v["parent"] for lab, v in parents_seen.items() if v["parent"]},
    }
    for lab, v in parents_seen.items():
        log(
            f"new label {lab}: "
            + (f"a kind of {v['parent']} " if v["parent"] else "no base label's kind ")
            + f"(the base model's predictions for its {v['spans']} spans: "
            + ", ".join(f"{k} {x:.0%}" for k, x in v["base_predicted"].items())
            + ")"
        )
    errors: dict[str, int] = {}
    for m in manifests:
        for k, v in m["error_counts"].items():
            errors[k] = errors.get(k, 0) + v
    extra = {
        "finetune": {
            "base": {
                "name": base_card.name,
                "version": base_card.version,
                "path": str(base_dir),
                "onnx_sha256": next(
                    (f["sha256"] for n, f in base_card.files.items() if n == base_card.onnx_file()),
                    None,
                ),
            },
            "bundles": [
                {
                    "bundle_id": m["bundle_id"],
                    "project_id": m["project_id"],
                    "sha256": m["sha256"],
                    "segments": m["segments"],
                    "annotators": m["annotators"],
                    "guideline_version": m["guideline"]["version"],
                }
                for m in manifests
            ],
            "term_lists": term_list_use(lines, manifests),  # the lists whose suggestions reviewers kept or edited
            "segments": {"train": len(train_lines), "held_out": len(dev_lines)},
            "replay": {
                "sentences": sum(len(c.tokens) for c in replay_c),
                "sources": [c.path for c in replay_c],
                "per_epoch": replay_per_epoch,
                "distill": cfg.distill,
            },
            "silver": {
                "sentences": sum(len(c.tokens) for c in silver_c),
                "source": silver_source,
                "weight": cfg.silver_weight,
                "ratio": cfg.silver_ratio,
            }
            if silver_c
            else None,
            "config": card_config(cfg),
            "head_lr": cfg.head_lr,
            "error_weight": cfg.error_weight,
            "anchor": cfg.anchor,
            "error_counts": errors,
            "label_parents": parents_seen,
        },
        "label_parents": parents,
        # every segment this model has learnt from (its base's too): never scored on them
        "trained_segments": trained_segments(base_card.trained_segments, [*(x["text"] for x in lines), *silver_texts]),
    }
    common = dict(
        label_map={},
        init=base_dir,
        report_paths=report_paths,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        threads=threads,
        name=name or f"{base_card.name}-ft",
        version=version or _next_version(base_card.version),
        command=command,
        force=force,
        card_extra=extra,
        anchor=cfg.anchor,
        distill=cfg.distill,
        head_lr=cfg.head_lr,
        trainable=cfg.trainable,
        log=log,
    )
    after = None
    if cfg.refit and 0 < len(dev_lines) < cfg.refit_min_held_out:
        log(
            f"no refit: {len(dev_lines)} held-out segments are too few to choose the epoch count for it "
            f"({cfg.refit_min_held_out} needed)"
        )
    if cfg.refit and len(dev_lines) >= max(cfg.refit_min_held_out, 1):
        # 1. the epoch count, chosen on the held-out slice; 2. a refit on every segment for that
        # many epochs (at 200 segments the 30 held out are too many to waste)
        with tempfile.TemporaryDirectory(dir=out_dir.resolve().parent) as probe:
            first = yield from _prefixed(
                "choosing the epoch count: ",
                train_iter(
                    [],
                    Path(probe) / "m",
                    extra_train=[train_c, *replay_c, *silver_c],
                    extra_dev=[dev_c],
                    epochs=epochs,
                    patience=cfg.patience,
                    quantize=False,
                    **common,
                ),
            )
            after = _evaluate(Path(probe) / "m", dev_c)
        n_epochs = first.training["best_epoch"]
        all_c = corpus(f"bundles:{ids}", train_lines + dev_lines, True)
        _per_epoch(replay_c, len(lines))
        log(f"refit on all {len(lines)} segments for {n_epochs} epochs")
        extra["finetune"]["refit"] = {
            "segments": len(lines),
            "epochs": n_epochs,
            "replay_per_epoch": sum(min(c.per_epoch or len(c.tokens), len(c.tokens)) for c in replay_c),
            "history": first.training["history"],
        }
        card = yield from _prefixed(
            "refit on all segments: ",
            train_iter(
                [],
                out_dir,
                extra_train=[all_c, *replay_c, *silver_c],
                extra_dev=[dev_c],
                epochs=n_epochs,
                select="last",
                calibration=(first.temperature, {**first.calibration, "span_calibration": first.span_calibration}),
                quantize=cfg.quantize,
                **common,
            ),
        )
        # the refit trained on them: no longer held out
        card = card.replace(metrics={**card.metrics, "dev": first.metrics["dev"]})
    else:
        card = yield from train_iter(
            [],
            out_dir,
            extra_train=[train_c, *replay_c, *silver_c],
            extra_dev=[dev_c] if dev_lines else [],
            epochs=epochs,
            patience=cfg.patience if dev_lines else epochs,
            quantize=cfg.quantize,
            **common,
        )
        after = _evaluate(out_dir, dev_c) if dev_lines else None
    ft = {**card.finetune, "held_out": {"before": before, "after": after}}
    if guard_c:
        ft["forgetting"] = forgetting = _forgetting(base_dir, out_dir, guard_c, base_card.labels)
        log(
            f"base domain, held-out F1: {forgetting['before']:.4f} -> {forgetting['after']:.4f} "
            f"({forgetting['sentences']} sentences the base model never trained on)"
        )
    ft["seconds"] = round(time.time() - t0, 1)
    card = write_card(out_dir, card.replace(finetune=ft))
    if before and after:
        log(f"held-out F1: {before['f1']:.4f} -> {after['f1']:.4f} ({len(dev_lines)} segments)")
    return card


def _prefixed(prefix: str, gen: Generator[Progress, None, Any]) -> Generator[Progress, None, Any]:
    """``gen``'s progress with ``prefix`` on each message; returns what ``gen`` returns."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(p.done, p.total, prefix + p.message)


def _evaluate(model_dir: Path, c: Corpus) -> dict[str, Any]:
    from nerdesk.core.model import load_model
    from nerdesk.core.model.evaluate import evaluate

    m = load_model(model_dir, verify=False)
    keep = sorted(c.labels)  # the base model is scored on the new labels too: what the user needs
    r = evaluate(m, list(zip(c.tokens, c.spans)), labels=keep)
    return {
        "f1": r["exact"]["f1"],
        "precision": r["exact"]["precision"],
        "recall": r["exact"]["recall"],
        "labels": keep,
        "per_label": {k: v["f1"] for k, v in r["per_label"].items()},
    }


def _forgetting(base_dir: Path, model_dir: Path, guard: Sequence[Corpus], base_labels: Sequence[str]) -> dict[str, Any]:
    """How the base model and the fine-tuned one do on held-out data of the base model's domain,
    each asked for the base labels only (as a project of that domain asks): mean exact F1 over the
    files, and per file."""
    from nerdesk.core.model import load_model
    from nerdesk.core.model.evaluate import score_spans

    out: dict[str, Any] = {"labels": list(base_labels), "sentences": sum(len(c.tokens) for c in guard), "per_file": {}}
    for key, d in (("before", base_dir), ("after", model_dir)):
        m = load_model(d, verify=False)
        for c in guard:
            preds = [p.spans for p in m.predict(c.tokens, only=base_labels)]
            f1 = score_spans(c.spans, preds, sorted(c.labels & set(base_labels)))["exact"]["f1"]
            out["per_file"].setdefault(c.path.removeprefix("guard:"), {})[key] = round(f1, 4)
        out[key] = round(sum(v[key] for v in out["per_file"].values()) / len(guard), 4)
    return out


def _next_version(v: str) -> str:
    parts = v.split("+")[0].split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"
    return v + ".1"
