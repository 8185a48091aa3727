"""Span parsing and checks shared by the JSON-based readers."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord, Span

from ._io import PathLike, iter_raw_lines, malformed, missing_field, not_utf8
from ._tokens import ExportError


_fast_loads: Callable[[bytes], Any]
try:  # spaCy's bundled ujson parses about twice as fast; json.loads stays the arbiter on failure
    from srsly import ujson as _ujson

    _fast_loads = functools.partial(_ujson.loads, precise_float=True)
except ImportError:  # pragma: no cover - srsly comes with spaCy
    _fast_loads = json.loads


def make_span(
    text: str, start: Any, end: Any, label: Any, path: PathLike, line: int | None, confidence: Any = None
) -> Span:
    """A checked Span: integer offsets (E106), a label (E106), inside the text (E107)."""
    if type(start) is not int or type(end) is not int:
        raise malformed(path, line, f"span offsets must be integers, got {start!r}, {end!r}")
    if not isinstance(label, str) or not label:
        raise malformed(path, line, f"span label must be a non-empty string, got {label!r}")
    if not 0 <= start < end <= len(text):
        raise err(Errors.E107, file=str(path), line=line, start=start, end=end, length=len(text))
    if confidence is not None and not isinstance(confidence, (int, float)):
        raise malformed(path, line, f"span score must be a number, got {confidence!r}")
    return Span(start, end, label, None if confidence is None else float(confidence))


def parse_span_list(
    text: str,
    items: Any,
    path: PathLike,
    line: int | None,
    key: str = "spans",
    fields: tuple[str, str, str] = ("start", "end", "label"),
) -> list[Span]:
    """``[{"start", "end", "label"[, "confidence"|"score"]}, ...]`` or ``[[start, end, label], ...]``
    (``fields`` names the objects' keys: doccano says start_offset, end_offset)."""
    if not isinstance(items, list):
        raise malformed(path, line, f"'{key}' must be a list")
    spans = []
    for item in items:
        if isinstance(item, dict):
            for f in fields:
                if f not in item:
                    raise missing_field(path, line, f"{key}[].{f}")
            conf = item.get("confidence", item.get("score"))
            start, end, label = (item[f] for f in fields)
            spans.append(make_span(text, start, end, label, path, line, conf))
        elif isinstance(item, (list, tuple)) and len(item) in (3, 4):
            start, end, label = item[:3]
            spans.append(make_span(text, start, end, label, path, line, item[3] if len(item) == 4 else None))
        else:
            raise malformed(path, line, f"'{key}' entries must be objects or [start, end, label], got {item!r}")
    return spans


def span_dict(span: Span) -> dict[str, Any]:
    d: dict[str, Any] = {"start": span.start, "end": span.end, "label": span.label}
    if span.confidence is not None:
        d["confidence"] = span.confidence
    return d


def iter_json_lines(path: PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream ``(line_number, object)`` from a JSONL file; blank lines are skipped.

    E103 if it holds no object at all, E104 for bad UTF-8 (byte position), E106 for bad JSON
    (nested too deeply included) or a line that is not a JSON object.
    """
    seen = False
    fast = _fast_loads
    loads = json.loads
    for lineno, offset, raw in iter_raw_lines(path):
        if raw.isspace():
            continue
        try:
            obj = fast(raw)
        except Exception:  # noqa: BLE001 - re-parse with json for its exact error (or its extensions)
            try:
                obj = loads(raw)
            except UnicodeDecodeError as exc:
                raise not_utf8(path, exc, offset, lineno) from None
            except ValueError as exc:
                raise malformed(path, lineno, f"invalid JSON ({exc})") from None
            except RecursionError:
                raise malformed(path, lineno, "invalid JSON (nested too deeply)") from None
        if type(obj) is not dict:
            raise malformed(path, lineno, f"expected a JSON object, got {type(obj).__name__}")
        seen = True
        yield lineno, obj
    if not seen:
        raise err(Errors.E103, file=str(path))


def write_json_lines(objects: Iterable[dict[str, Any]], path: PathLike) -> None:
    from ._io import open_for_write

    dumps = json.dumps
    with open_for_write(path) as fh:
        for obj in objects:
            fh.write(dumps(obj, ensure_ascii=False))
            fh.write("\n")


def converted(records: Iterable[DocRecord], fmt: str, convert: Any) -> Iterator[Any]:
    """``convert(record)`` for each record; a record the format cannot hold raises E115 naming it."""
    for i, rec in enumerate(records):
        try:
            yield convert(rec)
        except ExportError as exc:
            raise export_error(fmt, rec, i, exc) from None


def required_text(obj: dict[str, Any], path: PathLike, line: int) -> str:
    """The object's ``text``: missing or not a string is an error naming the file and line."""
    if "text" not in obj:
        raise missing_field(str(path), line, "text")
    if not isinstance(obj["text"], str):
        raise malformed(str(path), line, "'text' must be a string")
    return obj["text"]


def export_error(fmt: str, record: DocRecord, index: int, exc: ExportError):
    name = record.source or f"document {index + 1}"
    return err(Errors.E115, fmt=fmt, reason=f"{name}: {exc}")
