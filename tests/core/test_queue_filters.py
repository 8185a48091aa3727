"""Queue filters in SQL: label, source and maximum confidence (Store.queue / Project.next_items)."""

from __future__ import annotations


from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, drain

MODEL = "filter-model@1"


def make(tmp_path, n_extra=0):
    p = Project.create(tmp_path / "q.nerdesk", labels=["PER", "ORG", "LOC"])
    recs = [
        DocRecord("Alice met Bob.", source="/data/a/people.txt"),
        DocRecord("Acme hired Carol.", source="C:\\data\\orgs.txt"),
        DocRecord("Rain in Spain.", source="/data/b/places.txt"),
        DocRecord("nothing here at all.", source="/data/b/places.txt"),
    ]
    recs += [DocRecord(f"Filler {i} text.", source="fill_%.txt") for i in range(n_extra)]
    drain(p.import_records(recs))
    st = p.store
    ids = [r[0] for r in p.next_items(10_000, order="document")]
    segs = {s.id: s for s in st.segments_with_text(ids)}
    by_text = {s.text: s for s in segs.values()}

    def sp(text, word, label, conf):
        s = by_text[text]
        a = s.start + s.text.index(word)
        return [a, a + len(word), label, conf]

    rows = {
        by_text["Alice met Bob."].id: [
            sp("Alice met Bob.", "Alice", "PER", 0.9),
            sp("Alice met Bob.", "Bob", "PER", 0.4),
        ],
        by_text["Acme hired Carol."].id: [sp("Acme hired Carol.", "Acme", "ORG", 0.7)],
        by_text["Rain in Spain."].id: [sp("Rain in Spain.", "Spain", "LOC", 0.95)],
    }
    with st.transaction():
        st.register_model(MODEL, "m", "1", "", "", ["PER", "ORG", "LOC"], {})
        st.set_active_model(MODEL)
        st.insert_predictions(
            MODEL, [(sid, spans, 0, 0, 0, 0, 1 - min(x[3] for x in spans)) for sid, spans in rows.items()]
        )
    return p, {t: s.id for t, s in by_text.items()}


def ids(items):
    return [i for i, _ in items]


def test_label_source_confidence_filters(tmp_path):
    p, seg = make(tmp_path)
    alice, acme, rain = seg["Alice met Bob."], seg["Acme hired Carol."], seg["Rain in Spain."]
    # unfiltered: the indexed path, unchanged (only predicted segments in uncertainty order)
    assert ids(p.next_items(10)) == [alice, acme, rain]
    assert ids(p.next_items(10, label="PER")) == [alice]
    assert ids(p.next_items(10, label="ORG", order="document")) == [acme]
    assert ids(p.next_items(10, label="MISC")) == []
    # source: the full path or just the file name (any separator)
    assert ids(p.next_items(10, source="places.txt", order="document")) == [rain, seg["nothing here at all."]]
    assert ids(p.next_items(10, source="orgs.txt")) == [acme]
    assert ids(p.next_items(10, source="/data/a/people.txt")) == [alice]
    assert ids(p.next_items(10, source="people")) == []
    # confidence: the least confident span
    assert ids(p.next_items(10, max_confidence=0.5)) == [alice]
    assert ids(p.next_items(10, max_confidence=0.8, order="document")) == [alice, acme]
    assert ids(p.next_items(10, max_confidence=0.8, label="ORG")) == [acme]
    # combined with status and paging
    assert ids(p.next_items(1, max_confidence=0.99, offset=1)) == [acme]
    assert ids(p.next_items(10, status="accepted", label="PER")) == []
    p.accept(alice)
    assert ids(p.next_items(10, status="accepted", label="PER")) == [alice]
    assert ids(p.next_items(10, label="PER")) == []
    p.close()


def test_label_filter_sees_human_spans(tmp_path):
    p, seg = make(tmp_path)
    nothing = seg["nothing here at all."]
    s = p.segment(nothing)
    p.add_span(nothing, s.start, s.start + len("nothing"), "LOC")
    assert ids(p.next_items(10, status="draft", label="LOC", order="document")) == [nothing]
    assert ids(p.next_items(10, status="draft", label="LOC")) == []  # uncertainty order: predicted only
    p.close()


def test_like_wildcards_in_source_are_literal(tmp_path):
    p, _ = make(tmp_path, n_extra=3)
    assert len(p.next_items(10, source="fill_%.txt", order="document")) == 3
    assert p.next_items(10, source="fillX%.txt", order="document") == []
    p.close()


def test_no_model(tmp_path):
    p = Project.create(tmp_path / "n.nerdesk", labels=["PER"])
    drain(p.import_records([DocRecord("Alice met Bob.", source="x.txt")]))
    assert len(p.next_items(10, source="x.txt")) == 1
    assert p.next_items(10, max_confidence=0.5) == []
    assert p.next_items(10, label="PER") == []
    p.close()


def test_filtered_queue_on_many_segments(tmp_path):
    """Filters combine in SQL and keep the uncertainty order (speed is measured in bench/, not here)."""
    p = Project.create(tmp_path / "big.nerdesk", labels=["PER", "ORG"])
    drain(
        p.import_records(
            [DocRecord(f"Person{i} joined Org{i % 50} today.", source=f"s{i % 7}.txt") for i in range(20_000)]
        )
    )
    st = p.store
    all_ids = [i for i, _ in p.next_items(100_000, order="document")]
    segs = st.segments_with_text(all_ids)
    with st.transaction():
        st.register_model(MODEL, "m", "1", "", "", ["PER", "ORG"], {})
        st.set_active_model(MODEL)
        st.insert_predictions(
            MODEL,
            [
                (
                    s.id,
                    [[s.start, s.start + 6, "PER" if s.id % 3 else "ORG", (s.id % 100) / 100]],
                    0,
                    0,
                    0,
                    0,
                    (s.id % 997) / 997,
                )
                for s in segs
            ],
        )
    page = p.next_items(200, label="ORG", source="s3.txt", max_confidence=0.5)
    assert page and all(sid % 3 == 0 for sid, _ in page)
    assert [u for _, u in page] == sorted((u for _, u in page), reverse=True)
    assert len(p.next_items(200)) == 200
    p.close()
