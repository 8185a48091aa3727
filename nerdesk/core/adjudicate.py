"""Conflicts between people's annotations of a segment, the project's protocol for resolving them,
and adjudication decisions.

A segment is in **conflict** when two or more people accepted it with different spans. What counts
for it (exported, bundled, fine-tuned on) is its **resolution**:

1. an adjudication decided over exactly the annotations it has now (a new or changed annotation
   makes the decision stale, and the conflict is back);
2. else the project's protocol: ``highest_tier`` (the highest tier's version, if the people at that
   tier agree), ``majority`` (each span that more than half of the people marked; unresolved if a
   span has exactly half), or ``manual`` (nothing resolves by default). Labels named in
   ``expert_labels`` need an expert: a conflict over one of them resolves only to the experts'
   version, and only an expert may adjudicate it;
3. else it is **unresolved**: left out of exports and bundles, counted and listed
   (``nerdesk adjudicate PROJECT``).

A decision takes one person's version, combines spans from several, or is edited spans; it records
the adjudicator, their tier, the method, the sources and a reason, is one transaction and one event
(undoable), and categorises each person's version against it (their errors, as a model's are).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nerdesk.core import edits, settings
from nerdesk.core.errors import Errors, err
from nerdesk.core.store import now
from nerdesk.core.store import review as review_store
from nerdesk.core.tiers import TIERS, best_annotation, tier_rank
from nerdesk.core.types import Annotation, ChangeKind, Changes, Segment, Span, Step

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

RULES = ("highest_tier", "majority", "manual")
DEFAULT_PROTOCOL: dict[str, Any] = {"rule": "highest_tier", "expert_labels": []}
METHODS = ("take", "combine", "edit", "protocol")
#: Event actions of this module (Project.undo hands them back here).
ACTIONS = ("adjudicate", "adjudicate by protocol")

Key = tuple[int, int, str]


@dataclass
class Resolution:
    """How a segment's accepted annotations resolve. ``spans`` is None when unresolved."""

    spans: list[Span] | None
    how: str  # single | agreement | adjudicated | highest_tier | majority | expert | unresolved
    by: str | None = None  # the annotator (or adjudicator) whose version counts
    tier: str | None = None
    reason: str = ""
    conflict: bool = False
    annotation: Annotation | None = None  # the annotation when one person's version counts
    adjudication: dict[str, Any] | None = None
    needs_expert: list[str] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return self.spans is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "resolved": self.resolved,
            "how": self.how,
            "by": self.by,
            "tier": self.tier,
            "reason": self.reason,
            "conflict": self.conflict,
            "needs_expert": self.needs_expert,
            "spans": [_plain(sp) for sp in self.spans] if self.spans is not None else None,
        }


def _plain(sp: Span) -> dict[str, Any]:
    return {"start": sp.start, "end": sp.end, "label": sp.label}


def keys(spans: Iterable[Span]) -> frozenset[Key]:
    return frozenset(sp.key() for sp in spans)


def basis(accepted: Sequence[Annotation]) -> str:
    """A digest of who accepted which spans: a decision holds while this is unchanged."""
    data = sorted((a.annotator, sorted(keys(a.spans))) for a in accepted)
    return hashlib.sha1(json.dumps(data, ensure_ascii=False).encode("utf-8")).hexdigest()


def accepted_of(annotations: Iterable[Annotation]) -> list[Annotation]:
    return [a for a in annotations if a.status == "accepted"]


def is_conflict(annotations: Iterable[Annotation]) -> bool:
    return len({keys(a.spans) for a in accepted_of(annotations)}) > 1


def disputed_labels(accepted: Sequence[Annotation]) -> set[str]:
    """Labels of the spans not everyone marked."""
    sets = [keys(a.spans) for a in accepted]
    common = frozenset.intersection(*sets) if sets else frozenset()
    return {k[2] for s in sets for k in s - common}


def _spans_of(ks: Iterable[Key]) -> list[Span]:
    return [Span(s, e, lab, None, "human") for s, e, lab in sorted(ks)]


def _best_of(rows: list[Annotation]) -> Annotation:
    """:func:`best_annotation` of rows known to be there (an empty list is a bug of the caller)."""
    best = best_annotation(rows)
    if best is None:
        raise ValueError("no annotation to choose the best of")
    return best


def resolve(
    annotations: Sequence[Annotation], decision: dict[str, Any] | None, protocol: dict[str, Any]
) -> Resolution | None:
    """The resolution of a segment from all its annotation rows (None: no accepted annotation; then
    the segment is not reviewed, and its best annotation, if any, is a draft)."""
    accepted = accepted_of(annotations)
    if not accepted:
        return None
    if len({keys(a.spans) for a in accepted}) == 1:
        best = _best_of(accepted)
        return Resolution(
            list(best.spans),
            "single" if len(accepted) == 1 else "agreement",
            best.annotator,
            best.tier,
            annotation=best,
        )
    if decision is not None and decision["basis"] == basis(accepted):
        return Resolution(
            [Span.from_json(sp) for sp in decision["spans"]],
            "adjudicated",
            decision["adjudicator"],
            decision["tier"],
            decision["reason"],
            conflict=True,
            adjudication=decision,
        )
    expert_labels = set(protocol.get("expert_labels") or ())
    needs = sorted(disputed_labels(accepted) & expert_labels)
    if needs:
        experts = [a for a in accepted if a.tier == "expert"]
        if experts and len({keys(a.spans) for a in experts}) == 1:
            best = _best_of(experts)
            return Resolution(
                list(best.spans),
                "expert",
                best.annotator,
                "expert",
                f"the protocol leaves {', '.join(needs)} to experts",
                conflict=True,
                annotation=best,
                needs_expert=needs,
            )
        return Resolution(
            None, "unresolved", reason=f"needs an expert ({', '.join(needs)})", conflict=True, needs_expert=needs
        )
    rule = protocol.get("rule", "highest_tier")
    if rule == "highest_tier":
        top = max(tier_rank(a.tier) for a in accepted)
        tops = [a for a in accepted if tier_rank(a.tier) == top]
        if len({keys(a.spans) for a in tops}) == 1:
            best = _best_of(tops)
            return Resolution(
                list(best.spans),
                "highest_tier",
                best.annotator,
                best.tier,
                f"{best.annotator} ({best.tier}) is the highest tier",
                conflict=True,
                annotation=best,
            )
        return Resolution(
            None, "unresolved", reason=f"{len(tops)} people at the highest tier ({TIERS[top]}) disagree", conflict=True
        )
    if rule == "majority":
        votes: dict[Key, int] = {}
        for a in accepted:
            for k in keys(a.spans):
                votes[k] = votes.get(k, 0) + 1
        n = len(accepted)
        ties = [k for k, v in votes.items() if 2 * v == n]
        if ties:
            return Resolution(
                None, "unresolved", reason=f"no majority for {len(ties)} span(s) ({n} people)", conflict=True
            )
        kept = [k for k, v in votes.items() if 2 * v > n]
        best = _best_of(accepted)
        return Resolution(
            _spans_of(kept), "majority", best.annotator, best.tier, f"majority of {n} people", conflict=True
        )
    return Resolution(None, "unresolved", reason="the protocol resolves nothing by default", conflict=True)


# ------------------------------------------------------------------ reading
def protocol(store: Store) -> dict[str, Any]:
    return {**DEFAULT_PROTOCOL, **(store.get_setting("protocol") or {})}


def resolutions(
    store: Store, segment_ids: Sequence[int], annotations: dict[int, list[Annotation]] | None = None
) -> dict[int, Resolution]:
    """The resolution of each of these segments that has an accepted annotation."""
    anns = annotations if annotations is not None else store.annotations_of(segment_ids)
    multi = [sid for sid in segment_ids if len(accepted_of(anns.get(sid, []))) > 1]
    decisions = review_store.latest_adjudications(store, multi) if multi else {}
    proto = protocol(store)
    out = {}
    for sid in segment_ids:
        res = resolve(anns.get(sid, []), decisions.get(sid), proto)
        if res is not None:
            out[sid] = res
    return out


def conflicts(store: Store, *, unresolved_only: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
    """Every segment in conflict, in segment order: its people's versions and its resolution."""
    ids = review_store.multi_annotated_ids(store)
    out = []
    for i in range(0, len(ids), 1000):
        part = ids[i : i + 1000]
        anns = store.annotations_of(part)
        res = resolutions(store, part, anns)
        for sid in part:
            r = res.get(sid)
            if r is None or not r.conflict or (unresolved_only and r.resolved):
                continue
            out.append(
                {
                    "segment_id": sid,
                    "resolution": r.as_dict(),
                    "versions": [
                        {
                            "annotator": a.annotator,
                            "tier": a.tier,
                            "spans": [_plain(sp) for sp in a.spans],
                            "note": a.note,
                        }
                        for a in accepted_of(anns[sid])
                    ],
                }
            )
            if limit is not None and len(out) >= limit:
                return out
    return out


def summary(store: Store) -> dict[str, Any]:
    """Counts of conflicts by how they resolve, and the unresolved ones' segment ids."""
    rows = conflicts(store)
    how: dict[str, int] = {}
    for c in rows:
        how[c["resolution"]["how"]] = how.get(c["resolution"]["how"], 0) + 1
    unresolved = [c["segment_id"] for c in rows if not c["resolution"]["resolved"]]
    return {
        "conflicts": len(rows),
        "unresolved": len(unresolved),
        "by_resolution": how,
        "unresolved_segments": unresolved,
        "protocol": protocol(store),
    }


def versions(store: Store, actor: Identity, segment_id: int) -> dict[str, Any]:
    """One segment for the adjudication view: its text, each person's accepted version, the model's,
    the resolution and the decisions taken on it."""
    seg = edits.segment(store, actor.user, segment_id)
    res = resolutions(store, [segment_id], {segment_id: seg.annotations}).get(segment_id)
    pred = seg.prediction
    return {
        "segment_id": segment_id,
        "text": seg.text,
        "start": seg.start,
        "end": seg.end,
        "versions": [
            {
                "annotator": a.annotator,
                "tier": a.tier,
                "status": a.status,
                "note": a.note,
                "spans": [_plain(sp) for sp in a.spans],
            }
            for a in accepted_of(seg.annotations)
        ],
        "model": [
            {"start": sp.start, "end": sp.end, "label": sp.label, "confidence": sp.confidence} for sp in pred.spans
        ]
        if pred
        else None,
        "resolution": res.as_dict() if res else None,
    }


# ------------------------------------------------------------------ writing
def set_protocol(
    store: Store, actor: Identity, rule: str | None = None, expert_labels: Iterable[str] | None = None
) -> Changes:
    """Change the project's protocol (one transaction, logged)."""
    current = protocol(store)
    if rule is not None and rule not in RULES:
        raise err(Errors.E405, rule=rule, rules=", ".join(RULES))
    labels = list(dict.fromkeys(expert_labels)) if expert_labels is not None else current["expert_labels"]
    for lab in labels:
        settings.check_label(store, lab)
    new = {"rule": rule or current["rule"], "expert_labels": labels}
    with store.transaction():
        store.set_setting("protocol", new)
        store.log_event(actor.user, "set protocol", "log", None, current, new)
    return Changes(ChangeKind.PROTOCOL, action="set protocol")


def _require_adjudicator(
    store: Store, actor: Identity, accepted: list[Annotation], spans: list[Key], segment_id: int
) -> None:
    if tier_rank(actor.tier) < tier_rank("reviewer"):
        raise err(Errors.E401, user=actor.user, tier=actor.tier, action="adjudication", needed="reviewer or expert")
    expert_labels = set(protocol(store)["expert_labels"])
    needs = sorted((disputed_labels(accepted) | {k[2] for k in spans}) & expert_labels)
    if needs and actor.tier != "expert":
        raise err(Errors.E407, segment=segment_id, labels=", ".join(needs), user=actor.user, tier=actor.tier)


def _decision_row(
    store: Store,
    actor: Identity,
    segment_id: int,
    accepted: list[Annotation],
    spans: Iterable[Key],
    method: str,
    sources: list[str],
    reason: str,
) -> dict[str, Any]:
    return {
        "segment_id": segment_id,
        "adjudicator": actor.user,
        "tier": actor.tier,
        "method": method,
        "sources": sources,
        "spans": [sp.to_json() for sp in _spans_of(set(spans))],
        "reason": reason,
        "basis": basis(accepted),
        "created": now(),
    }


def _error_rows(
    store: Store,
    actor: Identity,
    seg: Segment,
    accepted: list[Annotation],
    decided: list[Key],
    ref: int,
    by_tier: str,
    created: str,
) -> list[dict[str, Any]]:
    from nerdesk.core.categorize import categorize

    final = [Span(*k) for k in decided]
    rows = []
    for a in accepted:
        if a.annotator == actor.user:
            continue
        mine = [Span(sp.start, sp.end, sp.label) for sp in a.spans]
        rows += person_error_rows(
            seg, a.annotator, actor.user, by_tier, "adjudication", ref, categorize(mine, final), created
        )
    return rows


def person_error_rows(
    seg: Segment,
    annotator: str,
    by_user: str,
    by_tier: str,
    source: str,
    ref: int,
    corrections: list[Any],
    created: str,
) -> list[dict[str, Any]]:
    """person_errors rows for the categorised corrections of one person's version."""
    text, base = seg.own_text(), seg.start
    rows = []
    for c in corrections:
        ref_span = c.final or c.predicted
        rows.append(
            {
                "segment_id": seg.id,
                "annotator": annotator,
                "by_user": by_user,
                "by_tier": by_tier,
                "source": source,
                "ref": ref,
                "category": c.category,
                "label": c.label,
                "annotated": [c.predicted.start, c.predicted.end, c.predicted.label] if c.predicted else None,
                "final": [c.final.start, c.final.end, c.final.label] if c.final else None,
                "surface": text[ref_span.start - base : ref_span.end - base],
                "created": created,
            }
        )
    return rows


def adjudicate(
    store: Store,
    actor: Identity,
    segment_id: int,
    spans: Sequence[Span | Key] | None = None,
    *,
    take: str | None = None,
    combine: Sequence[tuple[str, Span | Key]] | None = None,
    reason: str = "",
) -> Changes:
    """Decide a conflicting segment: ``take`` one person's version, ``combine`` spans picked from
    several people's versions ((annotator, span) pairs), or give the ``spans`` (an edit). Exactly
    one of the three. One transaction, one undoable event."""
    given = [x is not None for x in (spans, take, combine)]
    if sum(given) != 1:
        raise err(
            Errors.E412, reason="give exactly one of: spans (an edit), take=ANNOTATOR, combine=[(ANNOTATOR, span), ...]"
        )
    with store.transaction():
        seg = edits.segment(store, actor.user, segment_id)  # E005
        accepted = accepted_of(seg.annotations)
        if len({keys(a.spans) for a in accepted}) < 2:
            raise err(Errors.E411, segment=segment_id)
        by_name = {a.annotator: a for a in accepted}
        if take is not None:
            if take not in by_name:
                raise err(Errors.E406, segment=segment_id, annotator=take, annotators=", ".join(by_name))
            decided, method, sources = sorted(keys(by_name[take].spans)), "take", [take]
        elif combine is not None:
            picked: set[Key] = set()
            for name, sp in combine:
                k = _key(sp)
                if name not in by_name:
                    raise err(Errors.E406, segment=segment_id, annotator=name, annotators=", ".join(by_name))
                if k not in keys(by_name[name].spans):
                    raise err(
                        Errors.E412, reason=f"{name}'s version of segment {segment_id} has no span {k[0]}-{k[1]} {k[2]}"
                    )
                picked.add(k)
            decided, method = sorted(picked), "combine"
            _check_overlaps(store, decided)
            sources = list(dict.fromkeys(name for name, _ in combine))
        else:
            decided, method, sources = _checked_edit(store, seg, [_key(sp) for sp in spans or []]), "edit", []
        _require_adjudicator(store, actor, accepted, decided, segment_id)
        row = _decision_row(store, actor, segment_id, accepted, decided, method, sources, reason)
        row["id"] = review_store.insert_adjudication(store, row)
        errors = _error_rows(store, actor, seg, accepted, decided, row["id"], actor.tier, row["created"])
        review_store.insert_person_errors(store, errors)
        event_id = store.log_event(
            actor.user, "adjudicate", "do", segment_id, None, {"adjudications": [row], "errors": errors}
        )
    return edits.segment_changes(store, segment_id, "adjudicate", ChangeKind.ADJUDICATE, undoable=event_id)


def _key(sp: Span | Key | dict[str, Any]) -> Key:
    if isinstance(sp, Span):
        return (sp.start, sp.end, sp.label)
    if isinstance(sp, dict):
        return (sp["start"], sp["end"], sp["label"])
    return (int(sp[0]), int(sp[1]), str(sp[2]))


def _checked_edit(store: Store, seg: Segment, ks: list[Key]) -> list[Key]:
    names = settings.label_names(store)
    for s, e, lab in ks:
        if lab not in names:
            raise err(Errors.E009, label=lab, labels=", ".join(names) or "(none)")
        if not seg.start <= s < e <= seg.end:
            raise err(Errors.E008, start=s, end=e, segment=seg.id, seg_start=seg.start, seg_end=seg.end)
    ks = sorted(set(ks))
    _check_overlaps(store, ks)
    return ks


def _check_overlaps(store: Store, ks: list[Key]) -> None:
    """E126 for overlapping spans where the project does not allow them."""
    if not settings.allow_overlaps(store):
        for x, y in zip(ks, ks[1:]):
            if y[0] < x[1]:
                raise err(
                    Errors.E126, start=y[0], end=y[1], label=y[2], other_start=x[0], other_end=x[1], other_label=x[2]
                )


def apply_protocol(store: Store, actor: Identity, *, reason: str = "") -> Changes:
    """Record a decision (method ``protocol``) for every conflict the protocol resolves and no
    adjudication holds yet, so that later changes of the protocol leave them as they are. One
    transaction, one undoable event (however many segments)."""
    if tier_rank(actor.tier) < tier_rank("reviewer"):
        raise err(Errors.E401, user=actor.user, tier=actor.tier, action="adjudication", needed="reviewer or expert")
    with store.transaction():
        ids = review_store.multi_annotated_ids(store)
        rows, errors = [], []
        for i in range(0, len(ids), 1000):
            part = ids[i : i + 1000]
            anns = store.annotations_of(part)
            res = resolutions(store, part, anns)
            segs = {s.id: s for s in store.segments_with_text(part)}
            for sid in part:
                r = res.get(sid)
                if r is None or not r.conflict or not r.resolved or r.how == "adjudicated":
                    continue
                accepted = accepted_of(anns[sid])
                decided = sorted(keys(r.spans or []))
                row = _decision_row(
                    store,
                    actor,
                    sid,
                    accepted,
                    decided,
                    "protocol",
                    [r.by] if r.by else [],
                    reason or f"{r.how}: {r.reason}",
                )
                row["id"] = review_store.insert_adjudication(store, row)
                rows.append(row)
                errors += _error_rows(store, actor, segs[sid], accepted, decided, row["id"], actor.tier, row["created"])
        review_store.insert_person_errors(store, errors)
        if not rows:
            return Changes(ChangeKind.ADJUDICATE, action="adjudicate by protocol")
        event_id = store.log_event(
            actor.user, "adjudicate by protocol", "do", None, None, {"adjudications": rows, "errors": errors}
        )
    ids_done = {r["segment_id"] for r in rows}
    return Changes(
        ChangeKind.ADJUDICATE,
        segments=ids_done,
        documents={s.doc_id for s in store.segments_with_text(sorted(ids_done))},
        action="adjudicate by protocol",
        undoable=event_id,
    )


def restore(store: Store, actor: Identity, event: dict[str, Any], kind: str) -> Changes:
    """Undo (remove the decisions and the errors they found) or redo (put them back) an event of
    this module; one transaction."""
    rows = event["after"]["adjudications"]
    with store.transaction():
        for row in rows:
            if kind == "undo":
                review_store.delete_adjudication(store, row["id"])
                review_store.delete_person_errors(store, "adjudication", row["id"])
            else:
                review_store.insert_adjudication(store, row)
        if kind == "redo":
            review_store.insert_person_errors(store, event["after"]["errors"])
        store.log_event(actor.user, event["action"], kind, event["segment_id"], None, None, ref=event["id"])
    ids = sorted({r["segment_id"] for r in rows})
    docs = {s.doc_id for s in store.segments_with_text(ids)}
    return Changes(
        ChangeKind.ADJUDICATE, segments=set(ids), documents=docs, action=f"{kind} {event['action']}", step=Step(kind)
    )


_SPAN = re.compile(r"^\s*(?:(?P<who>[^:,]+):)?(?P<start>\d+)-(?P<end>\d+):(?P<label>[^,]+?)\s*$")


def parse_spans(text: str, *, with_annotator: bool = False) -> list:
    """``START-END:LABEL,...`` (document offsets, as ``--json`` prints them); with ``ANNOTATOR:`` first
    for --combine. An empty string is no span."""
    out = []
    for part in [p for p in text.split(",") if p.strip()]:
        m = _SPAN.match(part)
        if m is None or (with_annotator and not m["who"]) or (not with_annotator and m["who"]):
            form = "ANNOTATOR:START-END:LABEL" if with_annotator else "START-END:LABEL"
            raise err(Errors.E412, reason=f"'{part.strip()}' is not {form}")
        span = Span(int(m["start"]), int(m["end"]), m["label"])
        out.append((m["who"].strip(), span) if with_annotator else span)
    return out
