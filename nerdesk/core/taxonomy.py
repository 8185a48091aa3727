"""Label changes that migrate the work: add, rename, merge, split, retire, a parent, an edit.

Each change is one transaction and one event in the undo log (``segment_id`` NULL, ``after`` =
``{"taxonomy": op}``, ``before`` = the label table, severities, the model-label map and the guideline
version before it). It rewrites annotations, predictions (every model's: a renamed or merged label keeps
its model outputs), corrections, severities, term-list labels and the model-label map used at prediction
time, and adds a guideline version naming the change. Undo applies the reverse: a rename is renamed
back, a merge puts back the rows of its non-base labels (kept in ``label_change_rows``) and renames the
rest back, a split or retire puts back the rows it rewrote. No change copies a million rows into the
event: see ``bench/taxonomy_bench.py``.

Stale work: a change of what a label means (a split, an edit of its definition or rules) sets the
label's ``changed_version``; an annotation holding that label made under an older guideline version is
stale (:func:`stale_queue`) until someone accepts it again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from nerdesk.core import labels as labelset
from nerdesk.core.errors import Errors, err
from nerdesk.core.store import labels as sql
from nerdesk.core.types import ChangeKind, Changes, Progress, Step

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

STATUSES = ("active", "retired", "split")
SEVERITIES = ("low", "normal", "high")
#: What a label's guideline holds (nerdesk.core.guideline), the text fields first.
GUIDE_FIELDS = ("definition", "boundaries", "nested", "exceptions")
EXAMPLE_KINDS = ("positive", "negative")

#: A split's sorter: given the segment ids holding the split label and the labels split into, the
#: spans a model finds of those labels, per segment id: [(start, end, label, confidence), ...].
Sorter = Callable[[list[int], list[str]], dict[int, list[tuple[int, int, str, float]]]]


# ---------------------------------------------------------------- reading
def labels(store: Store) -> list[dict[str, Any]]:
    return sql.labels(store)


def active_names(store: Store) -> list[str]:
    return [lab["name"] for lab in sql.labels(store) if lab["status"] == "active"]


def model_label_map(store: Store) -> dict[str, str]:
    """Model label -> project label, applied to every model's outputs at prediction time."""
    return dict(store.get_setting("model_label_map", {}))


def map_model_label(mapping: dict[str, str], label: str) -> str:
    return mapping.get(label, label)


def stale_queue(store: Store, limit: int = 50, offset: int = 0, label: str | None = None) -> list[int]:
    """Segments with an annotation made under an older definition of one of its labels."""
    return sql.stale_segments(store, limit, offset, label)


def currency(store: Store) -> dict[str, dict[str, int]]:
    """Per label: annotations holding it, how many are stale and how many current."""
    out = sql.currency_per_label(store)
    for v in out.values():
        v["current"] = v["annotations"] - v["stale"]
    return out


# ---------------------------------------------------------------- the changes
def _names(store: Store) -> dict[str, dict[str, Any]]:
    return {lab["name"]: lab for lab in sql.labels(store)}


def _check_name(name: str) -> str:
    clean = (name or "").strip()
    if not clean or any(ch in clean for ch in ",\n\r\t") or clean != name:
        raise err(Errors.E420, name=name)
    return clean


def _known(store: Store, name: str, *, active: bool = True) -> dict[str, Any]:
    current = _names(store)
    if name not in current or (active and current[name]["status"] != "active"):
        names = [n for n, lab in current.items() if lab["status"] == "active"]
        raise err(Errors.E009, label=name, labels=", ".join(names) or "(none)")
    return current[name]


def _free(store: Store, name: str) -> None:
    _check_name(name)
    if name in _names(store):
        raise err(Errors.E422, label=name)


def add_label(
    store: Store,
    actor: Identity,
    name: str,
    *,
    color: str | None = None,
    shortcut: str | None = None,
    description: str = "",
    parent: str | None = None,
) -> Changes:
    """A new label (a colour and a free key unless given), optionally a kind of ``parent``."""
    return _run(
        store,
        actor,
        f"add label {name}",
        {"op": "add", "name": name, "color": color, "shortcut": shortcut, "description": description, "parent": parent},
    )


def rename_label(store: Store, actor: Identity, old: str, new: str) -> Changes:
    """``old`` is called ``new`` everywhere: spans, predictions, corrections, terms, severities, the model's map."""
    return _run(store, actor, f"rename label {old} → {new}", {"op": "rename", "old": old, "new": new})


def merge_labels(store: Store, actor: Identity, sources: Sequence[str], target: str) -> Changes:
    """Every span of ``sources`` becomes ``target`` (a new label, or one of the sources)."""
    return _run(
        store,
        actor,
        f"merge labels {', '.join(sources)} → {target}",
        {"op": "merge", "sources": list(sources), "target": target},
    )


def split_label(
    store: Store, actor: Identity, old: str, targets: Sequence[str], *, sorter: Sorter | None = None
) -> Changes:
    """``old`` is split into ``targets``: each of its spans that a model places (the active model's stored
    predictions, or ``sorter``) takes that label, the others keep ``old`` (now a split label, offered no
    more); every annotation holding them goes to the re-review (stale) queue."""
    found, read = None, None
    if sorter is not None:  # read before the write lock: a model may take a while
        stamp = sql.change_stamp(store)
        rows = sql.annotation_rows_of(store, old)
        found = {int(k): v for k, v in sorter(sorted({r[1] for r in rows}), list(targets)).items() if v} or None
        read = (stamp, rows)
    return _run(
        store,
        actor,
        f"split label {old} → {' | '.join(targets)}",
        {"op": "split", "old": old, "targets": list(targets)},
        sorted_=found,
        read=read,
    )


def retire_label(store: Store, actor: Identity, name: str) -> Changes:
    """``name`` is annotated no more: its spans leave annotations and predictions, its corrections go, its
    terms are switched off, models are not asked for it. Undo puts everything back."""
    return _run(store, actor, f"retire label {name}", {"op": "retire", "name": name})


def set_parent(store: Store, actor: Identity, child: str, parent: str | None) -> Changes:
    """``child`` is a kind of ``parent`` (None: of nothing)."""
    return _run(store, actor, f"set parent of {child}", {"op": "parent", "child": child, "parent": parent})


def edit_label(
    store: Store,
    actor: Identity,
    name: str,
    *,
    new_name: str | None = None,
    color: str | None = None,
    shortcut: str | None = None,
    description: str | None = None,
    severity: str | None = None,
) -> Changes:
    """Colour, key, description, severity; a new name is a rename (one event for all)."""
    return _run(
        store,
        actor,
        f"edit label {name}",
        {
            "op": "edit",
            "name": name,
            "new_name": new_name,
            "color": color,
            "shortcut": shortcut,
            "description": description,
            "severity": severity,
        },
    )


def set_allow_overlaps(store: Store, actor: Identity, allow: bool) -> Changes:
    return _run(
        store,
        actor,
        "allow overlapping spans" if allow else "forbid overlapping spans",
        {"op": "overlaps", "allow": bool(allow)},
    )


def set_guides(
    store: Store,
    actor: Identity,
    labels_: dict[str, dict[str, Any]],
    *,
    text: str | None = None,
    summary: str | None = None,
) -> Changes:
    """Several labels' guidelines and the project text in one change (one version, one event)."""
    op: dict[str, Any] = {"op": "guides", "labels": labels_, "summary": summary}
    if text is not None:
        op["fields"] = {"text": text}
    return _run(store, actor, "edit guideline", op)


def set_guide(
    store: Store, actor: Identity, label: str | None, fields: dict[str, Any], *, summary: str | None = None
) -> Changes:
    """Set fields of a label's guideline (``label`` None: the project-wide text, ``fields['text']``)."""
    return _run(
        store,
        actor,
        f"edit guideline {label or ''}".strip(),
        {"op": "guide", "label": label, "fields": fields, "summary": summary},
    )


# ---------------------------------------------------------------- the engine
def _snapshot(store: Store) -> dict[str, Any]:
    g = store.guideline()
    # settings as stored (None: absent, and removed again by undo)
    return {
        "labels": sql.labels(store),
        "settings": {k: store.get_setting(k) for k in _SETTINGS},
        "guideline_version": g["version"] if g else 0,
    }


#: The project settings a label change may rewrite (undo puts them back as they were).
_SETTINGS = ("severity", "model_label_map", "allow_overlaps", "label_forms")


def _run(
    store: Store,
    actor: Identity,
    action: str,
    op: dict[str, Any],
    *,
    sorted_: dict[int, Any] | None = None,
    read: tuple[tuple[int, int], list[tuple[int, int, str, str]]] | None = None,
) -> Changes:
    """``read``: (the change stamp, the rows) a split read before the write lock; they are used under it
    only where nothing was written in between (the stamp is the same), else read again."""
    with store.transaction():
        fresh = read is not None and sql.change_stamp(store) == read[0]
        before = _snapshot(store)
        if sorted_ is not None:
            op = dict(op, sorted=True)  # placed by a model: a redo writes again what this wrote
        event_id = store.log_event(actor.user, action, "do", None, before, {"taxonomy": op})
        if sorted_ is not None:
            op = dict(op, _found=sorted_, _rows=read[1] if fresh and read is not None else None)
        summary = _apply(store, actor, op, event_id, before)
    return Changes(_kind(op), labels=True, action=summary or action, undoable=event_id)


def _apply(store: Store, actor: Identity, op: dict[str, Any], event_id: int, before: dict[str, Any]) -> str:
    version = before["guideline_version"] + 1
    sql.forget_rows(store, event_id)
    fn = _APPLY[op["op"]]
    mapping = _label_mapping(op)
    held = _held_decisions(store) if mapping else []
    summary = fn(store, op, event_id, version)
    if mapping:
        _follow_decisions(store, event_id, held, mapping)
    text = op.get("fields", {}).get("text") if op["op"] in ("guide", "guides") and op.get("label") is None else None
    g = store.guideline()
    new_version = store.add_guideline(
        actor.user, sql.labels(store), text if text is not None else (g["text"] if g else "")
    )
    sql.set_summary(store, new_version, summary)
    return summary


def _label_mapping(op: dict[str, Any]) -> dict[str, str | None]:
    """What a change does to label names, for the review tables: old -> new (None: retired). A split
    changes what a label means, so its adjudications are decided again (the conflict comes back)."""
    kind = op["op"]
    if kind == "rename":
        return {op["old"]: op["new"]}
    if kind == "edit" and op.get("new_name") and op["new_name"] != op["name"]:
        return {op["name"]: op["new_name"]}
    if kind == "merge":
        return {s: op["target"] for s in op["sources"] if s != op["target"]}
    if kind == "retire":
        return {op["name"]: None}
    return {}


def _held_decisions(store: Store) -> list[tuple[int, int, str]]:
    """Adjudications that hold now (their basis is the segment's accepted annotations): (id, segment, spans)."""
    from nerdesk.core.adjudicate import accepted_of, basis

    rows = sql.adjudication_rows(store)
    if not rows:
        return []
    anns = store.annotations_of(sorted({r[1] for r in rows}))
    return [(adj_id, sid, spans) for adj_id, sid, spans, b in rows if b == basis(accepted_of(anns.get(sid, [])))]


def _follow_decisions(
    store: Store, event_id: int, held: list[tuple[int, int, str]], mapping: dict[str, str | None]
) -> None:
    """A decision that held before a rename, merge or retire holds after it, under the new names; the errors
    people made follow the labels too (both kept for undo)."""
    from nerdesk.core.adjudicate import accepted_of, basis

    sql.migrate_person_errors(store, event_id, mapping)
    if not held:
        return
    anns = store.annotations_of(sorted({sid for _, sid, _ in held}))
    rows = []
    for adj_id, sid, spans_json in held:
        spans = [
            dict(sp, label=mapping.get(sp["label"], sp["label"]))
            for sp in json.loads(spans_json)
            if mapping.get(sp["label"], sp["label"]) is not None
        ]
        rows.append((adj_id, json.dumps(spans, ensure_ascii=False), basis(accepted_of(anns.get(sid, [])))))
    sql.keep_and_set_adjudications(store, event_id, rows)


def _label_row(
    store: Store, name: str, *, color: str | None, shortcut: str | None, description: str, parent: str | None
) -> dict[str, Any]:
    existing = sql.labels(store)
    used = {lab["shortcut"] for lab in existing if lab["status"] == "active"}
    if shortcut:
        _check_shortcut(existing, shortcut, name)
    in_use = {lab["color"].upper() for lab in existing if lab["status"] == "active"}
    free = next((c for c in labelset.PALETTE if c.upper() not in in_use), labelset.color_for(len(existing)))
    return {
        "name": name,
        "color": color or free,
        "shortcut": shortcut or labelset.free_shortcut(name, used),
        "description": description or "",
        "position": max((lab["position"] for lab in existing), default=-1) + 1,
        "status": "active",
        "parent": parent,
        "changed_version": None,
        "guide": {},
    }


def _check_shortcut(existing: list[dict[str, Any]], key: str, name: str) -> None:
    if len(key) != 1 or not key.isprintable() or key.isspace():
        raise err(Errors.E426, key=key)
    taken = next(
        (
            lab["name"]
            for lab in existing
            if lab["shortcut"] == key and lab["name"] != name and lab["status"] == "active"
        ),
        None,
    )
    if taken:
        raise err(Errors.E427, key=key, label=taken)


def _check_color(color: str) -> None:
    import re

    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", color or ""):
        raise err(Errors.E428, color=color)


def _do_add(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    name = op["name"]
    _free(store, name)
    if op.get("color"):
        _check_color(op["color"])
    if op.get("parent"):
        _known(store, op["parent"])
    sql.insert_label(
        store,
        _label_row(
            store,
            name,
            color=op.get("color"),
            shortcut=op.get("shortcut"),
            description=op.get("description") or "",
            parent=op.get("parent"),
        ),
    )
    return f"added label {name}" + (f" (a kind of {op['parent']})" if op.get("parent") else "")


def _map_to(store: Store, olds: Iterable[str], new: str) -> None:
    mapping = dict(store.get_setting("model_label_map", {}))
    olds = set(olds)
    for k, v in list(mapping.items()):
        if v in olds:
            mapping[k] = new
    for old in olds:
        if old != new:
            mapping[old] = new
    mapping = {k: v for k, v in mapping.items() if k != v}
    store.set_setting("model_label_map", mapping)


def _move_severity(store: Store, olds: Sequence[str], new: str) -> None:
    sev = dict(store.get_setting("severity", {}))
    moved = [sev.pop(o) for o in olds if o in sev]
    if moved and new not in sev:  # the most severe of the merged labels
        sev[new] = max(moved, key=SEVERITIES.index)
    store.set_setting("severity", sev)


def _do_rename(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    old, new = op["old"], op["new"]
    _known(store, old, active=False)
    _free(store, new)
    row = _names(store)[old]
    sql.delete_label(store, old)
    sql.insert_label(store, dict(row, name=new))
    sql.reparent(store, old, new)
    n = sql.rename_in_work(store, old, new)
    _map_to(store, [old], new)
    _move_severity(store, [old], new)
    return f"renamed {old} → {new} ({n['annotations']} annotations, {n['predictions']} predictions)"


def _do_merge(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    sources, target = list(dict.fromkeys(op["sources"])), op["target"]
    if len(sources) < 2:
        raise err(Errors.E423, reason="name at least two labels to merge")
    for s in sources:
        _known(store, s)
    current = _names(store)
    if target in current and target not in sources:
        raise err(Errors.E423, reason=f"'{target}' exists: merge it too ({','.join([*sources, target])} {target})")
    if target not in current:
        _check_name(target)
    base = sources[0] if target not in sources else target
    others = [s for s in sources if s != base]
    keep = current[base]
    for s in sources:
        sql.delete_label(store, s)
    sql.insert_label(store, dict(keep, name=target))
    for s in sources:
        sql.reparent(store, s, target)
    # no row copied: the others' spans are marked so that undo tells them apart (store/labels.py)
    n = sql.merge_in_work(store, event_id, base if base != target else None, others, target)
    _map_to(store, sources, target)
    _move_severity(store, [s for s in sources if s != target], target)
    return f"merged {', '.join(sources)} → {target} ({n['annotations']} annotations, {n['predictions']} predictions)"


def _do_split(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    old, targets = op["old"], list(dict.fromkeys(op["targets"]))
    _known(store, old)
    if len(targets) < 2 or old in targets:
        raise err(Errors.E424, label=old, reason="name at least two labels other than it")
    current = _names(store)
    for t in targets:
        if t in current and current[t]["status"] != "active":
            raise err(Errors.E424, label=old, reason=f"'{t}' is {current[t]['status']}")
        if t not in current:
            _check_name(t)
    for t in targets:
        if t not in current:
            row = _label_row(store, t, color=None, shortcut=None, description="", parent=current[old]["parent"])
            sql.insert_label(store, dict(row, changed_version=version))
        else:
            sql.update_label(store, t, changed_version=version)
    sql.update_label(
        store,
        old,
        status="split",
        changed_version=version,
        shortcut=None,
        guide={**current[old]["guide"], "split_into": targets},
    )
    store.set_setting("model_label_map", _split_map(model_label_map(store), targets))
    if op.get("_found") is not None:  # placed by a model, just now
        found = op["_found"]
    elif op.get("sorted"):  # a redo of that: what it wrote then
        return _split_summary(old, targets, sql.redo_annotations(store, event_id), sql.count_in_annotations(store, old))
    else:  # the active model's stored predictions of the new labels, where it made them
        model_id = store.active_model_id()
        found = (
            {
                sid: [s for s in spans if s[2] in targets]
                for sid, spans in sql.predicted_among(store, model_id, targets, old).items()
            }
            if model_id
            else {}
        )
    if not found:
        return _split_summary(old, targets, 0, sql.count_in_annotations(store, old))
    # the rows read before the write lock where nothing changed since (see _run), else read now
    holding = op["_rows"] if op.get("_rows") is not None else sql.annotation_rows_of(store, old)
    needles = {lab: sql.ann_needle(lab) for lab in [old, *targets]}
    needle = needles[old]
    rows, left = [], 0
    for rowid, segment_id, annotator, spans_json in holding:
        preds = found.get(segment_id)
        new = _place_row(spans_json, old, preds, targets, needles) if preds else None
        if new is not None:
            rows.append((rowid, segment_id, annotator, spans_json, new))
        if needle in (new if new is not None else spans_json):
            left += 1  # still holds the split label: counted here, not by another scan
    n = sql.rewrite_annotations(store, event_id, rows)  # only the rows rewritten are kept for undo
    return _split_summary(old, targets, n, left)


#: The head of a span as json.dumps writes the editor's, the importer's and the model's spans.
_HEAD = re.compile(r'\{"start": (-?\d+), "end": (-?\d+), "label": ("(?:[^"\\]|\\.)*")')


def _place_row(
    spans_json: str, old: str, preds: Sequence[Sequence[Any]], targets: list[str], needles: dict[str, str]
) -> str | None:
    """The span list with each span of ``old`` that a prediction among ``targets`` overlaps (the most,
    then the most confident) given that prediction's label, in spans order; None where none is placed.
    ``needles``: :func:`sql.ann_needle` of ``old`` and of each target.

    Where every span starts with its start, end and label as json.dumps writes them (nothing else in the
    text opens an object) and the order (start, end, label) holds after the change, only the label's text
    is rewritten in place, which is what parsing, changing, sorting and dumping gives for text that
    json.dumps wrote (a list of one span: its start and end read by hand; of several: by a regular
    expression); otherwise the list is parsed and written again. 250,000 one-span rows on the shared
    machine: 0.8 s, against 3.4 s parsing and dumping each (bench/taxonomy_bench.py)."""
    if spans_json.count('"label": ') == 1:
        at = spans_json.find(needles[old])
        head = spans_json.rfind('{"start": ', 0, at)
        start, sep, end = spans_json[head + 10 : at - 2].partition(', "end": ')
        digits = (start + end).isascii() and start.isdigit() and end.isdigit()
        if at > 0 and head >= 0 and sep and spans_json[at - 2 : at] == ", " and digits:
            best = _best_overlap(int(start), int(end), preds, targets)
            return None if best is None else spans_json.replace(needles[old], needles[best[2]])
    heads = list(_HEAD.finditer(spans_json))
    if heads and len(heads) == spans_json.count("{") == spans_json.count('"label": '):
        out, keys, pos, placed = [], [], 0, False
        for m in heads:
            s_at, e_at, text = int(m.group(1)), int(m.group(2)), m.group(3)
            label = text[1:-1] if "\\" not in text else json.loads(text)
            if label == old:
                best = _best_overlap(s_at, e_at, preds, targets)
                if best is not None:
                    label = best[2]
                    out += [spans_json[pos : m.start(3)], needles[label][len('"label": ') :]]
                    pos, placed = m.end(3), True
            keys.append((s_at, e_at, label))
        if not placed:
            return None
        if all(keys[i] <= keys[i + 1] for i in range(len(keys) - 1)):
            out.append(spans_json[pos:])
            return "".join(out)
    spans = json.loads(spans_json)
    changed = False
    for sp in spans:
        if sp["label"] != old:
            continue
        best = _best_overlap(sp["start"], sp["end"], preds, targets)
        if best is not None:
            sp["label"] = best[2]
            changed = True
    if not changed:
        return None
    spans.sort(key=lambda sp: (sp["start"], sp["end"], sp["label"]))
    return json.dumps(spans, ensure_ascii=False)


def _split_summary(old: str, targets: list[str], placed_in: int, left: int) -> str:
    return (
        f"split {old} → {' | '.join(targets)} (the model placed spans in {placed_in} annotations, {left} still "
        f"hold {old}; all to re-review)"
    )


def _split_map(mapping: dict[str, str], targets: Sequence[str]) -> dict[str, str]:
    """The model-label map after a split into ``targets``: a model label named as a target is that target
    again (a merge, then a split back, gives the model its labels back)."""
    return {k: v for k, v in mapping.items() if k not in targets}


def _best_overlap(start: int, end: int, preds: Sequence[Sequence[Any]], targets: list[str]) -> tuple | None:
    best, best_key = None, None
    for p in preds:
        a, b, label, conf = p[0], p[1], p[2], p[3] if len(p) > 3 else None
        if label not in targets:
            continue
        ov = min(b, end) - max(a, start)
        if ov <= 0:
            continue
        key = (ov, conf or 0.0)
        if best_key is None or key > best_key:
            best, best_key = (a, b, label, conf), key
    return best


def model_sorter(store: Store, targets: Sequence[str], model: Any = None) -> Sorter | None:
    """A sorter that runs the active model (or ``model``: a loaded one or a path), asked only for the labels
    split into (through the model-label map), or None where the model knows none of them. It runs before
    the write lock is taken."""
    from nerdesk.core.model import load_model

    if model is None or not hasattr(model, "predict"):
        if model is None:
            from nerdesk.core.store.predictions import active_model_source

            model, _ = active_model_source(store)
        model = load_model(model)
    mapping = _split_map(model_label_map(store), targets)
    if not any(map_model_label(mapping, lab) in targets for lab in model.labels):
        return None

    def sort(ids: list[int], targets: list[str]) -> dict[int, list[tuple[int, int, str, float]]]:
        ask = [lab for lab in model.labels if map_model_label(mapping, lab) in targets]
        if not ask or not ids:
            return {}
        out: dict[int, list[tuple[int, int, str, float]]] = {}
        for i in range(0, len(ids), 256):
            segs = store.segments_with_text(ids[i : i + 256])
            for s, pred in zip(segs, model.predict([s.words() for s in segs], only=ask)):
                flat, base = s.tokens.flat, s.start
                out[s.id] = [
                    (base + flat[2 * ts], base + flat[2 * te - 1], map_model_label(mapping, lab), round(float(conf), 4))
                    for ts, te, lab, conf in pred.spans
                ]
        return out

    return sort


def placements(store: Store, old: str, targets: Sequence[str]) -> Generator[Progress, None, dict]:
    """Where the active model places the spans of ``old`` among ``targets`` (read-only: for a background
    job before :func:`split_label`); {} where no model knows the targets or the model's package is gone."""
    from nerdesk.core.errors import NerdeskError

    yield Progress(0, None, f"Placing the spans of {old} with the model")
    try:
        sorter = model_sorter(store, list(targets))
    except NerdeskError:
        return {}
    if sorter is None:
        return {}
    ids = sorted({r[0] for r in sql.annotation_rows_with(store, old)})
    return sorter(ids, list(targets))


def _remove_label_spans(store: Store, name: str) -> tuple[int, int]:
    arows = []
    n_spans = 0
    for segment_id, annotator, spans_json in sql.annotation_rows_with(store, name):
        spans = json.loads(spans_json)
        kept = [sp for sp in spans if sp["label"] != name]
        n_spans += len(spans) - len(kept)
        arows.append((json.dumps(kept, ensure_ascii=False), segment_id, annotator))
    sql.set_annotation_spans(store, arows)
    prows = []
    for segment_id, model_id, spans_json in sql.prediction_rows_with(store, name):
        kept = [sp for sp in json.loads(spans_json) if sp[2] != name]
        low = min((sp[3] if sp[3] is not None else 1.0 for sp in kept), default=1.0)
        prows.append((json.dumps(kept, ensure_ascii=False), low, segment_id, model_id))
    sql.set_prediction_spans(store, prows)
    return len(arows), n_spans


def _do_retire(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    name = op["name"]
    _known(store, name)
    sql.keep_rows(store, event_id, [name])
    n_rows, n_spans = _remove_label_spans(store, name)
    sql.delete_corrections_of(store, name)
    sql.disable_terms_of(store, name)
    sql.update_label(store, name, status="retired", shortcut=None)
    return f"retired {name} ({n_spans} spans removed from {n_rows} annotations)"


def _do_parent(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    child, parent = op["child"], op.get("parent")
    _known(store, child)
    if parent is not None:
        _known(store, parent)
        names = _names(store)
        p: str | None = parent
        while p is not None:  # no cycle
            if p == child:
                raise err(Errors.E429, child=child, parent=parent)
            p = names[p]["parent"] if p in names else None
    sql.update_label(store, child, parent=parent)
    return f"{child} is a kind of {parent}" if parent else f"{child} is a kind of nothing"


def _do_edit(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    name = op["name"]
    row = _known(store, name)
    said = []
    fields: dict[str, Any] = {}
    if op.get("color") is not None and op["color"] != row["color"]:
        _check_color(op["color"])
        fields["color"] = op["color"]
        said.append(f"colour {op['color']}")
    if op.get("shortcut") is not None and (op["shortcut"] or None) != row["shortcut"]:
        if op["shortcut"]:
            _check_shortcut(sql.labels(store), op["shortcut"], name)
        fields["shortcut"] = op["shortcut"] or None
        said.append(f"key {op['shortcut'] or '(none)'}")
    if op.get("description") is not None and op["description"] != row["description"]:
        fields["description"] = op["description"]
        said.append("description")
    sql.update_label(store, name, **fields)
    if op.get("severity") is not None:
        if op["severity"] not in SEVERITIES:
            raise err(Errors.E430, severity=op["severity"], severities=", ".join(SEVERITIES))
        sev = dict(store.get_setting("severity", {}))
        if sev.get(name, "normal") != op["severity"]:
            sev[name] = op["severity"]
            store.set_setting("severity", sev)
            said.append(f"severity {op['severity']}")
    if op.get("new_name") and op["new_name"] != name:
        said.append(_do_rename(store, {"old": name, "new": op["new_name"]}, event_id, version))
    if not said:
        raise err(Errors.E431, label=name)
    return f"edited {name}: " + ", ".join(said)


def _do_overlaps(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    store.set_setting("allow_overlaps", op["allow"])
    return "overlapping spans allowed" if op["allow"] else "overlapping spans forbidden"


def _do_guide(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    label, fields = op.get("label"), dict(op.get("fields") or {})
    if label is None:
        if set(fields) - {"text"}:
            raise err(Errors.E432, fields=", ".join(sorted(set(fields) - {"text"})), known="text")
        return op.get("summary") or "edited the project's guideline text"
    row = _known(store, label)
    unknown = set(fields) - set(GUIDE_FIELDS) - set(EXAMPLE_KINDS)
    if unknown:
        raise err(Errors.E432, fields=", ".join(sorted(unknown)), known=", ".join(GUIDE_FIELDS + EXAMPLE_KINDS))
    guide = dict(row["guide"])
    changed = [f for f in fields if guide.get(f, [] if f in EXAMPLE_KINDS else "") != fields[f]]
    if not changed:
        raise err(Errors.E431, label=label)
    guide.update(fields)
    update: dict[str, Any] = {"guide": guide}
    if "definition" in fields:
        update["description"] = fields["definition"]  # the palette's tooltip shows it
    meaning = [f for f in changed if f in GUIDE_FIELDS]
    if meaning:  # what the label means changed: older annotations of it are stale
        update["changed_version"] = version
    sql.update_label(store, label, **update)
    return op.get("summary") or f"{label}: " + ", ".join(changed) + (" (older annotations stale)" if meaning else "")


def _do_guides(store: Store, op: dict[str, Any], event_id: int, version: int) -> str:
    """Many labels' guidelines (and the project text) in one change: one edit of the whole guideline."""
    said = []
    for label, fields in (op.get("labels") or {}).items():
        row = _known(store, label)
        guide = row["guide"]

        def now_(f: str) -> Any:
            if f in EXAMPLE_KINDS:
                return guide.get(f, [])
            return guide.get(f) or (row["description"] if f == "definition" else "")

        diff = {f: v for f, v in fields.items() if now_(f) != v}
        if diff:
            said.append(_do_guide(store, {"label": label, "fields": diff}, event_id, version))
    text = op.get("fields", {}).get("text")
    g = store.guideline()
    if text is not None and text != (g["text"] if g else ""):
        said.append("the project's text")
    if not said:
        raise err(Errors.E431, label="the guideline")
    return op.get("summary") or "; ".join(said)


_APPLY: dict[str, Callable[[Store, dict[str, Any], int, int], str]] = {
    "add": _do_add,
    "rename": _do_rename,
    "merge": _do_merge,
    "split": _do_split,
    "retire": _do_retire,
    "parent": _do_parent,
    "edit": _do_edit,
    "overlaps": _do_overlaps,
    "guide": _do_guide,
    "guides": _do_guides,
}


# ---------------------------------------------------------------- undo / redo
def _reverse_renames(store: Store, op: dict[str, Any], event: dict[str, Any]) -> None:
    kind = op["op"]
    if kind == "rename":
        sql.rename_in_work(store, op["new"], op["old"])
    elif kind == "edit" and op.get("new_name") and op["new_name"] != op["name"]:
        sql.rename_in_work(store, op["new_name"], op["name"])
    elif kind == "merge":
        sources, target = list(dict.fromkeys(op["sources"])), op["target"]
        base = sources[0] if target not in sources else target
        sql.unmerge_in_work(
            store,
            event["id"],
            base if base != target else None,
            [s for s in sources if s != base],
            target,
            event["before"]["settings"].get("label_forms") or {},
        )


def revert(store: Store, actor: Identity, event: dict[str, Any], kind: str) -> Changes:
    """Undo (``kind='undo'``) or redo a label change's event, in one transaction."""
    op = event["after"]["taxonomy"]
    before = event["before"]
    with store.transaction():
        if kind == "undo":
            if op["op"] == "split" and op.get("sorted"):
                sql.capture_redo(store, event["id"])
            if op["op"] != "merge":
                sql.restore_rows(store, event["id"])
            _reverse_renames(store, op, event)
            sql.put_labels(store, before["labels"])
            for key, value in before["settings"].items():
                if value is None:
                    sql.delete_setting(store, key)
                else:
                    store.set_setting(key, value)
            sql.delete_guideline_version(store, before["guideline_version"] + 1)
        else:
            _apply(store, actor, op, event["id"], before)
        store.log_event(actor.user, event["action"], kind, None, None, None, ref=event["id"])
    return Changes(_kind(op), labels=True, action=f"{kind} {event['action']}", step=Step(kind))


def _kind(op: dict[str, Any]) -> ChangeKind:
    """A guideline edit, or a change of the labels themselves."""
    return ChangeKind.GUIDELINE if op["op"] in ("guide", "guides") else ChangeKind.LABELS


def is_label_change(event: dict[str, Any]) -> bool:
    return event["segment_id"] is None and isinstance(event.get("after"), dict) and "taxonomy" in event["after"]
