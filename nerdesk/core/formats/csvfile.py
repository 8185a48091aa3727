"""CSV with a header row: one document per row, text in ``text_column`` (default ``text``);
every other column goes to ``meta`` (as strings; empty cells are left out). No annotations.

A missing text column raises E112 naming the columns. ``line`` is the row's first line
(quoted cells may span lines). Rows whose text is empty are skipped.

Writing: the header is ``text_column`` then every meta key in order of first appearance;
non-string meta values are written as JSON.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator

from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord

from ._io import PathLike, iter_text_lines, malformed, open_for_write

DELIMITER = ","


def _allow_large_fields() -> None:
    # a 50 MB document must fit in one cell; csv's default limit is 128 KiB
    limit = sys.maxsize
    while True:
        try:
            if csv.field_size_limit() < limit:
                csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


def read_delimited(path: PathLike, delimiter: str, text_column: str = "text") -> Iterator[DocRecord]:
    src = str(path)
    _allow_large_fields()
    numbered = iter_text_lines(path)
    state = {"line": 0}

    def lines():
        for lineno, line in numbered:
            state["line"] = lineno
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
        if header is None:
            raise err(Errors.E103, file=src)
        header = [h.strip() for h in header]
        if text_column not in header:
            raise err(
                Errors.E112,
                file=src,
                line=state["line"],
                column=text_column,
                columns=", ".join(repr(h) for h in header),
            )
        ti = header.index(text_column)
        start = state["line"] + 1
        for row in reader:
            line = start
            start = state["line"] + 1
            if not row or (len(row) == 1 and not row[0]):
                continue
            if len(row) > len(header):
                raise malformed(src, line, f"{len(row)} fields, but the header has {len(header)} columns")
            text = row[ti] if ti < len(row) else ""
            if not text.strip():
                continue
            meta = {h: v for j, (h, v) in enumerate(zip(header, row)) if j != ti and v != ""}
            yield DocRecord(text=text, meta=meta, source=src, line=line)
    except csv.Error as exc:
        raise malformed(src, state["line"], f"CSV error: {exc}") from None


def read(path: PathLike, *, text_column: str = "text") -> Iterator[DocRecord]:
    return read_delimited(path, DELIMITER, text_column)


def _cell(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def write_delimited(records: Iterable[DocRecord], path: PathLike, delimiter: str, text_column: str = "text") -> None:
    recs = list(records)
    columns: dict[str, None] = {text_column: None}
    for r in recs:
        for k in r.meta:
            columns.setdefault(k, None)
    cols = list(columns)
    with open_for_write(path) as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        w.writerow(cols)
        for r in recs:
            w.writerow([r.text] + [_cell(r.meta[c]) if c in r.meta else "" for c in cols[1:]])


def write(records: Iterable[DocRecord], path: PathLike, *, text_column: str = "text") -> None:
    write_delimited(records, path, DELIMITER, text_column)
