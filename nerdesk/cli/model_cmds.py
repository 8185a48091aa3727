"""Model commands: ``train``, ``evaluate``, ``models list``, ``models show``.

torch is imported only inside ``train`` (via nerdesk.train), so ``nerdesk --help`` stays light.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from nerdesk.cli._util import cli, echo_json, handle_errors, run_with_progress, train_extra_missing
from nerdesk.train.config import DEFAULT_ARCH, TrainConfig, config_options


def _command_line() -> str:
    return "nerdesk " + shlex.join(sys.argv[1:])


@cli.command("train")
@click.argument("data", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Directory to write the model package to."
)
@click.option(
    "--label-map",
    default="default",
    show_default=True,
    help="SOURCE=TARGET,... mapping corpus labels to model labels; unlisted labels are "
    "dropped. 'default' maps common PER/ORG/LOC/MISC names; 'identity' keeps all.",
)
@click.option(
    "--dev",
    "dev",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Dev data (repeatable): early stopping, int8 check, temperature fitting.",
)
@click.option(
    "--report",
    "report",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Data scored once at the end for the card's metrics (never used for selection).",
)
@config_options(
    TrainConfig,
    "epochs",
    "batch_size",
    "lr",
    "patience",
    "max_minutes",
    "seed",
    "holdout",
    "ship_replay",
    "ema",
    "label_smoothing",
    "case_augment",
    "limit",
    "quantize",
)
@click.option("--threads", default=2, show_default=True, type=int)
@click.option(
    "--gazetteer",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="A word<TAB>classes name list to use as a feature (copied into the package); "
    "build one with python -m nerdesk.train.gazetteer.",
)
@click.option(
    "--vectors",
    default=None,
    type=click.Path(file_okay=False, exists=True),
    help="A directory with vectors.npz and vectors.words.txt: frozen pretrained word vectors "
    "as a feature (copied into the package); build it with python -m nerdesk.train.vectors.",
)
@click.option(
    "--base",
    default=None,
    help="Train the BERT tagger from this encoder ('minilm' or a BERT checkpoint directory) "
    "instead of the hash-CNN (--holdout: the held-out part fits its calibration).",
)
@click.option("--width", default=None, type=int, help=f"Hidden width (default {DEFAULT_ARCH['width']}).")
@click.option("--depth", default=None, type=int, help=f"Number of CNN blocks (default {DEFAULT_ARCH['depth']}).")
@click.option("--dropout", default=None, type=float, help=f"Dropout (default {DEFAULT_ARCH['dropout']}).")
@click.option(
    "--word-dropout",
    default=None,
    type=float,
    help=f"Share of tokens whose NORM embedding is hidden in training (default {DEFAULT_ARCH['word_dropout']}).",
)
@click.option("--name", default="custom", show_default=True)
@click.option("--model-version", "version", default="1.0.0", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite a non-empty --out directory.")
@click.option("--quiet", "-q", is_flag=True)
@handle_errors
def train_cmd(
    data,
    out,
    label_map,
    dev,
    report,
    threads,
    gazetteer,
    vectors,
    base,
    width,
    depth,
    dropout,
    word_dropout,
    name,
    version,
    force,
    quiet,
    **hyper,
):
    """Train the default architecture from scratch on DATA (JSONL, IOB2 tags) and package it."""
    try:
        from nerdesk.train.train import train_iter
    except ModuleNotFoundError as exc:
        if train_extra_missing(exc):
            from nerdesk.core.errors import Errors, err

            raise err(Errors.E210) from None
        raise
    cfg = TrainConfig(**hyper)
    log = (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))
    if base is not None:
        card = run_with_progress(
            _bert_train(data, out, base, label_map, cfg, threads, name, version, force, log), "Training", quiet=quiet
        )
        click.echo(f"Wrote {out}: labels {', '.join(card.labels)}; {card.variant}; temperature {card.temperature}")
        return
    gen = train_iter(
        list(data),
        out,
        cfg,
        dev_paths=list(dev),
        report_paths=list(report),
        label_map=label_map,
        threads=threads,
        name=name,
        version=version,
        command=_command_line(),
        force=force,
        log=log,
        gazetteer=gazetteer,
        vectors=vectors,
        arch={
            k: v
            for k, v in (("width", width), ("depth", depth), ("dropout", dropout), ("word_dropout", word_dropout))
            if v is not None
        },
    )
    card = run_with_progress(gen, "Training", quiet=quiet)
    click.echo(
        f"Wrote {out}: labels {', '.join(card.labels)}; default {card.onnx['default']}; temperature {card.temperature}"
    )


def _bert_train(data, out, base, label_map, cfg, threads, name, version, force, log):
    """The BERT tagger trained on corpora (each file's --holdout share held out for calibration)."""
    from nerdesk.core.model.data import parse_label_map
    from nerdesk.train.hf_finetune import finetune_hf_iter
    from nerdesk.train.train import KNOWN_CORPORA, _load, split_holdout

    corpora = _load(list(data), parse_label_map(label_map), cfg.limit)
    train, dev = [], []
    for c in corpora:
        t, h = split_holdout(c, cfg.holdout) if cfg.holdout > 0 else (c, None)
        train += list(zip(t.tokens, t.spans))
        dev += list(zip(h.tokens, h.spans)) if h is not None else []
    extra = {
        "training": {
            "command": _command_line(),
            "data": [
                {
                    "path": c.path,
                    "sentences": len(c.tokens),
                    "labels": sorted(c.labels),
                    "licence": KNOWN_CORPORA.get(Path(c.path).parent.name, "unknown"),
                }
                for c in corpora
            ],
            "holdout": cfg.holdout or None,
            "label_map": parse_label_map(label_map),
        }
    }
    return finetune_hf_iter(
        [],
        out,
        base=base,
        segments=(train, dev),
        epochs=cfg.epochs,
        min_steps=0,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        threads=threads,
        name=name,
        version=version,
        command=_command_line(),
        force=force,
        quantize=cfg.quantize,
        card_extra=extra,
        log=log,
    )


@cli.command("evaluate")
@click.argument("model", type=str)
@click.argument("data", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--label-map",
    default="default",
    show_default=True,
    help="SOURCE=TARGET,... for the data's labels ('identity' or a list); 'default' maps common "
    "names to PER/ORG/LOC/MISC and keeps the model's own label names.",
)
@click.option(
    "--labels", default=None, help="Comma-separated labels to score (default: those the model and data share)."
)
@click.option("--variant", type=click.Choice(["fp32", "int8"]), default=None)
@click.option("--threads", default=1, show_default=True, type=int)
@click.option("--limit", default=None, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@handle_errors
def evaluate_cmd(model, data, label_map, labels, variant, threads, limit, as_json):
    """Score MODEL (a package directory, a shipped name, or 'default') on DATA (JSONL)."""
    from nerdesk.core.model import load_model
    from nerdesk.core.model.data import check_scorable, load_records, model_label_map
    from nerdesk.core.model.evaluate import evaluate

    m = load_model(None if model == "default" else model, threads=threads, variant=variant)
    lmap = model_label_map(label_map, m.labels)
    keep = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    results = {}
    for path in data:
        records = load_records(path, lmap, limit)
        check_scorable(path, records, m.labels, lmap, label_map, keep)
        results[path] = evaluate(m, records, labels=keep)
    if as_json:
        echo_json({"model": m.id, "results": results})
        return
    click.echo(f"Model {m.id}")
    for path, res in results.items():
        ex, pa = res["exact"], res["partial"]
        ece = "n/a" if res["ece"] is None else f"{res['ece']:.4f}"
        click.echo(
            f"\n{path}  ({res['n_segments']} segments, {res['n_tokens']} tokens; labels {', '.join(res['labels'])})"
        )
        click.echo(f"  {'':8} {'P':>7} {'R':>7} {'F1':>7} {'gold':>6}")
        click.echo(f"  {'exact':8} {ex['precision']:7.4f} {ex['recall']:7.4f} {ex['f1']:7.4f} {ex['gold']:6}")
        click.echo(f"  {'partial':8} {pa['precision']:7.4f} {pa['recall']:7.4f} {pa['f1']:7.4f}")
        for lab, v in res["per_label"].items():
            click.echo(f"  {lab:8} {v['precision']:7.4f} {v['recall']:7.4f} {v['f1']:7.4f} {v['gold']:6}")
        click.echo(f"  ECE (span confidence, 15 bins): {ece}")


@cli.group("models")
def models_group():
    """List and inspect model packages."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def models_list(as_json):
    """The shipped models (resources/models)."""
    from nerdesk.core.model import list_models

    items = list_models()
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo("No models installed.")
    for it in items:
        if "error" in it:
            click.echo(f"{it['name']:16} BROKEN  {it['error']}")
        else:
            mark = " (default)" if it.get("default") else ""
            click.echo(f"{it['name']:16} {it['version']:8} {', '.join(it['labels'])}{mark}  {it['path']}")


@models_group.command("show")
@click.argument("model", required=False, default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the whole card as JSON.")
@handle_errors
def models_show(model, as_json):
    """Show a model's card (default: the shipped default model); checks the files' checksums."""
    from nerdesk.core.model import load_model

    m = load_model(model)
    card = m.card
    if as_json:
        echo_json({"id": m.id, "path": str(m.path), **card.to_dict()})
        return
    click.echo(f"{m.id}  ({m.path})")
    click.echo(f"labels: {', '.join(m.labels)}   tag scheme: {card.tag_scheme}")
    if card.label_parents:  # what a project without the label gets its entities as
        click.echo("a kind of: " + ", ".join(f"{a} -> {b}" for a, b in card.label_parents.items()))
    for u in card.finetune.get("term_lists") or []:  # suggestions it learnt from
        versions = ", ".join(f"v{v}" for v in u.get("versions") or []) or "version unknown"
        click.echo(
            f"term list {u['name']} ({versions}): {u['accepted']} spans kept as suggested, {u['edited']} edited, "
            f"in {u['segments']} segments"
        )
    if m.kind == "nerdesk":
        click.echo(
            f"onnx: {card.onnx.get('default')} variant ({card.onnx.get(card.onnx.get('default', ''), '')}); "
            f"temperature {card.temperature}; parameters {card.parameters}"
        )
        tr = card.training
        if tr.get("command"):
            click.echo(f"trained with: {tr['command']}")
        for d in tr.get("data", []):
            click.echo(f"  data: {d['path']} ({d['sentences']} sentences) - {d.get('licence')}")
        for split in ("dev", "report"):
            for path, s in card.metrics.get(split, {}).items():
                click.echo(
                    f"  {split:6} {Path(path).parent.name}/{Path(path).stem}: F1 {s['f1']:.4f} "
                    f"partial {s['partial_f1']:.4f} ECE {s['ece']}"
                )
    for name, meta in card.files.items():
        size = meta.get("bytes") if isinstance(meta, dict) else None
        click.echo(f"  file {name} {size if size is not None else ''}")
