"""Plain data passed between the core, the CLI and the UI. No behaviour beyond small helpers.

Offsets are Python string indices (Unicode code points) into a document's text, end exclusive.
The UI converts to and from Qt's UTF-16 positions at its boundary (nerdesk/ui/textpos.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


@dataclass(frozen=True, order=True, slots=True)
class Span:
    """An entity mention: [start, end) in document characters, a label, and an optional confidence.

    ``origin`` (human, model, terms) and ``source`` (``terms:NAME`` for a term list's suggestion) say
    where it came from; ``was`` is the label (a chain, separated by U+001F) a label merge gave it the
    new one over, which the merge's undo reads in the stored JSON (nerdesk/core/store/labels.py). None
    of the three is part of its identity (``compare=False``): the same mention made by a person and
    suggested by a model is equal, hashes and sorts the same."""

    start: int
    end: int
    label: str
    confidence: float | None = None
    origin: str | None = field(default=None, compare=False)
    source: str | None = field(default=None, compare=False)
    was: str | None = field(default=None, compare=False)

    def key(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.label)

    def to_json(self) -> dict[str, Any]:
        """The stored shape of an annotation's span (the one place it is written): ``start``, ``end``,
        ``label``, ``confidence``, ``origin`` always, in this order, ``was`` after ``label`` and
        ``source`` last only when set, as the app has always written them (annotations, the event log
        and bundles keep their bytes; a merge's undo finds ``"label": L, "was": W`` as text)."""
        out: dict[str, Any] = {"start": self.start, "end": self.end, "label": self.label}
        if self.was is not None:
            out["was"] = self.was
        out["confidence"] = self.confidence
        out["origin"] = self.origin
        if self.source is not None:
            out["source"] = self.source
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Span:
        """A span from :meth:`to_json`'s shape (the one place it is read); a key an old row lacks
        (``confidence``, ``origin``, ``source``, ``was``) reads as None, any other key is ignored."""
        return cls(
            d["start"], d["end"], d["label"], d.get("confidence"), d.get("origin"), d.get("source"), d.get("was")
        )


@dataclass(frozen=True, order=True, slots=True)
class ShownSpan(Span):
    """A span as a user is shown it in a segment (:attr:`Segment.spans`): ``confirmed`` (a person's,
    or in an accepted annotation) and, for a term list's suggestion, the term it matched
    (``term_id``, ``term``). View-only: never stored, and not part of the span's identity. Made
    without ``was`` (what a merge's undo reads stays in the annotation it is in)."""

    confirmed: bool = field(default=False, compare=False)
    term_id: int | None = field(default=None, compare=False)
    term: str | None = field(default=None, compare=False)

    def span(self) -> Span:
        """The plain span with its provenance, what a new annotation made from the shown spans stores."""
        return Span(self.start, self.end, self.label, self.confidence, self.origin, self.source)


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's output for one segment, as the store holds it: its spans (with confidences) and
    the segment's uncertainty scores (nerdesk/core/model/decode.py; higher ``uncertainty`` is less
    sure). Made only by the store's reads (``Store.predictions_for``)."""

    segment_id: int
    model_id: str
    spans: tuple[Span, ...]
    least_confidence: float | None = None
    margin: float | None = None
    entropy: float | None = None
    mnlp: float | None = None
    uncertainty: float | None = None

    def span_lists(self) -> list[list[Any]]:
        """The spans in their stored JSON shape, ``[start, end, label, confidence]`` each."""
        return [[sp.start, sp.end, sp.label, sp.confidence] for sp in self.spans]


@dataclass(frozen=True, slots=True)
class Annotation:
    """One person's annotation of one segment, as the store holds it: its spans (with their
    provenance, :class:`Span`), ``status`` draft, accepted, skipped or flagged. Made only by the
    store's reads (``Store.annotation``, ``Store.annotations_of``) and :meth:`from_dict`; an edit
    makes a new one (frozen, ``dataclasses.replace``)."""

    segment_id: int
    annotator: str
    tier: str | None
    status: str
    spans: tuple[Span, ...]
    note: str | None = ""
    guideline_version: int | None = None
    model_id: str | None = None
    created: str | None = None
    updated: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as the event log and bundles write it (fields in order, spans in their stored
        shape, :meth:`Span.to_json`)."""
        return {
            "segment_id": self.segment_id,
            "annotator": self.annotator,
            "tier": self.tier,
            "status": self.status,
            "spans": [sp.to_json() for sp in self.spans],
            "note": self.note,
            "guideline_version": self.guideline_version,
            "model_id": self.model_id,
            "created": self.created,
            "updated": self.updated,
        }

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Annotation:
        """An annotation from :meth:`to_dict`'s shape (the event log's, an edit's or an import's row;
        a field it lacks takes its default; its spans in their stored shape, or already Spans)."""
        return cls(
            row["segment_id"],
            row["annotator"],
            row.get("tier"),
            row["status"],
            tuple(sp if isinstance(sp, Span) else Span.from_json(sp) for sp in row["spans"]),
            row.get("note"),
            row.get("guideline_version"),
            row.get("model_id"),
            row.get("created"),
            row.get("updated"),
        )


class TokenOffsets(Sequence):
    """A segment's tokens as ``(start, end)`` document offsets, made on access from the stored flat
    list ``[s0, e0, s1, e1, ...]`` relative to the segment start, or from its JSON text, parsed on
    first use (a 13,000-segment document opens without parsing and building 220,000 pairs nobody
    looks at). Compares equal to a list of pairs."""

    __slots__ = ("_flat", "base")

    def __init__(self, flat: list[int] | str, base: int) -> None:
        self._flat, self.base = flat, base

    @property
    def flat(self) -> list[int]:
        if isinstance(self._flat, str):
            flat: list[int] = json.loads(self._flat)
            self._flat = flat
            return flat
        return self._flat

    def __len__(self) -> int:
        return len(self.flat) // 2

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        return (self.base + self.flat[2 * i], self.base + self.flat[2 * i + 1])

    def __iter__(self) -> Iterator[tuple[int, int]]:
        b, f = self.base, self.flat
        return zip(map(b.__add__, f[::2]), map(b.__add__, f[1::2]))

    def __reversed__(self) -> Iterator[tuple[int, int]]:
        b, f = self.base, self.flat
        return zip(map(b.__add__, f[-2::-2]), map(b.__add__, f[::-2]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TokenOffsets):
            return list(self) == list(other)
        if isinstance(other, (list, tuple)):
            return list(self) == [tuple(t) for t in other]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))


@dataclass(slots=True)
class Segment:
    """A segment (a sentence, or a slice of a long line) of a document: as the store holds it and,
    once :func:`nerdesk.core.edits.attach_spans` has filled the shown fields, as a user is shown it.

    Made only by the store's reads (``Store.segment``, ``segments_of``, ``segments_of_documents``,
    ``segments_with_text``). ``tokens`` are document offsets; ``tokens.flat`` is the stored flat
    list relative to ``start``. ``text`` (the segment's own text) and ``source`` (its document's)
    are read only by ``segments_with_text``. Slotted: a big document makes 13,000 and more."""

    id: int
    doc_id: int
    idx: int
    start: int
    end: int
    tokens: TokenOffsets
    status: str
    text: str | None = None
    source: str | None = None
    # ---- what a user is shown (filled by edits.attach_spans; terms.attach_suggestions may merge
    # term-list suggestions into ``spans`` and sets ``term_matches``)
    #: the spans shown (with ``confirmed``, and the term of a term list's suggestion)
    spans: list[ShownSpan] = field(default_factory=list)
    #: the active model's prediction, if any
    prediction: Prediction | None = None
    #: every person's annotation of the segment
    annotations: list[Annotation] = field(default_factory=list)
    #: the one shown: the user's own, else the one that counts (nerdesk.core.tiers.best_annotation)
    annotation: Annotation | None = None
    #: the resolved term-list matches (dicts of nerdesk.core.terms), where a list matched
    term_matches: list[dict[str, Any]] = field(default_factory=list)

    def own_text(self) -> str:
        """``text``, for a segment read with it: reading it from one read without is a bug (ValueError),
        not an empty string."""
        if self.text is None:
            raise ValueError(f"segment {self.id} was read without its text (Store.segments_with_text)")
        return self.text

    def words(self) -> list[str]:
        """The segment's tokens as strings (what a model or a term list reads)."""
        text, flat = self.own_text(), self.tokens.flat
        return [text[a:b] for a, b in zip(flat[::2], flat[1::2])]


@dataclass
class DocRecord:
    """One document as read from, or written to, an external file.

    ``spans is None`` means the source carries no annotations for this text; ``[]`` means it was
    annotated and has no entities. ``tokens`` (character offsets) keeps a pre-tokenised input's
    tokens; ``sentences`` (character offsets) keeps its sentence boundaries.
    """

    text: str
    spans: list[Span] | None = None
    tokens: list[tuple[int, int]] | None = None
    sentences: list[tuple[int, int]] | None = None
    predictions: list[Span] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    line: int | None = None
    annotator: str | None = None
    status: str | None = None  # e.g. "accepted", "rejected", "ignored" (Prodigy's answer)
    annotated_range: tuple[int, int] | None = None  # the part of the text the spans cover (None: all)
    #: where each span was read, when not at (source, line): brat's ``.ann`` file and line, for errors
    span_lines: dict[Span, tuple[str, int]] | None = None


@dataclass(frozen=True)
class Identity:
    """Who is acting: a name and a review tier. Services over the store take it as ``actor``; the
    Project holds the one it resolved (:func:`nerdesk.core.review.resolve_identity`)."""

    user: str
    tier: str
    #: where each came from: argument, environment, config, remembered, login / default
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def chosen(self) -> bool:
        """False when nothing named the user (the app then asks)."""
        return self.sources.get("user") != "login"


@dataclass(frozen=True)
class Progress:
    """Yielded by long core operations; the CLI shows a bar, the UI a progress widget."""

    done: int
    total: int | None = None
    message: str = ""


class ChangeKind(Enum):
    """What kind of operation a :class:`Changes` comes from: the UI matches on it (never on ``action``,
    the sentence for people). An undo or redo carries the kind of the operation it reverts or replays."""

    EDIT_SPANS = "edit spans"  # add, delete, relabel, move a span; set a segment's spans
    ACCEPT = "accept"
    SKIP = "skip"
    FLAG = "flag"
    OVERRIDE_CATEGORY = "override category"  # a human's verdict on a correction's error category
    LABELS = "labels"  # add or edit labels; rename, merge, split, retire, parent; overlapping spans
    GUIDELINE = "guideline"  # a label's guideline or the project-wide text, its examples
    TERMS = "terms"  # remove or switch a term list (or some of its terms)
    IMPORT = "import"  # annotations merged into segments already in the project (undone, redone)
    IDENTITY = "identity"  # who is acting in this project, at which tier
    ASSIGNMENT = "assignment"  # how the work is split between annotators
    REVIEW = "review"  # a reviewer's decision: approve, correct, send back
    ADJUDICATE = "adjudicate"  # a conflict decided, one by one or by the protocol
    PROTOCOL = "protocol"  # the adjudication protocol
    RELOAD = "reload"  # the UI re-read a file that a background job changed


class Step(Enum):
    """Whether a :class:`Changes` is the operation itself or its undo or redo."""

    DO = "do"
    UNDO = "undo"
    REDO = "redo"


@dataclass
class Changes:
    """What a mutation touched, so views refresh only what changed (Anki's OpChanges).

    ``kind`` says what the operation was (``step`` whether it was done, undone or redone);
    ``action`` is the same in words for the status bar and the history (``"undo add span"``)."""

    kind: ChangeKind
    segments: set[int] = field(default_factory=set)
    documents: set[int] = field(default_factory=set)
    labels: bool = False
    models: bool = False
    action: str = ""
    step: Step = Step.DO
    #: the event this user can undo that the operation logged (a service over the store returns it; the
    #: Project that called it puts it on its undo stack)
    undoable: int | None = None


def drain(gen):
    """Run a progress generator (import, predict, train...) to the end and return its result."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value
