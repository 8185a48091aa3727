"""Who is acting, and what each review tier's queue holds.

**Identity.** A project is opened by one person at one tier (annotator, reviewer, expert). The name
and tier come from, first to last: the caller (``--user/--tier``, the app's dialog), the
environment (``NERDESK_USER``, ``NERDESK_TIER``), the config file (``NERDESK_CONFIG``, else
``$XDG_CONFIG_HOME/nerdesk/config.toml``; top-level ``user``/``tier``, overridden per project name by a
``[projects.NAME]`` table), what this OS user chose in this project before (the app asks once and
remembers), and last the login name at the annotator tier. Every event records the tier, every
annotation its author's tier, every bundle its authors' tiers.

**Queues.** An annotator's queue holds what reviewers sent back, with their note. A reviewer's holds
annotators' accepted segments not reviewed in their current version (all, or a sample per annotator
with a minimum); they approve, correct or send back. An expert's holds escalations: flagged
segments, annotator–reviewer disagreements, and conflicts over labels whose agreement is low. Every
item says why it is there. Reading a queue changes nothing.
"""

from __future__ import annotations

import getpass
import hashlib
import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerdesk.core import edits
from nerdesk.core.errors import Errors, err
from nerdesk.core.store import now
from nerdesk.core.store import review as review_store
from nerdesk.core.tiers import TIERS, tier_rank
from nerdesk.core.types import Annotation, ChangeKind, Changes, Identity, Span, Step

if TYPE_CHECKING:
    from nerdesk.core.store import Store

DECISIONS = ("approve", "correct", "send_back")
#: Event actions of this module (Project.undo hands them back here).
ACTIONS = ("review approve", "review correct", "review send back")
#: Labels whose exact span F1 is below this send their conflicts to the experts.
LOW_AGREEMENT = 0.8


# ------------------------------------------------------------------ identity
def login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "user"


def config_path() -> Path:
    if os.environ.get("NERDESK_CONFIG"):
        return Path(os.environ["NERDESK_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nerdesk" / "config.toml"


def check_name(name: str) -> str:
    if (
        not isinstance(name, str)
        or not 0 < len(name.strip()) <= 64
        or "~" in name
        or any(ord(c) < 32 or c == "\x7f" for c in name)
    ):
        raise err(Errors.E410, name=name)
    return name.strip()


def check_tier(tier: str) -> str:
    if tier not in TIERS:
        raise err(Errors.E400, tier=tier, tiers=", ".join(TIERS))
    return tier


def read_config(path: Path | None = None, project_name: str | None = None) -> dict[str, str]:
    """``user`` and ``tier`` from the config file (those it sets), for this project name."""
    path = path or config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise err(Errors.E408, path=path, reason=str(exc)) from None
    out: dict[str, Any] = {k: data[k] for k in ("user", "tier") if k in data}  # checked to be strings below
    projects = data.get("projects", {})
    if project_name and isinstance(projects, dict) and isinstance(projects.get(project_name), dict):
        out.update({k: v for k, v in projects[project_name].items() if k in ("user", "tier")})
    for k, v in out.items():
        if not isinstance(v, str):
            raise err(Errors.E408, path=path, reason=f"'{k}' must be a string")
    if "tier" in out and out["tier"] not in TIERS:
        raise err(Errors.E408, path=path, reason=f"tier '{out['tier']}' is not one of {', '.join(TIERS)}")
    if "user" in out:
        try:
            check_name(out["user"])
        except Exception:
            raise err(Errors.E408, path=path, reason=f"user {out['user']!r} is not a valid name") from None
    return out


def _remembered_key() -> str:
    return f"identity:{login_name()}"


def remembered(store: Store) -> dict[str, str] | None:
    """What this OS user chose in this project before (the app's dialog), or None."""
    return store.get_setting(_remembered_key())


#: ``nerdesk --user U --tier T COMMAND``: the whole command acts as U at T (set by the CLI group).
OVERRIDE: dict[str, str | None] = {"user": None, "tier": None}


def resolve_identity(store: Store, user: str | None = None, tier: str | None = None) -> Identity:
    cache: dict[str, dict[str, str]] = {}

    def config() -> dict[str, str]:  # read only when the argument and the environment say nothing
        if "c" not in cache:
            cache["c"] = read_config(project_name=store.get_setting("name", store.path.stem))
        return cache["c"]

    found: dict[str, tuple[str, str]] = {}
    for key, given in (("user", user or OVERRIDE["user"]), ("tier", tier or OVERRIDE["tier"])):
        for source, value in (
            ("argument", lambda: given),
            ("environment", lambda: os.environ.get(f"NERDESK_{key.upper()}")),
            ("config", lambda: config().get(key)),
            ("remembered", lambda: (remembered(store) or {}).get(key)),
        ):
            got = value()
            if got:
                found[key] = (got, source)
                break
    u, us = found.get("user", (login_name(), "login"))
    t, ts = found.get("tier", ("annotator", "default"))
    return Identity(check_name(u), check_tier(t), {"user": us, "tier": ts})


def remember_identity(store: Store, user: str, tier: str) -> Changes:
    """Remember this OS user's name and tier in the project (the app's first-open dialog); the store
    acts at that tier from now on (the Project that called this acts as them). One transaction, logged."""
    user, tier = check_name(user), check_tier(tier)
    with store.transaction():
        before = remembered(store)
        store.set_setting(_remembered_key(), {"user": user, "tier": tier})
        review_store.upsert_person(store, user, tier, "local")
        store.acting_tier = tier
        store.log_event(user, "set identity", "log", None, before, {"user": user, "tier": tier})
    return Changes(ChangeKind.IDENTITY, action="set identity")


def people(store: Store) -> list[dict[str, Any]]:
    """Everyone known to the project with their tier: local users who chose one, bundle authors."""
    return review_store.people(store)


# ------------------------------------------------------------------ queues
@dataclass
class Item:
    segment_id: int
    kind: str  # review | sent_back | flagged | disagreement | low_agreement
    reasons: list[str]
    annotator: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "kind": self.kind,
            "annotator": self.annotator,
            "reasons": self.reasons,
            "note": self.note,
        }


def _order(seed: int, segment_id: int) -> bytes:
    return hashlib.blake2b(f"{seed}:{segment_id}".encode(), digest_size=8).digest()


def reviewer_queue(
    store: Store, actor: Identity, *, sample: float | None = None, minimum: int = 0, seed: int = 0
) -> list[Item]:
    """Annotators' accepted segments whose current version no review decided on (not the
    reviewer's own). ``sample``: review this share of each annotator's, at least ``minimum`` (all
    if they have fewer), chosen by a fixed pseudo-random order (``seed``)."""
    if sample is not None and not 0 <= sample <= 1:
        raise err(Errors.E409, rate=sample)
    rows = [(sid, a, upd) for sid, a, upd in review_store.unreviewed_accepted(store) if a != actor.user]
    by_annotator: dict[str, list[tuple[int, str]]] = {}
    for sid, a, upd in rows:
        by_annotator.setdefault(a, []).append((sid, upd))
    items = []
    for a, segs in by_annotator.items():
        n = len(segs)
        if sample is None:
            chosen = segs
            why = f"accepted by {a} (annotator), not reviewed yet"
        else:
            k = min(n, max(minimum, math.ceil(sample * n)))
            chosen = sorted(sorted(segs, key=lambda x: _order(seed, x[0]))[:k])
            why = f"sample of {a}'s accepted work: {k} of {n} ({sample:.0%}, at least {min(minimum, n)})"
        items += [
            Item(sid, "review", [why, f"accepted {upd[:16].replace('T', ' ')}"], annotator=a) for sid, upd in chosen
        ]
    return sorted(items, key=lambda i: (i.segment_id, i.annotator or ""))


def annotator_queue(store: Store, actor: Identity, annotator: str | None = None, *, limit: int = 200) -> list[Item]:
    """What reviewers sent back to ``annotator`` (default: the user), with their notes; then, where
    the project splits the work (:func:`set_assignment`), up to ``limit`` segments assigned to them
    that they have not accepted yet."""
    name = annotator or actor.user
    items = [
        Item(
            r["segment_id"],
            "sent_back",
            [f"sent back by {r['reviewer']} ({r['tier']}): {r['note']}"],
            annotator=name,
            note=r["note"],
        )
        for r in review_store.sent_back(store, name)
    ]
    return items + assigned(store, name, limit=limit)


def assignment(store: Store) -> dict[str, Any] | None:
    return store.get_setting("assignment")


def set_assignment(
    store: Store, actor: Identity, annotators: Sequence[str], *, double: float = 0.0, seed: int = 0
) -> Changes:
    """Split the work between ``annotators``: each segment goes to one of them, and a ``double`` share
    of the segments to two (double annotation, for agreement). The split depends only on each
    segment's document hash and offset, so the same call on every laptop assigns the same segments.
    An empty list stops splitting. Reviewers and experts only; one transaction, logged."""
    if tier_rank(actor.tier) < tier_rank("reviewer"):
        raise err(Errors.E401, user=actor.user, tier=actor.tier, action="assigning work", needed="reviewer or expert")
    if not 0 <= double <= 1:
        raise err(Errors.E409, rate=double)
    names = [check_name(n) for n in dict.fromkeys(annotators)]
    if double and len(names) < 2:
        raise err(Errors.E412, reason="double annotation needs two annotators or more")
    new = {"annotators": names, "double": double, "seed": seed} if names else None
    with store.transaction():
        before = assignment(store)
        store.set_setting("assignment", new)
        store.log_event(actor.user, "assign work", "log", None, before, new)
    return Changes(ChangeKind.ASSIGNMENT, action="assign work")


def assignees(content_hash: str, start: int, plan: dict[str, Any]) -> list[str]:
    """Who a segment is assigned to under ``plan`` (one annotator, or two for the double share)."""
    names = plan["annotators"]
    h = hashlib.blake2b(f"{plan['seed']}:{content_hash}:{start}".encode(), digest_size=16).digest()
    u, v = int.from_bytes(h[:8], "big") / 2**64, int.from_bytes(h[8:], "big") / 2**64
    first = int(u * len(names))
    out = [names[first]]
    if len(names) > 1 and v < plan["double"]:
        out.append(names[(first + 1 + int(v / plan["double"] * (len(names) - 1))) % len(names)])
    return out


def assigned(store: Store, annotator: str, *, limit: int = 200) -> list[Item]:
    plan = assignment(store)
    if not plan or annotator not in plan["annotators"]:
        return []
    items: list[Item] = []
    last = 0
    while len(items) < limit:
        rows = review_store.open_segments_for(store, annotator, last, 2000)
        if not rows:
            break
        last = rows[-1][0]
        for sid, h, start in rows:
            who = assignees(h, start, plan)
            if annotator not in who:
                continue
            others = [n for n in who if n != annotator]
            why = (
                f"double annotation: also assigned to {others[0]} ({plan['double']:.0%} of segments)"
                if others
                else f"assigned to you (1 of {len(plan['annotators'])} annotators)"
            )
            items.append(Item(sid, "assigned", [why], annotator=annotator))
            if len(items) >= limit:
                break
    return items


def expert_queue(store: Store, *, low_agreement: float = LOW_AGREEMENT) -> list[Item]:
    """Escalations: flagged segments (with the note), annotator–reviewer disagreements, and conflicts
    over labels whose agreement (exact span F1) is below ``low_agreement``; none a decision holds for."""
    from nerdesk.core import adjudicate as adj
    from nerdesk.core.agreement import agreement, low_agreement_labels

    items: dict[int, Item] = {}

    def add(sid: int, kind: str, reason: str, annotator: str | None = None, note: str = "") -> None:
        item = items.get(sid)
        if item is None:
            items[sid] = Item(sid, kind, [reason], annotator=annotator, note=note)
        elif reason not in item.reasons:
            item.reasons.append(reason)
            item.note = item.note or note

    for sid, who, tier, note in review_store.flagged(store):
        add(sid, "flagged", f"flagged by {who} ({tier})" + (f": {note}" if note else ""), who, note)
    ids = review_store.multi_annotated_ids(store)
    low = low_agreement_labels(agreement(store, spans_only=True), low_agreement) if ids else {}
    for i in range(0, len(ids), 1000):
        part = ids[i : i + 1000]
        anns = store.annotations_of(part)
        res = adj.resolutions(store, part, anns)
        for sid in part:
            r = res.get(sid)
            if r is None or not r.conflict or r.how == "adjudicated" or (r.resolved and r.tier == "expert"):
                continue  # decided, or an expert's version counts already
            accepted = adj.accepted_of(anns[sid])
            lower = [a for a in accepted if a.tier == "annotator"]
            higher = [a for a in accepted if tier_rank(a.tier) >= tier_rank("reviewer")]
            for a in lower:
                for b in higher:
                    diff = len(adj.keys(a.spans) ^ adj.keys(b.spans))
                    if diff:
                        add(
                            sid,
                            "disagreement",
                            f"{a.annotator} (annotator) and {b.annotator} ({b.tier}) disagree: {diff} span(s) differ",
                            a.annotator,
                        )
            for lab in sorted(adj.disputed_labels(accepted) & set(low)):
                add(
                    sid, "low_agreement", f"label {lab}: agreement (exact span F1) {low[lab]:.2f} < {low_agreement:.2f}"
                )
    return [items[k] for k in sorted(items)]


def queue(store: Store, actor: Identity, **options: Any) -> list[Item]:
    """The queue of the user's tier: annotator → sent back; reviewer → to review (and what was sent
    back to them); expert → escalations."""
    if actor.tier == "expert":
        return expert_queue(store, **{k: v for k, v in options.items() if k == "low_agreement"})
    if actor.tier == "reviewer":
        opts = {k: v for k, v in options.items() if k in ("sample", "minimum", "seed")}
        return annotator_queue(store, actor) + reviewer_queue(store, actor, **opts)
    return annotator_queue(store, actor)


# ------------------------------------------------------------------ decisions
def review(
    store: Store,
    actor: Identity,
    segment_id: int,
    annotator: str,
    decision: str,
    *,
    spans: Sequence[Span] | None = None,
    note: str = "",
) -> Changes:
    """A reviewer's decision on ``annotator``'s accepted annotation of a segment: ``approve``,
    ``correct`` (the reviewer's version: ``spans``, else their current draft of the segment) or
    ``send_back`` (with a ``note``: it lands in the annotator's queue). A correction is categorised
    against the annotator. One transaction, one undoable event."""
    from nerdesk.core import adjudicate as adj
    from nerdesk.core.categorize import categorize

    if decision not in DECISIONS:
        raise err(Errors.E403, decision=decision, decisions=", ".join(DECISIONS))
    if tier_rank(actor.tier) < tier_rank("reviewer"):
        raise err(Errors.E401, user=actor.user, tier=actor.tier, action="a review", needed="reviewer or expert")
    if decision == "send_back" and not note.strip():
        raise err(Errors.E404)
    with store.transaction():
        seg = edits.segment(store, actor.user, segment_id)  # E005
        target = store.annotation(segment_id, annotator)
        if target is None or target.status != "accepted":
            raise err(Errors.E402, annotator=annotator, segment=segment_id)
        if annotator == actor.user:
            raise err(
                Errors.E401,
                user=actor.user,
                tier=actor.tier,
                action="reviewing one's own work",
                needed="another reviewer",
            )
        created = now()
        mine_before = store.annotation(segment_id, actor.user)
        mine_after = mine_before
        errors: list[dict[str, Any]] = []
        final: list[Span] = []  # the corrected spans (a correction)
        if decision == "correct":
            if spans is not None:
                ks = adj._checked_edit(store, seg, [adj._key(sp) for sp in spans])
            elif mine_before is not None:
                ks = sorted(adj.keys(mine_before.spans))
            else:
                raise err(
                    Errors.E412,
                    reason=f"a correction needs the corrected spans (or your edited draft of segment {segment_id})",
                )
            g = store.guideline()
            mine_after = Annotation(
                segment_id,
                actor.user,
                actor.tier,
                "accepted",
                tuple(adj._spans_of(ks)),
                f"corrects {annotator}" + (f": {note}" if note else ""),
                g["version"] if g else None,
                target.model_id,
                mine_before.created if mine_before else created,
                created,
            )
            store.put_annotation(mine_after)
            store.refresh_segment_status([segment_id])
            final = [Span(sp.start, sp.end, sp.label) for sp in mine_after.spans]
        row: dict[str, Any] = {
            "segment_id": segment_id,
            "annotator": annotator,
            "reviewed_updated": target.updated,
            "reviewer": actor.user,
            "tier": actor.tier,
            "decision": decision,
            "note": note,
            "created": created,
        }
        row["id"] = review_store.insert_review(store, row)
        if decision == "correct":
            theirs = [Span(sp.start, sp.end, sp.label) for sp in target.spans]
            errors = adj.person_error_rows(
                seg, annotator, actor.user, actor.tier, "review", row["id"], categorize(theirs, final), created
            )
            review_store.insert_person_errors(store, errors)
        action = "review " + decision.replace("_", " ")
        event_id = store.log_event(
            actor.user,
            action,
            "do",
            segment_id,
            {"annotation": mine_before},
            {"annotation": mine_after, "review": row, "errors": errors},
        )
        edits.refresh_corrections_of(store, segment_id, actor.user)
    return edits.segment_changes(store, segment_id, action, ChangeKind.REVIEW, undoable=event_id)


def restore(store: Store, actor: Identity, event: dict[str, Any], kind: str) -> Changes:
    """Undo or redo a review decision: the review row, the errors it found and the reviewer's
    annotation as they were before (undo) or after (redo)."""
    segment_id = event["segment_id"]
    row = event["after"]["review"]
    ann = (event["before"] if kind == "undo" else event["after"])["annotation"]
    with store.transaction():
        if kind == "undo":
            review_store.delete_review(store, row["id"])
            review_store.delete_person_errors(store, "review", row["id"])
        else:
            review_store.insert_review(store, row)
            review_store.insert_person_errors(store, event["after"]["errors"])
        if ann is None:
            store.delete_annotation(segment_id, actor.user)
        else:
            store.put_annotation(Annotation.from_dict(ann))
        store.refresh_segment_status([segment_id])
        store.log_event(actor.user, event["action"], kind, segment_id, None, None, ref=event["id"])
        edits.refresh_corrections_of(store, segment_id, actor.user)
    return edits.segment_changes(store, segment_id, f"{kind} {event['action']}", ChangeKind.REVIEW, Step(kind))


# ------------------------------------------------------------------ errors of people
def error_profiles(store: Store) -> dict[str, dict[str, Any]]:
    """Per annotator: the errors reviewers' corrections and adjudications found in their work,
    per category, per label and category, per week; and how many of their segments were reviewed."""
    return review_store.error_profiles(store)
