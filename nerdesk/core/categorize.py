"""What kind of error each correction fixed, and how many edit actions it took.

The model's spans are compared with the human's final spans of a segment:

* exact match (same start, end, label): no error;
* same start and end, other label: ``label`` (label confusion);
* overlapping, same label: ``boundary``;
* overlapping, other label: ``boundary_label``;
* a predicted span matching nothing: ``false_positive``; a final span matched by nothing:
  ``false_negative``.

Overlapping pairs are matched greedily by overlap (largest first), one to one, so a predicted
span that covers two entities is a boundary error for one and leaves the other a miss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nerdesk.core.types import Span

CATEGORIES = ("false_positive", "false_negative", "boundary", "label", "boundary_label")
CATEGORY_NAMES = {
    "false_positive": "false positive",
    "false_negative": "false negative",
    "boundary": "boundary error",
    "label": "label confusion",
    "boundary_label": "boundary + label",
}


@dataclass(frozen=True)
class Correction:
    category: str
    predicted: Span | None
    final: Span | None

    @property
    def label(self) -> str:
        """The label the error is counted under: the human's where there is one."""
        return (self.final or self.predicted).label  # type: ignore[union-attr]


def categorize(predicted: Sequence[Span], final: Sequence[Span]) -> list[Correction]:
    pred = sorted({sp.key(): sp for sp in predicted}.values())
    gold = sorted({sp.key(): sp for sp in final}.values())
    gold_keys = {sp.key() for sp in gold}
    pred_keys = {sp.key() for sp in pred}
    pred = [p for p in pred if p.key() not in gold_keys]
    gold = [g for g in gold if g.key() not in pred_keys]
    out: list[Correction] = []
    # same extent, other label
    by_extent = {(g.start, g.end): g for g in gold}
    rest_pred = []
    for p in pred:
        g = by_extent.pop((p.start, p.end), None)
        if g is not None:
            out.append(Correction("label", p, g))
        else:
            rest_pred.append(p)
    rest_gold = list(by_extent.values())
    # overlapping pairs, largest overlap first
    pairs = sorted(
        (
            (min(p.end, g.end) - max(p.start, g.start), i, j)
            for i, p in enumerate(rest_pred)
            for j, g in enumerate(rest_gold)
            if p.start < g.end and g.start < p.end
        ),
        key=lambda t: (-t[0], rest_pred[t[1]].start, rest_gold[t[2]].start),
    )
    used_p: set[int] = set()
    used_g: set[int] = set()
    for _, i, j in pairs:
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        p, g = rest_pred[i], rest_gold[j]
        out.append(Correction("boundary" if p.label == g.label else "boundary_label", p, g))
    out += [Correction("false_positive", p, None) for i, p in enumerate(rest_pred) if i not in used_p]
    out += [Correction("false_negative", None, g) for j, g in enumerate(rest_gold) if j not in used_g]
    return sorted(out, key=lambda c: ((c.final or c.predicted).start, c.category))  # type: ignore[union-attr]


def edit_actions(predicted: Sequence[Span], final: Sequence[Span]) -> int:
    """Edit actions (add, delete, relabel, move a boundary, accept) from ``predicted`` to ``final``."""
    n = 1  # accept
    for c in categorize(predicted, final):
        if c.category in ("false_positive", "false_negative", "label"):
            n += 1
        else:
            assert c.predicted and c.final
            moves = (c.predicted.start != c.final.start) + (c.predicted.end != c.final.end)
            n += moves + (c.category == "boundary_label")
    return n


def effort(predicted: Sequence[Span], final: Sequence[Span]) -> dict[str, int]:
    """Actions with the model's pre-annotation and from nothing."""
    return {"with_model": edit_actions(predicted, final), "from_scratch": edit_actions([], final)}
