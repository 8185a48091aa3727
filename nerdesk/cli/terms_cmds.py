"""``nerdesk terms``: term lists and patterns that pre-annotate before a model knows a label.

Each command opens the project and calls one method of ``project.terms``
(:class:`nerdesk.core.terms.TermLists`).
"""

from __future__ import annotations

from pathlib import Path

import click

from nerdesk.cli._util import cli, echo_json, handle_errors, run_with_progress
from nerdesk.core.project import Project
from nerdesk.core.terms import FLAG_MIN_HITS, FLAG_PRECISION, FORMATS, SUGGEST_MIN_COUNT

project_arg = click.argument("project", type=click.Path(dir_okay=False, path_type=Path))
list_arg = click.argument("list_ref", metavar="LIST")
json_opt = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
term_opt = click.option(
    "--term",
    "term_ids",
    type=int,
    multiple=True,
    help="Only this term (its id, from `nerdesk terms list`); repeat for more.",
)


@cli.group()
def terms() -> None:
    """Term lists and patterns: pre-annotate from a terminology before any model knows the label.

    Formats: plain text (one term per line, --label), CSV/TSV (term,label[,note]), spaCy EntityRuler /
    Prodigy patterns JSONL ({"label": ..., "pattern": "..." | [{"LOWER": ...}, ...]}). Matches are shown
    beside the model's suggestions; where the model knows the label and is confident it wins, otherwise
    the term does (`nerdesk terms rule`).
    """


@terms.command("add")
@project_arg
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--label", default=None, help="The label of every term (plain text), or of rows without one.")
@click.option(
    "--name",
    default=None,
    help="The list's name (default: the file name). An existing list of this name gets the terms as its next version.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="text, csv, tsv or patterns (detected from the file when omitted).",
)
@click.option(
    "--case-sensitive",
    is_flag=True,
    help="Match the exact case (default: any case, except acronyms in capitals of up to 5 characters).",
)
@click.option(
    "--lemma",
    is_flag=True,
    help="Match base forms: accents and case ignored, English plural endings stripped ('tumours' matches 'tumour').",
)
@click.option("--add-labels", is_flag=True, help="Add labels the project does not know (otherwise an error).")
@click.option("--no-match", is_flag=True, help="Store the list only; match it later (`nerdesk terms match`).")
@json_opt
@handle_errors
def add(
    project: Path,
    file: Path,
    label: str | None,
    name: str | None,
    fmt: str | None,
    case_sensitive: bool,
    lemma: bool,
    add_labels: bool,
    no_match: bool,
    as_json: bool,
) -> None:
    """Add a term list from FILE and pre-annotate the project's segments with it.

    The list is stored in one transaction: on an error (empty list, bad JSON or Matcher pattern, unknown
    label) nothing is, and the error names the file and line.
    """
    with Project.open(project) as p:
        res = p.terms.add_file(
            file, label=label, fmt=fmt, name=name, case_sensitive=case_sensitive, lemma=lemma, add_labels=add_labels
        )
        matched = 0 if no_match else run_with_progress(p.terms.match(), f"Matching {res['name']}", quiet=as_json)
        row = next(r for r in p.terms.report() if r["id"] == res["id"])
    out = {
        **{k: v for k, v in res.items()},
        "segments_matched": matched,
        "matches": row["matches"],
        "reviewed_hits": row["hits"],
        "precision": row["precision"],
    }
    if as_json:
        echo_json(out)
        return
    labels = ", ".join(f"{k} {v:,}" for k, v in sorted(row["labels"].items()))
    click.echo(
        f"List {res['id']} '{res['name']}' version {res['version']}: {res['added']:,} terms added"
        + (f" ({res['duplicates']:,} repeated, left out)" if res["duplicates"] else "")
        + f"; {row['terms']:,} terms in all ({labels})"
        + (f"; labels added: {', '.join(res['labels_added'])}" if res["labels_added"] else "")
    )
    if not no_match:
        click.echo(
            f"Matched {matched:,} segments: {row['matches']:,} matches of the list"
            + (f"; on reviewed segments {row['hits']:,} hits, precision {row['precision']:.2f}" if row["hits"] else "")
        )


@terms.command("list")
@project_arg
@click.option(
    "--top",
    default=20,
    show_default=True,
    help="Terms shown per list (most reviewed hits first; flagged terms always).",
)
@click.option("--all", "all_terms", is_flag=True, help="Every term, with or without a reviewed hit.")
@json_opt
@handle_errors
def list_(project: Path, top: int, all_terms: bool, as_json: bool) -> None:
    """The project's term lists, and per term its matches, hits and precision on reviewed segments.

    A hit is a match in an accepted segment; it is correct when the reviewer kept that span and label.
    A term with at least 5 hits and a precision below 0.5 is flagged (mostly rejected): switch it off with
    `nerdesk terms disable PROJECT LIST --flagged`.
    """
    with Project.open(project) as p:
        rows = p.terms.report(all_terms=all_terms)
    if as_json:
        echo_json([{**{k: v for k, v in r.items() if k != "term_rows"}, "terms_detail": r["term_rows"]} for r in rows])
        return
    if not rows:
        click.echo("No term lists. Add one with `nerdesk terms add PROJECT FILE --label LABEL`.")
        return
    for r in rows:
        rules = ("case-sensitive" if r["case_sensitive"] else "any case") + (", base forms" if r["lemma"] else "")
        labels = ", ".join(f"{k} {v:,}" for k, v in sorted(r["labels"].items()))
        click.echo(
            f"{r['id']:>3}  {r['name']}  v{r['version']}  {'on' if r['enabled'] else 'OFF'}  "
            f"{r['terms']:,} terms ({r['enabled_terms']:,} on; {labels})  {rules}  from {r['source'] or '-'}"
            f"  by {r['author']} {r['updated'][:19]}"
        )
        prec = f", precision {r['precision']:.2f}" if r["precision"] is not None else ""
        click.echo(
            f"     matches {r['matches']:,}; reviewed hits {r['hits']:,}{prec}"
            + (f"; {r['flagged']} flagged" if r["flagged"] else "")
        )
        shown = [t for t in r["term_rows"] if t["flagged"]] + [t for t in r["term_rows"] if not t["flagged"]]
        shown = shown if all_terms else shown[: max(top, sum(t["flagged"] for t in shown))]
        for t in shown:
            prec = "-" if t["precision"] is None else f"{t['precision']:.2f}"
            flag = "  FLAGGED: mostly rejected" if t["flagged"] else ""
            click.echo(
                f"     #{t['id']:<7} {t['pattern']!r:40.40} {t['label']:<12} matches {t['matches']:>6,}  "
                f"hits {t['hits']:>4}  precision {prec:>4}{'' if t['enabled'] else '  (off)'}{flag}"
            )
        hidden = len(r["term_rows"]) - len(shown)
        if hidden > 0:
            click.echo(f"     ... {hidden:,} more terms with reviewed hits (--all, or --top N)")


@terms.command("remove")
@project_arg
@list_arg
@term_opt
@handle_errors
def remove(project: Path, list_ref: str, term_ids: tuple[int, ...]) -> None:
    """Remove the list LIST (id or name) with its matches, or some of its terms (--term). Its history stays."""
    with Project.open(project) as p:
        lst = p.terms.get(list_ref)
        p.terms.remove(list_ref, term_ids)
    click.echo(
        f"Removed {len(term_ids)} terms from '{lst['name']}'"
        if term_ids
        else f"Removed list {lst['id']} '{lst['name']}' ({lst['terms']:,} terms)"
    )


def _switch(project: Path, list_ref: str, term_ids: tuple[int, ...], flagged: bool, enabled: bool) -> None:
    with Project.open(project) as p:
        lst = p.terms.get(list_ref)
        ch = p.terms.set_enabled(list_ref, enabled, term_ids, flagged=flagged)
    word = "on" if enabled else "off"
    if not ch.models:  # nothing switched: no term of the list is flagged
        click.echo(
            f"No flagged term in '{lst['name']}' (flagged: {FLAG_MIN_HITS}+ reviewed hits, precision "
            f"below {FLAG_PRECISION})"
        )
    elif term_ids or flagged:
        click.echo(
            f"Switched {'the flagged' if flagged and not term_ids else len(term_ids)} terms of '{lst['name']}' {word}"
        )
    else:
        click.echo(f"Switched list {lst['id']} '{lst['name']}' {word}")


@terms.command("disable")
@project_arg
@list_arg
@term_opt
@click.option("--flagged", is_flag=True, help="The list's flagged terms (mostly rejected by reviewers).")
@handle_errors
def disable(project: Path, list_ref: str, term_ids: tuple[int, ...], flagged: bool) -> None:
    """Switch a list, some of its terms or its flagged terms off: their matches are no longer suggested."""
    _switch(project, list_ref, term_ids, flagged, False)


@terms.command("enable")
@project_arg
@list_arg
@term_opt
@click.option("--flagged", is_flag=True, help="The list's flagged terms.")
@handle_errors
def enable(project: Path, list_ref: str, term_ids: tuple[int, ...], flagged: bool) -> None:
    """Switch a list, or some of its terms, back on."""
    _switch(project, list_ref, term_ids, flagged, True)


@terms.command("suggest")
@project_arg
@click.option(
    "--min-count",
    default=SUGGEST_MIN_COUNT,
    show_default=True,
    help="Surface forms reviewers added at least this often.",
)
@click.option(
    "--add-to",
    "add_to",
    default=None,
    help="Add the suggestions to this list (its next version; "
    "a new list if there is none of that name), and match them.",
)
@json_opt
@handle_errors
def suggest(project: Path, min_count: int, add_to: str | None, as_json: bool) -> None:
    """New terms: surface forms reviewers added often (in accepted segments) that no list holds."""
    with Project.open(project) as p:
        rows = p.terms.suggest(min_count)
        added = None
        if add_to and rows:
            added = p.terms.add_suggestions(add_to, min_count)
            run_with_progress(p.terms.match(), f"Matching {add_to}", quiet=as_json)
    if as_json:
        echo_json({"suggestions": rows, "added": added})
        return
    if not rows:
        click.echo(f"No surface form was added {min_count}+ times that no list holds.")
        return
    for r in rows:
        click.echo(f"{r['count']:>5}  {r['label']:<14} {r['text']}")
    if added:
        click.echo(f"Added {added['added']} terms to '{added['name']}' (version {added['version']})")
    else:
        click.echo(f"Add them with: nerdesk terms suggest {project} --min-count {min_count} --add-to NAME")


@terms.command("history")
@project_arg
@click.argument("list_ref", metavar="[LIST]", required=False)
@json_opt
@handle_errors
def history(project: Path, list_ref: str | None, as_json: bool) -> None:
    """Every version of the term lists (or of LIST): what changed, who, when, under which guideline version."""
    with Project.open(project) as p:
        rows = p.terms.history(list_ref)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        detail = ", ".join(f"{k} {v}" for k, v in r["detail"].items() if v not in ("", [], None))
        click.echo(
            f"{r['ts'][:19]}  {r['list_name']} v{r['version']}  {r['action']}  by {r['author']}"
            f"  guideline v{r['guideline_version'] or '-'}" + (f"  ({detail})" if detail else "")
        )
    if not rows:
        click.echo("No term-list history.")


@terms.command("match")
@project_arg
@handle_errors
def match(project: Path) -> None:
    """Match the term lists in every segment they have not seen (resumable; imports do this themselves)."""
    with Project.open(project) as p:
        n = run_with_progress(p.terms.match(), "Matching term lists")
    click.echo(f"Matched {n:,} segments")


@terms.command("rule")
@project_arg
@click.option(
    "--model-confidence",
    type=click.FloatRange(0, 1),
    default=None,
    help="Set the confidence from which the model wins over a term of a label it knows.",
)
@handle_errors
def rule(project: Path, model_confidence: float | None) -> None:
    """Show (or set) how term suggestions and the model's merge."""
    from nerdesk.core.terms import known_labels
    from nerdesk.core.terms import model_confidence as threshold

    with Project.open(project) as p:
        if model_confidence is not None:
            p.terms.set_model_confidence(model_confidence)
        t = threshold(p.store)
        known = sorted(known_labels(p.store) & set(p.label_names()))
    click.echo(
        f"The model wins over a term match where it knows the term's label and is confident: a span of "
        f"its own over that text at {t:.2f} or more. Otherwise the term wins, and the model's spans over "
        f"that text are not shown."
    )
    click.echo("Labels the active model knows: " + (", ".join(known) or "none (terms always win)"))
