"""doccano sequence-labelling JSONL.

Read: ``text``; spans from ``label`` (or ``labels``) as ``[[start, end, label], ...]`` or from
``entities`` as ``[{"start_offset", "end_offset", "label"}, ...]``; every other key (``id``,
``Comments``, ...) goes to ``meta``. No label key at all means unannotated (``spans is None``).

Write: ``{"text", "label": [[start, end, label], ...], **meta}`` (``style="label"``, default) or
``{"text", "entities": [{"id", "start_offset", "end_offset", "label"}], **meta}``
(``style="entities"``); meta keys that clash with these are not written. No label key is written
for a record whose ``spans`` is None.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from nerdesk.core.types import DocRecord

from ._common import iter_json_lines, parse_span_list, required_text, write_json_lines
from ._io import PathLike

_SPAN_KEYS = ("label", "labels", "entities")


def read(path: PathLike) -> Iterator[DocRecord]:
    src = str(path)
    for lineno, obj in iter_json_lines(path):
        text = required_text(obj, src, lineno)
        spans = None
        for key in _SPAN_KEYS:
            if key in obj:
                spans = parse_span_list(text, obj[key], src, lineno, key, ("start_offset", "end_offset", "label"))
                break
        meta = {k: v for k, v in obj.items() if k != "text" and k not in _SPAN_KEYS}
        yield DocRecord(text=text, spans=spans, meta=meta, source=src, line=lineno)


def write(records: Iterable[DocRecord], path: PathLike, *, style: str = "label") -> None:
    if style not in ("label", "entities"):
        raise ValueError("style must be 'label' or 'entities'")

    def objects():
        for rec in records:
            obj: dict[str, Any] = {"text": rec.text}
            if rec.spans is not None:
                spans = sorted(rec.spans)
                if style == "label":
                    obj["label"] = [[s.start, s.end, s.label] for s in spans]
                else:
                    obj["entities"] = [
                        {"id": j, "start_offset": s.start, "end_offset": s.end, "label": s.label}
                        for j, s in enumerate(spans, 1)
                    ]
            for k, v in rec.meta.items():
                if k != "text" and k not in _SPAN_KEYS:
                    obj[k] = v
            yield obj

    write_json_lines(objects(), path)
