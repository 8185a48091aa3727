"""CoNLL / IOB column files: one token per line, the tag in the last column, a blank line
between sentences, ``-DOCSTART-`` lines between documents.

Documents: if the file's first non-blank line is ``-DOCSTART-``, a document is the sentences
between two ``-DOCSTART-`` lines; otherwise every sentence is its own document (like the
one-sentence-per-line JSONL corpora). A document's text is its sentences joined by ``\\n``,
each sentence's tokens joined by single spaces; ``tokens`` and ``sentences`` keep the offsets.

Columns are split on tabs when the line has a tab (so a token may contain spaces), otherwise on
runs of whitespace; the token is the first column, the tag the last. IOB2, IOB1, BIOES and BILOU
are all read (E111 for anything else). A document whose lines all have one column is read as
unannotated (``spans is None``).

Writing: ``token<TAB>tag`` lines in IOB2, a blank line after each sentence, and (``docstart=True``,
the default) ``-DOCSTART-<TAB>O`` plus a blank line before each document. Records without tokens
are tokenised with spaCy's blank English tokenizer; tokens are split at span boundaries, and
touching tokens that meet inside a grapheme cluster (spaCy splits 🇫🇷, 👋🏽, 👩‍👩‍👧) are joined
again (see ``_graphemes``): a span edge inside a cluster cannot be kept and is refused (E129, naming
the document and the span). A token that holds a TAB or a line break, or that begins with
``-DOCSTART-``, is refused (E115). Records whose ``spans`` is None are written with the token
column only.

What a round trip (write, then read with ``docstart=True``) normalises: only whitespace, which
CoNLL cannot hold. A document's text comes back as its tokens joined by one space, its
sentences by ``\n``: each run of whitespace between two tokens of a sentence (spaces, TABs, CRLF,
line breaks) becomes one space, two touching tokens (``Paris,``, ``🇩🇪🇫🇷``: two clusters) get a space
between them, whitespace before the first token and after the last is dropped, and a sentence
break becomes ``\n``. The tokens (each kept whole), the labels and the tokens each span covers are
unchanged; span offsets move with the text.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from pathlib import Path

from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord, Span

from ._common import export_error
from ._graphemes import boundaries, whole_clusters
from ._io import (
    SNIFF_BYTES,
    PathLike,
    _check_head,
    check_file,
    check_line_ends,
    iter_text_lines,
    malformed,
    open_for_write,
)
from ._tokens import _TAGS, ExportError, aligned_tokens, group_by_sentence, parse_tag, spans_to_tags, tags_to_spans

DOCSTART = "-DOCSTART-"


def read(path: PathLike, *, spans: bool = True) -> Iterator[DocRecord]:
    """Stream DocRecords. Files without ``-DOCSTART-`` take a block-at-a-time fast path.
    ``spans=False`` skips decoding the tags (records get ``spans=None``): faster when only the
    text and tokens are wanted."""
    p = check_file(path)
    with open(p, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    _check_head(p, head)
    check_line_ends(p, head)
    first = next((ln for ln in head.decode("utf-8", "replace").lstrip("\ufeff").splitlines() if ln.strip()), "")
    if first.startswith(DOCSTART):
        return _read_lines(path, spans)
    return _read_blocks(p, spans)


def _read_blocks(p: Path, with_spans: bool = True) -> Iterator[DocRecord]:
    """One document per sentence. Sentences are cut at blank lines a 4 MB chunk at a time; a
    sentence whose lines are all ``token<TAB>tag`` with known tags is split with two C-level
    calls, anything else goes through the line parser (same checks, same errors)."""
    src = str(p)
    known = _TAGS
    decoder = codecs.getincrementaldecoder("utf-8")()
    buf = ""
    base = 0  # newlines before the current chunk
    seen = False
    start = True
    with open(p, "rb") as fh:
        while True:
            raw = fh.read(1 << 22)
            final = not raw
            try:
                buf += decoder.decode(raw, final)
            except UnicodeDecodeError:
                for _ in _read_lines(p):  # raises E104 with the line and byte position
                    pass
                raise
            if start:
                buf = buf.lstrip("\ufeff")
                start = False
            cut = len(buf) if final else buf.rfind("\n\n")
            if cut < 0:
                continue
            chunk, buf = buf[:cut], buf[cut:]
            for block in chunk.split("\n\n"):
                body = block.strip("\n")
                if body and not body.isspace():
                    seen = True
                    line = base + len(block) - len(block.lstrip("\n")) + 1
                    n = body.count("\n") + 1
                    if body.count("\t") == n and "\r" not in body and DOCSTART not in body:
                        parts = body.replace("\n", "\t").split("\t")
                        words, tags = parts[0::2], parts[1::2]
                        if "" not in words and known.keys() >= set(tags):
                            yield _build(src, [(words, tags)], line, with_spans)
                            base += block.count("\n") + 2
                            continue
                    for sent, sline in _sentences(src, body.split("\n"), line):
                        yield _build(src, [sent], sline, with_spans)
                base += block.count("\n") + 2
            base -= 2  # the chunk's last block had no separator inside the chunk
            if final:
                break
    if not seen:
        raise err(Errors.E103, file=src)


def _sentences(src: str, lines: list[str], first_line: int) -> Iterator[tuple[tuple[list[str], list], int]]:
    """The general line parser for one block (blank or -DOCSTART- lines separate sentences)."""
    words: list[str] = []
    tags: list[str | None] = []
    sent_line = first_line
    for lineno, line in enumerate(lines, start=first_line):
        s = line.rstrip("\r")
        if not s or s.isspace() or s.startswith(DOCSTART):
            if words:
                yield (words, tags), sent_line
                words, tags = [], []
            continue
        if not words:
            sent_line = lineno
        _add_token(src, s, lineno, words, tags)
    if words:
        yield (words, tags), sent_line


def _add_token(src: str, s: str, lineno: int, words: list[str], tags: list[str | None]) -> None:
    """Append a token line's word and tag (None without a tag column); every line alike."""
    word, tag = _columns(src, s, lineno)
    if tags and (tags[-1] is None) != (tag is None):
        raise malformed(src, lineno, "expected the same number of columns (token and tag) on every line")
    words.append(word)
    tags.append(tag)


def _columns(src: str, s: str, lineno: int) -> tuple[str, str | None]:
    parts = s.split("\t") if "\t" in s else s.split()
    if len(parts) == 1:
        tag = None
        word = parts[0].strip()
    else:
        word = parts[0]
        tag = parts[-1].strip()
        if tag not in _TAGS:
            try:
                parse_tag(tag)
            except ValueError:
                raise err(Errors.E111, file=src, line=lineno, tag=tag) from None
    if not word:
        raise malformed(src, lineno, "empty token")
    return word, tag


def _build(src: str, sentences, line, with_spans: bool = True) -> DocRecord:
    text_parts: list[str] = []
    tokens: list[tuple[int, int]] = []
    sent_offsets: list[tuple[int, int]] = []
    spans: list[Span] = []
    annotated = None
    pos = 0
    for ws, ts in sentences:
        start = pos
        first = len(tokens)
        for w in ws:
            end = pos + len(w)
            tokens.append((pos, end))
            pos = end + 1
        sent_offsets.append((start, pos - 1))
        text_parts.append(" ".join(ws))
        has = ts[0] is not None
        if annotated is None:
            annotated = has
        elif annotated != has:
            raise malformed(src, line, "some sentences of this document have tags and some do not")
        if has and with_spans and ts.count("O") != len(ts):
            spans.extend(tags_to_spans(ts, tokens[first:]))
    return DocRecord(
        text="\n".join(text_parts),
        spans=spans if annotated and with_spans else None,
        tokens=tokens,
        sentences=sent_offsets,
        source=src,
        line=line,
    )


def _read_lines(path: PathLike, with_spans: bool = True) -> Iterator[DocRecord]:
    src = str(path)
    per_doc: bool | None = None  # decided by the first non-blank line
    sents: list[tuple[list[str], list[str | None]]] = []
    doc_line = 0
    words: list[str] = []
    tags: list[str | None] = []
    sent_line = 0
    seen = False

    for lineno, line in iter_text_lines(path):
        s = line.rstrip("\r\n")
        if not s or s.isspace():
            if words:
                sents.append((words, tags))
                words, tags = [], []
                if not per_doc:
                    yield _build(src, sents, sent_line, with_spans)
                    sents = []
            continue
        seen = True
        if s.startswith(DOCSTART):
            if per_doc is None:
                per_doc = True
            if words:
                sents.append((words, tags))
                words, tags = [], []
            if sents:
                yield _build(src, sents, doc_line if per_doc else sent_line, with_spans)
                sents = []
            doc_line = lineno
            continue
        if per_doc is None:
            per_doc = False
        if not words:
            sent_line = lineno
        _add_token(src, s, lineno, words, tags)
    if words:
        sents.append((words, tags))
    if sents:
        yield _build(src, sents, doc_line if per_doc else sent_line, with_spans)
    if not seen:
        raise err(Errors.E103, file=src)


def write(records: Iterable[DocRecord], path: PathLike, *, docstart: bool = True) -> None:
    with open_for_write(path) as fh:
        for i, rec in enumerate(records):
            text = rec.text
            try:
                tokens, joined = whole_clusters(text, aligned_tokens(rec))
                if joined and rec.spans:
                    _check_cluster_edges(rec, i, tokens, joined)
                tags = spans_to_tags(tokens, rec.spans) if rec.spans is not None else None
            except ExportError as exc:
                raise export_error("conll", rec, i, exc) from None
            lines: list[str] = []
            if docstart:
                lines.append(f"{DOCSTART}\tO\n\n")
            for group in group_by_sentence(tokens, rec.sentences):
                for j in group:
                    s, e = tokens[j]
                    word = text[s:e]
                    if "\n" in word or "\t" in word or "\r" in word or word.isspace() or word.startswith(DOCSTART):
                        name = rec.source or f"document {i + 1}"
                        why = (
                            "would be read as a document break"
                            if word.startswith(DOCSTART)
                            else "contains a tab or line break"
                        )
                        raise err(Errors.E115, fmt="conll", reason=f"{name}: token {word!r} {why}")
                    lines.append(f"{word}\t{tags[j]}\n" if tags is not None else f"{word}\n")
                lines.append("\n")
            fh.write("".join(lines))


def _check_cluster_edges(rec: DocRecord, i: int, tokens: list[tuple[int, int]], joined: list[int]) -> None:
    """E129 for a span whose edge is where two tokens were joined (inside a grapheme cluster)."""
    cut = set(joined)
    for span in sorted(rec.spans or ()):
        edge = span.start if span.start in cut else span.end if span.end in cut else None
        if edge is None:
            continue
        a, b = next(t for t in tokens if t[0] < edge < t[1])
        bounds = list(boundaries(rec.text, a, b))
        first = max(x for x in bounds if x < edge)
        last = min(x for x in bounds if x > edge)
        doc = f"document {i + 1}" + (f" ({rec.source})" if rec.source else "")
        raise err(
            Errors.E129,
            fmt="conll",
            doc=doc,
            start=span.start,
            end=span.end,
            label=span.label,
            text=rec.text[span.start : span.end],
            cluster=rec.text[first:last],
        )
