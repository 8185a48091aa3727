"""Error categories on hand-made cases, including nested, adjacent and overlapping spans."""

from __future__ import annotations

import pytest

from nerdesk.core.categorize import categorize, edit_actions, effort
from nerdesk.core.types import Span as S


def cats(pred, final):
    return [(c.category, c.predicted and c.predicted.key(), c.final and c.final.key()) for c in categorize(pred, final)]


CASES = [
    ("exact match", [S(0, 5, "PER")], [S(0, 5, "PER")], []),
    ("false positive", [S(0, 5, "PER")], [], [("false_positive", (0, 5, "PER"), None)]),
    ("false negative", [], [S(0, 5, "PER")], [("false_negative", None, (0, 5, "PER"))]),
    ("label confusion", [S(0, 5, "PER")], [S(0, 5, "ORG")], [("label", (0, 5, "PER"), (0, 5, "ORG"))]),
    ("boundary too short", [S(0, 5, "PER")], [S(0, 12, "PER")], [("boundary", (0, 5, "PER"), (0, 12, "PER"))]),
    ("boundary too long", [S(0, 12, "ORG")], [S(4, 12, "ORG")], [("boundary", (0, 12, "ORG"), (4, 12, "ORG"))]),
    ("boundary + label", [S(0, 12, "ORG")], [S(4, 12, "LOC")], [("boundary_label", (0, 12, "ORG"), (4, 12, "LOC"))]),
    # one predicted span covering two adjacent entities: one boundary error, one miss
    (
        "merged adjacent",
        [S(0, 20, "PER")],
        [S(0, 9, "PER"), S(10, 20, "PER")],
        [("boundary", (0, 20, "PER"), (10, 20, "PER")), ("false_negative", None, (0, 9, "PER"))],
    ),
    # two predicted pieces of one entity: one boundary error, one false positive
    (
        "split entity",
        [S(0, 8, "ORG"), S(9, 20, "ORG")],
        [S(0, 20, "ORG")],
        [("false_positive", (0, 8, "ORG"), None), ("boundary", (9, 20, "ORG"), (0, 20, "ORG"))],
    ),
    # nested: the human keeps the outer and adds the inner
    (
        "nested added",
        [S(0, 30, "ORG")],
        [S(0, 30, "ORG"), S(14, 30, "LOC")],
        [("false_negative", None, (14, 30, "LOC"))],
    ),
    ("adjacent, both right", [S(0, 5, "PER"), S(5, 9, "ORG")], [S(0, 5, "PER"), S(5, 9, "ORG")], []),
    (
        "adjacent, no overlap means no boundary match",
        [S(0, 5, "PER")],
        [S(5, 9, "PER")],
        [("false_positive", (0, 5, "PER"), None), ("false_negative", None, (5, 9, "PER"))],
    ),
    (
        "crossing overlap, other label",
        [S(0, 10, "PER")],
        [S(5, 15, "ORG")],
        [("boundary_label", (0, 10, "PER"), (5, 15, "ORG"))],
    ),
    (
        "label confusion wins over boundary",
        [S(0, 10, "PER"), S(0, 4, "PER")],
        [S(0, 10, "ORG")],
        [("false_positive", (0, 4, "PER"), None), ("label", (0, 10, "PER"), (0, 10, "ORG"))],
    ),
]


@pytest.mark.parametrize("name,pred,final,expected", CASES, ids=[c[0] for c in CASES])
def test_categories(name, pred, final, expected):
    assert sorted(cats(pred, final), key=str) == sorted(expected, key=str)


def test_edit_actions():
    assert edit_actions([S(0, 5, "PER")], [S(0, 5, "PER")]) == 1  # accept only
    assert edit_actions([], [S(0, 5, "PER"), S(6, 9, "LOC")]) == 3  # two adds + accept
    assert edit_actions([S(0, 12, "ORG")], [S(4, 12, "LOC")]) == 3  # move start, relabel, accept
    assert edit_actions([S(0, 12, "ORG")], [S(4, 10, "ORG")]) == 3  # two moves, accept
    assert effort([S(0, 5, "PER"), S(7, 9, "ORG")], [S(0, 5, "PER")]) == {"with_model": 2, "from_scratch": 2}
