"""Label colours and shortcut keys. Colours come from a palette readable by colour-blind users
(Okabe–Ito first), and every span also carries non-colour cues in the view."""

from __future__ import annotations

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
