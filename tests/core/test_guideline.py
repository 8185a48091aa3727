"""The guideline per label (issue 17): fields, examples from real segments, versions with author and
summary, diffs, stale work after a definition changes, bundles from an older version marked so."""

from __future__ import annotations

import pytest

from nerdesk.core import guideline
from nerdesk.core.errors import NerdeskError
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Span, drain
from tests.core.test_taxonomy import dump


@pytest.fixture
def proj(tmp_path, shared_data):
    """60 btc sentences with their gold spans."""
    small = tmp_path / "btc60.jsonl"
    lines = (shared_data / "train" / "btc" / "dev.jsonl").read_text(encoding="utf-8").splitlines(True)
    small.write_text("".join(lines[:60]), encoding="utf-8")
    p = Project.create(tmp_path / "g.nerdesk")
    drain(p.import_file(small, annotations=True, add_labels=True))
    yield p
    p.close()


def first_span(p: Project, label: str) -> tuple[int, int, int]:
    for (sid,) in p.store.conn.execute("SELECT segment_id FROM annotations ORDER BY segment_id"):
        for sp in p.segment(sid).annotation.spans:
            if sp.label == label:
                return sid, sp.start, sp.end
    raise AssertionError(label)


def test_fields_versions_and_diff(proj):
    v0 = proj.guideline()["version"]
    proj.guidelines.set_fields(
        "PER", definition="A named person, real or fictional.", boundaries="Titles (Mr, Dr) are outside the span."
    )
    proj.guidelines.set_fields("PER", nested="A person inside an organisation name is not tagged.")
    vs = proj.guidelines.versions()
    assert [v["version"] for v in vs][-2:] == [v0 + 1, v0 + 2]
    assert vs[-1]["author"] == "tester" and vs[-1]["created"] and "nested" in vs[-1]["summary"]
    g = proj.guidelines.guide("PER")
    assert g["definition"].startswith("A named person") and g["nested"].startswith("A person inside")
    # the palette and the inspector show the definition
    assert proj.guidelines.definition("PER") == "A named person, real or fictional."
    d = proj.guidelines.diff()
    assert "+Nested entities: A person inside" in d and "-Definition" not in d
    d2 = proj.guidelines.diff(v0, v0 + 2)
    assert "+Definition: A named person" in d2 and "+Boundary rules: Titles" in d2
    shown = guideline.render(proj.guidelines.version())
    assert "## PER" in shown and "Boundary rules: Titles (Mr, Dr)" in shown
    with pytest.raises(NerdeskError) as e:
        proj.guidelines.version(999)
    assert e.value.code == "E433"


def test_examples_come_from_real_segments_and_do_not_make_work_stale(proj):
    sid, a, b = first_span(proj, "PER")
    text = proj.segment(sid).text
    seg_start = proj.segment(sid).start
    proj.guidelines.add_example("PER", sid, a, b, note="a handle counts")
    proj.guidelines.add_example("PER", sid, seg_start, seg_start + 1, negative=True)
    g = proj.guidelines.guide("PER")
    assert g["positive"][0]["text"] == text[a - seg_start : b - seg_start] and g["positive"][0]["segment_id"] == sid
    assert g["negative"][0]["text"] == text[0]
    assert proj.taxonomy.stale_queue(100) == []  # an example does not change what the label means
    with pytest.raises(NerdeskError) as e:
        proj.guidelines.add_example("PER", sid, a, a)
    assert e.value.code == "E434"
    proj.guidelines.remove_example("PER", 0)
    assert proj.guidelines.guide("PER")["positive"] == []


def test_a_new_definition_makes_older_annotations_stale_until_accepted_again(proj):
    n_per = proj.taxonomy.currency()["PER"]["annotations"]
    assert n_per > 5 and proj.taxonomy.stale_queue(1000) == []
    proj.guidelines.set_fields("PER", definition="Only real people.")
    stale = proj.taxonomy.stale_queue(1000)
    assert len(stale) == n_per and proj.taxonomy.currency()["PER"] == {
        "annotations": n_per,
        "stale": n_per,
        "current": 0,
    }
    assert proj.taxonomy.currency()["ORG"]["stale"] == 0
    assert proj.taxonomy.stale_queue(1000, label="ORG") == []
    proj.accept(stale[0])
    assert stale[0] not in proj.taxonomy.stale_queue(1000)
    assert proj.taxonomy.currency()["PER"]["current"] == 1


def test_undo_of_a_guideline_edit_restores_everything(proj):
    before = dump(proj)
    proj.guidelines.set_fields("LOC", definition="Places.", exceptions="Not in @-handles.")
    proj.guidelines.set_text("Tag the longest name.")
    assert proj.guideline()["text"] == "Tag the longest name."
    proj.undo()
    proj.undo()
    assert dump(proj) == before


def test_the_editable_text_round_trips_and_bad_text_changes_nothing(proj):
    before = dump(proj)
    text = proj.guidelines.to_editable()
    with pytest.raises(NerdeskError) as e:  # nothing edited: nothing to change
        proj.guidelines.from_editable(text)
    assert e.value.code == "E431"
    for bad in ("{not json", '{"labels": []}', '{"labels": {"PER": {"definition": 3}}}'):
        with pytest.raises(NerdeskError) as e:
            proj.guidelines.from_editable(bad)
        assert e.value.code == "E435"
    assert dump(proj) == before
    edited = text.replace('"definition": ""', '"definition": "Changed"', 1)
    proj.guidelines.from_editable(edited, summary="first label defined")
    assert proj.guidelines.versions()[-1]["summary"] == "first label defined"


def test_a_bundle_from_an_older_guideline_merges_with_its_annotations_marked_so(proj, tmp_path):
    from nerdesk.core.bundle import write_bundle

    old_version = proj.guideline()["version"]
    bundle = tmp_path / "b.zip"
    write_bundle(proj.store, proj.identity, bundle)
    # another copy of the project moves on: the definition of PER changes
    with Project.create(tmp_path / "other.nerdesk", labels=proj.label_names()) as other:
        other.guidelines.set_text("v2")
        other.guidelines.set_text("v3")
        other.guidelines.set_fields("PER", definition="Only real people.")
        assert other.guideline()["version"] > old_version
        drain(other.import_file(bundle))
        rows = other.store.conn.execute("SELECT DISTINCT guideline_version FROM annotations").fetchall()
        assert rows == [(old_version,)]  # made under the bundle's version, not today's
        n_per = other.taxonomy.currency()["PER"]["annotations"]
        assert n_per and other.taxonomy.currency()["PER"]["stale"] == n_per
        assert other.taxonomy.currency()["ORG"]["stale"] == 0  # ORG did not change since
        # annotations imported from a plain file are made under today's guideline
        drain(
            other.import_records([DocRecord(text="Ada Lovelace wrote.", spans=[Span(0, 12, "PER")])], annotations=True)
        )
        assert other.taxonomy.currency()["PER"]["current"] == 1


def test_bundles_carry_the_guideline_version_and_the_active_labels_only(proj, tmp_path):
    from nerdesk.core.bundle import read_bundle, write_bundle

    proj.guidelines.set_fields("PER", definition="A person.")
    proj.taxonomy.retire_label("LOC")
    write_bundle(proj.store, proj.identity, tmp_path / "b.zip")
    manifest, lines = read_bundle(tmp_path / "b.zip")
    assert manifest["guideline"]["version"] == proj.guideline()["version"]
    names = [lab["name"] for lab in manifest["guideline"]["labels"]]
    assert "LOC" not in names and "PER" in names
    per = next(lab for lab in manifest["guideline"]["labels"] if lab["name"] == "PER")
    assert per["guide"]["definition"] == "A person."
