"""Grapheme clusters (what a reader takes for one character) for the writers whose tokens must not
cut one: CoNLL writes a token per line, and spaCy's tokenizer splits 🇫🇷 into its two regional
indicators, 👋🏽 into the hand and the skin tone, 👩‍👩‍👧 at each ZWJ.

The boundaries follow Unicode's UAX #29 rules that matter between tokens, with no dependency
(Python's unicodedata has no grapheme property): CR LF stays together, nothing breaks before a mark
(Mn, Me, Mc), a ZWJ or ZWNJ, a variation selector, a skin tone or a tag character, nor between a ZWJ
and a pictograph, and regional indicators pair up. Left out: Prepend characters and the Hangul
jamo rules (precomposed Hangul is one code point).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence

ZWJ = "\u200d"


def _attaches(ch: str) -> bool:
    """Extend or SpacingMark: the character joins the cluster before it."""
    o = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or o in (0x200C, 0x200D)
        or 0x1F3FB <= o <= 0x1F3FF
        or 0xE0020 <= o <= 0xE007F
    )  # skin tones, tag characters


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _pictograph(ch: str) -> bool:  # an approximation of Extended_Pictographic
    return unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF


def _control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def boundaries(text: str, start: int = 0, end: int | None = None) -> Iterator[int]:
    """The cluster boundaries of ``text[start:end]``, ``start`` and ``end`` included (a cluster
    never spans whitespace, so a stretch between two whitespace characters can be looked at alone)."""
    end = len(text) if end is None else end
    yield start
    ri = 0  # regional indicators in a row just before i
    for i in range(start + 1, end):
        prev, ch = text[i - 1], text[i]
        ri = ri + 1 if _regional(prev) else 0
        if prev == "\r":
            joined = ch == "\n"
        elif _control(prev) or _control(ch):
            joined = False
        else:
            joined = _attaches(ch) or (prev == ZWJ and _pictograph(ch)) or (_regional(ch) and ri % 2 == 1)
        if not joined:
            yield i
    if end > start:
        yield end


def whole_clusters(text: str, tokens: Sequence[tuple[int, int]]) -> tuple[list[tuple[int, int]], list[int]]:
    """``tokens`` with every two touching tokens that meet inside a grapheme cluster joined, and
    the positions where they were joined (a span edge there cannot be kept)."""
    out: list[tuple[int, int]] = []
    joined: list[int] = []
    i, n = 0, len(tokens)
    while i < n:
        j = i  # tokens[i..j] touch one another
        while j + 1 < n and tokens[j][1] == tokens[j + 1][0]:
            j += 1
        if j == i:
            out.append(tokens[i])
        else:
            breaks = set(boundaries(text, tokens[i][0], tokens[j][1]))
            cur = tokens[i]
            for tok in tokens[i + 1 : j + 1]:
                if tok[0] in breaks:
                    out.append(cur)
                    cur = tok
                else:
                    joined.append(tok[0])
                    cur = (cur[0], tok[1])
            out.append(cur)
        i = j + 1
    return out, joined
