"""Team commands: whoami (identity), review (tier queues and decisions), agreement, adjudicate."""

from __future__ import annotations

from pathlib import Path

import click

from nerdesk.cli._util import cli, echo_json, handle_errors
from nerdesk.core import adjudicate as adj_core
from nerdesk.core.project import Project
from nerdesk.core.tiers import TIERS

project_arg = click.argument("project", type=click.Path(dir_okay=False, path_type=Path))
json_opt = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def identity_opts(fn):
    fn = click.option(
        "--tier",
        type=click.Choice(TIERS),
        default=None,
        help="Act at this tier (else NERDESK_TIER, the config file, the app's choice, annotator).",
    )(fn)
    return click.option(
        "--user",
        default=None,
        help="Act as this person (else NERDESK_USER, the config file, the app's choice, the login).",
    )(fn)


parse_spans = adj_core.parse_spans


def _spans_text(spans: list[dict]) -> str:
    return ", ".join(f"{sp['start']}-{sp['end']}:{sp['label']}" for sp in spans) or "(no spans)"


@cli.command()
@project_arg
@identity_opts
@click.option("--remember", is_flag=True, help="Remember this name and tier for your OS user in this project.")
@json_opt
@handle_errors
def whoami(project: Path, user: str | None, tier: str | None, remember: bool, as_json: bool) -> None:
    """Who you act as in a project (name and tier), and where each came from."""
    with Project.open(project, user=user, tier=tier) as p:
        if remember:
            p.team.remember_identity(p.user, p.tier)
        out = {"user": p.user, "tier": p.tier, "sources": p.identity.sources, "people": p.team.people()}
    if as_json:
        echo_json(out)
        return
    click.echo(f"{out['user']} ({out['tier']}); name from {out['sources']['user']}, tier from {out['sources']['tier']}")
    for person in out["people"]:
        click.echo(f"  known: {person['name']} ({person['tier']}, {person['source']})")


@cli.command()
@project_arg
@click.argument("segment", type=int, required=False)
@identity_opts
@click.option("--annotator", default=None, help="Whose accepted annotation of SEGMENT the decision is on.")
@click.option("--approve", "decision", flag_value="approve", help="Approve the annotator's version.")
@click.option(
    "--correct",
    "decision",
    flag_value="correct",
    help="Replace it with --spans (else your edited draft of the segment).",
)
@click.option("--send-back", "decision", flag_value="send_back", help="Send it back to the annotator with --note.")
@click.option("--spans", default=None, help="The corrected spans: START-END:LABEL,... (document offsets).")
@click.option("--note", default="", help="The note for the annotator (needed to send back).")
@click.option("--sample", type=float, default=None, help="Review this share of each annotator's work (0-1).")
@click.option("--minimum", type=int, default=0, show_default=True, help="With --sample: at least this many each.")
@click.option("--seed", type=int, default=0, show_default=True, help="With --sample or --assign: which segments.")
@click.option(
    "--assign",
    default=None,
    help="Split the work between these annotators (NAME,NAME,...; '' stops): run the same on every laptop.",
)
@click.option(
    "--double",
    type=float,
    default=0.0,
    show_default=True,
    help="With --assign: this share of segments goes to two annotators (for agreement).",
)
@json_opt
@handle_errors
def review(
    project: Path,
    segment: int | None,
    user: str | None,
    tier: str | None,
    annotator: str | None,
    decision: str | None,
    spans: str | None,
    note: str,
    sample: float | None,
    minimum: int,
    seed: int,
    assign: str | None,
    double: float,
    as_json: bool,
) -> None:
    """Your tier's queue, or a reviewer's decision on one annotator's segment.

    Without SEGMENT: the queue of your tier with why each item is there (annotator: what reviewers sent
    back; reviewer: annotators' accepted segments to review, and send-backs to you; expert:
    escalations). With SEGMENT --annotator A and one of --approve / --correct / --send-back: the
    decision (undoable with the app's Undo). --assign splits new work between annotators (each
    sees theirs in this queue), --double sends a share to two of them."""
    with Project.open(project, user=user, tier=tier) as p:
        if assign is not None:
            p.team.set_assignment([n.strip() for n in assign.split(",") if n.strip()], double=double, seed=seed)
        if segment is None:
            items = p.team.queue(sample=sample, minimum=minimum, seed=seed)
            if as_json:
                echo_json({"user": p.user, "tier": p.tier, "items": [i.as_dict() for i in items]})
                return
            click.echo(f"Queue of {p.user} ({p.tier}): {len(items)} item(s)")
            for i in items:
                click.echo(f"{i.segment_id:>8}  {i.kind:<14} {i.annotator or '':<12} {'; '.join(i.reasons)}")
            return
        if decision is None or annotator is None:
            raise click.UsageError("a decision needs --annotator and one of --approve, --correct, --send-back")
        p.team.review(segment, annotator, decision, spans=parse_spans(spans) if spans is not None else None, note=note)
        out = {"segment_id": segment, "annotator": annotator, "decision": decision, "reviewer": p.user, "tier": p.tier}
    if as_json:
        echo_json(out)
    else:
        click.echo(f"{decision.replace('_', ' ')}: segment {segment} by {annotator} ({p.user}, {p.tier})")


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


@cli.command()
@project_arg
@click.option(
    "--tier",
    "tiers",
    type=click.Choice(TIERS),
    multiple=True,
    help="Only annotations made at this tier (repeatable; default: every tier).",
)
@click.option("--person", "people", multiple=True, help="Only these people (repeatable).")
@json_opt
@handle_errors
def agreement(project: Path, tiers: tuple[str, ...], people: tuple[str, ...], as_json: bool) -> None:
    """Agreement where two or more people accepted the same segments: span F1 (exact, partial),
    Cohen's kappa on token tags, Krippendorff's alpha; overall, per label and per pair."""
    with Project.open(project) as p:
        r = p.agreement(tiers=tiers or None, people=people or None)
    if as_json:
        echo_json(r)
        return
    click.echo(
        f"{r['segments']} segment(s) annotated by two or more of {len(r['raters'])} people "
        f"({', '.join(r['raters']) or 'none'}), {r['tokens']} tokens"
    )
    head = f"{'':<14}{'span F1 exact':>14}{'span F1 partial':>16}{'kappa':>8}{'alpha':>8}"
    click.echo(head)
    rows = [("overall", r["overall"]), *sorted(r["per_label"].items())]
    for name, v in rows:
        click.echo(
            f"{name:<14}{_fmt(v['span_f1_exact']):>14}{_fmt(v['span_f1_partial']):>16}"
            f"{_fmt(v['kappa']):>8}{_fmt(v['alpha']):>8}"
        )
    for pair in r["pairs"]:
        click.echo(
            f"  {pair['a']} / {pair['b']}: {pair['segments']} segments, span F1 exact "
            f"{_fmt(pair['span_f1_exact'])}, partial {_fmt(pair['span_f1_partial'])}, kappa {_fmt(pair['kappa'])}"
        )


@cli.command()
@project_arg
@click.argument("segment", type=int, required=False)
@identity_opts
@click.option("--take", default=None, help="Take this person's version of SEGMENT.")
@click.option("--combine", default=None, help="Combine spans of several: ANNOTATOR:START-END:LABEL,...")
@click.option("--spans", default=None, help="Edit: the decided spans, START-END:LABEL,... ('' for none).")
@click.option("--reason", default="", help="Why (recorded with the decision).")
@click.option("--all", "show_all", is_flag=True, help="List every conflict, resolved ones too.")
@click.option(
    "--protocol",
    "rule",
    type=click.Choice(("highest_tier", "majority", "manual")),
    default=None,
    help="Set how conflicts resolve by default.",
)
@click.option(
    "--expert-label",
    "expert_labels",
    multiple=True,
    help="With --protocol: a label whose conflicts only an expert resolves (repeatable).",
)
@click.option("--apply-protocol", is_flag=True, help="Record the protocol's resolution of every conflict it resolves.")
@json_opt
@handle_errors
def adjudicate(
    project: Path,
    segment: int | None,
    user: str | None,
    tier: str | None,
    take: str | None,
    combine: str | None,
    spans: str | None,
    reason: str,
    show_all: bool,
    rule: str | None,
    expert_labels: tuple[str, ...],
    apply_protocol: bool,
    as_json: bool,
) -> None:
    """Conflicts between people's annotations and their resolution.

    Without SEGMENT: the unresolved conflicts (--all: every one) with each person's version and why
    it is unresolved. With SEGMENT: its versions, or a decision with --take, --combine or --spans
    and a --reason. --protocol sets the default rule (highest_tier, majority, manual) and
    --expert-label the labels left to experts. Only resolved annotations are exported and bundled."""
    with Project.open(project, user=user, tier=tier) as p:
        adj = p.adjudication
        if rule is not None or expert_labels:
            adj.set_protocol(rule, list(expert_labels) if expert_labels else None)
        if apply_protocol:
            changes = adj.apply_protocol(reason=reason)
            if not as_json:
                click.echo(f"Recorded the protocol's decision for {len(changes.segments)} conflict(s)")
        if segment is not None and (take or combine or spans is not None):
            adj.adjudicate(
                segment,
                parse_spans(spans) if spans is not None else None,
                take=take,
                combine=parse_spans(combine, with_annotator=True) if combine else None,
                reason=reason,
            )
        if segment is not None:
            out = adj.versions(segment)
            if as_json:
                echo_json(out)
                return
            click.echo(f"Segment {segment}: {out['text']}")
            for v in out["versions"]:
                click.echo(f"  {v['annotator']} ({v['tier']}): {_spans_text(v['spans'])}")
            if out["model"] is not None:
                click.echo(f"  model: {_spans_text(out['model'])}")
            res = out["resolution"]
            if res:
                state = _spans_text(res["spans"]) if res["resolved"] else "unresolved"
                click.echo(
                    f"  -> {res['how']}"
                    + (f" by {res['by']}" if res["by"] else "")
                    + f": {state}"
                    + (f" ({res['reason']})" if res["reason"] else "")
                )
            return
        summary = adj.summary()
        rows = adj.conflicts(unresolved_only=not show_all)
    if as_json:
        echo_json({**summary, "items": rows})
        return
    click.echo(
        f"{summary['conflicts']} conflict(s), {summary['unresolved']} unresolved; protocol: "
        f"{summary['protocol']['rule']}"
        + (
            f", experts decide {', '.join(summary['protocol']['expert_labels'])}"
            if summary["protocol"]["expert_labels"]
            else ""
        )
    )
    for c in rows:
        res = c["resolution"]
        click.echo(f"{c['segment_id']:>8}  {res['how']}" + (f" ({res['reason']})" if res["reason"] else ""))
        for v in c["versions"]:
            click.echo(f"{'':>10}{v['annotator']} ({v['tier']}): {_spans_text(v['spans'])}")
