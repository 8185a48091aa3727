"""The one boundary between core offsets (Python code points) and Qt positions (UTF-16 units).

Everything the core hands out is in code points; QTextDocument / QTextCursor positions count
UTF-16 code units, so every character outside the Basic Multilingual Plane (most emoji, many CJK
extension ideographs) takes two Qt positions. Combining marks, RTL text and CJK in the BMP are
one code point = one unit; CRLF is two characters on both sides.

:func:`display_text` makes the text QPlainTextEdit shows: same length in UTF-16 units as the
original, so positions map 1:1, but a CR before LF becomes a space (QTextDocument would turn a
CR into a paragraph break and show an empty line) and a lone CR a line break.
"""

from __future__ import annotations

import re
from bisect import bisect_left

_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


class TextPos:
    """Converts offsets in one text between code points and UTF-16 units."""

    __slots__ = ("_astral", "_astral16", "length", "length16")

    def __init__(self, text: str):
        astral = [m.start() for m in _ASTRAL.finditer(text)]
        self._astral = astral  # code-point index of each non-BMP character
        self._astral16 = [cp + k for k, cp in enumerate(astral)]  # its UTF-16 index
        self.length = len(text)
        self.length16 = len(text) + len(astral)

    @property
    def identity(self) -> bool:
        return not self._astral

    def to_utf16(self, cp: int) -> int:
        """Code-point offset -> UTF-16 offset."""
        if not self._astral:
            return cp
        return cp + bisect_left(self._astral, cp)

    def to_cp(self, u: int, *, round_up: bool = False) -> int:
        """UTF-16 offset -> code-point offset. A position inside a surrogate pair rounds down
        to the start of that character (or up to its end with ``round_up``)."""
        if not self._astral:
            return u
        n = bisect_left(self._astral16, u)  # astral characters that start before u
        if n and self._astral16[n - 1] + 1 == u:  # between the two halves of a pair
            return self._astral[n - 1] + (1 if round_up else 0)
        return u - n


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for _ in _ASTRAL.finditer(text))


def display_text(text: str) -> str:
    """The text to put in a QPlainTextEdit: positions identical to ``text``'s UTF-16 positions."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", " \n").replace("\r", "\n")
