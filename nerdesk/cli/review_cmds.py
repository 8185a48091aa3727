"""Review commands: queue (routing), errors (categories), auto-accept."""

from __future__ import annotations

from pathlib import Path

import click

from nerdesk.cli._util import cli, echo_json, handle_errors
from nerdesk.core.project import Project
from nerdesk.core.routing import STRATEGIES

project_arg = click.argument("project", type=click.Path(dir_okay=False, path_type=Path))
json_opt = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@cli.command()
@project_arg
@click.option("--strategy", type=click.Choice(STRATEGIES), default="blend", show_default=True)
@click.option("--limit", default=20, show_default=True)
@click.option(
    "--status",
    default="new",
    show_default=True,
    help="Segments with this status (new, audit, ...; stale: the re-review queue of label changes).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the random strategy and sample.")
@click.option("--no-diversity", is_flag=True, help="Allow runs of near-duplicate segments.")
@click.option("--label", default=None, help="Only segments with a span of this label (predicted or annotated).")
@click.option("--source", default=None, help="Only segments of documents from this source (file name or path).")
@click.option(
    "--max-confidence", type=float, default=None, help="Only segments whose least confident span is at most this."
)
@json_opt
@handle_errors
def queue(
    project: Path,
    strategy: str,
    limit: int,
    status: str,
    seed: int,
    no_diversity: bool,
    label: str | None,
    source: str | None,
    max_confidence: float | None,
    as_json: bool,
) -> None:
    """The next segments to review, best first, with why each was routed."""
    from nerdesk.core.routing import route

    if status == "stale":  # the re-review queue of label changes (nerdesk.core.taxonomy)
        from nerdesk.cli.label_cmds import stale

        return stale.callback(project, label, limit, as_json)
    with Project.open(project) as p:
        items = route(
            p.store,
            strategy,
            limit,
            status=status,
            seed=seed,
            diverse=not no_diversity,
            label=label,
            source=source,
            max_confidence=max_confidence,
        )
    if as_json:
        echo_json([i.as_dict() for i in items])
        return
    for i in items:
        text = i.text if len(i.text) <= 100 else i.text[:97] + "..."
        click.echo(f"{i.id:>8}  {i.score:6.3f}  {text}")
        if i.reasons:
            click.echo(f"{'':>18}{'; '.join(i.reasons)}")
    if not items:
        click.echo("Nothing to review.")


@cli.command()
@project_arg
@click.option("--top", default=10, show_default=True, help="How many confused pairs and surface forms.")
@click.option(
    "--by",
    "by",
    type=click.Choice(("model", "annotator")),
    default="model",
    show_default=True,
    help="annotator: the errors reviewers and adjudicators found in each person's work.",
)
@json_opt
@handle_errors
def errors(project: Path, top: int, by: str, as_json: bool) -> None:
    """Corrections by error category, per label, confused label pairs and missed surface forms.

    --by annotator: each person's error profile (counts per category, per label, per week) from
    reviewers' corrections and adjudications of their work."""
    from nerdesk.core.categorize import CATEGORIES, CATEGORY_NAMES

    if by == "annotator":
        with Project.open(project) as p:
            profiles = p.team.error_profiles()
        if as_json:
            echo_json(profiles)
            return
        for name, prof in sorted(profiles.items()):
            click.echo(f"{name}: {prof['total']} error(s) in {prof['reviewed_segments']} reviewed segment(s)")
            for c in CATEGORIES:
                if prof["per_category"].get(c):
                    click.echo(f"  {CATEGORY_NAMES[c]:<18} {prof['per_category'][c]}")
            for label, cats in sorted(prof["per_label"].items()):
                click.echo(f"  {label:<18} " + ", ".join(f"{CATEGORY_NAMES[c]} {n}" for c, n in sorted(cats.items())))
            for week, cats in prof["per_week"].items():
                click.echo(f"  {week:<18} {sum(cats.values())}")
        if not profiles:
            click.echo("No reviewed work of any annotator yet.")
        return
    with Project.open(project) as p:
        p.refresh_corrections()
        r = p.error_report(top)
    if as_json:
        echo_json(r)
        return
    click.echo(f"Corrections: {r['total']}")
    for c in CATEGORIES:
        click.echo(f"  {CATEGORY_NAMES[c]:<18} {r['per_category'].get(c, 0)}")
    if r["per_label"]:
        click.echo("Per label:")
        for label, cats in sorted(r["per_label"].items()):
            click.echo(f"  {label:<18} " + ", ".join(f"{CATEGORY_NAMES[c]} {n}" for c, n in sorted(cats.items())))
    if r["confused_pairs"]:
        click.echo("Most confused (model -> human):")
        for x in r["confused_pairs"]:
            click.echo(f"  {x['predicted']} -> {x['final']}: {x['count']}")
    if r["missed_surface_forms"]:
        click.echo("Most missed:")
        for x in r["missed_surface_forms"]:
            click.echo(f"  {x['text']!r} ({x['label']}): {x['count']}")
    e = r["effort"]
    if e["segments"]:
        saved = f", {e['saved']:.0%} fewer with the model" if e["saved"] is not None else ""
        click.echo(
            f"Effort: {e['with_model']} edit actions with pre-annotation, {e['from_scratch']} from "
            f"scratch over {e['segments']} segments{saved}"
        )


@cli.command("auto-accept")
@project_arg
@click.option("--threshold", type=click.FloatRange(0, 1), required=True, help="Minimum span and sequence confidence.")
@click.option(
    "--audit-rate",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Share of eligible segments sent to humans as audits.",
)
@click.option("--seed", type=int, default=None)
@click.option(
    "--max-error-rate",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="Refuse while more of the reviewed segments above the threshold needed corrections.",
)
@click.option("--force", is_flag=True, help="Auto-accept even where the guard rails refuse.")
@click.option("--dry-run", is_flag=True, help="Only count what the threshold would route, and check it.")
@json_opt
@handle_errors
def auto_accept_cmd(
    project: Path,
    threshold: float,
    audit_rate: float,
    seed: int | None,
    max_error_rate: float,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Accept confident segments without review, sending an audit sample to humans.

    Refused (E017) while the active model cannot predict one of the project's labels, or while
    fewer than 20 reviewed segments above the threshold show a correction rate at most
    --max-error-rate; --force overrides."""
    from nerdesk.core.autoaccept import audit_estimate, auto_accept, eligible_count, readiness

    with Project.open(project) as p:
        if dry_run:
            out = {
                "eligible": eligible_count(p.store, threshold),
                "check": readiness(p.store, threshold, max_error_rate),
            }
        else:
            out = auto_accept(
                p.store,
                p.identity,
                threshold,
                audit_rate=audit_rate,
                seed=seed,
                max_error_rate=max_error_rate,
                force=force,
            )
        out["estimate"] = audit_estimate(p.store)
    if as_json:
        echo_json(out)
        return
    c = out["check"]
    click.echo(
        f"Reviewed segments predicted at or above {threshold}: {c['reviewed']}, {c['corrected']} needed "
        "a correction" + (f" ({c['rate']:.1%}, 95% interval {c['low']:.1%}-{c['high']:.1%})" if c["reviewed"] else "")
    )
    for reason in c["reasons"]:
        click.echo(("Overridden: " if not dry_run else "Would refuse: ") + reason)
    if dry_run:
        click.echo(f"{out['eligible']:,} segments are at or above {threshold}")
    else:
        click.echo(f"Auto-accepted {out['auto']:,} segments; {out['audit']:,} sent to review as audits")
    est = out["estimate"]
    if est["audited"]:
        click.echo(
            f"Audited error rate: {est['rate']:.1%} (95% CI {est['low']:.1%}-{est['high']:.1%}, "
            f"{est['audited']} audits)"
        )
