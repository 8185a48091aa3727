"""Prodigy JSONL (``ner_manual`` / ``spans.manual`` style tasks).

Read: ``text``; ``tokens`` ``[{text, start, end, id, ws}]`` -> ``DocRecord.tokens``;
``spans`` ``[{start, end, token_start, token_end, label}]`` -> spans. Prodigy's ``token_end`` is
INCLUSIVE; when tokens are given, ``token_start``/``token_end`` must point at the tokens that
start and end the span, and a span must align with the tokens (E108). ``answer`` accept /
reject / ignore -> ``status`` accepted / rejected / ignored; ``_annotator_id`` -> ``annotator``;
``meta`` -> meta. Prodigy's bookkeeping keys (``_input_hash``, ``_task_hash``, ``_view_id``,
``_session_id``, ``_timestamp``, ``_is_binary``) are kept in ``meta["_prodigy"]`` and written back
at the top level; any other key goes to ``meta``.

Write: tokens are always written (tokenised with spaCy's blank English tokenizer when the record
has none, and split at span boundaries), spans with ``token_start``/``token_end`` (inclusive).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord

from ._common import converted, iter_json_lines, make_span, required_text, write_json_lines
from ._io import PathLike, malformed, missing_field
from ._tokens import aligned_tokens, span_token_range

ANSWERS = {"accept": "accepted", "reject": "rejected", "ignore": "ignored"}
STATUSES = {v: k for k, v in ANSWERS.items()}
BOOKKEEPING = ("_input_hash", "_task_hash", "_view_id", "_session_id", "_timestamp", "_is_binary")
_KNOWN = frozenset({"text", "tokens", "spans", "answer", "meta", "_annotator_id", *BOOKKEEPING})


def read(path: PathLike) -> Iterator[DocRecord]:
    src = str(path)
    for lineno, obj in iter_json_lines(path):
        yield _record(obj, src, lineno)


def _int(v: Any, what: str, path: str, line: int) -> int:
    if type(v) is not int:
        raise malformed(path, line, f"{what} must be an integer, got {v!r}")
    return v


def _record(obj: dict[str, Any], path: str, line: int) -> DocRecord:
    text = required_text(obj, path, line)
    tokens = None
    if "tokens" in obj:
        if not isinstance(obj["tokens"], list):
            raise malformed(path, line, "'tokens' must be a list")
        tokens = []
        for t in obj["tokens"]:
            if not isinstance(t, dict):
                raise malformed(path, line, f"token must be an object, got {t!r}")
            for f in ("start", "end"):
                if f not in t:
                    raise missing_field(path, line, f"tokens[].{f}")
            s, e = _int(t["start"], "token start", path, line), _int(t["end"], "token end", path, line)
            if not 0 <= s <= e <= len(text):
                raise err(Errors.E107, file=path, line=line, start=s, end=e, length=len(text))
            tokens.append((s, e))
    spans = None
    if "spans" in obj:
        if not isinstance(obj["spans"], list):
            raise malformed(path, line, "'spans' must be a list")
        spans = []
        starts = {s: i for i, (s, _) in enumerate(tokens or [])}
        ends = {e: i for i, (_, e) in enumerate(tokens or [])}
        for item in obj["spans"]:
            if not isinstance(item, dict):
                raise malformed(path, line, f"span must be an object, got {item!r}")
            for f in ("start", "end", "label"):
                if f not in item:
                    raise missing_field(path, line, f"spans[].{f}")
            span = make_span(text, item["start"], item["end"], item["label"], path, line, item.get("score"))
            if tokens is not None:
                ts, te = starts.get(span.start), ends.get(span.end)
                given_ts, given_te = item.get("token_start", ts), item.get("token_end", te)
                if ts is None or te is None or given_ts != ts or given_te != te:
                    raise err(
                        Errors.E108,
                        file=path,
                        line=line,
                        start=span.start,
                        end=span.end,
                        text=text[span.start : span.end],
                        details=(
                            f"token_start={item.get('token_start')}, token_end={item.get('token_end')} "
                            "(token_end is inclusive)"
                        ),
                    )
            spans.append(span)
    answer = obj.get("answer")
    if answer is not None and (not isinstance(answer, str) or answer not in ANSWERS):
        raise malformed(path, line, f"'answer' must be accept, reject or ignore, got {answer!r}")
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise malformed(path, line, "'meta' must be an object")
    meta = dict(meta)
    book = {k: obj[k] for k in BOOKKEEPING if k in obj}
    if book:
        meta["_prodigy"] = book
    for k in obj:
        if k not in _KNOWN:
            meta[k] = obj[k]
    annotator = obj.get("_annotator_id")
    return DocRecord(
        text=text,
        spans=spans,
        tokens=tokens,
        meta=meta,
        source=path,
        line=line,
        annotator=None if annotator is None else str(annotator),
        status=ANSWERS.get(answer) if answer is not None else None,
    )


def record_to_task(rec: DocRecord) -> dict[str, Any]:
    text = rec.text
    tokens = aligned_tokens(rec)
    task: dict[str, Any] = {"text": text}
    task["tokens"] = [
        {
            "text": text[s:e],
            "start": s,
            "end": e,
            "id": i,
            "ws": (tokens[i + 1][0] if i + 1 < len(tokens) else len(text)) > e,
        }
        for i, (s, e) in enumerate(tokens)
    ]
    if rec.spans is not None:
        starts = [s for s, _ in tokens]
        ends = [e for _, e in tokens]
        out = []
        for span in sorted(rec.spans):
            ts, te = span_token_range(tokens, span, ends, starts)
            d: dict[str, Any] = {
                "start": span.start,
                "end": span.end,
                "token_start": ts,
                "token_end": te,
                "label": span.label,
            }
            if span.confidence is not None:
                d["score"] = span.confidence
            out.append(d)
        task["spans"] = out
    meta = dict(rec.meta)
    book = meta.pop("_prodigy", None)
    task["meta"] = meta
    if rec.status in STATUSES:
        task["answer"] = STATUSES[rec.status]
    if rec.annotator is not None:
        task["_annotator_id"] = rec.annotator
    if isinstance(book, dict):
        task.update(book)
    return task


def write(records: Iterable[DocRecord], path: PathLike) -> None:
    write_json_lines(converted(records, "prodigy", record_to_task), path)
