"""Import documents (and, on request, their annotations) into a project.

One import is one transaction: a bad record anywhere rolls the whole file back, and the error
names the file, the line and the problem. Documents are keyed by a hash of their text, so
re-importing a file adds nothing, and annotations for a text already in the project attach to it.

Whatever the reader, every record is checked here before it is stored: a status that is not one of
``_STATUS`` (E127), an annotator that is not a string, a lone surrogate in any string (E118: SQLite
would refuse it), overlapping spans in a project that does not allow them (E126), metadata that
cannot be stored as JSON. Errors name the record's file and line; a record without a line (a spaCy
Doc) is named by its position ("record 3") in the details.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerdesk.core import labels as labelset
from nerdesk.core import settings
from nerdesk.core.errors import Errors, NerdeskError, err
from nerdesk.core.store import now
from nerdesk.core.tokenize import MAX_SEGMENT_TOKENS, segment_tokens, split_tokens_at, tokenize_texts
from nerdesk.core.types import Annotation, DocRecord, Progress, Span

if TYPE_CHECKING:
    from nerdesk.core.store import Store
    from nerdesk.core.types import Identity

#: Larger documents are refused (E113): split them (e.g. ``--lines``) first.
MAX_DOC_CHARS = 10_000_000
BATCH = 4000
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_SURROGATE = re.compile("[\ud800-\udfff]")


def _int_list(values: list[int]) -> str:
    """A list of ints as compact JSON (str() of a list of ints is valid JSON, and faster)."""
    return str(values).replace(" ", "")


_STATUS = {
    None: "accepted",
    "accept": "accepted",
    "accepted": "accepted",
    "reject": "rejected",
    "rejected": "rejected",
    "ignore": "skipped",
    "ignored": "skipped",
    "skipped": "skipped",
    "flagged": "flagged",
    "draft": "draft",
}


@dataclass
class ImportResult:
    read: int = 0
    documents: int = 0
    duplicates: int = 0
    segments: int = 0
    tokens: int = 0
    annotated_segments: int = 0
    predicted_segments: int = 0
    labels_added: list[str] = field(default_factory=list)
    empty: int = 0
    #: annotations of segments already in the project: added (no row by that name), unchanged
    #: (equal to the local row), conflicts (different: kept beside the local row, see _Writer._merge)
    merged_added: int = 0
    merged_unchanged: int = 0
    conflicts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


#: The event action of a merge into existing segments (undone and redone as one, see Project.undo).
MERGE = "merge annotations"


def _same(a: Annotation, b: dict[str, Any]) -> bool:
    """A stored annotation and an incoming row say the same: the same spans (position and label) and status."""

    def key(status: str, spans: Iterable[Span]) -> tuple:
        return status, sorted(sp.key() for sp in spans)

    return key(a.status, a.spans) == key(b["status"], b["spans"])


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def import_file(
    store: Store,
    actor: Identity,
    path: str | Path,
    fmt: str | None = None,
    *,
    annotations: bool = False,
    annotator: str | None = None,
    add_labels: bool | None = None,
    **read_options: Any,
) -> Generator[Progress, None, ImportResult]:
    from nerdesk.core import formats
    from nerdesk.core.formats._io import check_file

    path = check_file(path, allow_dir=True)  # E100, or E117 for a FIFO or device (a folder may be brat)
    fmt = fmt or formats.detect_format(path)  # (a correction bundle goes to bundle.import_bundle: Project.import_file)
    total = _count_lines(path) if fmt in ("jsonl", "prodigy", "doccano") or read_options.get("lines") else None
    if not annotations and "spans" in formats.format_options(fmt):
        read_options = {**read_options, "spans": False}  # nothing will use them: don't decode tags
    records = _reading(formats.read_records(path, fmt, **read_options), path)
    return import_records(
        store,
        actor,
        records,
        annotations=annotations,
        annotator=annotator,
        add_labels=add_labels,
        total=total,
        source=path.name,
    )


def _reading(records: Iterable[DocRecord], path: Path) -> Iterator[DocRecord]:
    """The records, with an I/O error while reading them (a vanished file, a failing disk) as E119."""
    try:
        yield from records
    except OSError as exc:
        raise err(Errors.E119, file=str(path), reason=exc.strerror or str(exc)) from None


def _count_lines(path: Path) -> int | None:
    if not path.is_file():
        return None
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def import_records(
    store: Store,
    actor: Identity,
    records: Iterable[DocRecord],
    *,
    annotations: bool = False,
    annotator: str | None = None,
    add_labels: bool | None = None,
    total: int | None = None,
    source: str = "",
    log: dict[str, Any] | None = None,
    max_doc_chars: int = MAX_DOC_CHARS,
    error_file: str | None = None,
) -> Generator[Progress, None, ImportResult]:
    """Import records in one transaction; yields Progress per batch, returns an ImportResult.
    Errors name ``error_file`` (a bundle's member) if given, else each record's source."""
    result = ImportResult()
    with store.transaction():  # ids, labels and the guideline are read under the write lock
        writer = _Writer(
            store,
            actor,
            result,
            annotations=annotations,
            annotator=annotator,
            add_labels=add_labels,
            max_doc_chars=max_doc_chars,
            source=source,
            error_file=error_file,
        )
        first_doc = store.max_document_id()
        batch: list[DocRecord] = []
        for rec in records:
            result.read += 1
            batch.append(rec)
            if len(batch) >= BATCH:
                writer.write(batch)
                batch = []
                yield Progress(result.read, total, f"{result.documents} documents")
        if batch:
            writer.write(batch)
        store.index_documents_after(first_doc)
        store.set_setting("tokens_total", store.get_setting("tokens_total", 0) + result.tokens)
        store.log_event(actor.user, "import", "log", None, None, {"source": source, **result.as_dict(), **(log or {})})
        if writer.merged_rows:  # annotations added to segments already here: one undoable event
            store.log_event(actor.user, MERGE, "do", None, None, {"rows": writer.merged_rows, "source": source})
    yield Progress(result.read, result.read, f"{result.documents} documents")
    return result


class _Writer:
    def __init__(
        self,
        store: Store,
        actor: Identity,
        result: ImportResult,
        *,
        annotations: bool,
        annotator: str | None,
        add_labels: bool | None,
        max_doc_chars: int,
        source: str,
        error_file: str | None = None,
    ):
        self.actor = actor
        self.error_file = error_file
        self.merged_rows: list[dict[str, Any]] = []  # annotations merged into segments already here
        self.allow_overlaps = settings.allow_overlaps(store)
        self.batch: list[DocRecord] = []
        self.batch_start = 0
        self.store = store
        self.result = result
        self.annotations = annotations
        self.annotator = annotator
        self.max_doc_chars = max_doc_chars
        self.source = source
        self.labels = set(settings.label_names(store))
        self.add_labels = add_labels if add_labels is not None else not self.labels
        self.next_doc = self.store.max_document_id() + 1
        self.next_seg = self.store.max_segment_id() + 1
        g = self.store.guideline()
        self.guideline_version = g["version"] if g else None
        self.created = now()
        self.pred_model: str | None = None

    # ------------------------------------------------------------------
    def write(self, batch: list[DocRecord]) -> None:
        """Store a batch. SQLite refuses a lone surrogate anywhere: that is E118 naming the record."""
        self.batch, self.batch_start = batch, self.result.read - len(batch)
        try:
            self._write(batch)
        except UnicodeEncodeError:
            raise self._surrogate_error(batch) from None

    def _write(self, batch: list[DocRecord]) -> None:
        recs = []
        for rec in batch:
            if type(rec.text) is not str:
                raise self._malformed(rec, f"the text must be a string, not {type(rec.text).__name__}")
            if rec.status is not None or rec.annotator is not None:
                self._check_status_annotator(rec)
            if not rec.text:
                self.result.empty += 1
                continue
            if len(rec.text) > self.max_doc_chars:
                raise err(Errors.E113, **self._where(rec), size=f"{len(rec.text):,}", limit=f"{self.max_doc_chars:,}")
            recs.append(rec)
        hashes = [content_hash(r.text) for r in recs]
        existing = self.store.existing_documents(list(dict.fromkeys(hashes)))
        need = {h: r.text for h, r in zip(hashes, recs) if h not in existing and r.tokens is None}
        tokenized = dict(zip(need, tokenize_texts(list(need.values()), settings.lang(self.store)))) if need else {}
        docs, segs, anns, preds, attach = [], [], [], [], []
        in_batch: dict[str, int] = {}
        sentences: list[tuple[int, int]] | None  # None: the record gives no sentence boundaries
        for h, rec in zip(hashes, recs):
            spans = self._checked_spans(rec, rec.spans) if self.annotations and rec.spans is not None else None
            doc_id = existing.get(h) or in_batch.get(h)
            if doc_id is not None:
                self.result.duplicates += 1
                if spans is not None:
                    attach.append((doc_id, rec, spans))
                continue
            if rec.tokens is None:
                tokens, sentences = tokenized[h]
                if spans:
                    tokens = split_tokens_at(tokens, [x for sp in spans for x in (sp.start, sp.end)])
            else:
                tokens, sentences = rec.tokens or [], rec.sentences
                flat = self._checked_tokens(rec, tokens)
                if spans:
                    self._check_alignment(rec, tokens, spans)
                elif (
                    flat
                    and flat[0] == 0
                    and len(tokens) <= MAX_SEGMENT_TOKENS
                    and (not sentences or len(sentences) == 1)
                    and not rec.predictions
                ):
                    # the common case (one pre-tokenised sentence): one segment, offsets as given
                    doc_id = self.next_doc
                    self.next_doc += 1
                    in_batch[h] = doc_id
                    docs.append((doc_id, rec.text, rec.source or self.source, self._meta_json(rec), h, self.created))
                    segs.append(
                        (
                            self.next_seg,
                            doc_id,
                            0,
                            0,
                            flat[-1],
                            _int_list(flat),
                            len(tokens),
                            "new" if spans is None else _STATUS.get(rec.status, "accepted"),
                        )
                    )
                    if spans is not None:
                        anns.append(self._annotation(self.next_seg, rec, spans))
                    self.next_seg += 1
                    self.result.documents += 1
                    self.result.segments += 1
                    self.result.tokens += len(tokens)
                    continue
            doc_id = self.next_doc
            self.next_doc += 1
            in_batch[h] = doc_id
            docs.append((doc_id, rec.text, rec.source or self.source, self._meta_json(rec), h, self.created))
            self.result.documents += 1
            pieces = self._segments(tokens, sentences, spans or rec.predictions or ())
            for idx, (s_start, s_end, toks) in enumerate(pieces):
                seg_id = self.next_seg
                self.next_seg += 1
                flat = [x for pair in toks for x in pair]
                flat_json = _dumps(flat if s_start == 0 else [x - s_start for x in flat])
                status = "new"
                if spans is not None:
                    row = self._annotation(seg_id, rec, [sp for sp in spans if s_start <= sp.start < s_end])
                    anns.append(row)
                    status = row["status"]
                if rec.predictions:
                    preds.append((seg_id, [sp for sp in rec.predictions if s_start <= sp.start < s_end]))
                segs.append((seg_id, doc_id, idx, s_start, s_end, flat_json, len(toks), status))
                self.result.tokens += len(toks)
            self.result.segments += len(pieces)
        self.store.insert_documents(docs)
        if segs:
            self.store.insert_segments(segs)
        merged = []
        for doc_id, rec, spans in attach:  # texts already in the project (or earlier in this batch)
            merged.extend(self._attach_to_existing(doc_id, rec, spans))
        anns.extend(self._merge(merged))
        if anns:
            self.store.put_annotations(map(Annotation.from_dict, anns))
            self.store.refresh_segment_status([a["segment_id"] for a in anns])
            self.result.annotated_segments += len(anns)
        if preds:
            self._store_predictions(preds)

    # ------------------------------------------------------------------
    @staticmethod
    def _segments(tokens, sentences, spans) -> list:
        if len(tokens) <= MAX_SEGMENT_TOKENS and (not sentences or len(sentences) == 1) and tokens:
            return [(tokens[0][0], tokens[-1][1], tokens)]
        return segment_tokens(tokens, sentences, [(sp.start, sp.end) for sp in spans])

    def _where(self, rec: DocRecord, span: Span | None = None) -> dict[str, Any]:
        """``file``/``line`` (and ``details``) for an error about ``rec`` (or one of its spans)."""
        if span is not None and rec.span_lines and span in rec.span_lines:
            file, line = rec.span_lines[span]
            return {"file": file, "line": line}
        where: dict[str, Any] = {"file": self.error_file or rec.source or self.source, "line": rec.line}
        if rec.line is None:  # e.g. a spaCy Doc: its position in the file
            k = next((i for i, r in enumerate(self.batch) if r is rec), None)
            if k is not None:
                where["details"] = f"record {self.batch_start + k + 1} in the file"
        return where

    def _malformed(self, rec: DocRecord, reason: str) -> NerdeskError:
        where = self._where(rec)
        if where["line"] is not None:
            return err(Errors.E106, **where, reason=reason)
        entry = where.pop("details", "a record")
        return err(Errors.E125, **where, entry=entry, reason=reason)

    def _check_status_annotator(self, rec: DocRecord) -> None:
        if rec.annotator is not None and not isinstance(rec.annotator, str):
            raise self._malformed(rec, f"'annotator' must be a string, not {type(rec.annotator).__name__}")
        if rec.status is not None and (not isinstance(rec.status, str) or rec.status not in _STATUS):
            raise err(
                Errors.E127,
                **self._where(rec),
                status=f"{rec.status!r:.80}".strip("'"),
                statuses=", ".join(k for k in _STATUS if k),
            )

    def _meta_json(self, rec: DocRecord) -> str:
        if not rec.meta:
            return "{}"
        try:
            return _dumps(rec.meta)
        except (TypeError, ValueError, RecursionError) as exc:  # not JSON, circular, or nested too deeply
            reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
            raise self._malformed(rec, f"'meta' cannot be stored as JSON ({reason})") from None

    def _surrogate_error(self, batch: list[DocRecord]) -> NerdeskError:
        for rec in batch:
            fields: list[tuple[str, str | None, Span | None]] = [
                ("The text", rec.text, None),
                ("The source name", rec.source, None),
                ("'annotator'", rec.annotator, None),
                ("'meta'", self._meta_json(rec), None),
            ]
            fields += [(f"Span label {sp.label!r:.40}", sp.label, sp) for sp in rec.spans or ()]
            fields += [(f"Prediction label {sp.label!r:.40}", sp.label, None) for sp in rec.predictions or ()]
            for what, value, span in fields:
                if isinstance(value, str) and (m := _SURROGATE.search(value)):
                    return err(
                        Errors.E118, **self._where(rec, span), what=what, pos=m.start(), char=f"U+{ord(m.group()):04X}"
                    )
        return err(Errors.E118, file=self.error_file or self.source, what="A string", pos="?", char="U+D800-DFFF")

    def _checked_spans(self, rec: DocRecord, spans: list[Span]) -> list[Span]:
        n = len(rec.text)
        for sp in spans:
            if not (0 <= sp.start < sp.end <= n):
                raise err(Errors.E107, **self._where(rec, sp), start=sp.start, end=sp.end, length=n)
            piece = rec.text[sp.start : sp.end]
            if piece != piece.strip():
                raise err(Errors.E108, **self._where(rec, sp), start=sp.start, end=sp.end, text=piece)
            if sp.label not in self.labels:
                if not self.add_labels:
                    raise err(
                        Errors.E109, **self._where(rec, sp), label=sp.label, labels=", ".join(sorted(self.labels))
                    )
                self.result.labels_added.extend(labelset.add_labels(self.store, self.actor, [sp.label]))
                self.labels.add(sp.label)
        spans = sorted(spans)
        if not self.allow_overlaps:  # sorted by start: an overlap shows between neighbours
            for a, b in zip(spans, spans[1:]):
                if b.start < a.end:
                    raise err(
                        Errors.E126,
                        **self._where(rec, b),
                        start=b.start,
                        end=b.end,
                        label=b.label,
                        other_start=a.start,
                        other_end=a.end,
                        other_label=a.label,
                    )
        return spans

    def _checked_tokens(self, rec: DocRecord, tokens: list[tuple[int, int]]) -> list[int]:
        """Given tokens must be ordered, non-empty, non-overlapping and inside the text.
        Returns the offsets as one flat list."""
        if not tokens:
            return []
        flat = list(chain.from_iterable(tokens))
        if (
            flat[0] < 0
            or flat[-1] > len(rec.text)
            or flat != sorted(flat)
            or min(map(operator.sub, flat[1::2], flat[::2])) <= 0
        ):
            prev = 0
            for s, e in tokens:
                if not (prev <= s < e <= len(rec.text)):
                    raise err(
                        Errors.E106,
                        **self._where(rec),
                        reason=f"token offsets {s}-{e} are out of "
                        f"order or out of range for a text of {len(rec.text)} characters",
                    )
                prev = e
        return flat

    def _check_alignment(self, rec: DocRecord, tokens, spans: list[Span]) -> None:
        starts = {s for s, _ in tokens}
        ends = {e for _, e in tokens}
        for sp in spans:
            if sp.start not in starts or sp.end not in ends:
                raise err(
                    Errors.E108, **self._where(rec, sp), start=sp.start, end=sp.end, text=rec.text[sp.start : sp.end]
                )

    def _annotation(self, seg_id: int, rec: DocRecord, spans: list[Span]) -> dict[str, Any]:
        status = _STATUS.get(rec.status, "accepted")
        return {
            "segment_id": seg_id,
            "annotator": rec.annotator or self.annotator or "import",
            "tier": "annotator",
            "status": status,
            "spans": [Span(sp.start, sp.end, sp.label, None, "human") for sp in spans],
            "note": "",
            "guideline_version": _made_under(rec, self.guideline_version),
            "model_id": None,
            "created": self.created,
            "updated": self.created,
        }

    def _attach_to_existing(self, doc_id: int, rec: DocRecord, spans: list[Span]) -> list[dict[str, Any]]:
        rows = []
        segments = self.store.segments_of(doc_id, lazy_tokens=True)  # their tokens are not read
        if rec.annotated_range is not None:
            lo, hi = rec.annotated_range
            segments = [seg for seg in segments if seg.start < hi and lo < seg.end]
        for seg in segments:
            inside = [sp for sp in spans if seg.start <= sp.start < seg.end]
            for sp in inside:
                if sp.end > seg.end:
                    raise err(
                        Errors.E108,
                        **self._where(rec, sp),
                        start=sp.start,
                        end=sp.end,
                        text=rec.text[sp.start : sp.end],
                    )
            row = self._annotation(seg.id, rec, inside)
            row["_origin"] = str((rec.meta or {}).get("bundle_id", ""))[:8] or Path(rec.source or self.source).name
            rows.append(row)
        return rows

    def _merge(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The merge rule for annotations of segments already in the project: an incoming row by a
        name that has no row there is added; one equal to the local row (same spans and status)
        changes nothing; one that differs never replaces the local row (another laptop's "alice",
        or newer local work): it is kept beside it, as "NAME~ORIGIN" (ORIGIN: the bundle id, or the
        file), a second annotation of the segment for adjudication. Counted in the result."""
        if not rows:
            return []
        local = self.store.annotations_of(list({r["segment_id"] for r in rows}))
        out = []
        for row in rows:
            mine = {a.annotator: a for a in local.get(row["segment_id"], [])}
            old = mine.get(row["annotator"])
            if old is None:
                self.result.merged_added += 1
                out.append(row)
                continue
            if _same(old, row):
                self.result.merged_unchanged += 1
                continue
            name = f"{row['annotator']}~{row.pop('_origin')}"
            twin = mine.get(name)
            if twin is not None and _same(twin, row):
                self.result.merged_unchanged += 1
                continue
            self.result.conflicts += 1
            out.append(
                {
                    **row,
                    "annotator": name,
                    "note": (row.get("note") or "")
                    + (f"conflicts with {row['annotator']}'s local annotation; kept for adjudication"),
                }
            )
        for row in out:
            row.pop("_origin", None)
        self.merged_rows.extend(out)
        return out

    def _store_predictions(self, preds: list[tuple[int, list[Span]]]) -> None:
        if self.pred_model is None:
            self.pred_model = f"import:{self.source or 'predictions'}"
            self.store.register_model(
                self.pred_model,
                self.pred_model,
                "0",
                self.source,
                "",
                [],
                {"name": self.pred_model, "description": "predictions imported with the data"},
            )
        rows = []
        for seg_id, spans in preds:
            confs = [sp.confidence if sp.confidence is not None else 1.0 for sp in spans]
            lc = 1.0 - min(confs) if confs else 0.0
            rows.append(
                (seg_id, [[sp.start, sp.end, sp.label, sp.confidence] for sp in spans], lc, 1.0 - lc, 0.0, lc, lc)
            )
        self.store.insert_predictions(self.pred_model, rows)
        self.result.predicted_segments += len(rows)


def _made_under(rec: DocRecord, current: int | None) -> int | None:
    """The guideline version an imported annotation was made under: a bundle's own when it is older than the
    project's (its annotations then show as stale where a label changed since), else the project's."""
    made = (rec.meta or {}).get("guideline_version")
    if isinstance(made, int) and not isinstance(made, bool) and current is not None and made < current:
        return made
    return current
