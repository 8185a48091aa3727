"""Stepping a span's boundary by a token or a character (nerdesk.core.boundaries), the rule behind the
span editor's Shift+Arrow keys."""

from __future__ import annotations

import pytest

from nerdesk.core.boundaries import step
from nerdesk.core.types import TokenOffsets

TEXT = "Anna lives in New York."
#        0    5     11 14  18  22
TOKENS = [(0, 4), (5, 10), (11, 13), (14, 17), (18, 22), (22, 23)]
SEGMENT = (0, 23)


@pytest.mark.parametrize(
    ("span", "edge", "direction", "exact", "want"),
    [
        # by token
        ((14, 17), "end", 1, False, (14, 22)),  # New -> New York
        ((14, 22), "end", 1, False, (14, 23)),  # ... -> New York.
        ((14, 22), "end", -1, False, (14, 17)),
        ((14, 17), "end", -1, False, None),  # no token end left inside the span
        ((18, 23), "end", 1, False, None),  # no token end beyond the last
        ((14, 22), "start", 1, False, (18, 22)),
        ((18, 22), "start", 1, False, None),  # no token start left inside the span
        ((14, 17), "start", -1, False, (11, 17)),
        ((0, 4), "start", -1, False, None),
        ((15, 17), "start", -1, False, (14, 17)),  # a start inside a token goes to that token's start
        ((14, 16), "end", 1, False, (14, 17)),  # an end inside a token goes to that token's end
        # by character: whitespace is stepped over, never kept at an edge
        ((14, 17), "end", 1, True, (14, 19)),  # "New" -> "New Y"
        ((14, 19), "end", -1, True, (14, 17)),  # "New Y" -> "New"
        ((14, 17), "start", -1, True, (12, 17)),  # "New" -> "n New"
        ((12, 17), "start", 1, True, (14, 17)),
        ((14, 17), "start", 1, True, (15, 17)),
        ((14, 15), "end", -1, True, None),  # would leave nothing
        ((16, 17), "start", 1, True, None),
        ((18, 23), "end", 1, True, None),  # the segment's end
        ((0, 4), "start", -1, True, None),  # the segment's start
    ],
)
def test_step(span, edge, direction, exact, want):
    assert step(TEXT, SEGMENT, TOKENS, span, edge, direction, exact=exact) == want


def test_a_step_stays_inside_its_segment():
    """The segment is "lives in" (5-13) of the document: its neighbours' text and tokens are out of reach."""
    seg, toks = (5, 13), [(5, 10), (11, 13)]
    assert step(TEXT, seg, toks, (5, 10), "start", -1, exact=True) is None  # 4 is a space, then 3 is outside
    assert step(TEXT, seg, toks, (11, 13), "end", 1, exact=True) is None
    assert step(TEXT, seg, toks, (5, 10), "end", 1) == (5, 13)
    assert step(TEXT, seg, toks, (11, 13), "end", 1) is None


def test_tokens_as_the_store_hands_them_out():
    """A shown segment's tokens are TokenOffsets (relative flat offsets plus the segment's start)."""
    toks = TokenOffsets([0, 4, 5, 7], 11)  # two tokens of a segment starting at 11, stored relative to it
    assert list(toks) == [(11, 15), (16, 18)]
    assert step("x" * 30, (11, 18), toks, (11, 15), "end", 1) == (11, 18)
    assert step("x" * 30, (11, 18), toks, (11, 18), "start", 1) == (16, 18)
    assert step("x" * 30, (11, 18), toks, (11, 18), "end", -1) == (11, 15)
