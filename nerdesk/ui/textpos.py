"""The one boundary between core offsets (Python code points) and Qt positions (UTF-16 units).

Everything the core hands out is in code points; QTextDocument / QTextCursor positions count
UTF-16 code units, so every character outside the Basic Multilingual Plane (most emoji, many CJK
extension ideographs) takes two Qt positions. Combining marks, RTL text and CJK in the BMP are
one code point = one unit; CRLF is two characters on both sides.

:func:`display` makes the text QPlainTextEdit shows and the :class:`TextPos` for it. A CR before
LF becomes a space (QTextDocument would turn a CR into a paragraph break and show an empty line)
and a lone CR a line break: positions unchanged. A line longer than :data:`MAX_LINE` characters
is shown as several blocks (Qt lays out and repaints a whole block at once: one 1,000,000-character
block froze the app for minutes): a space near every :data:`LINE_CHUNK` characters becomes a line
break (positions unchanged), and where a stretch has no whitespace a line break is inserted, one
extra Qt position that :class:`TextPos` counts as it counts the second half of a surrogate pair.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
#: Lines longer than this are shown as blocks of about LINE_CHUNK characters.
MAX_LINE = 20_000
LINE_CHUNK = 4_000
_LOOK_BACK = 200  # how far before a chunk end a space is looked for


class TextPos:
    """Converts offsets in one text between code points and the view's UTF-16 positions."""

    __slots__ = ("_astral", "_breaks", "_extra16", "_extra_astral", "length", "length16")

    def __init__(self, text: str, breaks: list[int] | None = None):
        """``breaks``: code-point offsets before which the view shows an inserted line break."""
        self._astral = [m.start() for m in _ASTRAL.finditer(text)]  # code-point index of each non-BMP character
        self._breaks = sorted(breaks or [])
        self.length = len(text)
        self.length16 = len(text) + len(self._astral) + len(self._breaks)
        # the view positions of the extra units: an astral character's second half, an inserted break
        extra = [(self.to_utf16(a) + 1, True) for a in self._astral]
        extra += [(self.to_utf16(b) - 1, False) for b in self._breaks]
        extra.sort()
        self._extra16 = [u for u, _ in extra]
        self._extra_astral = [k for _, k in extra]

    @property
    def identity(self) -> bool:
        return not self._astral and not self._breaks

    def to_utf16(self, cp: int, *, end: bool = False) -> int:
        """Code-point offset -> view position. An inserted break at ``cp`` comes before the
        character there; the ``end`` of a range stops before it."""
        u = cp
        if self._astral:
            u += bisect_left(self._astral, cp)
        if self._breaks:
            u += (bisect_left if end else bisect_right)(self._breaks, cp)
        return u

    def range16(self, start: int, end: int) -> tuple[int, int]:
        """A code-point range [start, end) as view positions."""
        return self.to_utf16(start), self.to_utf16(end, end=True)

    def to_cp(self, u: int, *, round_up: bool = False) -> int:
        """View position -> code-point offset. A position inside a surrogate pair rounds down
        to the start of that character (or up to its end with ``round_up``); both sides of an
        inserted break are the offset of the character after it."""
        if not self._extra16:
            return u
        n = bisect_left(self._extra16, u)  # extra units before u
        cp = u - n
        if n < len(self._extra16) and self._extra16[n] == u and self._extra_astral[n]:
            return cp if round_up else cp - 1  # between the two halves of a pair
        return cp


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for _ in _ASTRAL.finditer(text))


def display_text(text: str) -> str:
    """The text to put in a QPlainTextEdit: positions identical to ``text``'s UTF-16 positions."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", " \n").replace("\r", "\n")


def display(text: str) -> tuple[str, TextPos]:
    """What the view shows for ``text`` and the positions between them (see the module)."""
    shown = display_text(text)
    if len(shown) <= MAX_LINE or not any(b - a > MAX_LINE for a, b in _line_spans(shown)):
        return shown, TextPos(text)
    chars = list(shown)
    inserted: list[int] = []
    for a, b in _line_spans(shown):
        if b - a <= MAX_LINE:
            continue
        pos = a
        while b - pos > LINE_CHUNK:
            cut = pos + LINE_CHUNK
            space = shown.rfind(" ", cut - _LOOK_BACK, cut)
            if space > pos:
                chars[space] = "\n"  # a space shown as a line break: positions unchanged
                pos = space + 1
            else:
                while cut < b - 1 and _splits(shown, cut, pos):  # keep a visible character whole
                    cut += 1
                inserted.append(cut)
                pos = cut
    if inserted:
        out, last = [], 0
        for c in inserted:
            out.append("".join(chars[last:c]))
            last = c
        out.append("".join(chars[last:]))
        shown = "\n".join(out)
    else:
        shown = "".join(chars)
    return shown, TextPos(text, inserted)


def _splits(text: str, i: int, lo: int = 0) -> bool:
    """True where a break before ``text[i]`` would split one visible character (a combining mark,
    a ZWJ sequence, a variation selector, a skin tone, the second half of a flag)."""
    before, ch = text[i - 1], text[i]
    if (
        before == "\u200d"
        or ch in "\u200d\ufe0e\ufe0f"
        or unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or 0x1F3FB <= ord(ch) <= 0x1F3FF
    ):
        return True
    if _is_ri(ch) and _is_ri(before):  # regional indicators pair up: a flag is two of them
        run = 0
        while i - 1 - run >= lo and _is_ri(text[i - 1 - run]):  # from the last break on
            run += 1
        return run % 2 == 1
    return False


def _is_ri(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _line_spans(text: str):
    start = 0
    for m in re.finditer("\n", text):
        yield start, m.start()
        start = m.end()
    yield start, len(text)
