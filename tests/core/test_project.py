"""The project facade: import records, corrections, undo/redo across restarts."""

from __future__ import annotations

import pytest

from nerdesk.core.errors import NerdeskError
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Prediction, Span, drain as _run


TEXT = "Angela Merkel visited Paris. She met Emmanuel Macron at the Élysée."


def test_create_open_and_schema(tmp_path):
    path = tmp_path / "a.nerdesk"
    Project.create(path, labels=["PER", "LOC"]).close()
    with pytest.raises(NerdeskError) as e:
        Project.create(path)
    assert e.value.code == "E003"
    with Project.open(path) as p:
        assert p.label_names() == ["PER", "LOC"]
        assert p.store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert p.store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert p.guideline()["version"] == 1


def test_open_missing_and_corrupt(tmp_path):
    with pytest.raises(NerdeskError) as e:
        Project.open(tmp_path / "nope.nerdesk")
    assert e.value.code == "E001"
    bad = tmp_path / "bad.nerdesk"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(NerdeskError) as e:
        Project.open(bad)
    assert e.value.code == "E002"


def test_import_segments_tokens_and_dedup(project):
    res = _run(project.import_records([DocRecord(TEXT, source="t.txt")]))
    assert (res.documents, res.segments) == (1, 2)
    doc = project.document(1)
    assert [TEXT[s.start : s.end] for s in doc["segments"]] == [
        "Angela Merkel visited Paris.",
        "She met Emmanuel Macron at the Élysée.",
    ]
    toks = [TEXT[a:b] for a, b in doc["segments"][0].tokens]
    assert toks == ["Angela", "Merkel", "visited", "Paris", "."]
    again = _run(project.import_records([DocRecord(TEXT, source="t.txt")]))
    assert (again.documents, again.duplicates) == (0, 1)
    assert project.stats()["documents"] == 1
    assert project.search("merkel")[0]["doc_id"] == 1


def test_annotations_attach_to_existing_text(project):
    _run(project.import_records([DocRecord(TEXT)]))
    spans = [Span(0, 13, "PER"), Span(22, 27, "LOC")]
    res = _run(project.import_records([DocRecord(TEXT, spans=spans, annotator="ann")], annotations=True))
    assert res.documents == 0 and res.annotated_segments == 2
    seg = project.document(1)["segments"][0]
    assert [(s.start, s.end, s.label) for s in seg.spans] == [(0, 13, "PER"), (22, 27, "LOC")]
    assert seg.status == "accepted"


def test_import_is_all_or_nothing(project):
    good = DocRecord("Alice lives in Berlin.", spans=[Span(0, 5, "PER")])
    bad = DocRecord("Bob works at Acme.", spans=[Span(10, 99, "ORG")], source="f.jsonl", line=2)
    with pytest.raises(NerdeskError) as e:
        _run(project.import_records([good, bad], annotations=True))
    assert e.value.code == "E107" and e.value.file == "f.jsonl" and e.value.line == 2
    assert project.stats()["documents"] == 0


def test_unknown_label_is_refused(project):
    rec = DocRecord("Bob works at Acme.", spans=[Span(13, 17, "COMPANY")], source="f.jsonl", line=1)
    with pytest.raises(NerdeskError) as e:
        _run(project.import_records([rec], annotations=True))
    assert e.value.code == "E109"
    res = _run(project.import_records([rec], annotations=True, add_labels=True))
    assert res.labels_added == ["COMPANY"] and "COMPANY" in project.label_names()


def test_corrections_undo_redo_survive_restart(tmp_path):
    path = tmp_path / "u.nerdesk"
    p = Project.create(path, labels=["PER", "LOC"])
    _run(p.import_records([DocRecord(TEXT)]))
    seg = p.document(1)["segments"][0].id
    p.add_span(seg, 1, 5, "PER")  # snaps to the token "Angela"
    assert [(s.start, s.end) for s in p.segment(seg).spans] == [(0, 6)]
    p.move_span(seg, 0, 6, 0, 13)
    p.add_span(seg, 22, 27, "PER")
    p.relabel_span(seg, 22, 27, "LOC")
    p.accept(seg)
    assert p.segment(seg).status == "accepted"
    assert p.undo_status() == ("accept", None)
    p.close()

    p = Project.open(path)  # undo survives a restart
    p.undo()
    assert p.segment(seg).status == "draft"
    p.undo()
    assert [s.label for s in p.segment(seg).spans] == ["PER", "PER"]
    p.close()
    p = Project.open(path)
    p.redo()
    assert [s.label for s in p.segment(seg).spans] == ["PER", "LOC"]
    p.remove_span(seg, 22, 27)
    with pytest.raises(NerdeskError):
        p.redo()  # a new action clears the redo stack
    for _ in range(5):  # remove, relabel, add, move, add
        p.undo()
    assert p.segment(seg).spans == [] and p.segment(seg).status == "new"
    with pytest.raises(NerdeskError) as e:
        p.undo()
    assert e.value.code == "E006"
    p.close()


def test_overlapping_add_replaces(project):
    _run(project.import_records([DocRecord(TEXT)]))
    seg = project.document(1)["segments"][1]
    sid = seg.id
    s0 = seg.start
    project.add_span(sid, s0 + 8, s0 + 16, "PER")  # Emmanuel
    project.add_span(sid, s0 + 8, s0 + 23, "PER")  # Emmanuel Macron replaces it
    assert [(s.start - s0, s.end - s0) for s in project.segment(sid).spans] == [(8, 23)]
    with pytest.raises(NerdeskError) as e:
        project.add_span(sid, 0, 3, "NOPE")
    assert e.value.code == "E009"


def test_the_store_hands_out_typed_annotations_and_predictions(tmp_path):
    """Rows become objects in the store, never plain dicts: Annotation and Prediction (spans as Span);
    an edit's event still holds the annotation row as JSON, in the order of its fields."""
    import json
    from dataclasses import fields

    from nerdesk.core.types import Annotation

    with Project.create(tmp_path / "t.nerdesk", labels=["PER", "LOC"], user="alice") as p:
        _run(p.import_records([DocRecord(TEXT)]))
        _run(p.predict())
        p.add_span(1, 0, 13, "PER")
        ann = p.store.annotation(1, "alice")
        assert isinstance(ann, Annotation) and (ann.annotator, ann.status) == ("alice", "draft")
        assert [(sp.start, sp.end, sp.label) for sp in ann.spans if sp.origin == "human"] == [(0, 13, "PER")]
        assert all(isinstance(a, Annotation) for rows in p.store.annotations_of([1, 2]).values() for a in rows)
        preds = p.store.predictions_for([1, 2], p.store.active_model_id())
        assert preds and all(
            isinstance(x, Prediction) and all(isinstance(sp, Span) for sp in x.spans) for x in preds.values()
        )
        seg = p.segment(1)
        assert isinstance(seg.annotation, Annotation) and isinstance(seg.prediction, Prediction)
        after = p.store.conn.execute("SELECT after FROM events ORDER BY id DESC LIMIT 1").fetchone()[0]
        assert list(json.loads(after)) == [f.name for f in fields(Annotation)]
        assert Annotation.from_dict(json.loads(after)) == ann
        p.undo()
        assert p.store.annotation(1, "alice") is None
        p.redo()
        assert p.store.annotation(1, "alice") == ann


def test_the_model_is_asked_for_the_project_labels_only(tmp_path):
    from nerdesk.core.types import DocRecord, drain

    text = "Angela Merkel met Emmanuel Macron in Paris on Monday ."
    with Project.create(tmp_path / "loc.nerdesk", labels=["LOC"]) as p:
        drain(p.import_records([DocRecord(text)]))
        drain(p.predict())
        pred = p.store.predictions_for([1], p.store.active_model_id())[1]
        assert isinstance(pred, Prediction) and all(isinstance(sp, Span) for sp in pred.spans)
        assert [text[sp.start : sp.end] for sp in pred.spans] == ["Paris"] and pred.spans[0].label == "LOC"
        assert p.label_names() == ["LOC"]  # the model's other labels were not added
    with Project.create(tmp_path / "all.nerdesk") as p:  # no labels yet: it takes the model's
        drain(p.import_records([DocRecord(text)]))
        drain(p.predict())
        assert set(p.label_names()) == {"PER", "ORG", "LOC", "MISC"}
        spans = p.store.predictions_for([1], p.store.active_model_id())[1].spans
        assert {sp.label for sp in spans} >= {"PER", "LOC"}


def test_a_project_without_misc_gets_no_misc_words_as_other_labels(tmp_path):
    """The labels a project does not annotate count as O: words the model takes for MISC are left
    untagged in a PER/ORG/LOC project, not pushed into the next-best label (English -> ORG,
    Olympic Games -> ORG, French -> LOC when MISC was ruled out instead)."""
    from nerdesk.core.types import DocRecord, drain

    texts = [
        "The American and French delegations watched the Olympic Games in London .",
        "He speaks English and reads the Bible every Christmas .",
    ]
    with Project.create(tmp_path / "p.nerdesk", labels=["PER", "ORG", "LOC"]) as p:
        drain(p.import_records([DocRecord(t) for t in texts]))
        drain(p.predict())
        preds = p.store.predictions_for([1, 2], p.store.active_model_id())
        found = {texts[i - 1][s:e]: lab for i in (1, 2) for s, e, lab in (sp.key() for sp in preds[i].spans)}
        assert found.get("London") == "LOC"
        assert not {"French", "Olympic Games", "English", "Bible", "Christmas"} & set(found)


def test_undo_after_restart_reaches_the_first_edit_of_a_long_history(tmp_path):
    """Undo is rebuilt from the whole event log on open (it once stopped 2,000 events back)."""
    path = tmp_path / "long.nerdesk"
    with Project.create(path, labels=["PER"], user="alice") as p:
        _run(p.import_records([DocRecord("Alice met Bob .")]))
        sid = p.next_items(1, order="document")[0][0]
        p.add_span(sid, 0, 5, "PER")  # the first edit
        row = p.store.annotation(sid, "alice")
        with p.store.transaction():  # 100,000 later edits (accept, re-accept...), written directly
            for _ in range(100_000):
                p.store.log_event("alice", "accept", "do", sid, row, row)
    with Project.open(path, user="alice") as p:
        assert len(p._undo) == 100_001
        p._undo = p._undo[:1]  # skip the fillers: the first edit is still undoable
        p.undo()
        assert p.store.annotation(sid, "alice") is None


def test_token_offsets_read_like_a_list_of_pairs():
    import json

    from nerdesk.core.types import TokenOffsets

    flat = [0, 3, 4, 7, 8, 12]
    for t in (TokenOffsets(flat, 100), TokenOffsets(json.dumps(flat), 100)):
        assert list(t) == [(100, 103), (104, 107), (108, 112)] == t
        assert len(t) == 3 and t[0] == (100, 103) and t[-1] == (108, 112) and t[1:] == [(104, 107), (108, 112)]
        assert list(reversed(t)) == [(108, 112), (104, 107), (100, 103)]
        assert t != [(100, 103)] and t == [[100, 103], [104, 107], [108, 112]]
    with pytest.raises(IndexError):
        TokenOffsets(flat, 0)[3]


def test_segments_with_text_slices_each_document_once(tmp_path):
    from nerdesk.core.types import DocRecord, drain

    p = Project.create(tmp_path / "s.nerdesk", labels=["PER"])
    drain(
        p.import_records([DocRecord("Ann met Bob. Bob left.", source="a.txt"), DocRecord("Cy came.", source="b.txt")])
    )
    ids = [r[0] for r in p.store.conn.execute("SELECT id FROM segments ORDER BY id DESC")]
    rows = p.store.segments_with_text(ids)
    assert [r.id for r in rows] == ids
    assert [(r.text, r.source) for r in rows] == [
        ("Cy came.", "b.txt"),
        ("Bob left.", "a.txt"),
        ("Ann met Bob.", "a.txt"),
    ]
    doc = p.document(1)
    assert [doc["text"][a:b] for a, b in doc["segments"][1].tokens] == ["Bob", "left", "."]
