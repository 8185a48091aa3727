"""JSON Lines: one document per line.

Two shapes are read:

* text: ``{"text": ..., "spans": [{"start", "end", "label"}], "meta": {...}}``. ``spans`` absent
  means "not annotated" (``DocRecord.spans is None``); ``[]`` means annotated, no entities.
  ``tokens`` may be given as ``[[start, end], ...]`` character offsets.
* pre-tokenised: ``{"tokens": [...], "tags": [...], "meta": {...}}``. Tags may be IOB2, IOB1,
  BIOES or BILOU; all become spans. The text is the tokens joined by single spaces, unless
  ``ws`` (the string after each token) or ``spaces`` (spaCy's booleans) is given. ``tokens``
  keeps the tokens' exact offsets and ``sentences`` is ``[(0, len(text))]``.
  ``spans`` (character offsets into that text) may be given instead of ``tags``; they must
  align with the tokens (E108).

Optional keys in both shapes: ``sentences`` ([[start, end], ...]), ``predictions`` (like
``spans``, with ``confidence``), ``annotator``, ``status``. Any other key is put in ``meta``.

Writing is deterministic, so that read -> write -> read gives identical records:
a record with tokens is written pre-tokenised (``tokens`` + ``tags`` in IOB2 when it has spans,
``ws`` only when the text is not the single-space join, ``sentences`` only when they differ from
the whole text); tokens are split where a span boundary falls inside one. A record whose text
has characters before its first token, or whose spans tags cannot express exactly (overlaps, an
edge in whitespace), is written in the text shape with ``tokens`` as offsets.
A record without tokens is written as ``{"text", "spans", "meta"}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord, Span

from ._common import converted, iter_json_lines, parse_span_list, span_dict, write_json_lines
from ._io import PathLike, malformed
from ._tokens import (
    _TAGS,
    ExportError,
    InvalidTag,
    aligned_tokens,
    check_aligned,
    spans_to_tags,
    tags_to_spans,
    trailing_ws,
    words_to_offsets,
)

_KNOWN = frozenset(
    {"text", "tokens", "tags", "ws", "spaces", "spans", "meta", "sentences", "predictions", "annotator", "status"}
)


def read(path: PathLike, *, spans: bool = True) -> Iterator[DocRecord]:
    """Stream DocRecords, one per non-blank line (``line`` = the line number). ``spans=False``
    skips decoding ``tags`` on the fast path (records get ``spans=None``)."""
    src = str(path)
    for lineno, obj in iter_json_lines(path):
        # fast path for the common {"tokens": [...], "tags": [...]} line (same result as the general one)
        if len(obj) == 2 and "tags" in obj:
            words = obj.get("tokens")
            tags = obj["tags"]
            if type(words) is list and type(tags) is list and len(words) == len(tags):
                try:
                    text = " ".join(words)
                except TypeError:
                    pass
                else:
                    offsets: list[tuple[int, int]] = []
                    append = offsets.append
                    pos = 0
                    for w in words:
                        end = pos + len(w)
                        append((pos, end))
                        pos = end + 1
                    if not spans and _known_tags(tags):  # valid, and not wanted: not decoded
                        found = None
                    elif tags.count("O") == len(tags):
                        found = []
                    else:
                        try:
                            found = tags_to_spans(tags, offsets)
                        except InvalidTag as exc:
                            raise err(
                                Errors.E111,
                                file=src,
                                line=lineno,
                                tag=exc.tag,
                                details=f"token {exc.index + 1} ({words[exc.index]!r})",
                            ) from None
                    # positional for speed: text, spans, tokens, sentences, predictions, meta, source, line
                    yield DocRecord(text, found if spans else None, offsets, [(0, len(text))], None, {}, src, lineno)
                    continue
        yield record_from_obj(obj, src, lineno)


def _known_tags(tags: list[Any]) -> bool:
    try:
        return _TAGS.keys() >= set(tags)
    except TypeError:  # a list or an object among them: tags_to_spans names it (E111)
        return False


def _offset_pairs(items: Any, text: str, path: str, line: int) -> list[tuple[int, int]]:
    out = []
    for item in items:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and type(item[0]) is int and type(item[1]) is int):
            raise malformed(path, line, f"'tokens' with 'text' must be [start, end] pairs, got {item!r}")
        s, e = item
        if not 0 <= s <= e <= len(text):
            raise err(Errors.E107, file=path, line=line, start=s, end=e, length=len(text))
        out.append((s, e))
    return out


def record_from_obj(obj: dict[str, Any], path: str, line: int) -> DocRecord:
    """One JSONL object as a DocRecord (errors name ``path`` and ``line``)."""
    words = obj.get("tokens")
    tokens = None
    sentences = None
    spans = None
    if "text" in obj:
        text = obj["text"]
        if not isinstance(text, str):
            raise malformed(path, line, "'text' must be a string")
        if words is not None:
            if not isinstance(words, list):
                raise malformed(path, line, "'tokens' must be a list")
            tokens = _offset_pairs(words, text, path, line)
        if "tags" in obj:
            raise malformed(path, line, "'tags' needs 'tokens' as a list of strings, not 'text'")
    elif words is not None:
        if type(words) is not list:
            raise malformed(path, line, "'tokens' must be a list of strings")
        ws = obj.get("ws", obj.get("spaces"))
        try:
            text, tokens = words_to_offsets(words, ws)
        except TypeError as exc:
            raise malformed(path, line, str(exc).replace("sequence item", "token")) from None
        except ValueError as exc:
            raise malformed(path, line, str(exc)) from None
        sentences = [(0, len(text))]
        tags = obj.get("tags")
        if tags is not None:
            if type(tags) is not list:
                raise malformed(path, line, "'tags' must be a list")
            if len(tags) != len(words):
                raise err(Errors.E110, file=path, line=line, tokens=len(words), tags=len(tags))
            try:
                spans = tags_to_spans(tags, tokens)
            except InvalidTag as exc:
                raise err(
                    Errors.E111,
                    file=path,
                    line=line,
                    tag=exc.tag,
                    details=f"token {exc.index + 1} ({words[exc.index]!r})",
                ) from None
    else:
        raise err(Errors.E114, file=path, line=line, field="text' or 'tokens")

    if "spans" in obj:
        if spans is not None:
            raise malformed(path, line, "give either 'tags' or 'spans', not both")
        spans = parse_span_list(text, obj["spans"], path, line)
        if tokens is not None:
            _check_alignment(text, tokens, spans, path, line)
    if "sentences" in obj:
        sents = obj["sentences"]
        if not isinstance(sents, list):
            raise malformed(path, line, "'sentences' must be a list of [start, end]")
        sentences = _offset_pairs(sents, text, path, line)
    predictions = None
    if "predictions" in obj:
        predictions = parse_span_list(text, obj["predictions"], path, line, "predictions")
    meta = obj.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise malformed(path, line, "'meta' must be an object")
    if len(obj) > 2:
        extra = [k for k in obj if k not in _KNOWN]
        if extra:
            meta = dict(meta)
            for k in extra:
                meta[k] = obj[k]
    return DocRecord(
        text=text,
        spans=spans,
        tokens=tokens,
        sentences=sentences,
        predictions=predictions,
        meta=meta,
        source=path,
        line=line,
        annotator=obj.get("annotator"),
        status=obj.get("status"),
    )


def _check_alignment(text, tokens, spans, path, line) -> None:
    bad = check_aligned(tokens, spans)
    if bad is not None:
        raise err(Errors.E108, file=path, line=line, start=bad.start, end=bad.end, text=text[bad.start : bad.end])


def record_to_obj(record: DocRecord) -> dict[str, Any]:
    """The JSONL object for a record (see the module docstring for the convention)."""
    text = record.text
    obj: dict[str, Any]
    tags = None
    pretokenised = record.tokens is not None and (not record.tokens or record.tokens[0][0] == 0)
    if pretokenised and record.spans:
        tokens = aligned_tokens(record)
        try:
            tags = spans_to_tags(tokens, record.spans)
        except ExportError:  # overlapping spans: tags cannot say it, the text shape can
            pretokenised = False
        else:  # a span edge in whitespace would move: keep exact offsets instead
            pretokenised = tags_to_spans(tags, tokens) == sorted(Span(s.start, s.end, s.label) for s in record.spans)
    if pretokenised:
        tokens = aligned_tokens(record)
        obj = {"tokens": [text[s:e] for s, e in tokens]}
        if record.spans is not None:
            obj["tags"] = tags if tags is not None else ["O"] * len(tokens)
        ws = trailing_ws(text, tokens)
        if not tokens:
            if text:
                obj = {"text": text, "tokens": []}
        elif ws[-1] != "" or any(w != " " for w in ws[:-1]):
            obj["ws"] = ws
        if record.sentences is not None and list(record.sentences) != [(0, len(text))]:
            obj["sentences"] = [list(s) for s in record.sentences]
        if "text" in obj and record.spans is not None:
            obj["spans"] = [span_dict(s) for s in record.spans]
    else:
        obj = {"text": text}
        if record.tokens is not None:
            obj["tokens"] = [list(t) for t in record.tokens]
        if record.spans is not None:
            obj["spans"] = [span_dict(s) for s in record.spans]
        if record.sentences is not None:
            obj["sentences"] = [list(s) for s in record.sentences]
    if record.predictions is not None:
        obj["predictions"] = [span_dict(s) for s in record.predictions]
    if record.annotator is not None:
        obj["annotator"] = record.annotator
    if record.status is not None:
        obj["status"] = record.status
    if record.meta:
        obj["meta"] = record.meta
    return obj


def write(records: Iterable[DocRecord], path: PathLike) -> None:
    """Write one JSON object per record (UTF-8, not ASCII-escaped, ``\\n`` line ends)."""
    write_json_lines(converted(records, "jsonl", record_to_obj), path)
