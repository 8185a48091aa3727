"""Label colours and shortcut keys, and adding labels with them. Colours come from a palette readable
by colour-blind users (Okabe–Ito first), and every span also carries non-colour cues in the view."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from nerdesk.core import settings
from nerdesk.core.store.labels import set_summary

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

PALETTE = [
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#999933",
    "#88CCEE",
    "#AA4499",
    "#44AA99",
    "#DDCC77",
    "#117733",
    "#882255",
]

SHORTCUT_KEYS = list("1234567890")


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def free_shortcut(name: str, used: set[str | None]) -> str | None:
    """The first free digit, else the first free letter of the name, else None."""
    for key in SHORTCUT_KEYS:
        if key not in used:
            return key
    for ch in name.lower():
        if ch.isalpha() and ch not in used:
            return ch
    return None


def add_labels(store: Store, actor: Identity, names: Iterable[str], description: str = "") -> list[str]:
    """Add the labels not there yet (each a colour and a free shortcut key) and version the guideline
    as ``actor``, inside the caller's transaction; returns the names added."""
    existing = store.labels()
    known = {label["name"] for label in existing}
    added = [n for n in dict.fromkeys(names) if n not in known]
    if not added:
        return []
    used = {label["shortcut"] for label in existing}
    for i, name in enumerate(added, start=len(existing)):
        shortcut = free_shortcut(name, used)
        used.add(shortcut)
        store.upsert_label(name, color_for(i), shortcut, description, i)
    version = store.add_guideline(actor.user, store.labels(), settings.guideline_text(store))
    set_summary(store, version, "added label" + ("s " if len(added) > 1 else " ") + ", ".join(added))
    return added
