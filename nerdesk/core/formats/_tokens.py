"""Token and tag helpers shared by the formats: words to offsets, tags to spans and back,
tokenising plain text (with nerdesk.core.tokenize's pipeline: the one tokenizer entry point), and
splitting tokens at span edges (nerdesk.core.tokenize.split_tokens_at).

All offsets are Python string indices, end exclusive (see nerdesk.core.types).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

from nerdesk.core.tokenize import Offsets, pipeline, split_tokens_at
from nerdesk.core.types import DocRecord, Span


class InvalidTag(ValueError):
    """A tag that is neither ``O`` nor ``P-LABEL`` with P in B, I, E, S, L, U."""

    def __init__(self, tag: Any, index: int):
        super().__init__(f"invalid tag {tag!r} at token {index}")
        self.tag = tag
        self.index = index


class ExportError(ValueError):
    """Spans that the target format cannot express (overlaps, spans covering no token)."""


# tag -> (prefix, label); filled lazily, shared by all readers (a corpus has few distinct tags).
_TAGS: dict[str, tuple[str, str]] = {"O": ("O", "")}


def parse_tag(tag: Any) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``. Raises ValueError if invalid.

    IOB1/IOB2 prefixes B, I; BIOES adds E, S; BILOU's L, U are read as E, S.
    """
    try:
        return _TAGS[tag]
    except (KeyError, TypeError):
        pass
    if (
        not isinstance(tag, str)
        or len(tag) < 3
        or tag[1] != "-"
        or tag[0] not in "BIESLU"
        or not tag[2:].strip()
        or tag[2:] != tag[2:].strip()
    ):
        raise ValueError(tag)
    prefix = {"L": "E", "U": "S"}.get(tag[0], tag[0])
    _TAGS[tag] = (prefix, tag[2:])
    return _TAGS[tag]


def is_valid_tag(tag: Any) -> bool:
    try:
        parse_tag(tag)
    except ValueError:
        return False
    return True


def tags_to_spans(tags: Sequence[str], offsets: Sequence[tuple[int, int]]) -> list[Span]:
    """Decode IOB2, IOB1 or BIOES/BILOU tags into character spans (one decoder for all).

    B starts an entity; I continues one of the same label or starts one (IOB1, or lenient
    IOB2); E/L continues or starts, then ends; S/U is a one-token entity; O ends.
    Raises InvalidTag (with the token index) for a bad tag.
    """
    spans: list[Span] = []
    cur_label: str | None = None
    cur_start = cur_end = 0
    prev = -2
    known = _TAGS
    for i in [i for i, t in enumerate(tags) if t != "O"]:
        tag = tags[i]
        try:
            prefix, label = known[tag]
        except (KeyError, TypeError):
            try:
                prefix, label = parse_tag(tag)
            except ValueError:
                raise InvalidTag(tag, i) from None
        if cur_label is not None and (i != prev + 1 or prefix == "B" or prefix == "S" or label != cur_label):
            spans.append(Span(cur_start, cur_end, cur_label))
            cur_label = None
        prev = i
        if cur_label is None:
            cur_label = label
            cur_start = offsets[i][0]
        cur_end = offsets[i][1]
        if prefix == "E" or prefix == "S":
            spans.append(Span(cur_start, cur_end, cur_label))
            cur_label = None
    if cur_label is not None:
        spans.append(Span(cur_start, cur_end, cur_label))
    return spans


def words_to_offsets(words: Sequence[str], ws: Sequence[Any] | None = None) -> tuple[str, Offsets]:
    """Join pre-tokenised words into a text and the words' character offsets.

    Without ``ws`` words are joined by single spaces. ``ws`` may be a list of strings (the
    text following each word) or of booleans (spaCy's ``spaces``: one space or none).
    Raises TypeError for non-string words, ValueError if ``ws`` has the wrong length.
    """
    offsets: Offsets = []
    append = offsets.append
    if ws is None:
        text = " ".join(words)
        pos = 0
        for w in words:
            end = pos + len(w)
            append((pos, end))
            pos = end + 1
        return text, offsets
    if len(ws) != len(words):
        raise ValueError(f"'ws' has {len(ws)} entries for {len(words)} tokens")
    parts: list[str] = []
    pos = 0
    for w, after in zip(words, ws):
        if not isinstance(w, str):
            raise TypeError("tokens must be strings")
        if isinstance(after, bool):
            after = " " if after else ""
        elif not isinstance(after, str):
            raise TypeError("'ws' entries must be strings or booleans")
        end = pos + len(w)
        append((pos, end))
        parts.append(w)
        parts.append(after)
        pos = end + len(after)
    return "".join(parts), offsets


def trailing_ws(text: str, tokens: Sequence[tuple[int, int]]) -> list[str]:
    """The text between each token and the next (after the last: up to the end of the text)."""
    out = []
    for i, (_, end) in enumerate(tokens):
        nxt = tokens[i + 1][0] if i + 1 < len(tokens) else len(text)
        out.append(text[end:nxt])
    return out


def _blank_en():
    """The English pipeline (its vocab reads and writes .spacy files)."""
    return pipeline("en")


def tokenize(text: str, lang: str = "en") -> Offsets:
    """Token offsets from spaCy's blank tokenizer for ``lang``; whitespace tokens are left out."""
    doc = pipeline(lang).tokenizer(text)
    return [(t.idx, t.idx + len(t)) for t in doc if not t.is_space]


def aligned_tokens(record: DocRecord, *, with_predictions: bool = False, lang: str = "en") -> Offsets:
    """The record's tokens (tokenising its text in ``lang`` if it has none), split so that every
    span starts and ends on a token boundary."""
    tokens = list(record.tokens) if record.tokens is not None else tokenize(record.text, lang)
    spans = list(record.spans or [])
    if with_predictions:
        spans += record.predictions or []
    cuts = [p for s in spans for p in (s.start, s.end)]
    return split_tokens_at(tokens, cuts) if cuts else tokens


def span_token_range(
    tokens: Sequence[tuple[int, int]], span: Span, ends: list[int] | None = None, starts: list[int] | None = None
) -> tuple[int, int]:
    """Indices ``[first, last]`` (inclusive) of the tokens that overlap ``span``."""
    ends = ends if ends is not None else [e for _, e in tokens]
    starts = starts if starts is not None else [s for s, _ in tokens]
    first = bisect_right(ends, span.start)
    last = bisect_left(starts, span.end) - 1
    if first > last:
        raise ExportError(f"span {span.start}-{span.end} '{span.label}' covers no token")
    return first, last


def spans_to_tags(tokens: Sequence[tuple[int, int]], spans: Sequence[Span]) -> list[str]:
    """IOB2 tags for ``tokens``; each span tags the tokens it overlaps. Raises ExportError on overlaps."""
    tags = ["O"] * len(tokens)
    if not spans:
        return tags
    starts = [s for s, _ in tokens]
    ends = [e for _, e in tokens]
    for span in sorted(spans):
        first, last = span_token_range(tokens, span, ends, starts)
        if any(t != "O" for t in tags[first : last + 1]):
            raise ExportError(
                f"span {span.start}-{span.end} '{span.label}' overlaps another span; "
                "token tags cannot express overlapping entities"
            )
        tags[first] = "B-" + span.label
        for j in range(first + 1, last + 1):
            tags[j] = "I-" + span.label
    return tags


def check_aligned(tokens: Sequence[tuple[int, int]], spans: Sequence[Span]) -> Span | None:
    """The first span whose start or end is not a token boundary, or None."""
    if not spans:
        return None
    starts = {s for s, _ in tokens}
    ends = {e for _, e in tokens}
    for span in spans:
        if span.start not in starts or span.end not in ends:
            return span
    return None


def group_by_sentence(
    tokens: Sequence[tuple[int, int]], sentences: Sequence[tuple[int, int]] | None
) -> list[list[int]]:
    """Token indices grouped by sentence: a token belongs to the last sentence starting at or
    before it. Without sentences all tokens are one group. Empty groups are dropped."""
    if not sentences:
        return [list(range(len(tokens)))] if tokens else []
    sent_starts = sorted(s for s, _ in sentences)
    groups: dict[int, list[int]] = {}
    for i, (start, _) in enumerate(tokens):
        k = max(bisect_right(sent_starts, start) - 1, 0)
        groups.setdefault(k, []).append(i)
    return [groups[k] for k in sorted(groups)]
