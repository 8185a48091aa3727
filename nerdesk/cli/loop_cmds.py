"""Closing the loop: model versions in a project (versions, promote, rollback) and the report."""

from __future__ import annotations

from pathlib import Path

import click

from nerdesk.cli._util import cli, echo_json, handle_errors, run_with_progress
from nerdesk.core.project import Project

project_arg = click.argument("project", type=click.Path(dir_okay=False, path_type=Path))
json_opt = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _f(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


@cli.command()
@project_arg
@json_opt
@handle_errors
def versions(project: Path, as_json: bool) -> None:
    """Model versions registered in the project, with their F1 and ECE on reviewed segments."""
    from nerdesk.core.versions import compare

    with Project.open(project) as p:
        rows = compare(p)
    if as_json:
        echo_json(rows)
        return
    click.echo(f"{'':2}{'model':<44} {'reviewed':>8} {'F1':>6} {'P':>6} {'R':>6} {'ECE':>6}")
    for r in rows:
        click.echo(f"{'*' if r['active'] else ' '} {r['id']:<44} {r['reviewed_segments']:>8} {_f(r['f1'])} "
                   f"{_f(r['precision'])} {_f(r['recall'])} {_f(r['ece'])}")


@cli.command()
@project_arg
@click.argument("model", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--threads", default=1, show_default=True)
@handle_errors
def promote(project: Path, model: Path, threads: int) -> None:
    """Make MODEL the project's active model and pre-annotate with it."""
    from nerdesk.core.versions import promote as promote_model

    with Project.open(project) as p:
        model_id = run_with_progress(promote_model(p, model, threads=threads), "Predicting")
    click.echo(f"Active model: {model_id}")


@cli.command()
@project_arg
@handle_errors
def rollback(project: Path) -> None:
    """Re-activate the previously active model (its predictions are kept, so this is instant)."""
    from nerdesk.core.versions import rollback as rollback_model

    with Project.open(project) as p:
        click.echo(f"Active model: {rollback_model(p)}")


@cli.command()
@project_arg
@json_opt
@handle_errors
def report(project: Path, as_json: bool) -> None:
    """Quality per model version, calibration, drift and recurring errors."""
    from nerdesk.core.metrics import report as make_report

    with Project.open(project) as p:
        p.refresh_corrections()
        r = make_report(p)
    if as_json:
        echo_json(r)
        return
    click.echo("Model versions (exact entity F1 on reviewed segments):")
    for m in r["models"]:
        click.echo(f"  {'*' if m['active'] else ' '} {m['id']:<44} n={m['reviewed_segments']:<6} "
                   f"F1 {_f(m['exact']['f1'])}  ECE {_f(m['ece'])}")
    d = r["drift"]
    if d["windows"]:
        click.echo("Drift (documents in import order):")
        for w in d["windows"]:
            click.echo(f"  docs {w['documents'][0]}-{w['documents'][1]}: confidence {_f(w['mean_confidence'])}, "
                       f"uncertainty {_f(w['mean_uncertainty'])}, correction rate {_f(w['correction_rate'])}")
        if d["psi"] is not None:
            click.echo(f"  PSI of uncertainty, first vs last window: {d['psi']:.3f}"
                       + ("  (shift: consider fine-tuning)" if d["psi"] > 0.2 else ""))
    e = r["errors"]
    click.echo(f"Corrections: {e['total']} " + ", ".join(f"{k} {v}" for k, v in sorted(e["per_category"].items())))
    for x in e["missed_surface_forms"][:5]:
        click.echo(f"  missed {x['text']!r} ({x['label']}) x{x['count']}")
