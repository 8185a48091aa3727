"""brat standoff: ``NAME.txt`` (the text) + ``NAME.ann`` (``T1<TAB>LABEL START END<TAB>covered text``).

The path may be a ``.txt`` file, an ``.ann`` file (its ``.txt`` must exist) or a directory
(every ``*.txt`` in it, sorted by name). Offsets are characters of the ``.txt`` exactly as
stored: the file is read with no newline translation, so a CRLF counts as two characters
(this is what brat itself does). The covered-text column is checked against the text up to
whitespace (a TAB in it is read as part of it: only the first two TABs of a line separate
columns); a mismatch raises E108, which usually means the offsets were computed on a different
text (e.g. LF vs CRLF).

Discontinuous entities (``T1<TAB>PER 0 5;10 15``, which is also how brat writes a span that
crosses a line break) are read according to ``discontinuous``:
``"hull"`` (default) takes one span from the first start to the last end; ``"split"`` takes one
span per fragment; ``"error"`` raises E106. Only ``T`` lines are read; relations, events,
attributes, notes and comments are ignored. A ``.txt`` without an ``.ann`` is unannotated
(``spans is None``). ``source`` is the ``.txt`` path; errors about a span (here and in the importer)
name the ``.ann`` file and line (``DocRecord.span_lines``).

Write: ``path`` is a directory (created if needed); one pair per record, named from
``meta["name"]``, else ``meta["id"]``, else the stem of a ``.txt`` source, else ``doc000001``
(the record's position); names are made safe and unique. A record whose ``spans`` is None gets
no ``.ann`` file. Each span is one ``START END`` range, also across line breaks; in its covered
text a line break (CRLF included) or a TAB is written as a space, so that every ``T`` line has
exactly three TAB-separated columns. The ``.txt`` is written exactly (no newline translation):
text, offsets and spans round-trip unchanged. Whitespace in a label becomes ``_``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from nerdesk.core.errors import Errors, err
from nerdesk.core.types import DocRecord, Span

from ._common import export_error
from ._io import PathLike, check_file, iter_text_lines, malformed, open_for_write, read_text
from ._tokens import ExportError

_T_LINE = re.compile(r"^(\S+) (\d+ \d+(?:;\d+ \d+)*)$")
#: written as a space in the covered-text column (a line break, a TAB: the .ann is TAB-separated lines)
_WS = re.compile(r"\r\n|[^\S ]")


def _pairs(path: Path) -> list[tuple[Path, Path]]:
    if path.is_dir():
        txts = sorted(p for p in path.iterdir() if p.suffix == ".txt" and not p.is_dir())  # a FIFO: E117
        if not txts:
            raise err(Errors.E103, file=str(path), details="no .txt files in this folder")
        return [(t, t.with_suffix(".ann")) for t in txts]
    if path.suffix == ".ann":
        return [(path.with_suffix(".txt"), path)]
    return [(path, path.with_suffix(".ann"))]


def read(path: PathLike, *, discontinuous: str = "hull") -> Iterator[DocRecord]:
    if discontinuous not in ("hull", "split", "error"):
        raise ValueError("discontinuous must be 'hull', 'split' or 'error'")
    p = check_file(path, allow_dir=True)
    for txt, ann in _pairs(p):
        text = read_text(txt)
        lines: dict[Span, tuple[str, int]] = {}
        spans = _read_ann(ann, text, discontinuous, lines) if ann.exists() else None
        yield DocRecord(text=text, spans=spans, source=str(txt), line=None, span_lines=lines or None)


def _read_ann(ann: Path, text: str, mode: str, lines: dict[Span, tuple[str, int]]) -> list[Span]:
    """The spans of the T lines; ``lines`` gets the ``.ann`` line of each."""
    spans: list[Span] = []
    src = str(check_file(ann))
    if ann.stat().st_size == 0:
        return spans
    for lineno, line in iter_text_lines(ann):
        line = line.rstrip("\r\n")
        if not line.startswith("T"):
            continue
        parts = line.split("\t", 2)  # the covered text may hold a TAB
        if len(parts) < 2:
            raise malformed(src, lineno, "a T line needs 'ID<TAB>LABEL START END<TAB>TEXT'")
        m = _T_LINE.match(parts[1])
        if not m:
            raise malformed(src, lineno, f"cannot read '{parts[1]}' as 'LABEL START END'")
        label = m.group(1)
        try:
            frags = [tuple(int(x) for x in f.split(" ")) for f in m.group(2).split(";")]
        except ValueError:  # more digits than int() takes
            raise malformed(src, lineno, f"offsets out of range in '{parts[1][:80]}'") from None
        for s, e in frags:
            if not 0 <= s < e <= len(text):
                raise err(Errors.E107, file=src, line=lineno, start=s, end=e, length=len(text))
        if len(parts) >= 3:
            covered = " ".join(text[s:e] for s, e in frags)
            given = parts[2]
            if covered != given and _norm(covered) != _norm(given):
                s, e = frags[0][0], frags[-1][1]
                raise err(
                    Errors.E108,
                    file=src,
                    line=lineno,
                    start=s,
                    end=e,
                    text=text[s:e],
                    details=f"the .ann gives the text {given!r}; are the offsets for another "
                    "version of the text (e.g. LF instead of CRLF line ends)?",
                )
        if len(frags) > 1:
            if mode == "error":
                raise malformed(src, lineno, f"discontinuous entity {parts[0]} ({m.group(2)})")
            if mode == "split":
                for s, e in frags:
                    spans.append(Span(s, e, label))
                    lines[spans[-1]] = (src, lineno)
                continue
        spans.append(Span(frags[0][0], max(e for _, e in frags), label))
        lines[spans[-1]] = (src, lineno)
    return spans


def _norm(s: str) -> str:
    return " ".join(s.split())


def _safe(name: str) -> str:
    name = re.sub(r"[^\w.-]+", "_", name).strip("._")
    return name[:120]


def write(records: Iterable[DocRecord], path: PathLike) -> None:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for i, rec in enumerate(records, 1):
        name = rec.meta.get("name") or rec.meta.get("id")
        if not name and rec.source.endswith(".txt"):
            name = Path(rec.source).stem
        name = _safe(str(name)) if name else ""
        if not name:
            name = f"doc{i:06d}"
        base, k = name, 1
        while name.lower() in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name.lower())
        with open_for_write(out / f"{name}.txt") as fh:
            fh.write(rec.text)
        if rec.spans is None:
            (out / f"{name}.ann").unlink(missing_ok=True)
            continue
        lines = []
        for j, s in enumerate(sorted(rec.spans), 1):
            label = s.label
            if not label or re.search(r"\s", label):
                raise export_error(
                    "brat",
                    rec,
                    i - 1,
                    ExportError(
                        f"the label {label!r} holds whitespace, which a brat .ann line cannot hold (it would "
                        "read back as another label); rename the label (e.g. with '_' or '-') and export again"
                    ),
                )
            covered = _WS.sub(" ", rec.text[s.start : s.end])
            lines.append(f"T{j}\t{label} {s.start} {s.end}\t{covered}\n")
        with open_for_write(out / f"{name}.ann") as fh:
            fh.write("".join(lines))
