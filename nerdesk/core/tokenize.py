"""Tokenisation and sentence segmentation with spaCy (blank pipeline + sentencizer).

Everything here works in character offsets (Python code points) into the original text, so
any Unicode (emoji, combining marks, CJK, RTL, CRLF) keeps exact offsets. Pre-tokenised input
keeps its tokens: :func:`segment_tokens` only groups them into segments.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence

Offsets = list[tuple[int, int]]

#: Segments longer than this are cut (at a token boundary, never inside a known span).
MAX_SEGMENT_TOKENS = 256
#: spaCy processes long texts in chunks of about this many characters, cut at line breaks.
CHUNK_CHARS = 100_000
#: spaCy's tokenizer takes time quadratic in the length of a run of punctuation (it strips one
#: prefix or suffix at a time: 2,000 brackets take 2 s, 100,000 would take hours), so a longer
#: run is one token (as spaCy makes of "-----" or "....." anyway).
MAX_PUNCT_RUN = 32
_PUNCT_RUN = re.compile(r"[^\w\s]{%d,}" % (MAX_PUNCT_RUN + 1))


@functools.lru_cache(maxsize=4)
def pipeline(lang: str = "en"):
    from nerdesk.core._spacy import import_spacy

    nlp = import_spacy().blank(lang)
    nlp.add_pipe("sentencizer")
    nlp.max_length = CHUNK_CHARS * 2
    return nlp


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Cut a long text into pieces at line breaks (or spaces), each below ~CHUNK_CHARS."""
    start = 0
    n = len(text)
    while start < n:
        end = min(n, start + CHUNK_CHARS)
        if end < n:
            cut = text.rfind("\n", start + CHUNK_CHARS // 2, end)
            if cut < 0:
                cut = text.rfind(" ", start + CHUNK_CHARS // 2, end)
            if cut > start:
                end = cut + 1
        yield start, text[start:end]
        start = end


def tokenize_texts(texts: Sequence[str], lang: str = "en") -> Iterator[tuple[Offsets, Offsets]]:
    """For each text, (token offsets, sentence offsets). Whitespace is never a token."""
    nlp = pipeline(lang)
    small = [_tame(t) for t in texts if len(t) <= CHUNK_CHARS]
    small_docs = iter(nlp.pipe(small, batch_size=256)) if small else iter(())
    for text in texts:
        if len(text) <= CHUNK_CHARS:
            yield _offsets(next(small_docs), 0)
            continue
        tokens: Offsets = []
        sents: Offsets = []
        for base, piece in _chunks(text):
            t, s = _offsets(nlp(_tame(piece)), base)
            tokens.extend(t)
            sents.extend(s)
        yield tokens, sents


def _tame(text: str) -> str:
    """``text`` with every run of punctuation longer than MAX_PUNCT_RUN replaced by as many
    letters: one token, at the same offsets (only offsets are taken from spaCy's Doc)."""
    if len(text) <= MAX_PUNCT_RUN or not _PUNCT_RUN.search(text):
        return text
    return _PUNCT_RUN.sub(lambda m: "x" * len(m.group()), text)


def _offsets(doc, base: int) -> tuple[Offsets, Offsets]:
    tokens = [(base + t.idx, base + t.idx + len(t.text)) for t in doc if not t.is_space]
    sents = []
    for s in doc.sents:
        toks = [t for t in s if not t.is_space]
        if toks:
            sents.append((base + toks[0].idx, base + toks[-1].idx + len(toks[-1].text)))
    return tokens, sents


def split_tokens_at(tokens: Offsets, cuts: Iterable[int]) -> Offsets:
    """Split tokens so that every offset in ``cuts`` falls on a token boundary."""
    cuts = sorted(set(cuts))
    if not cuts:
        return tokens
    out: Offsets = []
    import bisect

    for s, e in tokens:
        lo = bisect.bisect_right(cuts, s)
        hi = bisect.bisect_left(cuts, e)
        prev = s
        for c in cuts[lo:hi]:
            out.append((prev, c))
            prev = c
        out.append((prev, e))
    return out


def segment_tokens(
    tokens: Offsets,
    sentences: Offsets | None,
    spans: Sequence[tuple[int, int]] = (),
    max_tokens: int = MAX_SEGMENT_TOKENS,
) -> list[tuple[int, int, Offsets]]:
    """Group tokens into segments: (start, end, tokens). Sentences that a span crosses are merged,
    and segments longer than ``max_tokens`` are cut between tokens outside any span."""
    if not tokens:
        return []
    if not sentences:
        sentences = [(tokens[0][0], tokens[-1][1])]
    # token index where each sentence starts
    bounds: list[int] = []
    ti = 0
    for s_start, _ in sentences:
        while ti < len(tokens) and tokens[ti][1] <= s_start:
            ti += 1
        if ti < len(tokens) and (not bounds or ti > bounds[-1]):
            bounds.append(ti)
    if not bounds or bounds[0] != 0:
        bounds.insert(0, 0)
    inside = _inside_span_starts(tokens, spans)
    bounds = [b for b in bounds if b == 0 or b not in inside]
    bounds.append(len(tokens))
    out: list[tuple[int, int, Offsets]] = []
    for a, b in zip(bounds, bounds[1:]):
        while b - a > max_tokens:
            cut = a + max_tokens
            while cut > a + 1 and cut in inside:
                cut -= 1
            out.append((tokens[a][0], tokens[cut - 1][1], tokens[a:cut]))
            a = cut
        if b > a:
            out.append((tokens[a][0], tokens[b - 1][1], tokens[a:b]))
    return out


def _inside_span_starts(tokens: Offsets, spans: Sequence[tuple[int, int]]) -> set[int]:
    """Token indices that start inside (not at the beginning of) some span."""
    if not spans:
        return set()
    import bisect

    starts = [t[0] for t in tokens]
    inside: set[int] = set()
    for s, e in spans:
        i = bisect.bisect_right(starts, s)
        while i < len(tokens) and tokens[i][0] < e:
            inside.add(i)
            i += 1
    return inside
