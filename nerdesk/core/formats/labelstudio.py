"""Label Studio JSON export: a JSON array of tasks (a single task object, or one task per line, is
accepted too).

Read, per task: ``data[text_key]`` (default ``text``) is the text; the other ``data`` keys go to
``meta``. The first annotation that is not ``was_cancelled`` gives ``spans`` (its ``result`` items
of type ``labels``: ``value.start/end/labels``; one span per label) and ``annotator``
(``completed_by``: an id, or an object whose ``email`` or ``id`` is used). A task with no usable
annotation has ``spans is None``; if all its annotations were cancelled its status is ``ignored``.
All ``predictions[].result[]`` items become ``predictions``, their confidence the item's ``score``
or else the prediction's ``score``. Other result types (choices, relations, ...) are ignored.

Offsets are Python (code point) offsets. When ``value.text`` is present and does not match the
text at those offsets, they are re-read as UTF-16 offsets (what a browser counts, e.g. with emoji);
if that does not match either, E108 is raised.

The whole file is parsed at once (it is one JSON document), task by task: a record's ``line`` is
the line where its task starts, and errors give that line (or the line of a JSON syntax error)
and the task number.

Write: one task per record with ``data`` (text + meta), one annotation (``completed_by`` = the
annotator when known) if the record has spans, and one prediction if it has predictions.
``from_name``/``to_name`` default to ``label``/``text``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord, Span

from ._io import PathLike, malformed, missing_field, open_for_write, read_text


def read(path: PathLike, *, text_key: str = "text") -> Iterator[DocRecord]:
    src = str(path)
    raw = read_text(path)
    tasks = _tasks(raw, src)
    if not tasks:
        raise err(Errors.E103, file=src)
    for n, (line, task) in enumerate(tasks, 1):
        yield _record(task, n, line, src, text_key)


_WS = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


def _tasks(raw: str, src: str) -> list[tuple[int, Any]]:
    """``(line where the task starts, task)`` for a JSON array of tasks, a single task object,
    or one task per line. The array is walked task by task (``raw_decode``) to know the lines."""
    pos = _WS.match(raw).end()
    if raw.startswith("{", pos):
        try:
            task, end = _decoder.raw_decode(raw, pos)
        except (ValueError, RecursionError):
            return _json_lines(raw, src)
        if _WS.match(raw, end).end() < len(raw):  # more after the first object
            return _json_lines(raw, src)
        return [(raw.count("\n", 0, pos) + 1, task)]
    if not raw.startswith("[", pos):
        raise malformed(src, raw.count("\n", 0, pos) + 1, "expected a JSON array of Label Studio tasks")
    tasks = []
    line, counted = 1, 0  # the line at offset ``counted``
    pos = _WS.match(raw, pos + 1).end()
    while not raw.startswith("]", pos):
        line += raw.count("\n", counted, pos)
        counted = pos
        try:
            task, pos = _decoder.raw_decode(raw, pos)
        except RecursionError:
            raise malformed(src, line, f"task {len(tasks) + 1}: invalid JSON (nested too deeply)") from None
        except ValueError as exc:
            raise malformed(src, getattr(exc, "lineno", line), f"invalid JSON ({exc})") from None
        tasks.append((line, task))
        pos = _WS.match(raw, pos).end()
        if raw.startswith(",", pos):
            pos = _WS.match(raw, pos + 1).end()
        elif not raw.startswith("]", pos):
            where = raw.count("\n", 0, pos) + 1
            raise malformed(src, where, "invalid JSON (expected ',' or ']' after a task)" if pos < len(raw)
                            else "invalid JSON (the array is not closed: the file is cut short)")
    if _WS.match(raw, pos + 1).end() < len(raw):
        raise malformed(src, raw.count("\n", 0, pos + 1) + 1, "invalid JSON (extra data after the array)")
    return tasks


def _json_lines(raw: str, src: str) -> list[tuple[int, Any]]:
    """Tasks one per line (what ``label-studio`` calls JSON-MIN/JSONL exports)."""
    tasks = []
    for lineno, line in enumerate(raw.split("\n"), 1):
        if line.strip():
            try:
                tasks.append((lineno, json.loads(line)))
            except ValueError as exc:
                raise malformed(src, lineno, f"invalid JSON ({exc})") from None
            except RecursionError:
                raise malformed(src, lineno, "invalid JSON (nested too deeply)") from None
    return tasks


def _utf16_to_index(text: str, units: int) -> int | None:
    count = 0
    for i, ch in enumerate(text):
        if count == units:
            return i
        count += 2 if ord(ch) > 0xFFFF else 1
        if count > units:
            return None
    return len(text) if count == units else None


def _spans(items: Any, text: str, src: str, line: int, where: str, default_score: Any = None) -> list[Span]:
    if not isinstance(items, list):
        raise malformed(src, line, f"{where}: 'result' must be a list")
    spans = []
    for item in items:
        if not isinstance(item, dict) or item.get("type", "labels") != "labels":
            continue
        value = item.get("value")
        if not isinstance(value, dict):
            raise missing_field(src, line, "value", details=where)
        for f in ("start", "end", "labels"):
            if f not in value:
                raise missing_field(src, line, f"value.{f}", details=where)
        start, end, labels = value["start"], value["end"], value["labels"]
        if type(start) is not int or type(end) is not int:
            raise malformed(src, line, f"{where}: offsets must be integers, got {start!r}, {end!r}")
        if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
            raise malformed(src, line, f"{where}: 'labels' must be a list of strings")
        label_text = value.get("text")
        if isinstance(label_text, str) and text[start:end] != label_text:
            s16, e16 = _utf16_to_index(text, start), _utf16_to_index(text, end)
            if s16 is not None and e16 is not None and text[s16:e16] == label_text:
                start, end = s16, e16
            elif 0 <= start < end <= len(text):
                raise err(Errors.E108, file=src, line=line, start=start, end=end, text=text[start:end],
                          details=f"{where}: the label's text is {label_text!r}")
        if not 0 <= start < end <= len(text):
            raise err(Errors.E107, file=src, line=line, start=start, end=end, length=len(text), details=where)
        score = item.get("score", default_score)
        if score is not None and not isinstance(score, (int, float)):
            raise malformed(src, line, f"{where}: 'score' must be a number")
        for label in labels:
            spans.append(Span(start, end, label, None if score is None else float(score)))
    return spans


def _annotator(completed_by: Any) -> str | None:
    if completed_by is None:
        return None
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("email") or completed_by.get("id")
        if completed_by is None:
            return None
    return str(completed_by)


def _record(task: Any, n: int, line: int, src: str, text_key: str) -> DocRecord:
    where = f"task {n}"
    if not isinstance(task, dict):
        raise malformed(src, line, f"{where} is not an object")
    data = task.get("data")
    if not isinstance(data, dict):
        raise missing_field(src, line, "data", details=where)
    if text_key not in data:
        raise missing_field(src, line, f"data.{text_key}", details=where)
    text = data[text_key]
    if not isinstance(text, str):
        raise malformed(src, line, f"{where}: data.{text_key} must be a string")
    meta = {k: v for k, v in data.items() if k != text_key}
    spans = None
    annotator = None
    status = None
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list):
        raise malformed(src, line, f"{where}: 'annotations' must be a list")
    usable = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if usable:
        ann = usable[0]
        spans = [Span(s.start, s.end, s.label) for s in _spans(ann.get("result", []), text, src, line, where)]
        annotator = _annotator(ann.get("completed_by"))
    elif annotations:
        status = "ignored"
    predictions = None
    preds = task.get("predictions") or []
    if not isinstance(preds, list):
        raise malformed(src, line, f"{where}: 'predictions' must be a list")
    for p in preds:
        if isinstance(p, dict):
            predictions = (predictions or []) + _spans(p.get("result", []), text, src, line,
                                                       f"{where} prediction", p.get("score"))
    return DocRecord(text=text, spans=spans, predictions=predictions, meta=meta, source=src, line=line,
                     annotator=annotator, status=status)


def _result(spans: list[Span], text: str, from_name: str, to_name: str, prefix: str,
            scores: bool) -> list[dict[str, Any]]:
    out = []
    for j, s in enumerate(sorted(spans)):
        item: dict[str, Any] = {
            "id": f"{prefix}{j}", "from_name": from_name, "to_name": to_name, "type": "labels",
            "value": {"start": s.start, "end": s.end, "text": text[s.start:s.end], "labels": [s.label]},
        }
        if scores and s.confidence is not None:
            item["score"] = s.confidence
        out.append(item)
    return out


def record_to_task(rec: DocRecord, n: int, *, text_key: str = "text", from_name: str = "label",
                   to_name: str = "text") -> dict[str, Any]:
    data = {text_key: rec.text}
    data.update((k, v) for k, v in rec.meta.items() if k != text_key)
    task: dict[str, Any] = {"id": n, "data": data, "annotations": [], "predictions": []}
    if rec.spans is not None:
        ann: dict[str, Any] = {"id": n, "result": _result(rec.spans, rec.text, from_name, to_name, "a", False),
                               "was_cancelled": False}
        if rec.annotator is not None:
            ann["completed_by"] = rec.annotator
        task["annotations"].append(ann)
    elif rec.status == "ignored":
        task["annotations"].append({"id": n, "result": [], "was_cancelled": True})
    if rec.predictions is not None:
        task["predictions"].append({"model_version": "nerdesk",
                                    "result": _result(rec.predictions, rec.text, from_name, to_name, "p", True)})
    return task


def write(records: Iterable[DocRecord], path: PathLike, *, text_key: str = "text",
          from_name: str = "label", to_name: str = "text") -> None:
    """Write a JSON array, one task per line-block, streaming (records are not held in memory)."""
    with open_for_write(path) as fh:
        fh.write("[")
        for n, rec in enumerate(records, 1):
            if n > 1:
                fh.write(",")
            fh.write("\n")
            fh.write(json.dumps(record_to_task(rec, n, text_key=text_key, from_name=from_name,
                                               to_name=to_name), ensure_ascii=False))
        fh.write("\n]\n")
