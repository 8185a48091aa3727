"""Corpus formats: pure functions that read files into DocRecords and write DocRecords out.

Each format module has ``read(path, **options) -> Iterator[DocRecord]`` (a generator: files are
streamed where the format allows, and bad input raises a coded NerdeskError while iterating, so
the importer can roll back) and ``write(records, path, **options) -> None``. See each module's
docstring for its conventions.

    >>> from nerdesk.core.formats import read_records, write_records
    >>> records = read_records("corpus.conll")            # format detected
    >>> write_records(records, "corpus.jsonl", "jsonl")
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord

from . import brat, conll, csvfile, doccano, jsonl, labelstudio, prodigy, spacybin, textfile, tsvfile
from ._io import BOM, SNIFF_BYTES, PathLike, check_file
from ._tokens import is_valid_tag

FORMATS: dict[str, ModuleType] = {
    "text": textfile,
    "jsonl": jsonl,
    "csv": csvfile,
    "tsv": tsvfile,
    "conll": conll,
    "prodigy": prodigy,
    "labelstudio": labelstudio,
    "spacy": spacybin,
    "brat": brat,
    "doccano": doccano,
}

_SNIFF = 65536
_CONLL_EXT = {".conll", ".conllx", ".iob", ".iob1", ".iob2", ".bio", ".bioes", ".ner"}
_JSONL_EXT = {".jsonl", ".ndjson", ".jsonlines"}


def _formats() -> str:
    return ", ".join(FORMATS)


def _head(p: Path) -> str:
    """The first 64 KB as text; E103 if the file is empty, E105 if it looks binary."""
    with open(p, "rb") as fh:
        data = fh.read(_SNIFF)
    if data.startswith(BOM):
        data = data[3:]
    if not data.strip() and p.stat().st_size <= _SNIFF:
        raise err(Errors.E103, file=str(p))
    if b"\x00" in data[:SNIFF_BYTES]:
        raise err(Errors.E105, file=str(p))
    return data.decode("utf-8", errors="replace")


def _first_json_line(head: str) -> dict[str, Any] | None:
    for line in head.splitlines():
        if line.strip():
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):  # the reader will name the problem and the line
                return None
            return obj if isinstance(obj, dict) else None
    return None


def _jsonl_flavour(obj: dict[str, Any]) -> str:
    if "answer" in obj or "_input_hash" in obj or "_task_hash" in obj or "_annotator_id" in obj:
        return "prodigy"
    toks = obj.get("tokens")
    if isinstance(toks, list) and toks and isinstance(toks[0], dict):
        return "prodigy"
    spans = obj.get("spans")
    if isinstance(spans, list) and spans and isinstance(spans[0], dict) and "token_start" in spans[0]:
        return "prodigy"
    if "text" in obj and ("label" in obj or "labels" in obj or "entities" in obj):
        return "doccano"
    if "data" in obj and isinstance(obj["data"], dict) and ("annotations" in obj or "predictions" in obj):
        return "labelstudio"
    return "jsonl"


def _looks_conll(head: str) -> bool:
    """A ``-DOCSTART-`` line first, or every one of the first (up to 50) non-blank lines is
    ``token ... tag`` with a valid tag, and there are at least two such lines or a blank line
    between sentences."""
    lines = head.splitlines()
    if len(head) >= _SNIFF:
        lines = lines[:-1]  # possibly cut
    lines = [ln for ln in lines if ln.strip()][:50]
    if not lines:
        return False
    if lines[0].startswith(conll.DOCSTART):
        return True
    for ln in lines:
        parts = ln.split("\t") if "\t" in ln else ln.split()
        if not ln.startswith(conll.DOCSTART) and (len(parts) < 2 or not is_valid_tag(parts[-1].strip())):
            return False
    return len(lines) >= 2 or "\n\n" in head.replace("\r\n", "\n")


def detect_format(path: PathLike) -> str:
    """The format name for ``path``, from its extension and a look at its first 64 KB.

    Raises E100 if it does not exist, E117 if it is a FIFO, device or socket (before opening it),
    E103 if it is empty, E105 if it looks binary (but for a ``.spacy`` file), E101 if no format fits.
    """
    p = check_file(path, allow_dir=True)
    if p.is_dir():
        if any(c.suffix in (".ann", ".txt") for c in p.iterdir()):
            return "brat"
        raise err(Errors.E101, file=str(p), formats=_formats())
    ext = p.suffix.lower()
    if ext == ".spacy":
        return "spacy"
    if ext == ".ann":  # may well be empty: a document without entities
        return "brat"
    head = _head(p)
    if ext == ".txt" and p.with_suffix(".ann").exists():
        return "brat"
    if ext in _CONLL_EXT:
        return "conll"
    stripped = head.lstrip()
    if ext == ".json" or stripped.startswith("["):
        if stripped.startswith("[") and re.search(r'"data"\s*:', head):
            return "labelstudio"
        if stripped.startswith("{") and re.search(r'"data"\s*:', head) and "\n{" not in stripped:
            return "labelstudio"
    if ext in _JSONL_EXT or ext == ".json" or stripped.startswith("{"):
        obj = _first_json_line(head)
        if obj is not None:
            return _jsonl_flavour(obj)
        if ext in _JSONL_EXT:
            return "jsonl"  # let the reader report the malformed line
    if ext == ".csv":
        return "csv"
    if ext == ".tsv":
        return "conll" if _looks_conll(head) else "tsv"
    if _looks_conll(head):
        return "conll"
    if ext in (".txt", ".text", ".md", ""):
        return "text"
    raise err(Errors.E101, file=str(p), formats=_formats())


def get_format(fmt: str) -> ModuleType:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise err(Errors.E102, fmt=fmt, formats=_formats()) from None


def format_options(fmt: str, mode: str = "read") -> list[str]:
    """The keyword options that format ``fmt`` takes for ``mode`` "read" or "write"."""
    fn = getattr(get_format(fmt), mode)
    return [name for name, p in inspect.signature(fn).parameters.items() if p.kind is p.KEYWORD_ONLY]


def _check_options(fmt: str, mode: str, opts: dict[str, Any]) -> None:
    allowed = format_options(fmt, mode)
    for name in opts:
        if name not in allowed:
            raise err(Errors.E116, fmt=fmt, option=name, options=", ".join(allowed) or "none")


def read_records(path: PathLike, fmt: str | None = None, **opts: Any) -> Iterator[DocRecord]:
    """Read ``path`` in format ``fmt`` (detected when None).

    E100/E101/E102/E117 (and E116 for an option the format does not take) are raised at once;
    errors in the content are raised while iterating.
    """
    p = check_file(path, allow_dir=fmt in (None, "brat"))  # a folder is a brat corpus
    fmt = fmt if fmt is not None else detect_format(p)
    module = get_format(fmt)
    _check_options(fmt, "read", opts)
    return module.read(p, **opts)


def write_records(records: Iterable[DocRecord], path: PathLike, fmt: str, **opts: Any) -> None:
    """Write ``records`` to ``path`` in format ``fmt`` (E102 if unknown, E116 for an option it
    does not take, E115 if the records cannot be expressed in it)."""
    module = get_format(fmt)
    _check_options(fmt, "write", opts)
    module.write(records, path, **opts)


__all__ = ["FORMATS", "detect_format", "format_options", "get_format", "read_records", "write_records"]
