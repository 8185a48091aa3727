"""spaCy DocBin (``.spacy``), as written by ``spacy convert`` and read by ``spacy train``.

Read: ``text``; ``tokens`` = the Doc's non-whitespace tokens; ``sentences`` (when the Doc has
sentence boundaries) = from the first to the last non-whitespace token of each sentence; ``spans``
= ``doc.ents``. The meta, annotator, status, predictions and whether the record was annotated at
all (``spans is None``) travel in ``doc.user_data["nerdesk"]`` (a JSON string); a DocBin written by another tool
has none, and its ``spans`` are ``doc.ents`` when the Doc has entity annotation, else None.

Write: a Doc per record built from the record's tokens (or spaCy's blank English tokenizer when it
has none), split at span boundaries; whitespace between tokens other than one space becomes
whitespace tokens, as spaCy does. Overlapping spans cannot be ``doc.ents`` (E115).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nerdesk.core._spacy import import_spacy
from nerdesk.core.errors import Errors, NerdeskError, err
from nerdesk.core.types import DocRecord, Span

from ._io import PathLike, check_file
from ._tokens import ExportError, _blank_en, aligned_tokens

KEY = "nerdesk"
#: A DocBin is one zlib stream that spaCy inflates whole; nerdesk inflates it first, in 1 MiB steps,
#: and refuses (E130) past this size (about 6 million tokens) instead of filling the memory.
MAX_INFLATED = 512 * 2**20


def _inflate(data: bytes, src: str, limit: int) -> bytearray:
    """``data`` inflated, or E130 as soon as the output passes ``limit`` bytes; a zlib error is E106."""
    d = zlib.decompressobj()
    out = bytearray()
    pending = data
    try:
        while not d.eof:
            chunk = d.decompress(pending, 2**20)
            pending = d.unconsumed_tail
            if not chunk and not pending:
                raise zlib.error("incomplete or truncated stream")
            out += chunk
            if len(out) > limit:
                raise err(Errors.E130, file=src, limit=_mib(limit), size=_mib(len(data)))
    except zlib.error as exc:
        raise err(Errors.E106, file=src, reason=f"not a spaCy DocBin (zlib: {exc})") from None
    return out


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def read(path: PathLike) -> Iterator[DocRecord]:
    """Stream the DocBin's Docs as DocRecords. A Doc that spaCy cannot rebuild, or whose
    ``user_data["nerdesk"]`` is not what nerdesk writes, is E125 naming the Doc ("doc 3")."""
    import_spacy()
    from spacy.tokens import DocBin

    p = check_file(path)
    src = str(p)
    data = p.read_bytes()
    if not data:
        raise err(Errors.E103, file=src)
    raw = _inflate(data, src, MAX_INFLATED)
    try:  # spaCy takes the zlib stream: hand it the checked bytes stored (level 0), not inflated again
        docbin = DocBin(store_user_data=True).from_bytes(zlib.compress(raw, 0))
    except Exception as exc:  # zlib / msgpack / key errors: not a DocBin
        raise err(Errors.E106, file=src, reason=f"not a spaCy DocBin ({type(exc).__name__}: {exc})") from None
    docs = docbin.get_docs(_blank_en().vocab)
    n = 0
    while True:
        n += 1
        try:
            doc = next(docs, None)
            if doc is None:
                return
            record = _record(doc, src, n)
        except NerdeskError:
            raise
        except Exception as exc:  # noqa: BLE001 - a corrupt DocBin fails inside spaCy in many ways
            raise _bad(src, n, f"spaCy cannot rebuild this Doc ({type(exc).__name__}: {exc})") from None
        yield record


def _bad(src: str, n: int, reason: str) -> NerdeskError:
    return err(Errors.E125, file=src, entry=f"doc {n}", reason=reason)


def _record(doc, src: str, n: int) -> DocRecord:
    extra = _extra(doc, src, n)
    tokens = [(t.idx, t.idx + len(t)) for t in doc if not t.is_space]
    sentences = None
    if doc.has_annotation("SENT_START"):
        sentences = []
        for sent in doc.sents:
            words = [t for t in sent if not t.is_space]
            if words:
                sentences.append((words[0].idx, words[-1].idx + len(words[-1])))
    if extra is not None:
        spans = [Span(e.start_char, e.end_char, e.label_) for e in doc.ents] if extra.get("annotated") else None
    else:
        extra = {}
        spans = [Span(e.start_char, e.end_char, e.label_) for e in doc.ents] if doc.has_annotation("ENT_IOB") else None
    predictions = extra.get("predictions")
    if predictions is not None:
        predictions = _predictions(predictions, len(doc.text), src, n)
    return DocRecord(
        text=doc.text,
        spans=spans,
        tokens=tokens,
        sentences=sentences,
        predictions=predictions,
        meta=dict(extra.get("meta") or {}),
        source=src,
        annotator=extra.get("annotator"),
        status=extra.get("status"),
    )


def _extra(doc, src: str, n: int) -> dict[str, Any] | None:
    """``user_data["nerdesk"]`` as a dict (None for a DocBin that another tool wrote)."""
    if KEY not in doc.user_data:
        return None
    raw = doc.user_data[KEY]
    if not isinstance(raw, str):
        raise _bad(src, n, f"user_data['{KEY}'] must be a JSON string, not {type(raw).__name__}")
    try:
        extra = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise _bad(src, n, f"user_data['{KEY}'] is not valid JSON ({reason})") from None
    if not isinstance(extra, dict):
        raise _bad(src, n, f"user_data['{KEY}'] must be a JSON object")
    if not isinstance(extra.get("meta") or {}, dict):
        raise _bad(src, n, "'meta' must be an object")
    return extra


def _predictions(items: Any, length: int, src: str, n: int) -> list[Span]:
    """``[[start, end, label, confidence], ...]`` checked: int offsets in the text, a label, a number."""
    if not isinstance(items, list):
        raise _bad(src, n, "'predictions' must be a list of [start, end, label, confidence]")
    out = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 4):
            raise _bad(src, n, f"prediction {item!r:.80} is not [start, end, label, confidence]")
        s, e, label, conf = item
        if type(s) is not int or type(e) is not int or not 0 <= s < e <= length:
            raise _bad(src, n, f"prediction offsets {s!r:.20}-{e!r:.20} are not in the text ({length} characters)")
        if not isinstance(label, str) or not label:
            raise _bad(src, n, f"prediction label must be a non-empty string, got {label!r:.80}")
        if conf is not None and (isinstance(conf, bool) or not isinstance(conf, (int, float))):
            raise _bad(src, n, f"prediction confidence must be a number, got {conf!r:.80}")
        out.append(Span(s, e, label, None if conf is None else float(conf)))
    return out


def record_to_doc(rec: DocRecord):
    import_spacy()
    from spacy.tokens import Doc

    text = rec.text
    tokens = aligned_tokens(rec)
    words: list[str] = []
    spaces: list[bool] = []
    starts: list[int] = []  # char offset of each spaCy token
    pos = 0

    def gap(upto: int) -> None:
        # text between tokens: one trailing space goes to the previous token, the rest is a token
        nonlocal pos
        g = text[pos:upto]
        if not g:
            return
        if g == " " and words and not spaces[-1]:
            spaces[-1] = True
        else:
            if g.endswith(" ") and len(g) > 1:
                words.append(g[:-1])
                spaces.append(True)
            else:
                words.append(g)
                spaces.append(False)
            starts.append(pos)
        pos = upto

    for s, e in tokens:
        gap(s)
        words.append(text[s:e])
        spaces.append(False)
        starts.append(s)
        pos = e
    gap(len(text))
    sent_starts: list[bool | int | None] | None = None  # spaCy's type for it
    if rec.sentences is not None:
        firsts = {s for s, _ in rec.sentences}
        sent_starts = [st in firsts or i == 0 for i, st in enumerate(starts)]
    doc = Doc(_blank_en().vocab, words=words, spaces=spaces, sent_starts=sent_starts)
    if doc.text != text:  # cannot happen unless the text has odd whitespace around tokens
        raise ExportError("the text cannot be rebuilt from its tokens")
    if rec.spans:
        ents = []
        for span in sorted(rec.spans):
            ent = doc.char_span(span.start, span.end, label=span.label)
            if ent is None:
                raise ExportError(f"span {span.start}-{span.end} does not align with tokens")
            ents.append(ent)
        try:
            doc.ents = ents
        except ValueError as exc:
            raise ExportError(f"overlapping spans cannot be doc.ents ({exc})") from None
    elif rec.spans is not None:
        doc.ents = []
    extra: dict[str, Any] = {"annotated": rec.spans is not None}
    if rec.meta:
        extra["meta"] = rec.meta
    if rec.annotator is not None:
        extra["annotator"] = rec.annotator
    if rec.status is not None:
        extra["status"] = rec.status
    if rec.predictions is not None:
        extra["predictions"] = [[s.start, s.end, s.label, s.confidence] for s in rec.predictions]
    # stored as JSON: msgpack would hand lists back as tuples
    doc.user_data[KEY] = json.dumps(extra, ensure_ascii=False)
    return doc


def write(records: Iterable[DocRecord], path: PathLike) -> None:
    import_spacy()
    from spacy.tokens import DocBin

    docbin = DocBin(store_user_data=True)
    for i, rec in enumerate(records):
        try:
            docbin.add(record_to_doc(rec))
        except ExportError as exc:
            raise err(Errors.E115, fmt="spacy", reason=f"{rec.source or f'document {i + 1}'}: {exc}") from None
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(docbin.to_bytes())
