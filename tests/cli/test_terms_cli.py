"""``nerdesk terms`` and ``nerdesk export --suggestions`` end to end (issue 18)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nerdesk.cli import cli
from tests.cli.helpers import run

TEXTS = (
    "Breast cancer and ovarian cancer run in families.\nAtaxia telangiectasia (AT) is rare; we looked at it.\n"
    "Hereditary breast cancer is common.\nThe weather was fine.\n"
)


def fail(*args) -> str:
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 1, r.output
    return r.output


def setup(tmp_path):
    p = tmp_path / "p.nerdesk"
    docs = tmp_path / "docs.txt"
    docs.write_text(TEXTS, encoding="utf-8")
    run("init", p, "--labels", "Disease")
    run("import", p, docs, "--lines", "--no-predict")
    return p


def test_add_list_remove_and_history(tmp_path):
    p = setup(tmp_path)
    terms = tmp_path / "mesh.txt"
    terms.write_text("breast cancer\novarian cancer\nhereditary breast cancer\nAT\nataxia telangiectasia\n")
    out = run("terms", "add", p, terms, "--label", "Disease")
    assert "List 1 'mesh' version 1: 5 terms added" in out and "Matched 4 segments: 6 matches" in out
    out = run("terms", "list", p)
    assert "mesh  v1  on  5 terms (5 on; Disease 5)  any case" in out and "matches 6; reviewed hits 0" in out
    rows = json.loads(run("terms", "list", p, "--json", "--all"))
    assert rows[0]["name"] == "mesh" and len(rows[0]["terms_detail"]) == 5
    assert {t["pattern"]: t["matches"] for t in rows[0]["terms_detail"]}["AT"] == 1  # "at" is not AT
    # the suggestions reach the export, with their source
    silver = tmp_path / "silver.jsonl"
    assert "Wrote 4 unreviewed segments" in run("export", p, "--suggestions", "--format", "jsonl", "--out", silver)
    lines = [json.loads(x) for x in silver.read_text().splitlines()]
    assert lines[0]["meta"]["suggestions"] == [
        [0, 13, "Disease", None, "terms:mesh"],
        [18, 32, "Disease", None, "terms:mesh"],
    ]
    assert lines[0]["tags"][:2] == ["B-Disease", "I-Disease"] and lines[3]["meta"]["suggestions"] == []
    conll = tmp_path / "silver.conll"
    run("export", p, "--suggestions", "--format", "conll", "--out", conll)
    assert "Hereditary\tB-Disease" in conll.read_text() or "Hereditary B-Disease" in conll.read_text()
    # off, on, remove one term, remove the list: each a version
    run("terms", "disable", p, "mesh")
    assert "OFF" in run("terms", "list", p)
    run("terms", "enable", p, "1")
    at = next(t["id"] for t in rows[0]["terms_detail"] if t["pattern"] == "AT")
    assert "Removed 1 terms from 'mesh'" in run("terms", "remove", p, "mesh", "--term", at)
    assert "Removed list 1 'mesh' (4 terms)" in run("terms", "remove", p, "mesh")
    hist = json.loads(run("terms", "history", p, "mesh", "--json"))
    assert [h["action"] for h in hist] == ["add list", "disable list", "enable list", "remove terms", "remove list"]
    assert "No term lists" in run("terms", "list", p)
    assert "[E305]" in fail("terms", "remove", p, "mesh")


def test_bad_lists_are_coded_errors_and_nothing_is_stored(tmp_path):
    p = setup(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"label": "Disease", "pattern": "breast cancer"}\n{"label": "Disease", "pattern": [{"LOWR": "x"}]}\n'
    )
    out = fail("terms", "add", p, bad)
    assert "[E303]" in out and "bad.jsonl, line 2" in out
    drugs = tmp_path / "drugs.csv"
    drugs.write_text("term,label\naspirin,Drug\n")
    out = fail("terms", "add", p, drugs)
    assert "[E304]" in out and "drugs.csv, line 2" in out and "--add-labels" in out
    assert "[E301]" in fail("terms", "add", p, tmp_path / "docs.txt")
    assert "No term lists" in run("terms", "list", p)
    assert "Disease 0" in run("stats", p) and "Drug" not in run("stats", p)
    out = run("terms", "add", p, drugs, "--add-labels")
    assert "labels added: Drug" in out
    assert "Drug" in run("stats", p)


def test_flagged_terms_suggestions_rule_and_import(tmp_path):
    from nerdesk.core.project import Project

    p = setup(tmp_path)
    terms = tmp_path / "t.txt"
    terms.write_text("breast cancer\nweather\n")
    run("terms", "add", p, terms, "--label", "Disease")
    docs = tmp_path / "more.txt"
    docs.write_text("".join(f"Case {i}: the weather and gout.\n" for i in range(5)))
    out = run("import", p, docs, "--lines", "--no-predict")
    assert "5 new documents" in out
    run("terms", "match", p)
    with Project.open(p) as proj:  # a reviewer deletes "weather" and adds gout, 5 times
        ids = [
            r[0]
            for r in proj.store.conn.execute(
                "SELECT s.id FROM segments s JOIN documents d ON d.id = s.doc_id WHERE d.text LIKE 'Case%'"
            )
        ]
        for sid in ids:
            seg = proj.segment(sid)
            w = next(sp for sp in seg.spans if sp.term == "weather")
            proj.remove_span(sid, w.start, w.end, w.label)
            i = seg.text.index("gout")
            proj.add_span(sid, seg.start + i, seg.start + i + 4, "Disease")
            proj.accept(sid)
    out = run("terms", "list", p)
    assert "1 flagged" in out and "FLAGGED: mostly rejected" in out and "hits    5  precision 0.00" in out
    assert "Switched the flagged terms of 't' off" in run("terms", "disable", p, "t", "--flagged")
    assert "(off)" in run("terms", "list", p)
    out = run("terms", "suggest", p)
    assert "5  Disease        gout" in out
    out = run("terms", "suggest", p, "--add-to", "suggested")
    assert "Added 1 terms to 'suggested'" in out
    assert "suggested  v1" in run("terms", "list", p)
    assert "0.80" in run("terms", "rule", p) and "0.95" in run("terms", "rule", p, "--model-confidence", "0.95")
    # an import pre-annotates with the model and the lists
    later = tmp_path / "later.txt"
    later.write_text("More gout.\n")
    run("import", p, later, "--lines")
    with Project.open(p) as proj:
        sid = proj.store.conn.execute(
            "SELECT s.id FROM segments s JOIN documents d ON d.id = s.doc_id WHERE d.text = 'More gout.'"
        ).fetchone()[0]
        assert [(sp.label, sp.source) for sp in proj.segment(sid).spans] == [("Disease", "terms:suggested")]


def test_a_finetune_records_the_term_lists_its_reviewed_spans_came_from(tmp_path):
    """Term suggestions a reviewer kept (or edited) travel in the bundle with their list, the manifest
    sums them per list with its version, and the fine-tuned model's card records which lists took part."""
    from nerdesk.core.bundle import read_bundle
    from nerdesk.core.project import Project

    p = setup(tmp_path)
    terms = tmp_path / "mesh.txt"
    terms.write_text("breast cancer\novarian cancer\nhereditary breast cancer\n")
    run("terms", "add", p, terms, "--label", "Disease")
    with Project.open(p) as proj:
        segs = [proj.segment(sid) for sid in (1, 3, 4)]
        assert [len(s.spans) for s in segs] == [2, 1, 0]
        proj.accept(1)  # both suggestions kept as they were
        sp = segs[1].spans[0]  # "Hereditary breast cancer": the reviewer keeps only "breast cancer"
        proj.move_span(3, sp.start, sp.end, sp.start + len("Hereditary "), sp.end, snap=False)
        proj.accept(3)
        proj.accept(4)  # no suggestion there
    bundle = tmp_path / "b.zip"
    run("export", p, "--format", "bundle", "--out", bundle)
    manifest, lines = read_bundle(bundle)
    assert manifest["term_lists"] == [{"name": "mesh", "segments": 2, "accepted": 2, "edited": 1, "version": 1}]
    first = next(x for x in lines if x["text"].startswith("Breast"))
    assert first["final"][0] == {"start": 0, "end": 13, "label": "Disease", "source": "terms:mesh", "origin": "terms"}
    edited = next(x for x in lines if x["text"].startswith("Hereditary"))
    assert edited["final"] == [{"start": 11, "end": 24, "label": "Disease", "source": "terms:mesh", "origin": "human"}]
    plain = next(x for x in lines if x["text"].startswith("The weather"))
    assert plain["final"] == []
    run("finetune", bundle, "--out", tmp_path / "ft", "--epochs", "1", "--replay", "0", "--allow-small")
    card = json.loads((tmp_path / "ft" / "model.json").read_text(encoding="utf-8"))
    assert card["finetune"]["term_lists"] == [
        {"name": "mesh", "segments": 2, "accepted": 2, "edited": 1, "versions": [1]}
    ]
    out = run("models", "show", tmp_path / "ft")
    assert "term list mesh (v1): 2 spans kept as suggested, 1 edited, in 2 segments" in out
