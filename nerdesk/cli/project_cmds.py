"""Project commands: init, import, export, stats, search, predict."""

from __future__ import annotations

from pathlib import Path

import click

from nerdesk.cli._util import cli, echo_json, handle_errors, run_with_progress
from nerdesk.core.errors import NerdeskError
from nerdesk.core.project import Project

FORMAT_NAMES = ["text", "jsonl", "csv", "tsv", "conll", "prodigy", "labelstudio", "spacy", "brat", "doccano", "bundle"]

project_arg = click.argument("project", type=click.Path(dir_okay=False, path_type=Path))
json_opt = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@cli.command()
@project_arg
@click.option("--labels", default="", help="Comma-separated label set, e.g. PER,ORG,LOC.")
@click.option("--lang", default="en", show_default=True, help="spaCy language code for tokenisation.")
@click.option("--name", default=None, help="Project name (default: the file name).")
@click.option("--allow-overlaps", is_flag=True, help="Allow overlapping and nested spans.")
@handle_errors
def init(project: Path, labels: str, lang: str, name: str | None, allow_overlaps: bool) -> None:
    """Create a new project file."""
    names = [x.strip() for x in labels.split(",") if x.strip()]
    Project.create(project, labels=names, lang=lang, name=name, allow_overlaps=allow_overlaps).close()
    click.echo(f"Created {project}" + (f" with labels {', '.join(names)}" if names else ""))


@cli.command("import")
@project_arg
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_NAMES),
    default=None,
    help="Input format (detected from the file when omitted).",
)
@click.option("--lines", is_flag=True, help="Plain text: one document per line.")
@click.option("--text-column", default="text", show_default=True, help="CSV/TSV: the column with the text.")
@click.option("--annotations", is_flag=True, help="Import the entity spans in the files as human annotations.")
@click.option("--annotator", default=None, help="Name recorded for imported annotations.")
@click.option(
    "--add-labels",
    is_flag=True,
    default=None,
    help="Add labels the project does not know yet (otherwise they are an error).",
)
@click.option("--create", is_flag=True, help="Create the project if it does not exist.")
@click.option("--no-predict", is_flag=True, help="Do not pre-annotate the new segments with the active model.")
@click.option("--threads", default=1, show_default=True, help="Threads for the pre-annotation.")
@json_opt
@handle_errors
def import_(
    project: Path,
    files: tuple[Path, ...],
    fmt: str | None,
    lines: bool,
    text_column: str,
    annotations: bool,
    annotator: str | None,
    add_labels: bool | None,
    create: bool,
    no_predict: bool,
    threads: int,
    as_json: bool,
) -> None:
    """Import documents (and with --annotations, their spans) from FILES, then pre-annotate the
    new segments with the project's active model (the default model if none is; --no-predict:
    later, with `nerdesk predict`).

    Formats: text, jsonl, csv, tsv, conll, prodigy, labelstudio, spacy, brat, doccano.
    Each file is imported in one transaction: on an error nothing of it stays.
    Re-importing a file adds no duplicates.
    """
    p = Project.create(project) if create and not project.exists() else Project.open(project)
    results = []
    with p:
        for f in files:
            opts: dict = {}
            if lines:
                opts["lines"] = True
            if text_column != "text":
                opts["text_column"] = text_column
            gen = p.import_file(f, fmt, annotations=annotations, annotator=annotator, add_labels=add_labels, **opts)
            res = run_with_progress(gen, f"Importing {f.name}", quiet=as_json)
            results.append({"file": str(f), **res.as_dict()})
            if not as_json:
                click.echo(
                    f"{f}: {res.documents} new documents, {res.segments} segments, {res.tokens} tokens"
                    + (f", {res.duplicates} already in the project" if res.duplicates else "")
                    + (f", {res.annotated_segments} annotated segments" if res.annotated_segments else "")
                    + (
                        f"; merged into existing segments: {res.merged_added} added, {res.merged_unchanged} "
                        f"unchanged, {res.conflicts} conflicts kept beside the local annotation"
                        if res.merged_added or res.merged_unchanged or res.conflicts
                        else ""
                    )
                    + (f", labels added: {', '.join(res.labels_added)}" if res.labels_added else "")
                )
        predicted = None
        if not no_predict and any(r["segments"] for r in results):
            try:  # the import stands either way: it is committed
                name = p.preannotating_model()
                predicted = run_with_progress(
                    p.preannotate(threads=threads), f"Pre-annotating with {name}", quiet=as_json
                )
            except NerdeskError as exc:
                click.echo(f"Imported, not pre-annotated: {exc}", err=True)
                results[-1]["preannotated"] = {"segments": 0, "error": str(exc)}
            else:
                if not as_json:
                    click.echo(f"Pre-annotated {predicted:,} segments with {p.active_model_id()}")
                results[-1]["preannotated"] = {"segments": predicted, "model": p.active_model_id()}
    if as_json:
        echo_json(results)


@cli.command()
@project_arg
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), required=True, help="Output format.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output file or directory.")
@click.option("--reviewed-only", is_flag=True, help="Only documents whose every segment was accepted.")
@click.option("--preview", is_flag=True, help="bundle: print exactly what would leave the machine, write nothing.")
@click.option(
    "--suggestions",
    is_flag=True,
    help="Silver data: each unreviewed segment with its current suggestions (the model's merged with "
    "the term lists'), their sources in meta.suggestions.",
)
@handle_errors
def export(project: Path, fmt: str, out: Path, reviewed_only: bool, preview: bool, suggestions: bool) -> None:
    """Export documents with their final spans (human where reviewed) to a file.

    `--format bundle` writes a correction bundle (zip): every reviewed segment with the model's
    and the human's spans and error tags, for `nerdesk finetune` or another laptop's project.
    `--suggestions` writes the unreviewed segments with their suggestions instead, one record each.
    """
    from nerdesk.core import formats

    if suggestions:
        if fmt == "bundle" or reviewed_only:
            raise click.UsageError(
                "--suggestions writes unreviewed segments: not with --format bundle or --reviewed-only"
            )
        from nerdesk.core.exporter import export_suggestions

        with Project.open(project) as p:
            counter = _Counter(export_suggestions(p.store, p.identity))
            formats.write_records(counter, out, fmt)
        click.echo(f"Wrote {counter.n} unreviewed segments with their suggestions to {out}")
        return

    if fmt == "bundle":
        from nerdesk.core import bundle

        with Project.open(project) as p:
            if preview:
                manifest, lines = bundle.preview(p.store)
                echo_json({"manifest": manifest, "corrections": lines})
                return
            manifest = bundle.write_bundle(p.store, p.identity, out)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(manifest["error_counts"].items())) or "no errors"
        click.echo(
            f"Wrote bundle {manifest['bundle_id']} with {manifest['segments']} reviewed segments ({counts}) to {out}"
        )
        return
    with Project.open(project) as p:
        counter = _Counter(p.export_records(reviewed_only=reviewed_only))
        formats.write_records(counter, out, fmt)
    click.echo(f"Wrote {counter.n} documents to {out}")


class _Counter:
    def __init__(self, it):
        self.it = it
        self.n = 0

    def __iter__(self):
        for x in self.it:
            self.n += 1
            yield x


@cli.command()
@project_arg
@json_opt
@handle_errors
def stats(project: Path, as_json: bool) -> None:
    """Counts: documents, segments, tokens, annotated segments, entities per label."""
    with Project.open(project) as p:
        s = p.stats()
        s["label_currency"] = p.taxonomy.currency()  # how much of each label is current (issue 17)
    if as_json:
        echo_json(s)
        return
    click.echo(f"Project     {s['project']} ({s['path']})")
    click.echo(f"Documents   {s['documents']:,}")
    click.echo(f"Segments    {s['segments']:,}  " + ", ".join(f"{k} {v:,}" for k, v in sorted(s["by_status"].items())))
    click.echo(f"Tokens      {s['tokens']:,}")
    click.echo(f"Annotated   {s['annotated']:,} segments")
    click.echo(f"Model       {s['active_model'] or '(none)'}")
    click.echo("Labels      " + (", ".join(f"{lab} {s['per_label'].get(lab, 0):,}" for lab in s["labels"]) or "(none)"))
    stale = {k: v for k, v in s["label_currency"].items() if v["stale"]}
    if stale:  # annotated under an older definition: `nerdesk labels stale`
        click.echo(
            "Stale       " + ", ".join(f"{k} {v['stale']:,} of {v['annotations']:,} segments" for k, v in stale.items())
        )


@cli.command()
@project_arg
@click.argument("query")
@click.option("--limit", default=20, show_default=True)
@json_opt
@handle_errors
def search(project: Path, query: str, limit: int, as_json: bool) -> None:
    """Full-text search over the project's documents."""
    with Project.open(project) as p:
        hits = p.search(query, limit)
    if as_json:
        echo_json(hits)
        return
    for h in hits:
        click.echo(f"{h['doc_id']:>8}  {h['source']}  {h['snippet']}")
    if not hits:
        click.echo("No matches.")


@cli.command()
@project_arg
@click.option("--model", "model", default=None, help="Model directory (default: the shipped model).")
@click.option("--threads", default=1, show_default=True, help="Inference threads.")
@json_opt
@handle_errors
def predict(project: Path, model: str | None, threads: int, as_json: bool) -> None:
    """Pre-annotate every segment the model has not seen yet (resumable)."""
    with Project.open(project) as p:
        n = run_with_progress(p.predict(model, threads=threads), "Predicting", quiet=as_json)
        model_id = p.active_model_id()
    if as_json:
        echo_json({"predicted": n, "active_model": model_id})
    else:
        click.echo(f"Predicted {n:,} segments (active model: {model_id})")
