"""Review tiers, lowest first, and which of several annotators' rows for a segment counts."""

from __future__ import annotations

from nerdesk.core.types import Annotation

TIERS = ("annotator", "reviewer", "expert")


def tier_rank(tier: str | None) -> int:
    """0 for annotator, 1 for reviewer, 2 for expert (0 for an unknown tier)."""
    return TIERS.index(tier) if tier in TIERS else 0


def best_annotation(annotations: list[Annotation]) -> Annotation | None:
    """Of several annotators' rows, the one that counts: accepted first, then the highest tier,
    then the latest."""
    if not annotations:
        return None
    return max(annotations, key=lambda a: (a.status == "accepted", tier_rank(a.tier), a.updated or ""))
