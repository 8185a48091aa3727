"""Plain data passed between the core, the CLI and the UI. No behaviour beyond small helpers.

Offsets are Python string indices (Unicode code points) into a document's text, end exclusive.
The UI converts to and from Qt's UTF-16 positions at its boundary (nerdesk/ui/textpos.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class Span:
    """An entity mention: [start, end) in document characters, a label, and an optional confidence."""

    start: int
    end: int
    label: str
    confidence: float | None = None

    def key(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.label)


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
class Progress:
    """Yielded by long core operations; the CLI shows a bar, the UI a progress widget."""

    done: int
    total: int | None = None
    message: str = ""


@dataclass
class Changes:
    """What a mutation touched, so views refresh only what changed (Anki's OpChanges)."""

    segments: set[int] = field(default_factory=set)
    documents: set[int] = field(default_factory=set)
    labels: bool = False
    models: bool = False
    action: str = ""


def drain(gen):
    """Run a progress generator (import, predict, train...) to the end and return its result."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value
