"""``nerdesk labels`` and ``nerdesk guideline``: label changes that migrate the work, and the
versioned guideline. Each command opens the project and calls one function of
:mod:`nerdesk.core.taxonomy` or :mod:`nerdesk.core.guideline` (one transaction, one undoable event).
"""

from __future__ import annotations

from pathlib import Path

import click

from nerdesk.cli._util import cli, echo_json, handle_errors
from nerdesk.core import guideline as guide_mod
from nerdesk.core import taxonomy
from nerdesk.core.project import Project

project_arg = click.argument("project", type=click.Path(dir_okay=False, path_type=Path))
json_opt = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _done(p: Project, changes) -> None:
    g = p.guideline()
    click.echo(f"{changes.action} (guideline v{g['version'] if g else 0}; `nerdesk labels undo` reverts it)")


@cli.group()
def labels() -> None:
    """Label changes that migrate the work: add, rename, merge, split, retire, a parent.

    Each change is one transaction and one undoable event: it rewrites annotations, every model's
    predictions (a renamed or merged label keeps its model outputs, and the model is asked for it under
    its new name), corrections, severities and term-list labels, and adds a guideline version saying
    what changed. A split sends the split label's spans to the re-review queue (`nerdesk labels stale`,
    or `nerdesk queue --status stale`), placed by the model where it knows the new labels.
    """


@labels.command("list")
@project_arg
@json_opt
@handle_errors
def list_(project: Path, as_json: bool) -> None:
    """Every label with its key, colour, status, parent, severity, and how much of its work is current."""
    with Project.open(project) as p:
        rows = taxonomy.labels(p.store)
        cur = taxonomy.currency(p.store)
        sev = p.severity()
    for r in rows:
        r["severity"] = sev.get(r["name"], "normal")
        r.update({k: cur.get(r["name"], {}).get(k, 0) for k in ("annotations", "stale", "current")})
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        extra = f" ({r['status']})" if r["status"] != "active" else ""
        parent = f"  kind of {r['parent']}" if r["parent"] else ""
        click.echo(
            f"{r['name']:<20} key {r['shortcut'] or '-':<2} {r['color']}  {r['severity']:<6} "
            f"{r['current']}/{r['annotations']} current{extra}{parent}"
        )
        if r["guide"].get("definition") or r["description"]:
            click.echo(f"{'':<21}{r['guide'].get('definition') or r['description']}")


@labels.command("add")
@project_arg
@click.argument("name")
@click.option("--color", default=None, help="#RRGGBB (default: the next colour of the colour-blind-safe palette).")
@click.option("--key", "shortcut", default=None, help="Its shortcut key (default: the first free digit).")
@click.option("--description", default="", help="A one-line definition (the palette shows it).")
@click.option("--parent", default=None, help="The label this one is a kind of.")
@handle_errors
def add(
    project: Path, name: str, color: str | None, shortcut: str | None, description: str, parent: str | None
) -> None:
    """Add the label NAME."""
    with Project.open(project) as p:
        _done(
            p,
            taxonomy.add_label(
                p.store, p.identity, name, color=color, shortcut=shortcut, description=description, parent=parent
            ),
        )


@labels.command("rename")
@project_arg
@click.argument("old")
@click.argument("new")
@handle_errors
def rename(project: Path, old: str, new: str) -> None:
    """Rename OLD to NEW everywhere (NEW must be a new name; to join an existing label, merge)."""
    with Project.open(project) as p:
        _done(p, taxonomy.rename_label(p.store, p.identity, old, new))


@labels.command("merge")
@project_arg
@click.argument("sources", metavar="A,B[,...]")
@click.argument("target", metavar="NEW")
@handle_errors
def merge(project: Path, sources: str, target: str) -> None:
    """Merge the labels A,B,... into NEW (a new label, or one of them)."""
    with Project.open(project) as p:
        _done(p, taxonomy.merge_labels(p.store, p.identity, _names(sources), target))


@labels.command("split")
@project_arg
@click.argument("old")
@click.argument("targets", metavar="NEW1,NEW2[,...]")
@click.option(
    "--no-model",
    is_flag=True,
    help="Do not run the active model to place the spans (its stored predictions are still used).",
)
@handle_errors
def split(project: Path, old: str, targets: str, no_model: bool) -> None:
    """Split OLD into NEW1,NEW2,...: its spans go to the re-review queue, placed by the model where it can."""
    names = _names(targets)
    with Project.open(project) as p:
        sorter = None
        if not no_model and p.active_model_id():
            sorter = taxonomy.model_sorter(p.store, names)
        _done(p, taxonomy.split_label(p.store, p.identity, old, names, sorter=sorter))


@labels.command("retire")
@project_arg
@click.argument("name")
@handle_errors
def retire(project: Path, name: str) -> None:
    """Retire NAME: its spans and corrections leave the work (undo puts them back), models are not asked for it."""
    with Project.open(project) as p:
        _done(p, taxonomy.retire_label(p.store, p.identity, name))


@labels.command("parent")
@project_arg
@click.argument("child")
@click.argument("parent", required=False)
@handle_errors
def parent(project: Path, child: str, parent: str | None) -> None:
    """Make CHILD a kind of PARENT (no PARENT: of nothing)."""
    with Project.open(project) as p:
        _done(p, taxonomy.set_parent(p.store, p.identity, child, parent))


@labels.command("edit")
@project_arg
@click.argument("name")
@click.option("--name", "new_name", default=None, help="A new name (a rename).")
@click.option("--color", default=None, help="#RRGGBB.")
@click.option("--key", "shortcut", default=None, help="Its shortcut key ('' for none).")
@click.option("--description", default=None, help="A one-line definition.")
@click.option(
    "--severity",
    type=click.Choice(taxonomy.SEVERITIES),
    default=None,
    help="How much an error of this label costs (weights the error report).",
)
@handle_errors
def edit(
    project: Path,
    name: str,
    new_name: str | None,
    color: str | None,
    shortcut: str | None,
    description: str | None,
    severity: str | None,
) -> None:
    """Edit NAME's colour, key, description, severity or name: one undoable change."""
    with Project.open(project) as p:
        _done(
            p,
            taxonomy.edit_label(
                p.store,
                p.identity,
                name,
                new_name=new_name,
                color=color,
                shortcut=shortcut,
                description=description,
                severity=severity,
            ),
        )


@labels.command("overlaps")
@project_arg
@click.argument("allow", type=click.Choice(["allow", "forbid"]))
@handle_errors
def overlaps(project: Path, allow: str) -> None:
    """Allow or forbid overlapping (nested) spans in this project."""
    with Project.open(project) as p:
        _done(p, taxonomy.set_allow_overlaps(p.store, p.identity, allow == "allow"))


@labels.command("stale")
@project_arg
@click.option("--label", default=None, help="Only annotations holding this label.")
@click.option("--limit", default=20, show_default=True)
@json_opt
@handle_errors
def stale(project: Path, label: str | None, limit: int, as_json: bool) -> None:
    """The re-review queue: segments annotated under an older definition of one of their labels."""
    with Project.open(project) as p:
        ids = taxonomy.stale_queue(p.store, limit, label=label)
        segs = p.segments(ids)
        cur = taxonomy.currency(p.store)
    if as_json:
        echo_json({"segments": ids, "per_label": cur})
        return
    for s in segs:
        click.echo(f"{s.id:>8}  {s.text[:100]}")
    click.echo(
        ", ".join(f"{k}: {v['current']}/{v['annotations']} current" for k, v in cur.items() if v["annotations"])
        or "No annotations."
    )


@labels.command("undo")
@project_arg
@handle_errors
def undo(project: Path) -> None:
    """Undo your last action (a label change included)."""
    with Project.open(project) as p:
        click.echo(p.undo().action)


@labels.command("redo")
@project_arg
@handle_errors
def redo(project: Path) -> None:
    """Redo the action undone last."""
    with Project.open(project) as p:
        click.echo(p.redo().action)


# ---------------------------------------------------------------- guideline
@cli.group()
def guideline() -> None:
    """The annotation guideline: per label a definition, boundary rules, nested entities, exceptions and
    examples from real segments; versioned (author, time, what changed). Editing a definition or a rule
    makes older annotations of the label stale (`nerdesk labels stale`)."""


@guideline.command("show")
@project_arg
@click.option("--version", "number", type=int, default=None, help="An older version (default: the latest).")
@click.option("--history", is_flag=True, help="List the versions instead: author, time, what changed.")
@json_opt
@handle_errors
def show(project: Path, number: int | None, history: bool, as_json: bool) -> None:
    """Print the guideline (or its history)."""
    with Project.open(project) as p:
        if history:
            rows = guide_mod.versions(p.store)
            if as_json:
                echo_json(rows)
                return
            for r in rows:
                click.echo(f"v{r['version']:<4} {r['created'][:19]}  {r['author']:<12} {r['summary']}")
            return
        row = guide_mod.version(p.store, number)
    if as_json:
        echo_json(row)
        return
    click.echo(guide_mod.render(row), nl=False)


@guideline.command("edit")
@project_arg
@click.option("--label", default=None, help="The label whose fields the options below set.")
@click.option("--definition", default=None, help="What the label is.")
@click.option("--boundaries", default=None, help="Where its spans start and end (titles, determiners...).")
@click.option("--nested", default=None, help="What to do with entities inside entities.")
@click.option("--exceptions", default=None, help="Contexts where it does not apply.")
@click.option("--text", default=None, help="The project-wide text (applies to every label).")
@click.option(
    "--example",
    "examples",
    multiple=True,
    metavar="SEGMENT:START:END",
    help="Add a positive example of --label from a segment (document offsets); repeat for more.",
)
@click.option(
    "--counter-example",
    "counters",
    multiple=True,
    metavar="SEGMENT:START:END",
    help="Add a negative example of --label.",
)
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Apply an edited JSON guideline (from `nerdesk guideline edit --dump`).",
)
@click.option("--dump", is_flag=True, help="Print the guideline as editable JSON and change nothing.")
@click.option("--summary", default=None, help="What changed, in words (default: the fields named).")
@handle_errors
def edit_guideline(
    project: Path,
    label: str | None,
    definition: str | None,
    boundaries: str | None,
    nested: str | None,
    exceptions: str | None,
    text: str | None,
    examples: tuple[str, ...],
    counters: tuple[str, ...],
    path: Path | None,
    dump: bool,
    summary: str | None,
) -> None:
    """Edit the guideline: fields of one label, examples, the project text, or (with no option) the whole of
    it in $EDITOR as JSON. Each edit is a new version."""
    fields = {
        k: v
        for k, v in (
            ("definition", definition),
            ("boundaries", boundaries),
            ("nested", nested),
            ("exceptions", exceptions),
        )
        if v is not None
    }
    with Project.open(project) as p:
        if dump:
            click.echo(guide_mod.to_editable(p.store), nl=False)
            return
        if path is not None:
            _done(p, guide_mod.from_editable(p.store, p.identity, path.read_text(encoding="utf-8"), summary=summary))
            return
        if (fields or examples or counters) and not label:
            raise click.UsageError("--label names the label these fields belong to")
        if fields:
            _done(p, guide_mod.set_fields(p.store, p.identity, label, summary=summary, **fields))
        for refs, negative in ((examples, False), (counters, True)):
            for ref in refs:
                try:
                    seg, start, end = (int(x) for x in ref.split(":"))
                except ValueError as exc:
                    raise click.BadParameter(f"{ref!r}: give SEGMENT:START:END") from exc
                _done(
                    p,
                    guide_mod.add_example(
                        p.store, p.identity, label, seg, start, end, negative=negative, summary=summary
                    ),
                )
        if text is not None:
            _done(p, guide_mod.set_text(p.store, p.identity, text, summary=summary))
        if fields or examples or counters or text is not None:
            return
        edited = click.edit(guide_mod.to_editable(p.store), extension=".json")
        if edited is None:
            click.echo("Nothing changed.")
            return
        _done(p, guide_mod.from_editable(p.store, p.identity, edited, summary=summary))


@guideline.command("diff")
@project_arg
@click.argument("old", type=int, required=False)
@click.argument("new", type=int, required=False)
@handle_errors
def diff(project: Path, old: int | None, new: int | None) -> None:
    """What changed between two versions (default: the latest and the one before)."""
    with Project.open(project) as p:
        out = guide_mod.diff(p.store, old, new)
    click.echo(out or "No difference.", nl=not out)
