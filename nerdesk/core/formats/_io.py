"""File access shared by the format readers: existence, file type, emptiness, binary and UTF-8 checks.

Every reader goes through these helpers so that bad input raises the same coded errors:
E100 (missing), E117 (a FIFO, device, socket or folder: refused before it is opened, so that
nothing blocks), E119 (unreadable), E103 (empty), E104 (not UTF-8, with the byte position), E105 (binary), E124
(line ends that are lone CRs, for the line-oriented readers). A UTF-8 byte order mark is tolerated
and dropped. No newline translation is ever done: a CRLF file's text keeps its ``\\r\\n`` so that
character offsets stay exact.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from nerdesk.core.errors import Errors, NerdeskError, err

BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 8192

PathLike = str | os.PathLike

_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def check_file(path: PathLike, *, allow_dir: bool = False) -> Path:
    """Return ``path`` as a Path; raise E100 if it does not exist, E117 if it is not a regular
    file (a folder is fine with ``allow_dir``), E119 if it may not be read. Only ``stat`` is used:
    opening a FIFO would block."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except (OSError, ValueError):
        raise err(Errors.E100, file=str(p), path=str(p)) from None
    if not (stat.S_ISREG(mode) or (allow_dir and stat.S_ISDIR(mode))):
        kind = next((name for test, name in _KINDS if test(mode)), "special file")
        raise err(Errors.E117, file=str(p), kind=kind)
    if not os.access(p, os.R_OK):
        raise err(Errors.E119, file=str(p), reason="permission denied")
    return p


def check_line_ends(p: Path, head: bytes) -> None:
    """E124 when the file's first bytes have CRs and no LF at all: lone-CR line ends, which a
    line-oriented reader would take as one long line (and lose every line but the first)."""
    if b"\r" in head and b"\n" not in head:
        raise err(Errors.E124, file=str(p), line=1)


def _check_head(p: Path, head: bytes) -> None:
    if not head or head == BOM:
        raise err(Errors.E103, file=str(p))
    if b"\x00" in head[:SNIFF_BYTES]:
        raise err(Errors.E105, file=str(p))


def not_utf8(p: PathLike, exc: UnicodeDecodeError, base: int, line: int | None) -> NerdeskError:
    """E104 for a decode error at ``exc.start`` bytes after byte offset ``base``."""
    return err(Errors.E104, file=str(p), line=line, pos=base + exc.start, reason=exc.reason)


def read_text(path: PathLike) -> str:
    """The whole file as a str, exactly as stored (no newline translation, BOM dropped)."""
    p = check_file(path)
    data = p.read_bytes()
    _check_head(p, data[:SNIFF_BYTES])
    base = 3 if data.startswith(BOM) else 0
    try:
        text = data[base:].decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = base + exc.start
        raise not_utf8(p, exc, base, data.count(b"\n", 0, pos) + 1) from None
    if not text.strip():
        raise err(Errors.E103, file=str(p))
    return text


def iter_raw_lines(path: PathLike) -> Iterator[tuple[int, int, bytes]]:
    """Stream ``(line_number, byte_offset, raw_line)``; raw lines keep their terminator.

    The first line has its BOM removed (its byte offset then starts at 3).
    Checks E100/E117/E103/E105/E124 before the first line is yielded; decoding is the caller's job
    (``json.loads`` takes bytes, which saves a copy on the hot path).
    """
    p = check_file(path)
    with open(p, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
        _check_head(p, head)
        check_line_ends(p, head)
        fh.seek(0)
        offset = 0
        lineno = 0
        for raw in fh:
            lineno += 1
            if lineno == 1 and raw.startswith(BOM):
                raw = raw[3:]
                offset = 3
            yield lineno, offset, raw
            offset += len(raw)


def iter_text_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """Stream ``(line_number, line)`` decoded as UTF-8, terminators (``\\n`` or ``\\r\\n``) kept."""
    p = Path(path)
    for lineno, offset, raw in iter_raw_lines(path):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise not_utf8(p, exc, offset, lineno) from None
        yield lineno, line


def malformed(path: PathLike, line: int | None, reason: str) -> NerdeskError:
    return err(Errors.E106, file=str(path), line=line, reason=reason)


def missing_field(path: PathLike, line: int | None, field: str, details: str | None = None) -> NerdeskError:
    return err(Errors.E114, file=str(path), line=line, field=field, details=details)


def open_for_write(path: PathLike):
    """Open ``path`` for writing UTF-8 text with no newline translation; create parent folders."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    return open(p, "w", encoding="utf-8", newline="")
