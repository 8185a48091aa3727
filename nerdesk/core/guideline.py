"""The annotation guideline: one entry per label and a project-wide text, versioned.

A label's guideline holds its definition, boundary rules, nested-entity handling, contextual
exceptions, and positive and negative examples taken from real segments (segment id, offsets, the
text and a little context, so an example survives an edit of its segment). Every edit is a label
change of :mod:`nerdesk.core.taxonomy` (one transaction, one undoable event) and a new row of the
``guidelines`` table: its author, its time, what changed (``summary``) and the whole label table as
it then was, so any two versions can be shown side by side (:func:`diff`). Editing a definition or a
rule makes the label's older annotations stale; adding an example does not.
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

from nerdesk.core import settings, taxonomy
from nerdesk.core.errors import Errors, err
from nerdesk.core.store import labels as sql
from nerdesk.core.types import Changes

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

FIELDS = taxonomy.GUIDE_FIELDS
FIELD_TITLES = {
    "definition": "Definition",
    "boundaries": "Boundary rules",
    "nested": "Nested entities",
    "exceptions": "Contextual exceptions",
    "positive": "Examples",
    "negative": "Counter-examples",
}
#: Characters of context kept on each side of an example.
CONTEXT = 40


def guide(store: Store, label: str) -> dict[str, Any]:
    """The current guideline of one label: the fields (empty strings where unset) and both example lists."""
    row = next((lab for lab in sql.labels(store) if lab["name"] == label), None)
    if row is None:
        raise err(Errors.E009, label=label, labels=", ".join(settings.label_names(store)) or "(none)")
    g = row["guide"]
    return {
        **{f: g.get(f, "") for f in FIELDS},
        "positive": list(g.get("positive", [])),
        "negative": list(g.get("negative", [])),
    }


def definition(store: Store, label: str) -> str:
    """What the palette and the inspector show: the definition, else the label's description."""
    row = next((lab for lab in sql.labels(store) if lab["name"] == label), None)
    if row is None:
        return ""
    return row["guide"].get("definition") or row["description"] or ""


def set_fields(store: Store, actor: Identity, label: str, *, summary: str | None = None, **fields: Any) -> Changes:
    """Set text fields of a label's guideline (definition=, boundaries=, nested=, exceptions=)."""
    return taxonomy.set_guide(store, actor, label, fields, summary=summary)


def set_text(store: Store, actor: Identity, text: str, *, summary: str | None = None) -> Changes:
    """The project-wide guideline text (what applies to every label)."""
    return taxonomy.set_guide(store, actor, None, {"text": text}, summary=summary)


def example_from(store: Store, segment_id: int, start: int, end: int, note: str = "") -> dict[str, Any]:
    """An example from a real segment: its offsets (document characters), text and context."""
    rows = store.segments_with_text([segment_id])
    if not rows:
        raise err(Errors.E005, id=segment_id)
    seg = rows[0]
    if not seg.start <= start < end <= seg.end:
        raise err(Errors.E434, start=start, end=end, segment=segment_id, seg_start=seg.start, seg_end=seg.end)
    text, base = seg.own_text(), seg.start
    a, b = start - base, end - base
    return {
        "segment_id": segment_id,
        "doc_id": seg.doc_id,
        "start": start,
        "end": end,
        "text": text[a:b],
        "before": text[max(0, a - CONTEXT) : a],
        "after": text[b : b + CONTEXT],
        "note": note,
    }


def add_example(
    store: Store,
    actor: Identity,
    label: str,
    segment_id: int,
    start: int,
    end: int,
    *,
    negative: bool = False,
    note: str = "",
    summary: str | None = None,
) -> Changes:
    """Add a positive (or negative) example of ``label`` taken from a segment: one click in the app."""
    kind = "negative" if negative else "positive"
    current = guide(store, label)
    ex = example_from(store, segment_id, start, end, note)
    return taxonomy.set_guide(
        store,
        actor,
        label,
        {kind: [*current[kind], ex]},
        summary=summary or f"{label}: {'counter-' if negative else ''}example '{ex['text']}' added",
    )


def remove_example(store: Store, actor: Identity, label: str, index: int, *, negative: bool = False) -> Changes:
    kind = "negative" if negative else "positive"
    current = guide(store, label)[kind]
    if not 0 <= index < len(current):
        raise err(Errors.E432, fields=f"{kind}[{index}]", known=f"{kind}[0..{len(current) - 1}]")
    ex = current[index]
    return taxonomy.set_guide(
        store,
        actor,
        label,
        {kind: current[:index] + current[index + 1 :]},
        summary=f"{label}: {kind} example '{ex['text']}' removed",
    )


# ---------------------------------------------------------------- versions
def versions(store: Store) -> list[dict[str, Any]]:
    """Every version, oldest first: version, created, author, summary (what changed)."""
    return sql.guideline_versions(store)


def version(store: Store, number: int | None = None) -> dict[str, Any]:
    """One version (None: the latest) with its label snapshot and text."""
    latest = store.guideline()
    if number is None:
        if latest is None:
            return {"version": 0, "created": "", "author": "", "labels": [], "text": "", "summary": ""}
        number = latest["version"]
    row = sql.guideline_version(store, number)
    if row is None:
        raise err(Errors.E433, version=number, latest=latest["version"] if latest else 0)
    return row


def render(row: dict[str, Any], *, with_examples: bool = True) -> str:
    """A version as plain text (Markdown headings): what ``nerdesk guideline show`` prints and ``diff`` compares."""
    out = [
        f"# Guideline v{row['version']}" + (f" ({row['author']}, {row['created'][:19]})" if row.get("author") else "")
    ]
    if row.get("summary"):
        out.append(f"Changed: {row['summary']}")
    if row.get("text"):
        out += ["", row["text"].rstrip()]
    for lab in row.get("labels", []):
        status = lab.get("status", "active")
        head = f"## {lab['name']}"
        if status != "active":
            head += (
                f" ({status}"
                + (f" into {', '.join(lab.get('guide', {}).get('split_into', []))}" if status == "split" else "")
                + ")"
            )
        if lab.get("parent"):
            head += f" — a kind of {lab['parent']}"
        out += ["", head]
        g = lab.get("guide") or {}
        if lab.get("description") and not g.get("definition"):
            out.append(f"Definition: {lab['description']}")
        for f in FIELDS:
            if g.get(f):
                out.append(f"{FIELD_TITLES[f]}: {g[f]}")
        if with_examples:
            for kind in taxonomy.EXAMPLE_KINDS:
                for ex in g.get(kind, []):
                    mark = "+" if kind == "positive" else "-"
                    out.append(
                        f"  {mark} …{ex.get('before', '')}[{ex['text']}]{ex.get('after', '')}… "
                        f"(segment {ex['segment_id']})" + (f" {ex['note']}" if ex.get("note") else "")
                    )
    return "\n".join(out) + "\n"


def diff(store: Store, old: int | None = None, new: int | None = None) -> str:
    """A unified diff of two versions (default: the one before the latest, and the latest)."""
    b = version(store, new)
    if old is None:
        old = max(b["version"] - 1, 0)
    a = version(store, old) if old else {"version": 0, "labels": [], "text": "", "author": "", "created": ""}
    la = render(a).splitlines(keepends=True)[1:]
    lb = render(b).splitlines(keepends=True)[1:]
    return "".join(difflib.unified_diff(la, lb, f"v{a['version']}", f"v{b['version']}"))


# ---------------------------------------------------------------- the whole guideline as one editable text
def to_editable(store: Store) -> str:
    """The guideline as JSON for an editor (``nerdesk guideline edit``): the text and each label's fields."""
    g = store.guideline()
    doc = {
        "text": g["text"] if g else "",
        "labels": {
            lab["name"]: {
                f: lab["guide"].get(f, "") or (lab["description"] if f == "definition" else "") for f in FIELDS
            }
            for lab in sql.labels(store)
            if lab["status"] == "active"
        },
        "summary": "",
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def from_editable(store: Store, actor: Identity, text: str, *, summary: str | None = None) -> Changes:
    """Apply an edited :func:`to_editable` text as one change (a new version; E435 if it does not parse)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise err(Errors.E435, reason=f"line {exc.lineno}: {exc.msg}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("labels", {}), dict):
        raise err(Errors.E435, reason="expected an object with 'text' and 'labels'")
    labels_: dict[str, dict[str, Any]] = {}
    for name, fields in doc.get("labels", {}).items():
        if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
            raise err(Errors.E435, reason=f"'{name}' must map fields to text")
        labels_[name] = fields
    body = doc.get("text")
    if body is not None and not isinstance(body, str):
        raise err(Errors.E435, reason="'text' must be text")
    return taxonomy.set_guides(store, actor, labels_, text=body, summary=summary or doc.get("summary") or None)
