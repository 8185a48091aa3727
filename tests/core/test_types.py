"""The typed domain: a span's stored shape (Span.to_json / from_json), the typed segment (what the
store's reads make of a row, and what edits.attach_spans adds to it) and an annotation's round trip."""

from __future__ import annotations

import json

import pytest

from nerdesk.core.project import Project
from nerdesk.core.store import now
from nerdesk.core.types import Annotation, Prediction, Segment, ShownSpan, Span, TokenOffsets

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
        assert seg.spans == [ShownSpan(8, 11, "PER", 0.75)]
        shown = seg.spans[0]
        assert (shown.origin, shown.source, shown.confirmed, shown.term_id, shown.term) == (
            "model",
            None,
            False,
            None,
            None,
        )
        p.add_span(1, 0, 3, "PER")
        p.accept(1)
        seg = p.segment(1)  # alice's accepted annotation now
        assert seg.status == "accepted"
        assert isinstance(seg.annotation, Annotation) and seg.annotation.annotator == "alice"
        assert seg.annotations == [seg.annotation]
        assert [(sp.start, sp.end, sp.label, sp.origin, sp.confirmed) for sp in seg.spans] == [
            (0, 3, "PER", "human", True),
            (8, 11, "PER", "model", True),
        ]
        # the stored row: each span in to_json's shape, the model's kept with its confidence
        (raw,) = p.store.conn.execute("SELECT spans FROM annotations WHERE segment_id = 1").fetchone()
        assert raw == (
            '[{"start": 0, "end": 3, "label": "PER", "confidence": null, "origin": "human"}, '
            '{"start": 8, "end": 11, "label": "PER", "confidence": 0.75, "origin": "model"}]'
        )
        assert seg.annotation.spans == (Span(0, 3, "PER", None, "human"), Span(8, 11, "PER", 0.75, "model"))
        doc = p.document(1)  # the document view's segments are shown ones too
        assert [s.id for s in doc["segments"]] == [1, 2]
        assert doc["segments"][0].spans == seg.spans and doc["segments"][1].spans == []
        assert list(doc["segments"][1].tokens) == [(13, 15), (16, 20), (20, 21)]


# ---------------------------------------------------------------------------------------------- Span's stored shape
#: (stored JSON, the Span it reads as): every shape the app writes, and an old row's
SHAPES = [
    # a person's span (the editor, the importer, adjudication)
    (
        '{"start": 0, "end": 3, "label": "PER", "confidence": null, "origin": "human"}',
        Span(0, 3, "PER", None, "human"),
    ),
    # the model's (auto-accept; a suggestion kept as it was)
    (
        '{"start": 4, "end": 9, "label": "LOC", "confidence": 0.875, "origin": "model"}',
        Span(4, 9, "LOC", 0.875, "model"),
    ),
    # a term list's suggestion: its source last
    (
        '{"start": 2, "end": 8, "label": "Disease", "confidence": null, "origin": "terms", "source": "terms:mesh"}',
        Span(2, 8, "Disease", None, "terms", "terms:mesh"),
    ),
    # a span a label merge renamed: the label it had, right after the new one (a chain: U+001F between)
    (
        '{"start": 1, "end": 2, "label": "THING", "was": "LOC\\u001fMISC", "confidence": null, "origin": "human"}',
        Span(1, 2, "THING", None, "human", was="LOC\x1fMISC"),
    ),
]


@pytest.mark.parametrize(("stored", "span"), SHAPES)
def test_a_span_reads_and_writes_its_stored_shape_byte_for_byte(stored, span):
    got = Span.from_json(json.loads(stored))
    assert got == span
    assert (got.confidence, got.origin, got.source, got.was) == (span.confidence, span.origin, span.source, span.was)
    assert json.dumps(got.to_json(), ensure_ascii=False) == stored


def test_an_old_row_without_provenance_reads_as_none_and_is_written_whole():
    old = Span.from_json({"start": 0, "end": 3, "label": "PER"})
    assert (old.confidence, old.origin, old.source, old.was) == (None, None, None, None)
    assert old.to_json() == {"start": 0, "end": 3, "label": "PER", "confidence": None, "origin": None}
    # a key the app does not know is not kept
    assert Span.from_json({"start": 0, "end": 3, "label": "PER", "origin": "human", "x": 1}).to_json() == {
        "start": 0,
        "end": 3,
        "label": "PER",
        "confidence": None,
        "origin": "human",
    }


def test_provenance_is_not_part_of_a_mention():
    person = Span(0, 3, "PER", None, "human")
    term = Span(0, 3, "PER", None, "terms", "terms:mesh", "ORG")
    assert person == term and hash(person) == hash(term) and person.key() == term.key()
    assert not person < term and not term < person
    assert {person, term} == {Span(0, 3, "PER")}
    assert person != Span(0, 3, "PER", 0.5, "human")  # the confidence is (as before)
    assert sorted([Span(4, 5, "A", None, "model"), Span(0, 9, "B", None, "human")])[0].label == "B"
    # a shown span: the same mention, its view-only fields aside, and its plain span with provenance
    shown = ShownSpan(0, 3, "PER", None, "terms", "terms:mesh", confirmed=True, term_id=7, term="flu")
    assert shown == ShownSpan(0, 3, "PER") and hash(shown) == hash(person)
    assert shown.span() == person and type(shown.span()) is Span
    assert (shown.span().origin, shown.span().source) == ("terms", "terms:mesh")
    with pytest.raises(AttributeError):
        shown.confirmed = False  # type: ignore[misc]  # frozen


def test_an_annotation_round_trips_through_its_dict_and_the_store(tmp_path):
    row = {
        "segment_id": 1,
        "annotator": "alice",
        "tier": "annotator",
        "status": "draft",
        "spans": [json.loads(stored) for stored, _ in SHAPES],
        "note": "",
        "guideline_version": None,
        "model_id": "m1",
        "created": "2026-01-01T00:00:00",
        "updated": "2026-01-01T00:00:01",
    }
    ann = Annotation.from_dict(row)
    assert ann.spans == tuple(span for _, span in SHAPES)
    assert ann.to_dict() == row and json.dumps(ann.to_dict()) == json.dumps(row)
    with _project(tmp_path) as p:
        p.store.put_annotation(ann)
        (raw,) = p.store.conn.execute("SELECT spans FROM annotations").fetchone()
        assert raw == "[" + ", ".join(stored for stored, _ in SHAPES) + "]"
        back = p.store.annotation(1, "alice")
        assert back is not None and back.to_dict() == row
        assert [sp.was for sp in back.spans] == [None, None, None, "LOC\x1fMISC"]
