"""Review across tiers: identity, tier queues, send-backs, people's errors, adjudication and its
protocol, undo, and the three-laptop scenario (two annotators, one reviewer) from ../shared/data."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nerdesk.core import bundle
from nerdesk.core.errors import NerdeskError
from nerdesk.core.project import Project
from nerdesk.core.review import login_name
from nerdesk.core.store import review as review_store
from nerdesk.core.types import DocRecord, Span, drain

TEXT = "Angela Merkel visited Paris. Emmanuel Macron met her in Berlin."
S1_PER, S1_CITY = (0, 13), (22, 27)  # "Angela Merkel", "Paris"
S2_PER, S2_CITY = (29, 44), (56, 62)  # "Emmanuel Macron", "Berlin"


def laptop(path: Path, user: str, tier: str = "annotator") -> Project:
    p = Project.create(path, labels=["PER", "LOC", "ORG"], user=user, tier=tier)
    drain(p.import_records([DocRecord(TEXT, source="news.txt")]))
    return p


def annotate(p: Project, sid: int, spans: list[tuple[int, int, str]]) -> None:
    p.set_spans(sid, [Span(a, b, lab) for a, b, lab in spans])
    p.accept(sid)


def codes(fn, *args, **kw) -> str:
    with pytest.raises(NerdeskError) as exc:
        fn(*args, **kw)
    return exc.value.code


def snapshot(p: Project) -> list:
    c = p.store.conn
    return [
        c.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
        for t in ("annotations", "reviews", "adjudications", "person_errors")
    ]


@pytest.fixture
def team(tmp_path):
    """alice and bob annotate both segments on their laptops; rob (reviewer) merges their bundles.
    They agree on s2 and disagree on Paris in s1 (LOC / ORG)."""
    a, b = laptop(tmp_path / "a.nerdesk", "alice"), laptop(tmp_path / "b.nerdesk", "bob")
    s1, s2 = [s.id for s in a.document(1)["segments"]]
    annotate(a, s1, [(*S1_PER, "PER"), (*S1_CITY, "LOC")])
    annotate(a, s2, [(*S2_PER, "PER"), (*S2_CITY, "LOC")])
    annotate(b, s1, [(*S1_PER, "PER"), (*S1_CITY, "ORG")])
    annotate(b, s2, [(*S2_PER, "PER"), (*S2_CITY, "LOC")])
    bundle.write_bundle(a.store, a.identity, tmp_path / "a.zip")
    bundle.write_bundle(b.store, b.identity, tmp_path / "b.zip")
    r = laptop(tmp_path / "r.nerdesk", "rob", "reviewer")
    drain(r.import_file(tmp_path / "a.zip"))
    drain(r.import_file(tmp_path / "b.zip"))
    yield r, s1, s2
    a.close(), b.close(), r.close()


# ------------------------------------------------------------------ identity
def test_identity_comes_from_argument_environment_config_then_memory(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('user = "carol"\ntier = "reviewer"\n[projects.special]\ntier = "expert"\n', encoding="utf-8")
    monkeypatch.setenv("NERDESK_CONFIG", str(cfg))
    monkeypatch.delenv("NERDESK_USER", raising=False)
    monkeypatch.delenv("NERDESK_TIER", raising=False)
    p = Project.create(tmp_path / "p.nerdesk", labels=["PER"])
    assert (p.user, p.tier, p.identity.sources) == ("carol", "reviewer", {"user": "config", "tier": "config"})
    p.close()
    q = Project.create(tmp_path / "q.nerdesk", labels=["PER"], name="special")
    assert (q.user, q.tier) == ("carol", "expert")  # the project's table overrides the top level
    q.close()
    monkeypatch.setenv("NERDESK_USER", "dave")
    monkeypatch.setenv("NERDESK_TIER", "annotator")
    with Project.open(tmp_path / "p.nerdesk") as p:
        assert (p.user, p.tier) == ("dave", "annotator")
    with Project.open(tmp_path / "p.nerdesk", user="erin", tier="expert") as p:
        assert (p.user, p.tier, p.identity.sources["user"]) == ("erin", "expert", "argument")
    # what the app's dialog remembers, per project and OS user, when nothing else names one
    monkeypatch.delenv("NERDESK_USER")
    monkeypatch.delenv("NERDESK_TIER")
    monkeypatch.setenv("NERDESK_CONFIG", str(tmp_path / "none.toml"))
    with Project.open(tmp_path / "p.nerdesk") as p:
        assert p.identity.sources["user"] == "login" and not p.identity.chosen
        p.team.remember_identity("frank", "reviewer")
        assert (p.user, p.tier) == ("frank", "reviewer")
    with Project.open(tmp_path / "p.nerdesk") as p:
        assert (p.user, p.tier, p.identity.sources["user"]) == ("frank", "reviewer", "remembered")
        assert p.identity.chosen
        assert [x["name"] for x in p.team.people()] == ["frank"]


def test_bad_identity_is_a_coded_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NERDESK_CONFIG", str(tmp_path / "bad.toml"))
    Project.create(tmp_path / "p.nerdesk", user="x").close()
    (tmp_path / "bad.toml").write_text("user = \n", encoding="utf-8")
    Project.open(tmp_path / "p.nerdesk", user="x", tier="reviewer").close()  # not read when not needed
    assert codes(Project.open, tmp_path / "p.nerdesk") == "E408"
    (tmp_path / "bad.toml").write_text('tier = "boss"\n', encoding="utf-8")
    assert codes(Project.open, tmp_path / "p.nerdesk") == "E408"
    monkeypatch.setenv("NERDESK_CONFIG", str(tmp_path / "none.toml"))
    assert codes(Project.open, tmp_path / "p.nerdesk", user="a~b") == "E410"
    assert codes(Project.open, tmp_path / "p.nerdesk", tier="boss") == "E400"
    with Project.open(tmp_path / "p.nerdesk") as p:
        before = p.store.get_setting("identity:" + login_name())
        assert codes(p.team.remember_identity, "", "reviewer") == "E410"
        assert codes(p.team.remember_identity, "ok", "boss") == "E400"
        assert p.store.get_setting("identity:" + login_name()) == before


def test_every_event_annotation_and_bundle_records_the_tier(team, tmp_path):
    r, s1, s2 = team
    tiers = {a.annotator: a.tier for a in r.store.annotations_of([s1])[s1]}
    assert tiers == {"alice": "annotator", "bob": "annotator"}
    r.team.review(s2, "alice", "correct", spans=[Span(*S2_PER, "PER")])
    assert r.store.annotation(s2, "rob").tier == "reviewer"
    rows = r.store.conn.execute("SELECT actor, tier FROM events WHERE actor = 'rob' AND kind = 'do'").fetchall()
    assert rows and all(t == "reviewer" for _, t in rows)
    manifest = bundle.write_bundle(r.store, r.identity, tmp_path / "r.zip")
    assert manifest["people"]["rob"] == "reviewer"
    # the reviewer's tier survives the trip to another laptop
    c = laptop(tmp_path / "c.nerdesk", "carol")
    drain(c.import_file(tmp_path / "r.zip"))
    assert c.store.annotation(s2, "rob").tier == "reviewer"
    assert {x["name"]: x["tier"] for x in c.team.people()}["rob"] == "reviewer"
    assert c.undo_status()[0] == "merge annotations"  # and after undoing and redoing the merge
    c.undo()
    assert c.store.annotation(s2, "rob") is None
    c.redo()
    assert c.store.annotation(s2, "rob").tier == "reviewer"
    c.close()


# ------------------------------------------------------------------ tier queues
def test_reviewer_queue_approve_and_send_back_to_the_annotator(team, tmp_path):
    r, s1, s2 = team
    q = r.team.reviewer_queue()
    assert [(i.segment_id, i.annotator) for i in q] == [(s1, "alice"), (s1, "bob"), (s2, "alice"), (s2, "bob")]
    assert all(i.reasons and "not reviewed yet" in i.reasons[0] for i in q)
    r.team.review(s2, "alice", "approve")
    assert (s2, "alice") not in [(i.segment_id, i.annotator) for i in r.team.reviewer_queue()]
    before = snapshot(r)
    assert codes(r.team.review, s2, "bob", "send_back", note="  ") == "E404"
    assert codes(r.team.review, s2, "nobody", "approve") == "E402"
    assert codes(r.team.review, s2, "bob", "maybe") == "E403"
    assert snapshot(r) == before  # refused: nothing changed
    r.team.review(s2, "bob", "send_back", note="Berlin: check the guideline on capitals")
    # the send-back lands in bob's queue, with the note
    with Project.open(r.path, user="bob", tier="annotator") as bob:
        q = bob.team.queue()
        assert [(i.segment_id, i.kind) for i in q] == [(s2, "sent_back")]
        assert "check the guideline" in q[0].reasons[0] and q[0].note.startswith("Berlin")
        assert codes(bob.team.review, s1, "alice", "approve") == "E401"  # an annotator cannot review
        bob.set_spans(s2, [Span(*S2_PER, "PER"), Span(*S2_CITY, "LOC")])
        bob.accept(s2)  # fixed: out of his queue, and back in the reviewer's
        assert bob.team.queue() == []
    assert (s2, "bob") in [(i.segment_id, i.annotator) for i in r.team.reviewer_queue()]
    # undo takes the decisions back, one at a time, also after a restart
    r.close()
    r2 = Project.open(r.path, user="rob", tier="reviewer")
    assert r2.undo_status()[0] == "review send back"
    r2.undo()
    assert r2.undo_status()[0] == "review approve"
    r2.undo()
    assert review_store.reviews_of(r2.store, [s2]) == {}
    r2.redo()
    assert [x["decision"] for x in review_store.reviews_of(r2.store, [s2])[s2]] == ["approve"]
    r2.close()


def test_a_send_back_travels_to_the_annotators_laptop(tmp_path):
    """rob sends alice's work back on his laptop; his bundle brings the note into alice's queue on hers,
    once; when she has fixed it, it is gone and stays gone."""
    a = laptop(tmp_path / "a.nerdesk", "alice")
    s1, s2 = [s.id for s in a.document(1)["segments"]]
    annotate(a, s1, [(*S1_PER, "PER"), (*S1_CITY, "ORG")])
    annotate(a, s2, [(*S2_PER, "PER")])
    bundle.write_bundle(a.store, a.identity, tmp_path / "a.zip")
    r = laptop(tmp_path / "r.nerdesk", "rob", "reviewer")
    drain(r.import_file(tmp_path / "a.zip"))
    r.team.review(s1, "alice", "send_back", note="Paris is the city here")
    r.team.review(s2, "alice", "approve")
    manifest = bundle.write_bundle(r.store, r.identity, tmp_path / "r.zip")
    assert [(x["annotator"], x["note"]) for x in manifest["reviews"]] == [("alice", "Paris is the city here")]
    drain(a.import_file(tmp_path / "r.zip"))
    q = a.team.queue()
    assert [(i.segment_id, i.kind, i.note) for i in q] == [(s1, "sent_back", "Paris is the city here")]
    assert "sent back by rob (reviewer)" in q[0].reasons[0]
    drain(a.import_file(tmp_path / "r.zip"))  # again: nothing new
    assert len(review_store.reviews_of(a.store, [s1])[s1]) == 1
    annotate(a, s1, [(*S1_PER, "PER"), (*S1_CITY, "LOC")])
    assert a.team.queue() == []
    drain(a.import_file(tmp_path / "r.zip"))  # the old send-back is for a version she no longer has
    assert a.team.queue() == []
    a.close(), r.close()


def test_work_split_between_annotators_with_a_double_share(tmp_path):
    """The same split on two laptops (segment ids differ between them): each segment goes to one
    annotator, about a fifth to both; the double share is what agreement is computed on."""
    texts = [f"Person {i} met Person {i + 1} in Town {i}." for i in range(200)]
    laptops = {}
    for name in ("alice", "bob"):
        p = Project.create(tmp_path / f"{name}.nerdesk", labels=["PER"], user=name)
        recs = [DocRecord(t) for t in (texts if name == "alice" else texts[::-1])]  # other ids on bob's
        drain(p.import_records(recs))
        with Project.open(p.path, user="rob", tier="reviewer") as r:
            r.team.set_assignment(["alice", "bob"], double=0.2, seed=3)
        laptops[name] = p
    mine = {}
    for name, p in laptops.items():
        items = p.team.queue()
        assert items and all(i.kind == "assigned" for i in items)
        mine[name] = {p.segment(i.segment_id).text for i in p.team.annotator_queue(limit=10**6)}
    assert mine["alice"] | mine["bob"] == set(texts)
    both = mine["alice"] & mine["bob"]
    assert 0.1 < len(both) / len(texts) < 0.3
    sid = laptops["alice"].team.queue()[0].segment_id
    laptops["alice"].accept(sid)  # done: out of her queue
    assert sid not in {i.segment_id for i in laptops["alice"].team.annotator_queue(limit=10**6)}
    assert codes(laptops["alice"].team.set_assignment, ["alice"]) == "E401"
    with Project.open(laptops["bob"].path, user="rob", tier="reviewer") as r:
        assert codes(r.team.set_assignment, ["alice"], double=0.5) == "E412"
        r.team.set_assignment([])
    assert laptops["bob"].team.queue() == []
    for p in laptops.values():
        p.close()


def test_reviewer_sample_per_annotator_with_a_minimum(tmp_path):
    texts = [f"Person {i} met Person {i + 1} in Town {i}." for i in range(40)]
    p = Project.create(tmp_path / "p.nerdesk", labels=["PER"], user="rob", tier="reviewer")
    drain(p.import_records([DocRecord(t) for t in texts]))
    ids = [s.id for d in p.store.document_ids() for s in p.document(d)["segments"]]
    for k, sid in enumerate(ids):
        with Project.open(p.path, user="alice" if k < 30 else "bob", tier="annotator") as a:
            a.accept(sid)
    q = p.team.reviewer_queue(sample=0.1, minimum=5, seed=1)
    per = {}
    for i in q:
        per.setdefault(i.annotator, []).append(i.segment_id)
    assert {k: len(v) for k, v in per.items()} == {"alice": 5, "bob": 5}  # 10% of 30 is 3 < 5; bob has 10
    assert "sample of alice's accepted work: 5 of 30" in next(i for i in q if i.annotator == "alice").reasons[0]
    assert p.team.reviewer_queue(sample=0.5, minimum=5, seed=1) != []
    assert len([i for i in p.team.reviewer_queue(sample=0.5, minimum=0) if i.annotator == "alice"]) == 15
    assert p.team.reviewer_queue(sample=0.1, minimum=5, seed=1) == q  # reading changes nothing, same sample
    assert {i.segment_id for i in p.team.reviewer_queue(sample=0.1, minimum=5, seed=2)} != {i.segment_id for i in q}
    assert codes(p.team.reviewer_queue, sample=1.5) == "E409"
    p.close()


def test_corrections_of_people_are_categorised_against_the_annotator(team):
    r, s1, s2 = team
    # alice: "Emmanuel Macron" PER, "Berlin" LOC; rob: "Macron" (a boundary error), "Berlin" ORG (a label error)
    r.team.review(s2, "alice", "correct", spans=[Span(38, 44, "PER"), Span(*S2_CITY, "ORG")])
    errs = review_store.person_errors(r.store, annotator="alice")
    assert sorted((e["category"], e["label"]) for e in errs) == [("boundary", "PER"), ("label", "ORG")]
    assert {e["surface"] for e in errs} == {"Macron", "Berlin"}
    r.team.review(s2, "bob", "correct", spans=[])  # everything bob marked was wrong: false positives
    r.undo()
    r.redo()
    prof = r.team.error_profiles()
    assert prof["alice"]["per_category"] == {"boundary": 1, "label": 1}
    assert prof["bob"]["per_category"] == {"false_positive": 2}
    assert prof["alice"]["per_label"] == {"PER": {"boundary": 1}, "ORG": {"label": 1}}
    assert sum(sum(w.values()) for w in prof["alice"]["per_week"].values()) == 2
    r.undo()
    r.undo()
    assert r.team.error_profiles() == {}
    assert r.store.annotation(s2, "rob") is None  # the correction's own annotation went with it


def test_expert_queue_holds_escalations_with_their_reasons(team, tmp_path):
    r, s1, s2 = team
    r.team.review(s2, "alice", "correct", spans=[Span(*S2_PER, "PER")])  # a reviewer disagrees with alice
    with Project.open(r.path, user="alice", tier="annotator") as a:
        a.flag(s1, "is Paris the city or the club?")
    with Project.open(r.path, user="eve", tier="expert") as e:
        q = {i.segment_id: i for i in e.team.queue()}
        assert q[s1].kind == "flagged" and "is Paris the city or the club?" in q[s1].reasons[0]
        assert q[s2].kind == "disagreement"
        assert any("alice (annotator) and rob (reviewer) disagree" in x for x in q[s2].reasons)
        assert any(x.startswith("label LOC: agreement") for x in q[s2].reasons)  # LOC agreement is low
        # an expert's adjudication takes the segment out of the queue
        e.adjudication.adjudicate(s2, take="rob", reason="capitals are not marked here")
        assert s2 not in {i.segment_id for i in e.team.queue()}
        # and so does the expert's own accepted version of a flagged segment
        e.set_spans(s1, [Span(*S1_PER, "PER"), Span(*S1_CITY, "LOC")])
        e.accept(s1)
        assert e.team.queue() == []


# ------------------------------------------------------------------ adjudication
def test_adjudication_take_combine_edit_and_undo(team):
    r, s1, s2 = team
    assert r.adjudication.summary()["unresolved_segments"] == [s1]  # two annotators disagree: a tie
    v = r.adjudication.versions(s1)
    assert [x["annotator"] for x in v["versions"]] == ["alice", "bob"] and v["resolution"]["how"] == "unresolved"
    before = snapshot(r)
    assert codes(r.adjudication.adjudicate, s2, take="alice") == "E411"  # they agree on s2
    assert codes(r.adjudication.adjudicate, s1, take="zed") == "E406"
    assert codes(r.adjudication.adjudicate, s1, combine=[("bob", Span(*S1_CITY, "LOC"))]) == "E412"
    assert codes(r.adjudication.adjudicate, s1, [Span(0, 99, "PER")]) == "E008"
    assert codes(r.adjudication.adjudicate, s1, [Span(0, 13, "XYZ")]) == "E009"
    assert codes(r.adjudication.adjudicate, s1) == "E412"
    assert snapshot(r) == before
    r.adjudication.adjudicate(s1, take="alice", reason="Paris is the city")
    res = r.adjudication.versions(s1)["resolution"]
    assert res["how"] == "adjudicated" and res["by"] == "rob" and res["reason"] == "Paris is the city"
    assert [e["category"] for e in review_store.person_errors(r.store, annotator="bob")] == ["label"]
    r.adjudication.adjudicate(s1, combine=[("alice", Span(*S1_PER, "PER")), ("bob", Span(*S1_CITY, "ORG"))])
    assert r.adjudication.versions(s1)["resolution"]["spans"][1]["label"] == "ORG"
    r.adjudication.adjudicate(s1, [Span(*S1_PER, "PER")], reason="Paris is not an entity here")
    assert [s.label for s in next(r.export_records()).spans] == ["PER", "PER", "LOC"]
    r.undo()  # back to the combination
    assert [s.label for s in next(r.export_records()).spans] == ["PER", "ORG", "PER", "LOC"]
    r.undo()
    r.undo()
    assert r.adjudication.summary()["unresolved"] == 1 and review_store.person_errors(r.store) == []
    r.redo()
    assert r.adjudication.summary()["by_resolution"] == {"adjudicated": 1}


def test_a_new_version_makes_a_decision_stale(team):
    r, s1, s2 = team
    r.adjudication.adjudicate(s1, take="alice")
    assert r.adjudication.summary()["unresolved"] == 0
    with Project.open(r.path, user="carol", tier="annotator") as c:  # a third opinion arrives
        annotate(c, s1, [(*S1_PER, "PER")])
    assert r.adjudication.summary()["unresolved"] == 1


def test_protocol_highest_tier_majority_manual_and_expert_labels(team):
    r, s1, s2 = team
    with Project.open(r.path, user="carol", tier="annotator") as c:
        annotate(c, s1, [(*S1_PER, "PER"), (*S1_CITY, "LOC")])
    s = r.adjudication.summary()
    assert s["unresolved_segments"] == [s1]  # highest tier: three annotators, no single top version
    r.adjudication.set_protocol("majority")
    res = r.adjudication.versions(s1)["resolution"]
    assert res["how"] == "majority" and [sp["label"] for sp in res["spans"]] == ["PER", "LOC"]  # 2 of 3
    r.adjudication.set_protocol("manual")
    assert r.adjudication.summary()["unresolved"] == 1
    r.adjudication.set_protocol("highest_tier")
    r.team.review(s1, "bob", "correct", spans=[Span(*S1_PER, "PER"), Span(*S1_CITY, "LOC")])
    res = r.adjudication.versions(s1)["resolution"]
    assert res["how"] == "highest_tier" and res["by"] == "rob"
    assert codes(r.adjudication.set_protocol, "dictator") == "E405"
    assert codes(r.adjudication.set_protocol, None, ["NOPE"]) == "E009"
    # LOC and ORG need an expert: the reviewer's version no longer resolves it, nor may he adjudicate
    r.adjudication.set_protocol(None, ["LOC", "ORG"])
    res = r.adjudication.versions(s1)["resolution"]
    assert not res["resolved"] and res["needs_expert"] == ["LOC", "ORG"]
    assert codes(r.adjudication.adjudicate, s1, take="alice") == "E407"
    with Project.open(r.path, user="eve", tier="expert") as e:
        e.adjudication.adjudicate(s1, take="bob", reason="the club")
    assert r.adjudication.versions(s1)["resolution"]["by"] == "eve"


def test_apply_protocol_is_one_undoable_step(team):
    r, s1, s2 = team
    r.team.review(s1, "bob", "correct", spans=[Span(*S1_PER, "PER")])
    assert r.adjudication.summary()["by_resolution"] == {"highest_tier": 1}
    ch = r.adjudication.apply_protocol()
    assert ch.segments == {s1}
    assert r.adjudication.summary()["by_resolution"] == {"adjudicated": 1}
    r.adjudication.set_protocol("manual")  # a recorded decision stays
    assert r.adjudication.summary()["unresolved"] == 0
    r.undo()
    assert r.adjudication.summary()["unresolved"] == 1
    with Project.open(r.path, user="alice", tier="annotator") as a:
        assert codes(a.adjudication.apply_protocol) == "E401"


def test_bundle_and_export_hold_only_resolved_annotations(team, tmp_path):
    r, s1, s2 = team
    manifest, lines = bundle.preview(r.store)
    assert [ln["segment_id"] for ln in lines] == [s2] and manifest["unresolved_conflicts"] == 1
    rec = next(r.export_records())
    assert [(s.start, s.label) for s in rec.spans] == [(S2_PER[0], "PER"), (S2_CITY[0], "LOC")]
    r.adjudication.adjudicate(s1, take="bob", reason="the club")
    manifest, lines = bundle.preview(r.store)
    assert [(ln["segment_id"], ln["annotator"], ln["tier"]) for ln in lines][0] == (s1, "rob", "reviewer")
    assert [sp["label"] for sp in lines[0]["final"]] == ["PER", "ORG"] and manifest["unresolved_conflicts"] == 0
    import jsonschema

    manifest = bundle.write_bundle(r.store, r.identity, tmp_path / "r.zip")
    schemas = Path(__file__).resolve().parents[2] / "resources" / "schemas"
    jsonschema.validate(manifest, json.loads((schemas / "bundle-manifest.schema.json").read_text()))
    for ln in lines:
        jsonschema.validate(ln, json.loads((schemas / "bundle-correction.schema.json").read_text()))


# ------------------------------------------------------------------ three laptops
def _sentences(shared_data: Path, n: int) -> list[dict]:
    out, seen = [], set()
    with open(shared_data / "train/wikigold/train.jsonl", encoding="utf-8") as f:
        for raw in f:
            d = json.loads(raw)
            key = " ".join(d["tokens"])
            if key in seen or len(d["tokens"]) > 60 or all(t == "O" for t in d["tags"]):
                continue
            seen.add(key)
            out.append(d)
            if len(out) == n:
                return out
    return out


def _offsets(d: dict) -> list[tuple[int, int]]:
    offs, pos = [], 0
    for w in d["tokens"]:
        offs.append((pos, pos + len(w)))
        pos += len(w) + 1
    return offs


def _char_spans(d: dict, tags: list[str]) -> list[tuple[int, int, str]]:
    offs = _offsets(d)
    out, i = [], 0
    while i < len(tags):
        if tags[i] != "O":
            lab, j = tags[i][2:], i + 1
            while j < len(tags) and tags[j] == f"I-{lab}":
                j += 1
            out.append((offs[i][0], offs[j - 1][1], lab))
            i = j
        else:
            i += 1
    return out


def test_three_laptops_merge_agree_adjudicate_and_export(tmp_path, shared_data):
    """alice annotates sentences 0-39, bob 20-59 (overlap 20-39, with injected disagreements), on
    their own laptops; rob (reviewer) merges their bundles, reviews a sample, reports agreement,
    adjudicates every conflict; the exported corpus is exactly the expected one."""
    rng = random.Random(16)
    sents = _sentences(shared_data, 60)
    assert len(sents) == 60
    labels = sorted({t[2:] for d in sents for t in d["tags"] if t != "O"})
    texts = [" ".join(d["tokens"]) for d in sents]
    gold = {i: _char_spans(d, d["tags"]) for i, d in enumerate(sents)}
    bob_version = dict(gold)
    disagree = sorted(rng.sample(range(20, 40), 8))
    for i in disagree:  # bob relabels the first entity, or misses the last one
        spans = list(gold[i])
        if i % 2 and len(spans) > 1:
            spans = spans[:-1]
        else:
            a, b, lab = spans[0]
            spans[0] = (a, b, next(x for x in labels if x != lab))
        bob_version[i] = spans

    def make(name, user, tier, part, version):
        p = Project.create(tmp_path / f"{name}.nerdesk", labels=labels, user=user, tier=tier)
        drain(
            p.import_records(
                [
                    DocRecord(t, tokens=_offsets(d), sentences=[(0, len(t))], source="wikigold.txt")
                    for t, d in zip(texts, sents)
                ]
            )
        )
        if part:
            drain(
                p.import_records(
                    [
                        DocRecord(
                            texts[i],
                            spans=[Span(*x) for x in version[i]],
                            annotator=user,
                            status="accepted",
                            source="wikigold.txt",
                        )
                        for i in part
                    ],
                    annotations=True,
                )
            )
        return p

    a = make("alice", "alice", "annotator", range(0, 40), gold)
    b = make("bob", "bob", "annotator", range(20, 60), bob_version)
    bundle.write_bundle(a.store, a.identity, tmp_path / "alice.zip")
    bundle.write_bundle(b.store, b.identity, tmp_path / "bob.zip")
    r = make("rob", "rob", "reviewer", [], {})
    drain(r.import_file(tmp_path / "alice.zip"))
    drain(r.import_file(tmp_path / "bob.zip"))
    seg_of = {i: r.document(i + 1)["segments"][0].id for i in range(60)}
    assert all(len(r.document(i + 1)["segments"]) == 1 for i in range(60))
    # agreement over the 20 double-annotated sentences
    rep = r.agreement()
    assert rep["segments"] == 20 and rep["raters"] == ["alice", "bob"]
    exact = sum(len(set(gold[i]) & set(bob_version[i])) for i in range(20, 40))
    total = sum(len(gold[i]) + len(bob_version[i]) for i in range(20, 40))
    assert rep["overall"]["span_f1_exact"] == pytest.approx(2 * exact / total) and rep["overall"]["span_f1_exact"] < 1
    # conflicts are exactly the injected disagreements, unresolved under highest-tier (two annotators)
    summary = r.adjudication.summary()
    assert summary["unresolved_segments"] == [seg_of[i] for i in disagree]
    # the reviewer reviews a sample of each annotator and corrects one of bob's own sentences
    q = r.team.reviewer_queue(sample=0.1, minimum=3, seed=0)
    assert {i.annotator for i in q} == {"alice", "bob"} and len(q) == 8  # 10% of 40 = 4 each
    for item in q:
        r.team.review(item.segment_id, item.annotator, "approve")
    corrected = 50
    expected = {i: gold[i] for i in range(60)}
    expected[corrected] = gold[corrected][1:]
    r.team.review(seg_of[corrected], "bob", "correct", spans=[Span(*x) for x in expected[corrected]])
    # adjudicate every conflict: take alice, take bob, or combine, in turn
    for k, i in enumerate(disagree):
        sid = seg_of[i]
        if k % 3 == 0:
            r.adjudication.adjudicate(sid, take="alice", reason="as the guideline says")
        elif k % 3 == 1:
            r.adjudication.adjudicate(sid, take="bob", reason="bob is right here")
            expected[i] = bob_version[i]
        else:
            picks = [("alice", Span(*x)) for x in gold[i][:1]] + [("bob", Span(*x)) for x in bob_version[i][1:]]
            r.adjudication.adjudicate(sid, combine=picks, reason="first from alice, the rest from bob")
            expected[i] = sorted({(s.start, s.end, s.label) for _, s in picks})
    assert r.adjudication.summary()["unresolved"] == 0
    # the exported corpus equals the expected one
    out = {rec.text: sorted((s.start, s.end, s.label) for s in rec.spans or []) for rec in r.export_records()}
    assert out == {texts[i]: sorted(expected[i]) for i in range(60)}
    # and so does the bundle the fine-tuner reads
    manifest, lines = bundle.preview(r.store)
    got = {ln["text"]: sorted((sp["start"], sp["end"], sp["label"]) for sp in ln["final"]) for ln in lines}
    assert got == {texts[i]: sorted(expected[i]) for i in range(60)} and manifest["unresolved_conflicts"] == 0
    # errors the adjudications and the correction found, per annotator
    prof = r.team.error_profiles()
    assert prof["bob"]["total"] > 0 and prof["alice"]["total"] > 0
    a.close(), b.close(), r.close()


KILL_WORKER = """
import sys
from nerdesk.core.project import Project
from nerdesk.core.types import Span
p = Project.open(sys.argv[1], user="rob", tier="reviewer")
ids = [int(x) for x in sys.argv[2].split(",")]
n = 0
while True:
    for sid in ids:
        name = "alice" if n % 2 else "bob"
        p.adjudication.adjudicate(sid, take=name, reason=f"round {n}")
        print(f"ACK {sid} {name} round {n}", flush=True)
        n += 1
"""


def test_sigkill_in_the_middle_of_adjudication_loses_nothing_acknowledged(team):
    r, s1, s2 = team
    with Project.open(r.path, user="carol", tier="annotator") as c:  # a second conflict, on s2
        annotate(c, s2, [(*S2_PER, "PER")])
    path = str(r.path)
    r.close()
    env = dict(os.environ, NERDESK_USER="rob")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_WORKER, path, f"{s1},{s2}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    acks = []
    try:
        while len(acks) < 30:
            line = proc.stdout.readline()
            if not line:
                break
            acks.append(line.split()[1:])
        proc.kill()
    finally:
        proc.wait(10)
    acks += [ln.split()[1:] for ln in proc.stdout.read().splitlines() if ln.startswith("ACK")]
    assert len(acks) >= 30, proc.stderr.read()[-2000:]
    assert proc.returncode == -signal.SIGKILL
    with Project.open(path, user="rob", tier="reviewer") as p:
        rows = p.store.conn.execute("SELECT segment_id, sources, reason FROM adjudications ORDER BY id").fetchall()
        assert len(rows) >= len(acks)
        for (sid, name, _, n), (got_sid, sources, reason) in zip(acks, rows):
            assert (int(sid), [name], f"round {n}") == (got_sid, json.loads(sources), reason)
        assert p.undo_status()[0] == "adjudicate"  # the undo history survived too
        events = p.store.conn.execute("SELECT COUNT(*) FROM events WHERE action = 'adjudicate'").fetchone()[0]
        assert events == len(rows)  # one event per decision, never one without the other
