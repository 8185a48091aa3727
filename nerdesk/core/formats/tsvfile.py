"""Tab-separated values: as :mod:`csvfile`, with tabs between cells (quoted like CSV)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from nerdesk.core.types import DocRecord

from ._io import PathLike
from .csvfile import read_delimited, write_delimited

DELIMITER = "\t"


def read(path: PathLike, *, text_column: str = "text") -> Iterator[DocRecord]:
    return read_delimited(path, DELIMITER, text_column)


def write(records: Iterable[DocRecord], path: PathLike, *, text_column: str = "text") -> None:
    write_delimited(records, path, DELIMITER, text_column)
