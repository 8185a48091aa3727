"""The typed segment: what the store's reads make of a row, and what edits.attach_spans adds to it."""

from __future__ import annotations

import json

import pytest

from nerdesk.core.project import Project
from nerdesk.core.store import now
from nerdesk.core.types import Annotation, Prediction, Segment, Span, TokenOffsets

TEXT = "Ann met Bob. Cy left."  # two segments: "Ann met Bob." (0-12) and "Cy left." (13-21)


def _project(tmp_path) -> Project:
    """Two segments of one document written straight through the store, the first predicted."""
    p = Project.create(tmp_path / "t.nerdesk", labels=["PER"], user="alice")
    st = p.store
    with st.transaction():
        st.insert_documents([(1, TEXT, "a.txt", "{}", "h1", now())])
        st.insert_segments(
            [
                (1, 1, 0, 0, 12, json.dumps([0, 3, 4, 7, 8, 11, 11, 12]), 4, "new"),
                (2, 1, 1, 13, 21, json.dumps([0, 2, 3, 7, 7, 8]), 3, "new"),
            ]
        )
        st.register_model("m1", "m", "1", "", "", ["PER"], {})
        st.set_active_model("m1")
        st.insert_predictions("m1", [(1, [[8, 11, "PER", 0.75]], 0.1, 0.2, 0.3, 0.4, 0.25)])
    return p


def test_store_reads_make_segments(tmp_path):
    with _project(tmp_path) as p:
        st = p.store
        first = Segment(1, 1, 0, 0, 12, TokenOffsets([0, 3, 4, 7, 8, 11, 11, 12], 0), "new")
        second = Segment(2, 1, 1, 13, 21, TokenOffsets([0, 2, 3, 7, 7, 8], 13), "new")
        assert st.segment(1) == first
        assert st.segment(3) is None
        assert st.segments_of(1) == [first, second]
        assert st.segments_of(1, lazy_tokens=True) == [first, second]  # the same tokens, parsed on use
        assert st.segments_of_documents([1]) == {1: [first, second]}
        seg = st.segments_with_text([2, 1])[1]
        assert (seg.id, seg.text, seg.source) == (1, "Ann met Bob.", "a.txt")
        assert seg.words() == ["Ann", "met", "Bob", "."]
        # tokens: document offsets, and the stored flat list relative to the segment start
        two = st.segment(2)
        assert two is not None
        assert list(two.tokens) == [(13, 15), (16, 20), (20, 21)]
        assert two.tokens.flat == [0, 2, 3, 7, 7, 8]
        # a segment read without its text says so instead of reading as empty
        assert two.text is None and two.source is None
        with pytest.raises(ValueError, match="without its text"):
            two.words()
        # nothing is shown yet: the shown fields are their defaults
        assert (two.spans, two.prediction, two.annotations, two.annotation, two.term_matches) == (
            [],
            None,
            [],
            None,
            [],
        )
        with pytest.raises(AttributeError):
            two.extra = 1  # type: ignore[attr-defined]  # slotted: 13,000 of them stay small


def test_a_shown_segment_has_its_spans_prediction_and_annotations(tmp_path):
    with _project(tmp_path) as p:
        seg = p.segment(1)  # the model's suggestion, nobody's annotation yet
        assert isinstance(seg, Segment) and seg.text == "Ann met Bob."
        assert isinstance(seg.prediction, Prediction)
        assert seg.prediction.spans == (Span(8, 11, "PER", 0.75),)
        assert seg.annotations == [] and seg.annotation is None
        assert seg.spans == [
            {"start": 8, "end": 11, "label": "PER", "confidence": 0.75, "origin": "model", "confirmed": False}
        ]
        p.add_span(1, 0, 3, "PER")
        p.accept(1)
        seg = p.segment(1)  # alice's accepted annotation now
        assert seg.status == "accepted"
        assert isinstance(seg.annotation, Annotation) and seg.annotation.annotator == "alice"
        assert seg.annotations == [seg.annotation]
        assert [(sp["start"], sp["end"], sp["label"], sp["confirmed"]) for sp in seg.spans] == [
            (0, 3, "PER", True),
            (8, 11, "PER", True),
        ]
        doc = p.document(1)  # the document view's segments are shown ones too
        assert [s.id for s in doc["segments"]] == [1, 2]
        assert doc["segments"][0].spans == seg.spans and doc["segments"][1].spans == []
        assert list(doc["segments"][1].tokens) == [(13, 15), (16, 20), (20, 21)]
