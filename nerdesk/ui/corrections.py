"""Words for error categories: "boundary error: 'Sir George' PER"."""

from __future__ import annotations

from nerdesk.core.categorize import CATEGORY_NAMES


def describe(c, text: str) -> str:
    """One Correction (spans in document offsets) in words, quoting the text of ``text``."""
    name = CATEGORY_NAMES.get(c.category, c.category)
    ref = c.final or c.predicted
    surface = text[ref.start : ref.end] if text else ""
    if c.category in ("label", "boundary_label") and c.predicted and c.final:
        tail = f"{c.predicted.label} → {c.final.label}"
        if c.category == "boundary_label":
            was = text[c.predicted.start : c.predicted.end]
            return f"{name}: '{was}' {c.predicted.label} → '{surface}' {c.final.label}"
        return f"{name}: '{surface}' {tail}"
    if c.category == "boundary" and c.predicted and c.final:
        was = text[c.predicted.start : c.predicted.end]
        return f"{name}: '{surface}' {c.final.label} (model: '{was}')"
    return f"{name}: '{surface}' {ref.label}"


def key(c) -> tuple:
    return (c.category, c.predicted and c.predicted.key(), c.final and c.final.key())
