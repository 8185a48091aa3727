"""Label changes that migrate the work (issue 17), on a real corpus (wikigold, pre-annotated by the
shipped model): counts per label follow each rule, undo gives back the database byte for byte, redo
gives the change again, export after a merge or split gives the expected corpus, bad input changes
nothing."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from nerdesk.core import taxonomy
from nerdesk.core.errors import NerdeskError
from nerdesk.core.project import Project
from nerdesk.core.types import drain

TABLES = (
    "annotations",
    "predictions",
    "corrections",
    "labels",
    "terms",
    "project",
    "guidelines",
    "label_change_rows",
    "segments",
    "effort",
    "adjudications",
    "person_errors",
    "reviews",
)


def dump(p: Project) -> dict[str, list]:
    """Every table a label change may touch, as stored (the event log aside: it only grows)."""
    c = p.store.conn
    out = {t: sorted(c.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    # what a split placed by a model wrote stays beside its event after an undo, for a redo: the log
    out["label_change_rows"] = [r for r in out["label_change_rows"] if r[1] != "redo"]
    return out


def span_counts(p: Project) -> Counter:
    n: Counter = Counter()
    for (spans,) in p.store.conn.execute("SELECT spans FROM annotations"):
        n.update(sp["label"] for sp in json.loads(spans))
    return n


def pred_counts(p: Project) -> Counter:
    n: Counter = Counter()
    for (spans,) in p.store.conn.execute("SELECT spans FROM predictions"):
        n.update(sp[2] for sp in json.loads(spans))
    return n


def exported(p: Project) -> list[list[tuple[str, str]]]:
    return [[(r.text[s.start : s.end], s.label) for s in r.spans or []] for r in p.export_records()]


@pytest.fixture(scope="module")
def base(tmp_path_factory, shared_data_module):
    """A wikigold project of 120 sentences: gold annotations, the shipped model's predictions, corrections."""
    d = tmp_path_factory.mktemp("tax")
    path, small = d / "base.nerdesk", d / "wikigold120.jsonl"
    lines = (shared_data_module / "train" / "wikigold" / "train.jsonl").read_text(encoding="utf-8").splitlines(True)
    small.write_text("".join(lines[:120]), encoding="utf-8")
    p = Project.create(path)
    drain(p.import_file(small, annotations=True, add_labels=True))
    drain(p.preannotate())
    p.refresh_corrections(all_=True)
    p.set_severity("PER", "high")
    p.close()
    return path


@pytest.fixture(scope="module")
def shared_data_module():
    from tests.conftest import SHARED

    assert SHARED.exists()
    return SHARED


@pytest.fixture
def proj(base, tmp_path):
    import shutil

    path = tmp_path / "p.nerdesk"
    shutil.copy(base, path)
    p = Project.open(path)
    yield p
    p.close()


def timeless(d: dict) -> dict:
    """A dump without the guideline versions' times (a redo writes its version anew)."""
    return {**d, "guidelines": [r[:1] + r[2:] for r in d["guidelines"]]}


def undo_redo_round_trip(p: Project, before: dict, after: dict) -> None:
    p.undo()
    assert dump(p) == before
    p.redo()
    assert timeless(dump(p)) == timeless(after)
    p.undo()
    assert dump(p) == before


def test_the_fixture_is_a_real_project(proj):
    counts = span_counts(proj)
    assert set(counts) == {"PER", "ORG", "LOC", "MISC"} and min(counts.values()) > 20
    assert pred_counts(proj)["PER"] > 20 and proj.store.conn.execute("SELECT COUNT(*) FROM corrections").fetchone()[0]


def test_rename_moves_every_span_prediction_correction_and_severity(proj):
    before, spans, preds, corpus = dump(proj), span_counts(proj), pred_counts(proj), exported(proj)
    names = proj.label_names()
    n_corr = proj.store.conn.execute("SELECT COUNT(*) FROM corrections WHERE label = 'PER'").fetchone()[0]
    proj.taxonomy.rename_label("PER", "PERSON")
    after = span_counts(proj)
    assert after["PERSON"] == spans["PER"] and "PER" not in after
    assert {k: v for k, v in after.items() if k != "PERSON"} == {k: v for k, v in spans.items() if k != "PER"}
    assert pred_counts(proj)["PERSON"] == preds["PER"] and "PER" not in pred_counts(proj)
    assert proj.store.conn.execute("SELECT COUNT(*) FROM corrections WHERE label = 'PERSON'").fetchone()[0] == n_corr
    assert proj.severity() == {"PERSON": "high"}
    assert taxonomy.model_label_map(proj.store) == {"PER": "PERSON"}
    assert proj.label_names() == ["PERSON" if n == "PER" else n for n in names]  # in its place
    assert exported(proj) == [[(t, "PERSON" if lab == "PER" else lab) for t, lab in seg] for seg in corpus]
    g = proj.guideline()
    assert g["version"] == before_version(before) + 1
    assert "renamed PER → PERSON" in proj.guidelines.versions()[-1]["summary"]
    undo_redo_round_trip(proj, before, dump(proj))


def before_version(d: dict) -> int:
    return max(r[0] for r in d["guidelines"])


def test_a_renamed_label_keeps_its_model_outputs_on_the_next_prediction(proj):
    proj.taxonomy.rename_label("PER", "PERSON")
    old = pred_counts(proj)
    proj.store.conn.execute("DELETE FROM predictions")
    drain(proj.preannotate())
    # the model still says PER; the project hears PERSON
    assert pred_counts(proj) == old and "PER" not in pred_counts(proj)


def test_merge_sums_the_labels_and_undo_tells_them_apart_again(proj):
    before, spans, corpus = dump(proj), span_counts(proj), exported(proj)
    proj.taxonomy.merge_labels(["LOC", "MISC"], "PLACE")
    after = span_counts(proj)
    assert after["PLACE"] == spans["LOC"] + spans["MISC"] and not {"LOC", "MISC"} & set(after)
    assert after["PER"] == spans["PER"] and after["ORG"] == spans["ORG"]
    assert exported(proj) == [[(t, "PLACE" if lab in ("LOC", "MISC") else lab) for t, lab in seg] for seg in corpus]
    assert taxonomy.model_label_map(proj.store) == {"LOC": "PLACE", "MISC": "PLACE"}
    # the merged label keeps the colour and key of the first
    labels = {lab["name"]: lab for lab in proj.labels()}
    b = {r[0]: r for r in before["labels"]}
    assert labels["PLACE"]["color"] == b["LOC"][1] and "MISC" not in labels
    undo_redo_round_trip(proj, before, dump(proj))


def test_merge_into_one_of_the_sources(proj):
    before, spans = dump(proj), span_counts(proj)
    proj.taxonomy.merge_labels(["MISC", "ORG"], "ORG")
    assert span_counts(proj)["ORG"] == spans["ORG"] + spans["MISC"] and "MISC" not in span_counts(proj)
    undo_redo_round_trip(proj, before, dump(proj))


def test_split_with_the_model_sorts_the_spans_back_and_sends_them_to_re_review(proj):
    """PER, ORG, LOC merged into ENT, then ENT split into PER | ORG | LOC: the shipped model (which knows
    them) places most spans back under their first label; the rest stay ENT; all go to re-review."""
    spans, corpus = span_counts(proj), exported(proj)
    proj.taxonomy.merge_labels(["PER", "ORG", "LOC"], "ENT")
    merged = dump(proj)
    sorter = taxonomy.model_sorter(proj.store, ["PER", "ORG", "LOC"])
    assert sorter is not None
    proj.taxonomy.split_label("ENT", ["PER", "ORG", "LOC"], sorter=sorter)
    after = span_counts(proj)
    total = spans["PER"] + spans["ORG"] + spans["LOC"]
    assert after["PER"] + after["ORG"] + after["LOC"] + after["ENT"] == total and after["MISC"] == spans["MISC"]
    assert after["ENT"] < total * 0.3  # the model placed most
    # placed spans mostly got their original label back (the model is not perfect)
    back = exported(proj)
    same = sum(a == b for sa, sb in zip(corpus, back) for a, b in zip(sa, sb) if b[1] != "MISC")
    assert same > 0.6 * total
    # the split label is offered no more, and every annotation that held it is stale
    assert "ENT" not in proj.label_names()
    stale = proj.taxonomy.stale_queue(1000)
    held = {r[0] for r in merged["annotations"] if '"label": "ENT"' in r[4]}
    assert set(stale) == held and proj.next_items(1000, status="stale") == [(i, 0.0) for i in sorted(held)]
    cur = proj.taxonomy.currency()
    assert cur["PER"]["current"] == 0 and cur["MISC"]["stale"] == 0
    undo_redo_round_trip(proj, merged, dump(proj))


def test_split_without_a_model_leaves_the_spans_to_re_review_and_accept_asks_for_a_label(proj):
    before, spans = dump(proj), span_counts(proj)
    proj.taxonomy.split_label("MISC", ["NORP", "WORK"])
    assert span_counts(proj) == spans  # nothing placed: no model knows NORP or WORK
    seg = proj.taxonomy.stale_queue(1)[0]
    with pytest.raises(NerdeskError) as e:
        proj.accept(seg)
    assert e.value.code == "E425"
    s = proj.segment(seg)
    for sp in [sp for sp in s.annotation.spans if sp.label == "MISC"]:
        proj.relabel_span(seg, sp.start, sp.end, "WORK")
    proj.accept(seg)
    assert seg not in proj.taxonomy.stale_queue(1000)  # re-reviewed: current
    for _ in range(1 + sum(1 for sp in s.annotation.spans if sp.label == "MISC")):
        proj.undo()
    proj.undo()
    assert dump(proj) == before


def test_retire_takes_the_label_out_of_the_work_and_undo_puts_it_back(proj):
    before, spans = dump(proj), span_counts(proj)
    proj.taxonomy.retire_label("MISC")
    assert "MISC" not in span_counts(proj) and "MISC" not in pred_counts(proj)
    assert span_counts(proj) == Counter({k: v for k, v in spans.items() if k != "MISC"})
    assert proj.store.conn.execute("SELECT COUNT(*) FROM corrections WHERE label = 'MISC'").fetchone()[0] == 0
    assert "MISC" not in proj.label_names()
    undo_redo_round_trip(proj, before, dump(proj))
    proj.redo()
    proj.store.conn.execute("DELETE FROM predictions")
    drain(proj.preannotate())  # a fresh prediction does not ask the model for a retired label
    assert "MISC" not in pred_counts(proj) and pred_counts(proj)["PER"] > 20


def test_parent_edit_add_and_overlaps_are_undoable(proj):
    before = dump(proj)
    proj.taxonomy.add_label("CITY", parent="LOC")
    assert {lab["name"]: lab for lab in proj.labels()}["CITY"]["parent"] == "LOC"
    with pytest.raises(NerdeskError) as e:
        proj.taxonomy.set_parent("LOC", "CITY")
    assert e.value.code == "E429"
    proj.taxonomy.edit_label("CITY", color="#112233", shortcut="c", description="a town", severity="low")
    proj.taxonomy.set_allow_overlaps(True)
    assert proj.allow_overlaps and proj.severity()["CITY"] == "low"
    for _ in range(3):
        proj.undo()
    assert dump(proj) == before


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda p: p.taxonomy.rename_label("PER", "ORG"), "E422"),
        (lambda p: p.taxonomy.rename_label("NOPE", "X"), "E009"),
        (lambda p: p.taxonomy.rename_label("PER", "A,B"), "E420"),
        (lambda p: p.taxonomy.merge_labels(["PER"], "X"), "E423"),
        (lambda p: p.taxonomy.merge_labels(["PER", "LOC"], "ORG"), "E423"),
        (lambda p: p.taxonomy.split_label("PER", ["PER", "X"]), "E424"),
        (lambda p: p.taxonomy.split_label("PER", ["X", "Y", " bad"]), "E420"),
        (lambda p: p.taxonomy.retire_label("NOPE"), "E009"),
        (lambda p: p.taxonomy.edit_label("PER", shortcut="2"), "E427"),
        (lambda p: p.taxonomy.edit_label("PER", color="red"), "E428"),
        (lambda p: p.taxonomy.edit_label("PER", severity="huge"), "E430"),
        (lambda p: p.taxonomy.edit_label("PER"), "E431"),
    ],
)
def test_bad_input_is_a_coded_error_that_changes_nothing(proj, change, code):
    before = dump(proj)
    events = proj.store.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    with pytest.raises(NerdeskError) as e:
        change(proj)
    assert e.value.code == code
    assert dump(proj) == before
    assert proj.store.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == events


def test_a_label_change_survives_a_restart_and_undoes_after_it(proj):
    before = dump(proj)
    proj.taxonomy.merge_labels(["LOC", "MISC"], "PLACE")
    path = proj.path
    proj.close()
    with Project.open(path) as again:
        assert "PLACE" in again.label_names()
        again.undo()
        assert dump(again) == before
    proj.store = Project.open(path).store  # the fixture closes it


def test_merges_of_merges_undo_exactly_and_an_edit_in_between_does_not_confuse_them(proj):
    before, spans = dump(proj), span_counts(proj)
    proj.taxonomy.merge_labels(["LOC", "MISC"], "PLACE")
    after_first = dump(proj)
    proj.taxonomy.merge_labels(["ORG", "PLACE"], "THING")  # PLACE's spans carry where they came from
    assert span_counts(proj)["THING"] == spans["ORG"] + spans["LOC"] + spans["MISC"]
    # an edit of a segment holding merged spans, then its undo, rewrite the row through JSON
    # (as the annotator whose row it is: the row itself is read, changed and written back)
    sid, who = next((r[0], r[1]) for r in dump(proj)["annotations"] if '"was"' in r[4])
    with Project.open(proj.path, user=who) as them:
        sp = next(x for x in them.store.annotation(sid, who).spans if x.label == "THING" and x.was is not None)
        them.relabel_span(sid, sp.start, sp.end, "PER")
        assert (
            '"was"'
            in them.store.conn.execute(
                "SELECT spans FROM annotations WHERE segment_id = ? AND annotator = ?", (sid, who)
            ).fetchone()[0]
        )
        them.undo()
    proj.undo()

    def unedited(d):  # the edit and its undo were counted as effort (as every edit is)
        return {k: v for k, v in d.items() if k != "effort"}

    assert unedited(dump(proj)) == unedited(after_first)
    proj.undo()
    assert unedited(dump(proj)) == unedited(before)


def test_a_merge_of_many_labels_keeps_the_prediction_rows_past_the_forms(proj):
    names = [f"X{i}" for i in range(9)]
    for n in names:
        proj.taxonomy.add_label(n)
    # give each new label some predicted and annotated spans: relabel PER spans in turn
    rows = proj.store.conn.execute("SELECT segment_id, model_id, spans FROM predictions").fetchall()
    with proj.store.transaction():
        proj.store.conn.executemany(
            "UPDATE predictions SET spans = ? WHERE segment_id = ? AND model_id = ?",
            [
                (
                    json.dumps(
                        [
                            [a, b, names[(sid + i) % 9] if lab == "PER" else lab, c]
                            for i, (a, b, lab, c) in enumerate(json.loads(js))
                        ]
                    ),
                    sid,
                    mid,
                )
                for sid, mid, js in rows
            ],
        )
    before, preds = dump(proj), pred_counts(proj)
    proj.taxonomy.merge_labels(["LOC", *names], "ALL")  # 9 others: more forms than MAX_FORMS
    assert pred_counts(proj)["ALL"] == preds["LOC"] + sum(preds[n] for n in names)
    assert proj.store.conn.execute("SELECT COUNT(*) FROM label_change_rows WHERE tbl = 'predictions'").fetchone()[0] > 0
    undo_redo_round_trip(proj, before, dump(proj))


def test_a_merge_copies_no_annotation_or_prediction_row(proj):
    proj.taxonomy.merge_labels(["LOC", "MISC"], "PLACE")
    kept = proj.store.conn.execute("SELECT tbl, COUNT(*) FROM label_change_rows GROUP BY tbl").fetchall()
    assert not {t for t, _ in kept} & {"annotations", "predictions"}
    ev = proj.store.conn.execute(
        "SELECT length(before) + length(after) FROM events ORDER BY id DESC LIMIT 1"
    ).fetchone()[0]
    assert ev < 5000  # the event holds the change and the label table, not the rows


def test_adjudications_and_people_s_errors_follow_a_rename_merge_and_retire(tmp_path):
    """Two annotators disagree, a reviewer decides: after a rename, a merge or a retire the decision still
    holds, under the new names, and the bundle keeps the segment; after a split the segment is to re-review;
    undo puts every table back."""
    from nerdesk.core import adjudicate
    from nerdesk.core.bundle import bundle_lines
    from nerdesk.core.types import DocRecord, Span

    path = tmp_path / "team.nerdesk"
    with Project.create(path, labels=["PER", "ORG", "LOC"]) as p:
        drain(p.import_records([DocRecord("Alice Smith flew to Paris with Acme staff.")]))
        sid = p.document(1)["segments"][0].id
    for who, spans in (
        ("ann", [Span(0, 11, "PER"), Span(20, 25, "LOC")]),
        ("bob", [Span(0, 11, "PER"), Span(20, 25, "ORG")]),
    ):
        with Project.open(path, user=who, tier="annotator") as a:
            a.set_spans(sid, spans)
            a.accept(sid)
    with Project.open(path, user="rev", tier="reviewer") as r:
        r.adjudication.adjudicate(sid, take="ann", reason="Paris is the city")
        assert r.store.conn.execute("SELECT label FROM person_errors").fetchall() == [("LOC",)]  # bob's
        assert adjudicate.resolutions(r.store, [sid])[sid].how == "adjudicated"
        before = dump(r)
        adj_before = r.store.conn.execute("SELECT * FROM adjudications").fetchall()
        r.taxonomy.rename_label("LOC", "PLACE")
        res = adjudicate.resolutions(r.store, [sid])[sid]
        assert res.how == "adjudicated" and {sp.label for sp in res.spans} == {"PER", "PLACE"}
        assert [ln["segment_id"] for ln in bundle_lines(r.store)] == [sid]  # still resolved: still exported
        assert r.store.conn.execute("SELECT label FROM person_errors").fetchall() == [("PLACE",)]
        r.undo()
        assert dump(r) == before and r.store.conn.execute("SELECT * FROM adjudications").fetchall() == adj_before
        r.taxonomy.merge_labels(["ORG", "LOC"], "PLACE")  # now both versions agree: no conflict left
        assert adjudicate.resolutions(r.store, [sid])[sid].how in ("agreement", "adjudicated")
        r.undo()
        assert r.store.conn.execute("SELECT * FROM adjudications").fetchall() == adj_before
        r.taxonomy.retire_label("ORG")
        res = adjudicate.resolutions(r.store, [sid])[sid]
        assert {sp.label for sp in res.spans} == {"PER", "LOC"}
        r.undo()
        r.taxonomy.split_label("LOC", ["CITY", "COUNTRY"])  # no model places Paris: the decision stands,
        assert sid in r.taxonomy.stale_queue()  # and the segment waits for re-review
        r.undo()
        assert dump(r) == before and r.store.conn.execute("SELECT * FROM adjudications").fetchall() == adj_before


def _placed_by_parsing(spans_json: str, old: str, preds: list, targets: list[str]) -> str | None:
    """What a split writes for one annotation, the long way: parse, place, sort, dump."""
    spans = json.loads(spans_json)
    changed = False
    for sp in spans:
        best = taxonomy._best_overlap(sp["start"], sp["end"], preds, targets) if sp["label"] == old else None
        if best is not None:
            sp["label"], changed = best[2], True
    spans.sort(key=lambda sp: (sp["start"], sp["end"], sp["label"]))
    return json.dumps(spans, ensure_ascii=False) if changed else None


def _span(s, e, label, **more):
    return {"start": s, "end": e, "label": label, "confidence": None, "origin": "human", **more}


@pytest.mark.parametrize(
    "spans, preds, canonical",
    [
        ([_span(0, 4, "ORG")], [(0, 4, "TEAM", 0.9)], True),  # one span: read by hand
        ([_span(0, 4, "ORG")], [(5, 9, "TEAM", 0.9)], True),  # no overlap: nothing placed
        ([_span(0, 4, "ORG")], [(0, 4, "PER", 0.9)], True),  # not a target
        (
            [_span(0, 4, "ORG"), _span(6, 9, "ORG"), _span(12, 15, "PER")],
            [(1, 3, "TEAM", 0.5), (6, 9, "CLUB", 1)],
            True,
        ),
        ([_span(0, 4, "ORG"), _span(0, 4, "ABC")], [(0, 4, "TEAM", 0.9)], True),  # placed: the order changes
        ([_span(0, 4, "ORG"), _span(0, 2, "PER")], [(0, 4, "CLUB", 0.9)], True),  # stored out of order
        ([_span(0, 4, "ORG", was="LOC\u001fMISC"), _span(5, 9, "ÉTÉ")], [(0, 9, "CLUB", 0.2)], True),
        ([_span(0, 4, "ORG", source="terms:{x}")], [(2, 3, "TEAM", 0.9), (0, 4, "CLUB", 0.1)], True),
        ([{"label": "ORG", "start": 0, "end": 4}], [(0, 4, "TEAM", 0.9)], True),  # another key order
        ([_span(0, 4, "ORG")], [(0, 4, "TEAM", 0.9)], False),  # written without json.dumps' spaces
        ([_span(0, 4, "ORG"), _span(5, 8, "ORG")], [(0, 8, "TEAM", 0.9)], False),
    ],
)
def test_a_split_rewrites_each_annotation_as_parsing_it_would(spans, preds, canonical):
    """The split's fast paths (a one-span list read by hand, several spans by a regular expression, the
    label's text rewritten in place) give what parsing, placing, sorting and dumping gives; text that
    json.dumps did not write is parsed (and then written as json.dumps writes it)."""
    targets = ["TEAM", "CLUB"]
    text = json.dumps(spans, ensure_ascii=False) if canonical else json.dumps(spans, separators=(",", ":"))
    needles = {lab: f'"label": {json.dumps(lab, ensure_ascii=False)}' for lab in ["ORG", *targets]}
    got = taxonomy._place_row(text, "ORG", preds, targets, needles)
    assert got == _placed_by_parsing(text, "ORG", preds, targets)
    if canonical and spans == [_span(0, 4, "ORG")] and preds[0][:3] == (0, 4, "TEAM"):
        assert got == text.replace('"ORG"', '"TEAM"')


def test_a_split_reads_again_what_changed_while_the_model_placed_it(proj):
    """The spans a model places are read before the write lock; an edit of one of those annotations
    meanwhile (by another program) is not overwritten: the split sees the change and reads the rows again
    under the lock."""
    sid, who, spans = next(
        (r[0], r[1], json.loads(r[4]))
        for r in dump(proj)["annotations"]
        if '"label": "ORG"' in r[4] and '"label": "MISC"' in r[4]
    )
    org = next(sp for sp in spans if sp["label"] == "ORG")
    misc = next(sp for sp in spans if sp["label"] == "MISC")

    def sorter(ids, targets):
        assert sid in ids
        with Project.open(proj.path, user=who) as them:  # an edit while the model runs
            them.relabel_span(sid, misc["start"], misc["end"], "PER")
        return {i: [(org["start"], org["end"], "TEAM", 0.9)] for i in ids}

    proj.taxonomy.split_label("ORG", ["TEAM", "CLUB"], sorter=sorter)
    now = {(sp.start, sp.end): sp.label for sp in proj.store.annotation(sid, who).spans}
    assert now[misc["start"], misc["end"]] == "PER"  # the edit is kept
    assert now[org["start"], org["end"]] == "TEAM"  # and the span placed
