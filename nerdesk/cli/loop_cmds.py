"""Closing the loop: model versions in a project (versions, promote, rollback) and the report."""

from __future__ import annotations

from pathlib import Path

import click

from nerdesk.cli._util import cli, echo_json, handle_errors, run_with_progress, train_extra_missing
from nerdesk.core.project import Project
from nerdesk.train.config import FinetuneConfig, HFFinetuneConfig, config_options, pick

project_arg = click.argument("project", type=click.Path(dir_okay=False, path_type=Path))
json_opt = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _f(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


@cli.command()
@project_arg
@json_opt
@handle_errors
def versions(project: Path, as_json: bool) -> None:
    """Model versions registered in the project, with their F1 (and its 95% interval) and ECE on the
    reviewed segments each did not train on (and, for a fine-tuned model, the base model's and its F1
    on held-out data of the base domain)."""
    from nerdesk.core.metrics import MIN_SEGMENTS_FOR_BEST
    from nerdesk.core.versions import compare

    with Project.open(project) as p:
        rows = compare(p.store)
    if as_json:
        echo_json(rows)
        return
    click.echo(
        f"{'':2}{'model':<44} {'unseen':>6} {'F1':>6} {'95% interval':>13} {'P':>6} {'R':>6} "
        f"{'ECE':>6} {'base domain F1':>15}"
    )
    for r in rows:
        bd = r["base_domain_f1"]
        ci = r["f1_interval"]
        click.echo(
            f"{'*' if r['active'] else ' '} {r['id']:<44} {r['reviewed_segments']:>6} {_f(r['f1'])} "
            + (f"  {ci[0]:.3f}-{ci[1]:.3f}" if ci else f"{'-':>13}")
            + " "
            f"{_f(r['precision'])} {_f(r['recall'])} {_f(r['ece'])} "
            + (f"{bd['before']:.3f} -> {bd['after']:.3f}" if bd else f"{'-':>15}")
            + ("  best" if r["best"] else "")
        )
    click.echo(
        "unseen: reviewed segments the model was not trained on (the only ones it is scored on); "
        f"* active; best: ahead beyond the 95% intervals on {MIN_SEGMENTS_FOR_BEST}+ unseen segments"
    )


@cli.command()
@project_arg
@click.argument("model", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--threads", default=1, show_default=True)
@handle_errors
def promote(project: Path, model: Path, threads: int) -> None:
    """Make MODEL the project's active model and pre-annotate with it."""
    from nerdesk.core.versions import promote as promote_model

    with Project.open(project) as p:
        model_id = run_with_progress(promote_model(p.store, p.identity, model, threads=threads), "Predicting")
    click.echo(f"Active model: {model_id}")


@cli.command()
@project_arg
@handle_errors
def rollback(project: Path) -> None:
    """Re-activate the previously active model (its predictions are kept, so this is instant)."""
    from nerdesk.core.versions import rollback as rollback_model

    with Project.open(project) as p:
        click.echo(f"Active model: {rollback_model(p.store, p.identity)}")


@cli.command()
@project_arg
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report as one self-contained HTML file with its charts.",
)
@json_opt
@handle_errors
def report(project: Path, html_out: Path | None, as_json: bool) -> None:
    """Quality per model version (and per source), calibration, drift with alerts, recurring errors,
    severity over time, cost per F1 point and the retraining trigger."""
    from datetime import datetime

    from nerdesk.core import retrain
    from nerdesk.core.metrics import NOVEL_SEGMENT
    from nerdesk.core.metrics import report as make_report
    from nerdesk.core.report_html import write_html

    with Project.open(project) as p:
        p.refresh_corrections()
        r = make_report(p.store)
        r["retrain"] = retrain.state(p.store)
        name = p.name
    if html_out is not None:
        write_html(html_out, name, r, r["retrain"], datetime.now().isoformat(timespec="seconds"))
    if as_json:
        echo_json(r)
        return
    if html_out is not None:
        click.echo(f"Wrote {html_out}")
    for a in r["drift"]["alerts"]:
        click.echo(f"ALERT: {a}")
    click.echo("Model versions (exact entity F1 on the reviewed segments each did not train on):")
    for m in r["models"]:
        ci = m["f1_interval"]
        click.echo(
            f"  {'*' if m['active'] else ' '} {m['id']:<44} n={m['reviewed_segments']:<6} "
            f"F1 {_f(m['exact']['f1'])}"
            + (f" (95% {ci[0]:.3f}-{ci[1]:.3f})" if ci else "")
            + f"  ECE {_f(m['ece'])}"
            + (
                f"  long-tail recall {_f(m['long_tail']['surface_recall'])} ({m['long_tail']['surface_spans']} spans)"
                if m.get("long_tail")
                else ""
            )
        )
    click.echo(
        "Retraining: "
        + retrain.describe(r["retrain"])
        + (f" ({r['retrain']['reason']})" if r["retrain"]["due"] else "")
    )
    d = r["drift"]
    if d["windows"]:
        click.echo("Drift (documents in import order):")
        tv = d.get("training_vocabulary")
        if tv:
            ref = tv.get("held_out_rate")
            click.echo(
                f"  training vocabulary of the active model: {tv['words']} words ({tv['source'] or 'none shipped'}"
                + (
                    f" + {tv['trained_segments']} trained-on segments of this project"
                    if tv.get("trained_segments")
                    else ""
                )
                + ")"
                + (f"; its own held-out sentences: {ref:.1%} unseen" if ref is not None else "")
            )
        else:
            click.echo("  training vocabulary of the active model: not known (no vocab.txt.gz, no training sample)")
        for w in d["windows"]:
            nov = w.get("novelty")
            click.echo(
                f"  docs {w['documents'][0]}-{w['documents'][1]}: confidence {_f(w['mean_confidence'])}, "
                f"uncertainty {_f(w['mean_uncertainty'])}, correction rate {_f(w['correction_rate'])}, "
                f"unseen words {_pct(w['unseen_word_rate'])} (earlier documents) / "
                f"{_pct(w.get('unseen_in_training_rate'))} (training)"
                + (
                    f", segment novelty p50 {nov['p50']:.0%} p90 {nov['p90']:.0%}, "
                    f"{nov['novel_share']:.0%} over {NOVEL_SEGMENT:.0%}"
                    if nov
                    else ""
                )
            )
        if d["psi"] is not None:
            click.echo(
                f"  PSI of uncertainty, first vs last window: {d['psi']:.3f}"
                + ("  (shift: consider fine-tuning)" if d["psi"] > 0.2 else "")
            )
    e = r["errors"]
    click.echo(f"Corrections: {e['total']} " + ", ".join(f"{k} {v}" for k, v in sorted(e["per_category"].items())))
    for x in r["recurrence"]:
        if x["corrections"]:
            click.echo(
                f"  against {x['model_id']}: {x['corrections']}, of which {x['recurring']} "
                f"({x['share']:.0%}) already corrected before it"
            )
    for x in e["missed_surface_forms"][:5]:
        click.echo(f"  missed {x['text']!r} ({x['label']}) x{x['count']}")
    if r["cost_per_point"]:
        click.echo("Cost per F1 point (both versions scored on the reviewed segments neither trained on):")
    for c in r["cost_per_point"]:
        head = f"  {c['from']} -> {c['to']}: {c['actions']} edit actions, {c['segments']} shared segments"
        if c["f1_points"] is not None:
            head += f", F1 {c['f1_from']:.3f} -> {c['f1_to']:.3f} ({c['f1_points']:+.1f} points)"
        click.echo(
            head
            + (
                f": {c['actions_per_point']:.1f} actions per point"
                if c["actions_per_point"] is not None
                else f": no figure: {c['reason']}"
            )
        )


@cli.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--base",
    default=None,
    help="Base model directory or name (default: the shipped fast model, en-base). 'en-accurate' (the "
    "shipped BERT tagger), 'minilm' (its bare encoder) or a Hugging Face BERT checkpoint "
    "(config.json, model.safetensors, tokenizer.json), or a model fine-tuned from one: the accurate "
    "model (it replays its shipped sample where it has one: --replay 1000, --replay-ratio 0.5 "
    "unless given).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the new model package.",
)
@config_options(FinetuneConfig, "holdout", "replay", "replay_ratio", "distill")
@click.option(
    "--replay-data",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Replay from these JSONL files instead of those named in the base model's card.",
)
@config_options(
    FinetuneConfig, "error_weight", "epochs", "patience", "lr", "head_lr", "anchor", "refit", "max_steps", "seed"
)
@click.option("--threads", default=2, show_default=True)
@click.option("--name", default=None, help="Model name (default: the base name + '-ft').")
@click.option("--model-version", "version", default=None, help="Default: the base version, patch + 1.")
@click.option(
    "--report",
    "report",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSONL test files to score the new model on (recorded in the card).",
)
@config_options(FinetuneConfig, "quantize")
@click.option("--force", is_flag=True, help="Overwrite a non-empty --out directory.")
@click.option(
    "--allow-small",
    is_flag=True,
    help="Fine-tune even on fewer than 20 reviewed segments or 3 examples of a new label.",
)
@click.option(
    "--teacher",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Fast model only: a model (e.g. the accurate one fine-tuned on the same bundles) that labels "
    "the unreviewed segments of --unlabeled; the new model learns from them too (distillation).",
)
@click.option(
    "--unlabeled",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The project whose unreviewed segments --teacher labels.",
)
@click.option("--silver", default=1000, show_default=True, help="Unreviewed segments the teacher labels.")
@config_options(FinetuneConfig, "silver_weight")
@click.option(
    "--progress",
    type=click.Choice(["bar", "jsonl", "none"]),
    default="bar",
    show_default=True,
    help="jsonl: one JSON object per line on stdout (for the app).",
)
@handle_errors
def finetune(
    bundles,
    base,
    out,
    replay_data,
    threads,
    name,
    version,
    report,
    force,
    allow_small,
    teacher,
    unlabeled,
    silver,
    progress,
    **hyper,
) -> None:
    """Fine-tune a model on correction BUNDLES (zip) and write a new model package.

    Warm-starts from --base; new labels grow the output layer; a replay sample of the base
    model's training data guards against forgetting; corrected segments weigh more; early
    stopping and calibration on a held-out slice of the bundles, then a refit on all segments.
    Needs the `train` extra.
    """
    import json
    import sys

    if (teacher is None) != (unlabeled is None):
        raise click.UsageError("--teacher and --unlabeled go together")
    try:
        from nerdesk.train.finetune import finetune_iter
    except ModuleNotFoundError as exc:
        if train_extra_missing(exc):
            from nerdesk.core.errors import Errors, err

            raise err(Errors.E210) from None
        raise

    def log(msg: str) -> None:
        if progress == "jsonl":
            click.echo(json.dumps({"log": msg}))
        elif progress == "bar":
            click.echo(msg, err=True)

    from nerdesk.train.hf_finetune import PRETRAINED, finetune_hf_iter, is_hf_checkpoint

    from nerdesk.core.model.package import resolve_model_path

    hf = base in PRETRAINED or (base is not None and is_hf_checkpoint(resolve_model_path(base)))
    if not allow_small:
        from nerdesk.core.errors import Errors, err
        from nerdesk.train.finetune import too_little
        from nerdesk.train.hf_finetune import resolve_base

        if hf:
            base_labels = list(resolve_base(base)[1].get("labels") or [])
        else:
            from nerdesk.core.model.package import load_card

            base_labels = load_card(resolve_model_path(base)).labels
        problems = too_little(list(bundles), base_labels)
        if problems:
            raise err(Errors.E214, path=", ".join(map(str, bundles)), problems="; ".join(problems))
    if hf and (teacher is not None or unlabeled is not None):
        raise click.UsageError("--teacher/--unlabeled teach the fast model; the accurate model is the teacher")
    if hf:
        # a BERT-family token classifier (the accurate model, or one the user brings)
        # the options both models share, where the user gave them (the accurate model has its own defaults)
        ctx = click.get_current_context()
        given = {
            k: v
            for k, v in pick(HFFinetuneConfig, hyper).items()
            if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT
        }
        if "epochs" in given:
            given["min_steps"] = 0
        gen = finetune_hf_iter(
            list(bundles),
            out,
            HFFinetuneConfig(**given),
            base=base,
            threads=threads,
            name=name,
            version=version,
            command=" ".join(["nerdesk", *sys.argv[1:]]),
            force=force,
            log=log,
        )
    else:
        silver_kw: dict = {}
        if teacher is not None:
            from nerdesk.core.predict import teacher_labels
            from nerdesk.core.project import Project

            with Project.open(unlabeled) as p:
                data, texts = teacher_labels(p.store, teacher, silver)
            log(
                f"teacher {teacher}: {sum(len(s) for _, s in data)} spans in {len(data)} unreviewed segments "
                f"of {unlabeled}"
            )
            silver_kw = dict(silver=data, silver_texts=texts, silver_source=str(teacher))
        cfg = FinetuneConfig(**{**hyper, "max_steps": hyper["max_steps"] or None})
        gen = finetune_iter(
            list(bundles),
            out,
            cfg,
            base=base,
            replay_paths=list(replay_data) or None,
            threads=threads,
            name=name,
            version=version,
            command=" ".join(["nerdesk", *sys.argv[1:]]),
            force=force,
            report_paths=list(report),
            log=log,
            **silver_kw,
        )
    if progress == "jsonl":
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                card = stop.value
                break
            click.echo(json.dumps({"done": p.done, "total": p.total, "message": p.message}))
        ft = card.finetune
        click.echo(
            json.dumps(
                {
                    "result": {
                        "model": str(out),
                        "name": card.name,
                        "version": card.version,
                        "labels": card.labels,
                        "held_out": ft["held_out"],
                        "forgetting": ft.get("forgetting"),
                        "seconds": ft["seconds"],
                        "new_labels": {k: v["parent"] for k, v in ft["label_parents"].items()},
                    }
                }
            )
        )
        return
    card = run_with_progress(gen, "Fine-tuning", quiet=progress == "none")
    ho = card.finetune["held_out"]
    summary = f"; held-out F1 {ho['before']['f1']:.3f} -> {ho['after']['f1']:.3f}" if ho["before"] else ""
    fg = card.finetune.get("forgetting")
    summary += f"; base domain held-out F1 {fg['before']:.3f} -> {fg['after']:.3f}" if fg else ""
    click.echo(
        f"Wrote {out}: {card.name} {card.version}, labels {', '.join(card.labels)}{summary} "
        f"({card.finetune['seconds']:.0f} s)"
    )


@cli.command()
@click.argument("train", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("test", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    default=["mnlp", "random"],
    show_default=True,
    help="Routing strategy; give several to compare them.",
)
@click.option("--batch", default=50, show_default=True, help="Segments corrected per round.")
@click.option("--rounds", default=4, show_default=True)
@click.option(
    "--sizes", default=None, help="Cumulative segment counts instead of --batch/--rounds, e.g. 50,100,200,400."
)
@click.option("--seeds", default=1, show_default=True)
@click.option("--base", default=None, help="Base model (default: the shipped model).")
@click.option("--replay", default=None, type=int, help="Replay sentences (default: finetune's).")
@click.option("--epochs", default=None, type=int, help="Most epochs per fine-tune (default: finetune's).")
@click.option("--threads", default=2, show_default=True)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("simulation"),
    show_default=True,
    help="Folder for results.json and learning_curve.png.",
)
@handle_errors
def simulate(train, test, strategies, batch, rounds, sizes, seeds, base, replay, epochs, threads, out) -> None:
    """Simulate the loop on a gold-annotated TRAIN corpus (JSONL) and plot F1 on TEST.

    An oracle corrects each routed batch to the gold spans, the model is fine-tuned, and the
    learning curve (F1 against corrected segments and edit actions) is written as JSON and PNG.
    """
    from nerdesk.train.simulate import simulate as run_simulation
    from nerdesk.train.simulate import write_outputs

    size_list = [int(x) for x in sizes.split(",")] if sizes else None
    results = [
        run_simulation(
            train,
            test,
            strategy=s,
            batch=batch,
            rounds=rounds,
            sizes=size_list,
            seeds=seeds,
            base=base,
            replay=replay,
            epochs=epochs,
            threads=threads,
            log=lambda m: click.echo(m, err=True),
        )
        for s in strategies
    ]
    from nerdesk.ui.curve_png import learning_curve_png

    jpath = write_outputs(results, out)
    ppath = out / "learning_curve.png"
    learning_curve_png(results, ppath)
    for r in results:
        click.echo(f"{r['strategy']}: " + ", ".join(f"{pt['segments']} -> F1 {pt['f1']:.3f}" for pt in r["curve"]))
    click.echo(f"Wrote {jpath} and {ppath}")
