"""Correction bundles: schema, preview, merge (idempotent, conflicts kept), tamper and zip safety."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import jsonschema
import pytest

from nerdesk.core import bundle
from nerdesk.core.errors import NerdeskError
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, drain

SCHEMAS = Path(__file__).resolve().parents[2] / "resources" / "schemas"
TEXT = "Angela Merkel visited Paris. She met Emmanuel Macron at the Elysee."


def reviewed_project(path, user="alice"):
    p = Project.create(path, labels=["PER", "LOC", "ORG"], user=user)
    drain(p.import_records([DocRecord(TEXT, source="news.txt", meta={"day": 1})]))
    p.store.register_model("m@1", "m", "1", "", "abc", ["PER", "LOC"], {})
    p.store.set_active_model("m@1")
    s1, s2 = [s.id for s in p.document(1)["segments"]]
    with p.store.transaction():  # the model found Merkel and called Paris a PER; missed Macron
        p.store.insert_predictions(
            "m@1",
            [
                (s1, [[0, 13, "PER", 0.9], [22, 27, "PER", 0.55]], 0.5, 0.5, 0.5, 0.5, 0.5),
                (s2, [], 0.2, 0.2, 0.2, 0.2, 0.2),
            ],
        )
    p.relabel_span(s1, 22, 27, "LOC")
    p.accept(s1)
    p.add_span(s2, 37, 52, "PER")
    p.accept(s2)
    return p


def test_bundle_contents_and_schema(tmp_path):
    p = reviewed_project(tmp_path / "a.nerdesk")
    manifest, lines = bundle.preview(p.store)
    out = tmp_path / "b.zip"
    written = bundle.write_bundle(p.store, p.identity, out)
    assert written["error_counts"] == {"label": 1, "false_negative": 1} == manifest["error_counts"]
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["corrections.jsonl", "manifest.json"]
        m = json.loads(z.read("manifest.json"))
        body = [json.loads(x) for x in z.read("corrections.jsonl").decode().splitlines()]
    jsonschema.validate(m, json.loads((SCHEMAS / "bundle-manifest.schema.json").read_text()))
    for line in body:
        jsonschema.validate(line, json.loads((SCHEMAS / "bundle-correction.schema.json").read_text()))
    assert body == lines  # the preview is exactly what leaves
    assert m["annotators"] == ["alice"] and m["models"] == [{"id": "m@1", "sha256": "abc"}]
    first = body[0]
    assert first["text"] == "Angela Merkel visited Paris."
    assert first["final"] == [{"start": 0, "end": 13, "label": "PER"}, {"start": 22, "end": 27, "label": "LOC"}]
    assert [e["category"] for e in first["errors"]] == ["label"]
    assert first["errors"][0]["surface"] == "Paris" and first["document"]["meta"] == {"day": 1}
    second = body[1]
    assert second["text"][second["final"][0]["start"] : second["final"][0]["end"]] == "Emmanuel Macron"
    p.close()


def test_merge_is_idempotent_and_keeps_conflicts(tmp_path):
    a = reviewed_project(tmp_path / "a.nerdesk", "alice")
    bundle.write_bundle(a.store, a.identity, tmp_path / "a.zip")
    b = reviewed_project(tmp_path / "b.nerdesk", "bob")
    s1 = b.document(1)["segments"][0].id
    b.relabel_span(s1, 22, 27, "ORG")  # bob disagrees with alice on Paris
    b.accept(s1)
    res = drain(b.import_file(tmp_path / "a.zip"))
    assert res.documents == 0 and res.annotated_segments == 2
    anns = b.store.annotations_of([s1])[s1]
    assert sorted(a_.annotator for a_ in anns) == ["alice", "bob"]
    labels = {a_.annotator: [s.label for s in a_.spans] for a_ in anns}
    assert labels == {"alice": ["PER", "LOC"], "bob": ["PER", "ORG"]}
    before = b.store.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0]
    drain(b.import_file(tmp_path / "a.zip"))
    assert b.store.conn.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == before
    assert b.stats()["documents"] == 1
    # into an empty project, segments become documents of their own
    c = Project.create(tmp_path / "c.nerdesk", labels=["PER", "LOC"])
    res = drain(c.import_file(tmp_path / "a.zip"))
    assert res.documents == 2 and c.stats()["annotated"] == 2
    a.close(), b.close(), c.close()


def test_merge_never_overwrites_the_same_name(tmp_path):
    """alice on two laptops, and alice's newer local work: the incoming row differs from the local
    one by the same name, so it is kept beside it (alice~BUNDLE) for adjudication, counted as a
    conflict; nothing local is replaced; equal rows and a second import change nothing."""
    a = reviewed_project(tmp_path / "a.nerdesk", "alice")  # laptop 1
    bundle.write_bundle(a.store, a.identity, tmp_path / "a.zip")
    b = reviewed_project(tmp_path / "b.nerdesk", "alice")  # laptop 2: the same segments, same name
    s1, s2 = [s.id for s in b.document(1)["segments"]]
    b.relabel_span(s1, 22, 27, "ORG")  # newer local work differs on s1; s2 is the same as laptop 1
    b.accept(s1)
    local = b.store.annotation(s1, "alice")
    res = drain(b.import_file(tmp_path / "a.zip"))
    assert (res.merged_added, res.merged_unchanged, res.conflicts) == (0, 1, 1)
    assert b.store.annotation(s1, "alice") == local  # not replaced
    anns = {x.annotator: x for x in b.store.annotations_of([s1])[s1]}
    twin = next(n for n in anns if n.startswith("alice~"))
    assert [sp.label for sp in anns[twin].spans] == ["PER", "LOC"] and "adjudication" in anns[twin].note
    # the merge is one undoable step: undo removes what it added, redo puts it back; local work stays
    assert b.undo_status()[0] == "merge annotations"
    b.undo()
    assert [x.annotator for x in b.store.annotations_of([s1])[s1]] == ["alice"]
    assert b.store.annotation(s1, "alice") == local
    b.redo()
    assert sorted(x.annotator for x in b.store.annotations_of([s1])[s1]) == sorted(anns)
    with Project.open(tmp_path / "b.nerdesk", user="alice") as again:  # and after a restart
        assert again.undo_status()[0] == "merge annotations"
    res = drain(b.import_file(tmp_path / "a.zip"))  # again: nothing new
    assert (res.merged_added, res.merged_unchanged, res.conflicts) == (0, 2, 0)
    # a third laptop with yet another version of s1: a second conflict row, both kept
    c = reviewed_project(tmp_path / "c.nerdesk", "alice")
    c.relabel_span(c.document(1)["segments"][0].id, 22, 27, "PER")
    c.accept(c.document(1)["segments"][0].id)
    bundle.write_bundle(c.store, c.identity, tmp_path / "c.zip")
    res = drain(b.import_file(tmp_path / "c.zip"))
    assert res.conflicts == 1
    names = sorted(x.annotator for x in b.store.annotations_of([s1])[s1])
    assert names[0] == "alice" and len(names) == 3 and all(n.startswith("alice~") for n in names[1:])
    a.close(), b.close(), c.close()


def _rezip(src: Path, dst: Path, edit):
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    edit(members)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)


def test_tampered_traversal_and_bomb_rejected(tmp_path):
    p = reviewed_project(tmp_path / "a.nerdesk")
    good = tmp_path / "good.zip"
    bundle.write_bundle(p.store, p.identity, good)
    target = Project.create(tmp_path / "t.nerdesk", labels=["PER", "LOC"])

    def expect(path, code):
        with pytest.raises(NerdeskError) as e:
            drain(target.import_file(path))
        assert e.value.code == code and str(path) in str(e.value)
        assert target.stats()["documents"] == 0

    tampered = tmp_path / "tampered.zip"
    _rezip(good, tampered, lambda m: m.update({"corrections.jsonl": m["corrections.jsonl"].replace(b"LOC", b"ORG")}))
    expect(tampered, "E123")
    traversal = tmp_path / "traversal.zip"
    _rezip(good, traversal, lambda m: m.update({"../../evil.sh": b"rm -rf /"}))
    expect(traversal, "E121")
    bomb = tmp_path / "bomb.zip"
    _rezip(good, bomb, lambda m: m.update({"corrections.jsonl": b"\n" * 50_000_000}))
    expect(bomb, "E122")
    notzip = tmp_path / "not.zip"
    notzip.write_bytes(b"hello")
    expect(notzip, "E120")
    p.close(), target.close()
