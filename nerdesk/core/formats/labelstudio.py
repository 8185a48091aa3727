"""Label Studio JSON export: a JSON array of tasks (a single task object, or one task per line, is
accepted too).

Read, per task: ``data[text_key]`` (default ``text``) is the text; the other ``data`` keys go to
``meta``. The first annotation that is not ``was_cancelled`` gives ``spans`` (its ``result`` items
of type ``labels``: ``value.start/end/labels``; one span per label) and ``annotator``
(``completed_by``: an id, or an object whose ``email`` or ``id`` is used). A task with no usable
annotation has ``spans is None``; if all its annotations were cancelled its status is ``ignored``.
All ``predictions[].result[]`` items become ``predictions``, their confidence the item's ``score``
or else the prediction's ``score``. Other result types (choices, relations, ...) are ignored.

Offsets (``value.start``/``end``) count UTF-16 code units, as Label Studio's browser frontend
does: a character outside the BMP (most emoji, CJK extension ideographs such as 𠮷) counts two.
They are converted to and from nerdesk's code points here, once, by :func:`to_utf16` and
:func:`from_utf16`; ``value.text`` is the span's text itself. An offset between the two halves of a
surrogate pair is E128 (task and line). When ``value.text`` is given and is not what the offsets
cover, but is what they cover read as code points (files from tools that count code points, and
from nerdesk before it counted UTF-16), they are read as code points; if neither matches, E108.

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
from bisect import bisect_left
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


def _skip_ws(raw: str, pos: int = 0) -> int:
    """The offset of the first character at or after ``pos`` that is not JSON whitespace."""
    match = _WS.match(raw, pos)
    assert match is not None  # ``[ \t\n\r]*`` matches the empty string: it always matches
    return match.end()


def _tasks(raw: str, src: str) -> list[tuple[int, Any]]:
    """``(line where the task starts, task)`` for a JSON array of tasks, a single task object,
    or one task per line. The array is walked task by task (``raw_decode``) to know the lines."""
    pos = _skip_ws(raw)
    if raw.startswith("{", pos):
        try:
            task, end = _decoder.raw_decode(raw, pos)
        except (ValueError, RecursionError):
            return _json_lines(raw, src)
        if _skip_ws(raw, end) < len(raw):  # more after the first object
            return _json_lines(raw, src)
        return [(raw.count("\n", 0, pos) + 1, task)]
    if not raw.startswith("[", pos):
        raise malformed(src, raw.count("\n", 0, pos) + 1, "expected a JSON array of Label Studio tasks")
    tasks: list[tuple[int, Any]] = []
    line, counted = 1, 0  # the line at offset ``counted``
    pos = _skip_ws(raw, pos + 1)
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
        pos = _skip_ws(raw, pos)
        if raw.startswith(",", pos):
            pos = _skip_ws(raw, pos + 1)
        elif not raw.startswith("]", pos):
            where = raw.count("\n", 0, pos) + 1
            raise malformed(
                src,
                where,
                "invalid JSON (expected ',' or ']' after a task)"
                if pos < len(raw)
                else "invalid JSON (the array is not closed: the file is cut short)",
            )
    if _skip_ws(raw, pos + 1) < len(raw):
        raise malformed(src, raw.count("\n", 0, pos + 1) + 1, "invalid JSON (extra data after the array)")
    return tasks


def _json_lines(raw: str, src: str) -> list[tuple[int, Any]]:
    """Tasks one per line (what ``label-studio`` calls JSON-MIN/JSONL exports)."""
    tasks: list[tuple[int, Any]] = []
    for lineno, line in enumerate(raw.split("\n"), 1):
        if line.strip():
            try:
                tasks.append((lineno, json.loads(line)))
            except ValueError as exc:
                raise malformed(src, lineno, f"invalid JSON ({exc})") from None
            except RecursionError:
                raise malformed(src, lineno, "invalid JSON (nested too deeply)") from None
    return tasks


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def astral_offsets(text: str) -> list[int]:
    """The code-point offsets of the text's characters outside the BMP (two UTF-16 code units
    each): what :func:`to_utf16` and :func:`from_utf16` take."""
    return [m.start() for m in _ASTRAL.finditer(text)]


def to_utf16(wide: list[int], offset: int) -> int:
    """Label Studio's offset (UTF-16 code units) for a code-point offset into the text."""
    return offset + bisect_left(wide, offset)


def from_utf16(wide: list[int], units: int) -> int | None:
    """The code-point offset for Label Studio's ``units``; None inside a surrogate pair."""
    k = bisect_left(range(len(wide)), units, key=lambda j: wide[j] + j)  # astral characters before
    return None if k and wide[k - 1] + k == units else units - k


def _spans(items: Any, text: str, src: str, line: int, where: str, default_score: Any = None) -> list[Span]:
    if not isinstance(items, list):
        raise malformed(src, line, f"{where}: 'result' must be a list")
    spans = []
    wide = astral_offsets(text)
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
        start, end = _offsets(wide, start, end, value.get("text"), text, src, line, where)
        score = item.get("score", default_score)
        if score is not None and not isinstance(score, (int, float)):
            raise malformed(src, line, f"{where}: 'score' must be a number")
        for label in labels:
            spans.append(Span(start, end, label, None if score is None else float(score)))
    return spans


def _offsets(
    wide: list[int], u_start: int, u_end: int, label_text: Any, text: str, src: str, line: int, where: str
) -> tuple[int, int]:
    """Code-point offsets for a result's UTF-16 ``start``/``end``. When its ``text`` is not what
    they cover but is what they cover as code points (a tool that counts those, nerdesk before it
    counted UTF-16), they are taken as code points."""
    start, end = from_utf16(wide, u_start), from_utf16(wide, u_end)
    if (
        wide
        and isinstance(label_text, str)
        and (start is None or end is None or text[start:end] != label_text)
        and 0 <= u_start < u_end <= len(text)
        and text[u_start:u_end] == label_text
    ):
        return u_start, u_end
    if start is None or end is None:  # an offset between the two halves of a surrogate pair
        units = u_start if start is None else u_end
        first = from_utf16(wide, units - 1)
        assert first is not None  # one unit back is where the pair starts: a character's offset
        raise err(Errors.E128, file=src, line=line, where=where, offset=units, char=text[first])
    if not 0 <= start < end <= len(text):
        raise err(
            Errors.E107,
            file=src,
            line=line,
            start=u_start,
            end=u_end,
            length=to_utf16(wide, len(text)),
            details=f"{where} (Label Studio offsets count UTF-16 code units)" if wide else where,
        )
    if isinstance(label_text, str) and text[start:end] != label_text:
        raise err(
            Errors.E108,
            file=src,
            line=line,
            start=u_start,
            end=u_end,
            text=text[start:end],
            details=f"{where}: the label's text is {label_text!r}",
        )
    return start, end


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
            predictions = (predictions or []) + _spans(
                p.get("result", []), text, src, line, f"{where} prediction", p.get("score")
            )
    return DocRecord(
        text=text,
        spans=spans,
        predictions=predictions,
        meta=meta,
        source=src,
        line=line,
        annotator=annotator,
        status=status,
    )


def _result(
    spans: list[Span], text: str, from_name: str, to_name: str, prefix: str, scores: bool
) -> list[dict[str, Any]]:
    out = []
    wide = astral_offsets(text)
    for j, s in enumerate(sorted(spans)):
        item: dict[str, Any] = {
            "id": f"{prefix}{j}",
            "from_name": from_name,
            "to_name": to_name,
            "type": "labels",
            "value": {
                "start": to_utf16(wide, s.start),
                "end": to_utf16(wide, s.end),
                "text": text[s.start : s.end],
                "labels": [s.label],
            },
        }
        if scores and s.confidence is not None:
            item["score"] = s.confidence
        out.append(item)
    return out


def record_to_task(
    rec: DocRecord, n: int, *, text_key: str = "text", from_name: str = "label", to_name: str = "text"
) -> dict[str, Any]:
    data = {text_key: rec.text}
    data.update((k, v) for k, v in rec.meta.items() if k != text_key)
    task: dict[str, Any] = {"id": n, "data": data, "annotations": [], "predictions": []}
    if rec.spans is not None:
        ann: dict[str, Any] = {
            "id": n,
            "result": _result(rec.spans, rec.text, from_name, to_name, "a", False),
            "was_cancelled": False,
        }
        if rec.annotator is not None:
            ann["completed_by"] = rec.annotator
        task["annotations"].append(ann)
    elif rec.status == "ignored":
        task["annotations"].append({"id": n, "result": [], "was_cancelled": True})
    if rec.predictions is not None:
        task["predictions"].append(
            {"model_version": "nerdesk", "result": _result(rec.predictions, rec.text, from_name, to_name, "p", True)}
        )
    return task


def write(
    records: Iterable[DocRecord],
    path: PathLike,
    *,
    text_key: str = "text",
    from_name: str = "label",
    to_name: str = "text",
) -> None:
    """Write a JSON array, one task per line-block, streaming (records are not held in memory)."""
    with open_for_write(path) as fh:
        fh.write("[")
        for n, rec in enumerate(records, 1):
            if n > 1:
                fh.write(",")
            fh.write("\n")
            fh.write(
                json.dumps(
                    record_to_task(rec, n, text_key=text_key, from_name=from_name, to_name=to_name), ensure_ascii=False
                )
            )
        fh.write("\n]\n")
