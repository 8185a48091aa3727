"""Term lists (issue 18): reading, coded errors with nothing written, matching over the project's tokens,
case rules, overlaps, the merge with the model, versions, learning from corrections, routing, silver export."""

from __future__ import annotations

import json

import pytest

from nerdesk.core import terms as T
from nerdesk.core.errors import NerdeskError
from nerdesk.core.exporter import export_suggestions
from nerdesk.core.project import Project
from nerdesk.core.routing import route
from nerdesk.core.types import DocRecord, ShownSpan, Span, drain

MODEL = "test-model@1"

TEXTS = [
    "Breast cancer and ovarian cancer run in some families.",
    "Ataxia telangiectasia (AT) is rare; we looked at it twice.",
    "Hereditary breast cancer is common in this cohort.",
    "Two tumours were found, and the tumour grew.",
    "Nothing of interest is said here.",
    "The weather in Paris was fine that day.",
]


def make(tmp_path, texts=TEXTS, labels=("Disease",), **kw) -> Project:
    p = Project.create(tmp_path / "t.nerdesk", labels=list(labels), **kw)
    drain(p.import_records([DocRecord(t, source=f"d{i}.txt") for i, t in enumerate(texts)]))
    return p


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def shown(p, text_part):
    """(surface, label, origin) of the spans shown for the segment containing ``text_part``."""
    sid = next(
        r[0]
        for r in p.store.conn.execute(
            "SELECT s.id FROM segments s JOIN documents d ON d.id = s.doc_id WHERE d.text LIKE ?", (f"%{text_part}%",)
        )
    )
    seg = p.segment(sid)
    return [(seg.text[sp.start - seg.start : sp.end - seg.start], sp.label, sp.origin) for sp in seg.spans]


def seg_of(p, text_part):
    return next(
        r[0]
        for r in p.store.conn.execute(
            "SELECT s.id FROM segments s JOIN documents d ON d.id = s.doc_id WHERE d.text LIKE ?", (f"%{text_part}%",)
        )
    )


DISEASES = "# a MeSH extract\nbreast cancer\novarian cancer\n\nhereditary breast cancer\nAT\nataxia telangiectasia\nBreast Cancer\n"


# ------------------------------------------------------------------------------------------ reading
def test_plain_text_list_is_one_term_per_line_with_the_label_given(tmp_path):
    fmt, entries = T.read_list(write(tmp_path, "d.txt", DISEASES), label="Disease")
    assert fmt == "text"
    assert [(e.pattern, e.line) for e in entries][:2] == [("breast cancer", 2), ("ovarian cancer", 3)]
    assert {e.label for e in entries} == {"Disease"} and len(entries) == 6


def test_csv_and_tsv_with_or_without_a_header(tmp_path):
    _, rows = T.read_list(write(tmp_path, "a.csv", 'term,label,note\n"cancer, breast",Disease,C50\naspirin,Drug,\n'))
    assert [(e.pattern, e.label, e.note, e.line) for e in rows] == [
        ("cancer, breast", "Disease", "C50", 2),
        ("aspirin", "Drug", "", 3),
    ]
    _, rows = T.read_list(write(tmp_path, "b.tsv", "aspirin\tDrug\nibuprofen\t\n"), label="Drug")
    assert [(e.pattern, e.label) for e in rows] == [("aspirin", "Drug"), ("ibuprofen", "Drug")]
    _, rows = T.read_list(write(tmp_path, "c.csv", "Label,Term\nDrug,aspirin\n"))
    assert [(e.pattern, e.label) for e in rows] == [("aspirin", "Drug")]


def test_entityruler_patterns_jsonl_phrases_and_token_patterns(tmp_path):
    path = write(
        tmp_path,
        "p.jsonl",
        '{"label": "Disease", "pattern": "breast cancer", "id": "C50"}\n\n'
        '{"label": "Disease", "pattern": [{"lower": "tumour"}, {"LOWER": "grew"}]}\n',
    )
    fmt, rows = T.read_list(path)
    assert fmt == "patterns"
    assert rows[0] == T.Entry("Disease", "breast cancer", "phrase", "C50", 1)
    assert rows[1].kind == "tokens" and json.loads(rows[1].pattern) == [{"lower": "tumour"}, {"LOWER": "grew"}]
    assert rows[1].line == 3


@pytest.mark.parametrize(
    "name,text,label,code,line",
    [
        ("e.txt", "# only a comment\n\n", "Disease", "E300", None),
        ("n.txt", "breast cancer\n", None, "E301", 1),
        ("n.csv", "aspirin,Drug\nibuprofen\n", None, "E301", 2),
        ("j.jsonl", '{"label": "Disease", "pattern": "x"}\n{"label": "Disease", "pattern": [}\n', None, "E302", 2),
        ("m.jsonl", '{"label": "Disease", "pattern": [{"LOWER": "x", "FOO": 1}]}\n', None, "E303", 1),
        ("o.jsonl", '{"label": "Disease", "pattern": [{"LOWER": "x", "OP": "~"}]}\n', None, "E303", 1),
        ("z.jsonl", '{"label": "Disease", "pattern": []}\n', None, "E303", 1),
        ("s.jsonl", '{"label": "Disease", "pattern": [{"POS": "NOUN"}]}\n', None, "E307", 1),
        ("l.jsonl", '{"pattern": "x"}\n', None, "E302", 1),
        ("q.jsonl", '["Disease", "x"]\n', None, "E302", 1),
        ("b.txt", "x\x00y\n", "Disease", "E105", None),
    ],
)
def test_bad_input_is_a_coded_error_naming_file_and_line_and_nothing_is_written(
    tmp_path, name, text, label, code, line
):
    p = make(tmp_path)
    path = write(tmp_path, name, text)
    with pytest.raises(NerdeskError) as e:
        p.terms.add_file(path, label=label)
    assert e.value.code == code and e.value.file == str(path) and e.value.line == line, str(e.value)
    assert p.terms.lists() == [] and p.store.conn.execute("SELECT COUNT(*) FROM terms").fetchone()[0] == 0


def test_unknown_label_is_refused_unless_added_and_then_versions_the_guideline(tmp_path):
    p = make(tmp_path)
    path = write(tmp_path, "drugs.csv", "aspirin,Disease\nibuprofen,Drug\n")
    with pytest.raises(NerdeskError) as e:
        p.terms.add_file(path)
    assert (e.value.code, e.value.line) == ("E304", 2) and "Drug" in e.value.message
    assert p.terms.lists() == [] and p.label_names() == ["Disease"] and p.guideline()["version"] == 1
    res = p.terms.add_file(path, add_labels=True)
    assert res["labels_added"] == ["Drug"] and p.label_names() == ["Disease", "Drug"]
    assert res["guideline_version"] == p.guideline()["version"] == 2


# ------------------------------------------------------------------------------------------ matching
def test_a_new_list_pre_annotates_existing_segments_longest_match_and_acronyms_keep_their_case(tmp_path):
    p = make(tmp_path)
    res = p.terms.add_file(write(tmp_path, "d.txt", DISEASES), label="Disease")
    assert (res["added"], res["duplicates"], res["version"]) == (5, 1, 1)  # "Breast Cancer" repeats
    assert drain(p.terms.match()) == len(TEXTS)
    assert shown(p, "ovarian") == [("Breast cancer", "Disease", "terms"), ("ovarian cancer", "Disease", "terms")]
    # "AT" in capitals is an acronym: its case counts, so "at" is not ataxia telangiectasia
    assert shown(p, "Ataxia") == [("Ataxia telangiectasia", "Disease", "terms"), ("AT", "Disease", "terms")]
    # the longest match wins: hereditary breast cancer, not breast cancer inside it
    assert shown(p, "Hereditary") == [("Hereditary breast cancer", "Disease", "terms")]
    seg = p.segment(seg_of(p, "Hereditary"))
    assert seg.spans[0].source == "terms:d" and seg.spans[0].confidence is None
    assert seg.term_matches[0]["pattern"] == "hereditary breast cancer"
    # nothing to match again: resumable
    assert drain(p.terms.match()) == 0


def test_case_sensitive_lists_and_base_forms(tmp_path):
    p = make(tmp_path)
    p.terms.add_file(write(tmp_path, "cs.txt", "breast cancer\n"), label="Disease", case_sensitive=True)
    p.terms.add_file(write(tmp_path, "lem.txt", "tumour\n"), label="Disease", lemma=True)
    drain(p.terms.match())
    assert shown(p, "ovarian") == []  # "Breast cancer" is not "breast cancer" in a case-sensitive list
    assert shown(p, "Hereditary") == [("breast cancer", "Disease", "terms")]
    assert shown(p, "tumours") == [("tumours", "Disease", "terms"), ("tumour", "Disease", "terms")]
    assert T.base_form("Diseases") == "disease" and T.base_form("Tumeurs") == "tumeur"
    assert T.base_form("classes") == "class" and T.base_form("therapies") == "therapy"


def test_token_patterns_with_operators_and_lemma(tmp_path):
    p = make(tmp_path)
    p.terms.add_file(
        write(
            tmp_path,
            "p.jsonl",
            '{"label": "Disease", "pattern": [{"LEMMA": "tumour"}, {"LOWER": "grew"}]}\n'
            '{"label": "Disease", "pattern": [{"LOWER": {"IN": ["breast", "ovarian"]}}, '
            '{"LOWER": "cancer"}]}\n',
        )
    )
    drain(p.terms.match())
    assert shown(p, "tumours") == [("tumour grew", "Disease", "terms")]
    assert shown(p, "ovarian") == [("Breast cancer", "Disease", "terms"), ("ovarian cancer", "Disease", "terms")]


def test_matching_uses_the_stored_tokens_of_pre_tokenised_input(tmp_path):
    p = Project.create(tmp_path / "t.nerdesk", labels=["Disease"])
    # the tokens say "X-linked" is one token: "linked" alone must not match inside it
    text = "X-linked adrenoleukodystrophy is linked to ABCD1 ."
    toks = [(0, 8), (9, 29), (30, 32), (33, 39), (40, 42), (43, 48), (49, 50)]
    drain(p.import_records([DocRecord(text, tokens=toks, sentences=[(0, len(text))])]))
    p.terms.add_file(write(tmp_path, "d.txt", "linked\nX-linked adrenoleukodystrophy\n"), label="Disease")
    drain(p.terms.match())
    seg = p.segment(seg_of(p, "adreno"))
    assert [(text[sp.start : sp.end], sp.start) for sp in seg.spans] == [
        ("X-linked adrenoleukodystrophy", 0),
        ("linked", 33),
    ]


def test_overlaps_of_different_labels_follow_the_project_rule(tmp_path):
    for allow in (False, True):
        sub = tmp_path / str(allow)
        sub.mkdir()
        p = make(sub, labels=("Disease", "Anatomy"), allow_overlaps=allow)
        p.terms.add_file(write(sub, "d.csv", "breast cancer,Disease\nbreast,Anatomy\n"))
        drain(p.terms.match())
        got = shown(p, "Hereditary")
        if allow:
            assert got == [("breast", "Anatomy", "terms"), ("breast cancer", "Disease", "terms")]
        else:
            assert got == [("breast cancer", "Disease", "terms")]
        p.close()


def test_matching_is_resumable_and_imports_are_matched_too(tmp_path):
    p = make(tmp_path)
    p.terms.add_file(write(tmp_path, "d.txt", DISEASES), label="Disease")
    gen = T.match_project(p.store, batch=2)
    next(gen)
    next(gen)  # one batch of two segments committed, then stopped (a cancel)
    gen.close()
    assert p.store.conn.execute("SELECT MAX(segment_id) FROM term_matches").fetchone()[0] == 2
    assert p.store.conn.execute("SELECT matched_upto FROM term_watermarks").fetchone()[0] == 2
    drain(p.terms.match())
    full = p.store.conn.execute("SELECT COUNT(*) FROM term_matches").fetchone()[0]
    assert full == 6
    # a new import is matched by what pre-annotates every import (no model loaded: nothing to predict)
    drain(p.import_records([DocRecord("A new case of ovarian cancer.")]))
    drain(T.match_project(p.store))
    assert shown(p, "new case") == [("ovarian cancer", "Disease", "terms")]


def test_project_preannotate_runs_the_model_then_the_term_lists(tmp_path):
    p = make(tmp_path, labels=("PER", "LOC", "Disease"))
    p.terms.add_file(write(tmp_path, "d.txt", DISEASES), label="Disease")
    drain(p.preannotate())  # the shipped model, then the lists
    assert p.active_model_id() is not None
    got = shown(p, "Paris")
    assert ("Paris", "LOC", "model") in got
    assert shown(p, "ovarian") == [("Breast cancer", "Disease", "terms"), ("ovarian cancer", "Disease", "terms")]
    drain(p.import_records([DocRecord("Ovarian cancer in Berlin.")]))
    drain(p.preannotate())
    got = shown(p, "Berlin")
    assert ("Ovarian cancer", "Disease", "terms") in got and ("Berlin", "LOC", "model") in got


# ------------------------------------------------------------------------------------------ the merge rule
def _m(start, end, label, conf):
    return ShownSpan(start, end, label, conf, "model")


def _t(start, end, label):
    return ShownSpan(start, end, label, None, "terms", "terms:x")


@pytest.mark.parametrize(
    "model,term,known,allow,want",
    [
        # the model knows the label and is confident: it wins
        ([_m(0, 5, "Disease", 0.9)], _t(0, 9, "Disease"), {"Disease"}, False, ["model"]),
        # ... and of another label it knows, confident, over the same text
        ([_m(0, 5, "PER", 0.9)], _t(0, 9, "Disease"), {"PER", "Disease"}, False, ["model"]),
        # ... not confident: the term wins, the model's competing span is not shown
        ([_m(0, 5, "Disease", 0.4)], _t(0, 9, "Disease"), {"Disease"}, False, ["terms"]),
        # the model does not know the label: the term wins even over a confident span of another label
        ([_m(0, 5, "PER", 0.99)], _t(0, 9, "Disease"), {"PER"}, False, ["terms"]),
        # the model knows the label and predicted nothing there: the term
        ([], _t(0, 9, "Disease"), {"Disease"}, False, ["terms"]),
        # overlaps allowed: a span of another label does not compete, both are shown
        ([_m(0, 5, "Anatomy", 0.99)], _t(0, 9, "Disease"), {"Anatomy", "Disease"}, True, ["model", "terms"]),
        # model spans elsewhere stay
        ([_m(20, 25, "PER", 0.5)], _t(0, 9, "Disease"), set(), False, ["terms", "model"]),
    ],
)
def test_merge_rule(model, term, known, allow, want):
    got = T.merge(model, [term], known=known, threshold=0.8, allow_overlaps=allow)
    assert [sp.origin for sp in got] == want


def test_the_model_wins_in_the_project_where_it_knows_the_label_and_is_confident(tmp_path):
    p = make(tmp_path)
    p.store.register_model(MODEL, "test", "1", "", "", ["Disease"], {})
    p.store.set_active_model(MODEL)
    sid = seg_of(p, "Hereditary")
    base = p.store.segment(sid).start
    with p.store.transaction():
        p.store.insert_predictions(MODEL, [(sid, [[base + 11, base + 24, "Disease", 0.95]], 0.5, 0.5, 0.5, 0.5, 0.5)])
    p.terms.add_file(write(tmp_path, "d.txt", DISEASES), label="Disease")
    drain(p.terms.match())
    assert shown(p, "Hereditary") == [("breast cancer", "Disease", "model")]
    p.terms.set_model_confidence(0.99)  # now the model is not confident enough: the term wins
    assert shown(p, "Hereditary") == [("Hereditary breast cancer", "Disease", "terms")]


# ------------------------------------------------------------------------------------------ versions
def test_every_change_is_a_version_with_author_time_and_guideline(tmp_path):
    p = make(tmp_path)
    a = p.terms.add_file(write(tmp_path, "d.txt", "breast cancer\n"), label="Disease", name="mesh")
    assert a["version"] == 1 and a["author"] == p.user and a["guideline_version"] == 1
    b = p.terms.add_file(write(tmp_path, "e.txt", "Breast cancer\novarian cancer\n"), label="Disease", name="mesh")
    assert (b["id"], b["version"], b["added"], b["duplicates"]) == (a["id"], 2, 1, 1)
    drain(p.terms.match())  # the terms version 2 added are matched in every segment
    assert ("ovarian cancer", "Disease", "terms") in shown(p, "ovarian")
    with pytest.raises(NerdeskError) as e:
        p.terms.add_file(write(tmp_path, "f.txt", "x\n"), label="Disease", name="mesh", case_sensitive=True)
    assert e.value.code == "E309"
    ovarian = next(t["id"] for t in p.terms.terms("mesh") if t["pattern"] == "ovarian cancer")
    p.terms.set_enabled("mesh", False, [ovarian])
    assert ("ovarian cancer", "Disease", "terms") not in shown(p, "ovarian")
    p.terms.set_enabled("mesh", True, [ovarian])
    assert ("ovarian cancer", "Disease", "terms") in shown(p, "ovarian")
    p.terms.set_enabled(a["id"], False)
    assert shown(p, "ovarian") == []
    p.terms.set_enabled(a["id"], True)
    p.terms.remove("mesh", [ovarian])
    assert shown(p, "ovarian") == [("Breast cancer", "Disease", "terms")]
    with pytest.raises(NerdeskError) as e:
        p.terms.remove("mesh", [ovarian])
    assert e.value.code == "E306"
    p.terms.remove("mesh")
    assert p.terms.lists() == [] and shown(p, "ovarian") == []
    assert p.store.conn.execute("SELECT COUNT(*) FROM term_matches").fetchone()[0] == 0
    hist = p.terms.history("mesh")
    assert [(h["version"], h["action"]) for h in hist] == [
        (1, "add list"),
        (2, "add terms"),
        (3, "disable terms"),
        (4, "enable terms"),
        (5, "disable list"),
        (6, "enable list"),
        (7, "remove terms"),
        (8, "remove list"),
    ]
    assert all(h["author"] == p.user and h["ts"] and h["guideline_version"] == 1 for h in hist)
    with pytest.raises(NerdeskError) as e:
        p.terms.get("mesh")
    assert e.value.code == "E305"


# ------------------------------------------------------------------------------------------ learning
def test_precision_on_reviewed_segments_flags_a_mostly_rejected_term_and_it_can_be_switched_off(tmp_path):
    texts = [f"Patient {i} had breast cancer, then was at home." for i in range(6)]
    p = make(tmp_path, texts=texts)
    p.terms.add_file(write(tmp_path, "d.txt", "breast cancer\nhome\n"), label="Disease")
    drain(p.terms.match())
    ids = [r[0] for r in p.store.conn.execute("SELECT id FROM segments ORDER BY id")]
    for sid in ids:  # the reviewer keeps "breast cancer" and deletes "home" (a bad term)
        seg = p.segment(sid)
        home = next(sp for sp in seg.spans if seg.text[sp.start - seg.start : sp.end - seg.start] == "home")
        p.remove_span(sid, home.start, home.end, home.label)
        ann = p.store.annotation(sid, p.user)
        assert [sp.origin for sp in ann.spans] == ["terms"] and ann.spans[0].source == "terms:d"
        p.accept(sid)
    rep = p.terms.report()[0]
    rows = {t["pattern"]: t for t in rep["term_rows"]}
    assert (rows["breast cancer"]["hits"], rows["breast cancer"]["precision"], rows["breast cancer"]["flagged"]) == (
        6,
        1.0,
        False,
    )
    assert (rows["home"]["hits"], rows["home"]["precision"], rows["home"]["flagged"]) == (6, 0.0, True)
    assert (rep["hits"], rep["correct"], rep["flagged"]) == (12, 6, 1)
    assert list(rows) == ["home", "breast cancer"]  # flagged first
    # switch the flagged ones off: new segments get breast cancer only
    p.terms.set_enabled("d", False, flagged=True)
    drain(p.import_records([DocRecord("Later: breast cancer at home.")]))
    drain(p.terms.match())
    assert shown(p, "Later") == [("breast cancer", "Disease", "terms")]


def test_forms_reviewers_add_often_are_suggested_as_terms(tmp_path):
    texts = [f"Case {i}: Lynch syndrome and breast cancer." for i in range(4)] + ["One case of gout."]
    p = make(tmp_path, texts=texts)
    p.terms.add_file(write(tmp_path, "d.txt", "breast cancer\n"), label="Disease")
    drain(p.terms.match())
    for sid in [r[0] for r in p.store.conn.execute("SELECT id FROM segments ORDER BY id")]:
        seg = p.segment(sid)
        for word in ("Lynch syndrome", "gout"):
            i = seg.text.find(word)
            if i >= 0:
                p.add_span(sid, seg.start + i, seg.start + i + len(word), "Disease")
        p.accept(sid)
    assert p.terms.suggest(3) == [{"text": "Lynch syndrome", "label": "Disease", "count": 4}]
    assert [r["text"] for r in p.terms.suggest(1)] == ["Lynch syndrome", "gout"]
    res = p.terms.add_suggestions("suggested", 3)
    assert res["added"] == 1 and res["format"] == "suggested"
    drain(p.terms.match())
    assert p.terms.suggest(3) == []  # now in a list
    rep = {r["name"]: r for r in p.terms.report()}
    assert rep["suggested"]["hits"] == 4 and rep["suggested"]["precision"] == 1.0


# ------------------------------------------------------------------------------------------ routing
def test_routing_starts_from_term_hits_while_no_model_knows_the_label(tmp_path):
    texts = [f"Filler sentence number {i} says nothing." for i in range(60)] + [
        "A rare case of gout.",
        "Breast cancer again.",
        "Here breast cancer is named twice: breast cancer.",
    ]
    p = make(tmp_path, texts=texts, labels=("PER", "Disease"))
    p.store.register_model(MODEL, "test", "1", "", "", ["PER"], {})  # knows PER, not Disease
    p.store.set_active_model(MODEL)
    ids = [r[0] for r in p.store.conn.execute("SELECT id FROM segments ORDER BY id")]
    with p.store.transaction():
        p.store.insert_predictions(MODEL, [(i, [], 0.5, 0.5, 0.5, (i * 7) % 11 / 11, (i * 7) % 11 / 11) for i in ids])
    p.terms.add_file(write(tmp_path, "d.csv", "breast cancer,Disease\ngout,Disease\ngout,PER\n"))
    drain(p.terms.match())
    hits = {seg_of(p, "gout"), seg_of(p, "Breast cancer again"), seg_of(p, "named twice")}
    for strategy in ("mnlp", "blend"):
        items = route(p.store, strategy, 3, pool=40)
        assert {it.id for it in items} == hits, strategy
    items = route(p.store, "mnlp", 5, pool=40)
    # conflicting matches (gout as Disease and as PER) first, and the reasons say why
    assert items[0].id == seg_of(p, "gout") and items[0].reasons[0].startswith("conflicting terms")
    assert any(
        r.startswith(("term hit: 'breast cancer'", "term hit: 'Breast cancer'"))
        for it in items[1:3]
        for r in it.reasons
    )
    # without lists, the cold start is random again
    for lst in p.terms.lists():
        p.terms.remove(lst["id"])
    assert route(p.store, "mnlp", 3)[0].reasons[0].startswith("cold start")


# ------------------------------------------------------------------------------------------ silver data
def test_export_suggestions_writes_unreviewed_segments_with_their_sources(tmp_path):
    p = make(tmp_path)
    p.store.register_model(MODEL, "test", "1", "", "", ["Disease"], {})
    p.store.set_active_model(MODEL)
    sid = seg_of(p, "tumours")
    seg = p.store.segment(sid)
    with p.store.transaction():
        p.store.insert_predictions(
            MODEL, [(sid, [[seg.start + 4, seg.start + 11, "Disease", 0.7]], 0.5, 0.5, 0.5, 0.5, 0.5)]
        )
    p.terms.add_file(write(tmp_path, "d.txt", DISEASES), label="Disease")
    drain(p.terms.match())
    p.accept(seg_of(p, "Hereditary"))  # reviewed: not a suggestion any more
    recs = list(export_suggestions(p.store, p.identity))
    assert len(recs) == len(TEXTS) - 1
    assert all("Hereditary" not in r.text for r in recs)
    by_text = {r.text: r for r in recs}
    r = by_text["Breast cancer and ovarian cancer run in some families."]
    assert r.spans == [Span(0, 13, "Disease"), Span(18, 32, "Disease")]
    assert r.meta["suggestions"] == [[0, 13, "Disease", None, "terms:d"], [18, 32, "Disease", None, "terms:d"]]
    r = by_text["Two tumours were found, and the tumour grew."]
    assert r.meta["suggestions"] == [[4, 11, "Disease", 0.7, f"model:{MODEL}"]]
    assert r.meta["segment_id"] == sid
