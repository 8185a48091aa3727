"""Where a span's boundary goes when the reviewer steps it by one token or one character.

The span editor (Shift+Arrow, Alt+Shift+Arrow, with Ctrl by a character) only asks this module for the
new offsets and then calls ``Project.move_span``: the rule of what one step is lives in the core,
beside the snapping ``move_span`` applies, and can be tested and reused without Qt.

Offsets are document code points; ``tokens`` are the segment's ``(start, end)`` token offsets in the
document, in order (a ``TokenOffsets`` or a list of pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Edge = Literal["start", "end"]


def step(
    text: str,
    segment: tuple[int, int],
    tokens: Sequence[tuple[int, int]],
    span: tuple[int, int],
    edge: Edge,
    direction: int,
    *,
    exact: bool = False,
) -> tuple[int, int] | None:
    """The span's ``(start, end)`` after moving its ``edge`` one token (``exact``: one character) right
    (``direction`` > 0) or left, kept inside the segment; None where that moves nothing or leaves
    nothing of the span.

    By token, an end goes to the next token end beyond it (left: the previous token end still after
    the start), a start to the next token start still before the end (left: the previous token start).
    By character, a step over whitespace goes on to the next non-space character, so a span never
    starts or ends on a space; it stops short of collapsing (an end not before start + 1)."""
    seg_start, seg_end = segment
    start, end = span
    if exact:
        if edge == "end":
            end += direction
            while direction > 0 and end < seg_end and text[end - 1].isspace():
                end += 1
            while direction < 0 and end > start + 1 and text[end - 1].isspace():
                end -= 1
        else:
            start += direction
            while direction > 0 and start < end - 1 and text[start].isspace():
                start += 1
            while direction < 0 and start > seg_start and text[start].isspace():
                start -= 1
    elif edge == "end":
        if direction > 0:
            end = next((b for _, b in tokens if b > end), end)
        else:
            end = next((b for _, b in reversed(tokens) if start < b < end), end)
    elif direction > 0:
        start = next((a for a, _ in tokens if start < a < end), start)
    else:
        start = next((a for a, _ in reversed(tokens) if a < start), start)
    start, end = max(seg_start, start), min(seg_end, end)
    if (start, end) == span or start >= end:
        return None
    return start, end
