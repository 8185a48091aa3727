"""Plain UTF-8 text, no annotations (``spans is None``).

``lines=False`` (default): the whole file is one document, its text exactly as stored (CRLF kept,
BOM dropped). ``lines=True``: one document per non-blank line; the line terminator (``\\n`` or
``\\r\\n``) is removed, everything else is kept; ``line`` is the line number.

Writing: ``lines=True`` (default) writes one text per line, with each line break inside a text
replaced by a space (so that the file reads back as the same number of documents);
``lines=False`` writes the texts exactly, separated by a blank line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord

from ._io import PathLike, iter_text_lines, open_for_write, read_text


def read(path: PathLike, *, lines: bool = False) -> Iterator[DocRecord]:
    src = str(path)
    if not lines:
        yield DocRecord(text=read_text(path), source=src, line=1)
        return
    seen = False
    for lineno, line in iter_text_lines(path):
        if line.endswith("\n"):
            line = line[:-2] if line.endswith("\r\n") else line[:-1]
        if not line.strip():
            continue
        seen = True
        yield DocRecord(text=line, source=src, line=lineno)
    if not seen:
        raise err(Errors.E103, file=src)


def _one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def write(records: Iterable[DocRecord], path: PathLike, *, lines: bool = True) -> None:
    with open_for_write(path) as fh:
        if lines:
            for rec in records:
                fh.write(_one_line(rec.text))
                fh.write("\n")
        else:
            for i, rec in enumerate(records):
                if i:
                    fh.write("\n\n")
                fh.write(rec.text)
