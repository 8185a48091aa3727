"""Property tests: every round-trippable format keeps every character (issue 13, deliverable 5).

Documents are drawn from words that mix ASCII, emoji (a flag, a ZWJ family, a skin tone, a keycap),
combining marks, Hebrew and Arabic, CJK (with the astral 𠮷) and a sentence-ending ".", separated
by spaces, TABs, LF and CRLF; spans (PER/ORG/LOC) are put on them; each document set is imported
into a project, exported to the format through the project API, imported into a fresh project,
and both projects' texts and spans (start, end, label, surface text) compared.

Every format but CoNLL must give back exactly the same. CoNLL holds tokens and tags, not
whitespace, so it must give back exactly :func:`conll_view` of the first project: the documented
normalisation (see nerdesk/core/formats/conll.py), whitespace between tokens one space, sentence
breaks a line break, and nothing else. A span edge inside a grapheme cluster (drawn by the second
property) is refused by CoNLL with E129; every other format keeps it.

Deterministic (``derandomize``): 25 examples a format for the first property, 15 for the second, by
default (about 25 s in all); ``NERDESK_FUZZ_CASES=N`` takes N of each.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nerdesk.core.errors import NerdeskError
from nerdesk.core.types import DocRecord, Span

from .test_roundtrip_cases import content, new_project, out_path, round_trip

FORMATS = ["jsonl", "conll", "prodigy", "labelstudio", "spacy", "brat", "doccano"]  # tests/cli ROUND_TRIP_FORMATS
LABELS = ["PER", "ORG", "LOC"]
#: examples per format and property (``NERDESK_FUZZ_CASES=500 pytest ...`` for a long run)
CASES = int(os.environ.get("NERDESK_FUZZ_CASES") or 0)


def _settings(default: int):
    return settings(
        max_examples=CASES or default,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


# each word as its grapheme clusters (the generator knows where a cluster may not be cut)
WORDS: list[tuple[str, ...]] = [
    ("A", "n", "n"),
    ("B", "o", "b"),
    ("P", "a", "r", "i", "s"),
    ("A", "C", "M", "E"),
    ("m", "e", "t"),
    ("🇫🇷",),
    ("👩\u200d👩\u200d👧",),
    ("👋🏽",),
    ("😀",),
    ("1\ufe0f\u20e3",),
    ("e\u0301",),
    ("R", "e", "n", "e\u0301", "e"),
    ("c", "a", "f", "e\u0301"),
    ("Z", "o", "e\u0308"),
    ("ש", "ל", "ו", "ם"),
    ("י", "ר", "ו", "ש", "ל", "י", "ם"),
    ("م", "ر", "ح", "ب", "ا"),
    ("ا", "ل", "ق", "ا", "ه", "ر", "ة"),
    ("東", "京"),
    ("𠮷", "野", "家"),
    ("北", "京"),
    ("𠮷",),
    (".",),
]
SEPARATORS = [" ", " ", " ", "  ", "\t", " \t ", "\n", "\r\n", "\r\n\r\n"]


@st.composite
def documents(draw, inside_words: bool = False) -> tuple[str, list[Span], set[int]]:
    """A text, its spans, and the positions inside a grapheme cluster. Spans are on word
    boundaries, or (``inside_words``) at any code point inside or between words."""
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=10))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words) + 1, max_size=len(words) + 1))
    seps[0] = draw(st.sampled_from(["", "", " ", "\t", "\r\n"]))
    seps[-1] = draw(st.sampled_from(["", "", " ", "\n", "\r\n"]))
    text, bounds, inside = seps[0], [], set()
    for word, sep in zip(words, seps[1:]):
        start = len(text)
        for cluster in word:
            inside.update(range(len(text) + 1, len(text) + len(cluster)))
            text += cluster
        bounds.append((start, len(text)))
        text += sep
    spans = []
    if not inside_words:  # per word: outside, a new span, or the span goes on
        marks = draw(
            st.lists(
                st.sampled_from([None, None, "PER", "ORG", "LOC", "+", "+"]), min_size=len(words), max_size=len(words)
            )
        )
        going = False  # the previous word ends a span
        for (s, e), mark in zip(bounds, marks):
            if mark == "+" and going:
                spans[-1] = Span(spans[-1].start, e, spans[-1].label)
            elif mark in LABELS:
                spans.append(Span(s, e, mark))
                going = True
            else:
                going = False
    else:  # edges at any non-whitespace position, consecutive pairs of them
        edges = [
            i
            for i in range(len(text) + 1)
            if (i < len(text) and not text[i].isspace()) or (i and not text[i - 1].isspace())
        ]
        cuts = draw(st.lists(st.sampled_from(edges), max_size=6, unique=True))
        cuts.sort()
        for a, b in zip(cuts[::2], cuts[1::2]):
            if a < len(text) and not text[a].isspace() and not text[b - 1].isspace():
                spans.append(Span(a, b, draw(st.sampled_from(LABELS))))
    return text, spans, inside


def corpora(inside_words: bool = False):
    # texts that CoNLL would make equal would be one document there: keep them apart
    return st.lists(documents(inside_words), min_size=1, max_size=3, unique_by=lambda d: " ".join(d[0].split()))


def conll_view(project) -> list:
    """The project's content as CoNLL gives it back: per sentence (segment), its tokens (the
    whitespace-separated words, cut at span edges) joined by one space; sentences joined by a line
    break; span offsets carried over."""
    out = []
    for rec in project.export_records():
        text, spans = rec.text, rec.spans or []
        edges = sorted({p for s in spans for p in (s.start, s.end)})
        new, starts, ends = "", {}, {}
        for k, (a, b) in enumerate(rec.sentences):
            sep = "\n" if k else ""
            for m in re.finditer(r"\S+", text[a:b]):
                s, e = a + m.start(), a + m.end()
                cuts = [s, *(p for p in edges if s < p < e), e]
                for x, y in pairwise(cuts):
                    new += sep
                    sep = " "
                    starts[x] = len(new)
                    new += text[x:y]
                    ends[y] = len(new)
        out.append(
            (new, sorted((starts[s.start], ends[s.end], s.label, new[starts[s.start] : ends[s.end]]) for s in spans))
        )
    return sorted(out)


def labelstudio_as_a_browser_reads_it(path: Path) -> None:
    """Each result's offsets, counted in UTF-16 code units as JavaScript does, cover its text."""
    for task in json.loads(path.read_text(encoding="utf-8")):
        units = task["data"]["text"].encode("utf-16-le")
        for item in [r for a in task["annotations"] + task["predictions"] for r in a["result"]]:
            v = item["value"]
            assert units[2 * v["start"] : 2 * v["end"]].decode("utf-16-le") == v["text"]


def _records(corpus) -> list[DocRecord]:
    return [DocRecord(text=t, spans=list(spans)) for t, spans, _ in corpus]


@pytest.mark.parametrize("fmt", FORMATS)
@_settings(25)
@given(corpus=corpora())
def test_round_trip_keeps_every_character(fmt, corpus):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with new_project(folder, "a", _records(corpus)) as a:
            before = conll_view(a) if fmt == "conll" else content(a)
            after = round_trip(folder, fmt, a)
        if fmt == "labelstudio":
            labelstudio_as_a_browser_reads_it(out_path(folder, fmt))
    assert after == before


@pytest.mark.parametrize("fmt", FORMATS)
@_settings(15)
@given(corpus=corpora(inside_words=True))
def test_span_edges_anywhere_are_kept_or_refused(fmt, corpus):
    """Span edges at any code point: kept by all formats, but for CoNLL one inside a grapheme
    cluster is refused with E129 (and only then)."""
    cut_cluster = any(p in inside for _, spans, inside in corpus for s in spans for p in (s.start, s.end))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with new_project(folder, "a", _records(corpus)) as a:
            before = conll_view(a) if fmt == "conll" else content(a)
            if fmt == "conll" and cut_cluster:
                with pytest.raises(NerdeskError) as e:
                    round_trip(folder, fmt, a)
                assert e.value.code == "E129"
                return
            after = round_trip(folder, fmt, a)
    assert after == before
