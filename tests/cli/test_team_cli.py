"""nerdesk whoami / review / agreement / adjudicate / errors --by annotator, through the CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nerdesk.cli import cli
from nerdesk.core import bundle
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Span, drain

from .helpers import run

TEXT = "Angela Merkel visited Paris. Emmanuel Macron met her in Berlin."


def _laptop(path, user):
    p = Project.create(path, labels=["PER", "LOC", "ORG"], user=user)
    drain(p.import_records([DocRecord(TEXT, source="news.txt")]))
    return p


def _team(tmp_path):
    """rob's project with alice's and bob's bundles merged: they disagree on Paris (LOC / ORG)."""
    for name, label in (("alice", "LOC"), ("bob", "ORG")):
        p = _laptop(tmp_path / f"{name}.nerdesk", name)
        s1, s2 = [s.id for s in p.document(1)["segments"]]
        p.set_spans(s1, [Span(0, 13, "PER"), Span(22, 27, label)])
        p.accept(s1)
        p.set_spans(s2, [Span(29, 44, "PER"), Span(56, 62, "LOC")])
        p.accept(s2)
        bundle.write_bundle(p.store, p.identity, tmp_path / f"{name}.zip")
        p.close()
    path = tmp_path / "rob.nerdesk"
    _laptop(path, "rob").close()
    run("import", path, tmp_path / "alice.zip")
    run("import", path, tmp_path / "bob.zip")
    return path


def test_whoami_and_the_global_user_and_tier_options(tmp_path, monkeypatch):
    path = _team(tmp_path)
    out = json.loads(run("whoami", path, "--json"))
    assert (out["user"], out["tier"], out["sources"]["user"]) == ("tester", "annotator", "environment")
    out = json.loads(run("--user", "rob", "--tier", "reviewer", "whoami", path, "--json"))
    assert (out["user"], out["tier"], out["sources"]) == ("rob", "reviewer", {"user": "argument", "tier": "argument"})
    assert json.loads(run("whoami", path, "--json"))["user"] == "tester"  # the global option does not stick
    cfg = tmp_path / "nerdesk.toml"
    cfg.write_text('tier = "expert"\n', encoding="utf-8")
    monkeypatch.setenv("NERDESK_CONFIG", str(cfg))
    assert json.loads(run("whoami", path, "--json"))["tier"] == "expert"
    run("whoami", path, "--user", "rob", "--tier", "reviewer", "--remember")
    monkeypatch.delenv("NERDESK_USER")
    monkeypatch.setenv("NERDESK_CONFIG", str(tmp_path / "none.toml"))
    out = json.loads(run("whoami", path, "--json"))
    assert (out["user"], out["tier"], out["sources"]["user"]) == ("rob", "reviewer", "remembered")
    assert {p["name"]: p["tier"] for p in out["people"]} == {
        "alice": "annotator",
        "bob": "annotator",
        "rob": "reviewer",
    }


def test_review_assign_splits_new_work(tmp_path):
    path = tmp_path / "p.nerdesk"
    p = Project.create(path, labels=["PER"], user="x")
    drain(p.import_records([DocRecord(f"Person {i} met Person {i + 1}.") for i in range(50)]))
    p.close()
    run("review", path, "--assign", "alice,bob", "--double", "0.2", "--user", "rob", "--tier", "reviewer")
    a = json.loads(run("review", path, "--user", "alice", "--json"))["items"]
    b = json.loads(run("review", path, "--user", "bob", "--json"))["items"]
    assert {i["kind"] for i in a + b} == {"assigned"}
    assert {i["segment_id"] for i in a} | {i["segment_id"] for i in b} == set(range(1, 51))
    assert any("double annotation" in i["reasons"][0] for i in a)


def test_agreement_json_names_its_figures_plainly(tmp_path):
    path = _team(tmp_path)
    r = json.loads(run("agreement", path, "--json"))
    assert set(r["overall"]) >= {"span_f1_exact", "span_f1_partial", "kappa", "alpha"}
    assert r["raters"] == ["alice", "bob"] and r["segments"] == 2
    assert r["overall"]["span_f1_exact"] == 2 * 3 / 8  # 3 of alice's 4 spans are bob's
    assert r["per_label"]["PER"]["span_f1_exact"] == 1.0 and r["per_label"]["LOC"]["span_f1_exact"] == 2 / 3
    assert json.loads(run("agreement", path, "--tier", "reviewer", "--json"))["segments"] == 0
    assert json.loads(run("agreement", path, "--person", "alice", "--person", "bob", "--json"))["segments"] == 2
    text = run("agreement", path)
    assert "span F1 exact" in text and "alice / bob: 2 segments" in text


def test_review_queue_decisions_and_errors_by_annotator(tmp_path):
    path = _team(tmp_path)
    q = json.loads(run("review", path, "--user", "rob", "--tier", "reviewer", "--json"))
    assert q["tier"] == "reviewer" and len(q["items"]) == 4 and all(i["reasons"] for i in q["items"])
    r = CliRunner().invoke(cli, ["review", str(path), "2", "--annotator", "bob", "--approve"])
    assert r.exit_code == 1 and "[E401]" in r.output  # the default tier is annotator
    run(
        "review",
        path,
        "2",
        "--annotator",
        "alice",
        "--correct",
        "--spans",
        "38-44:PER,56-62:LOC",
        "--user",
        "rob",
        "--tier",
        "reviewer",
    )
    run(
        "review",
        path,
        "2",
        "--annotator",
        "bob",
        "--send-back",
        "--note",
        "Macron's first name",
        "--user",
        "rob",
        "--tier",
        "reviewer",
    )
    r = CliRunner().invoke(
        cli, ["review", str(path), "2", "--annotator", "bob", "--send-back", "--user", "rob", "--tier", "reviewer"]
    )
    assert r.exit_code == 1 and "[E404]" in r.output
    bob = json.loads(run("review", path, "--user", "bob", "--json"))
    assert [(i["segment_id"], i["kind"]) for i in bob["items"]] == [(2, "sent_back")]
    assert "Macron's first name" in bob["items"][0]["reasons"][0]
    prof = json.loads(run("errors", path, "--by", "annotator", "--json"))
    assert prof["alice"]["per_category"] == {"boundary": 1}
    assert "alice: 1 error(s)" in run("errors", path, "--by", "annotator")
    expert = json.loads(run("review", path, "--user", "eve", "--tier", "expert", "--json"))
    kinds = {i["segment_id"]: i["kind"] for i in expert["items"]}
    assert kinds == {2: "disagreement", 1: "low_agreement"}  # alice vs rob on 2; LOC/ORG agreement is low on 1


def test_adjudicate_lists_decides_and_sets_the_protocol(tmp_path):
    path = _team(tmp_path)
    out = json.loads(run("adjudicate", path, "--json"))
    assert out["unresolved"] == 1 and out["items"][0]["segment_id"] == 1
    assert [v["annotator"] for v in out["items"][0]["versions"]] == ["alice", "bob"]
    text = run("adjudicate", path, "1")
    assert "alice (annotator): 0-13:PER, 22-27:LOC" in text and "unresolved" in text
    r = CliRunner().invoke(cli, ["adjudicate", str(path), "1", "--take", "alice"])
    assert r.exit_code == 1 and "[E401]" in r.output
    r = CliRunner().invoke(
        cli, ["adjudicate", str(path), "1", "--combine", "0-13:PER", "--user", "rob", "--tier", "reviewer"]
    )
    assert r.exit_code == 1 and "[E412]" in r.output
    run(
        "adjudicate",
        path,
        "1",
        "--combine",
        "alice:0-13:PER,bob:22-27:ORG",
        "--reason",
        "the club",
        "--user",
        "rob",
        "--tier",
        "reviewer",
    )
    v = json.loads(run("adjudicate", path, "1", "--json"))
    assert v["resolution"]["how"] == "adjudicated" and v["resolution"]["reason"] == "the club"
    assert json.loads(run("adjudicate", path, "--json"))["unresolved"] == 0
    exported = tmp_path / "out.jsonl"
    run("export", path, "--format", "jsonl", "--out", exported)
    tags = json.loads(exported.read_text().splitlines()[0])["tags"]
    assert [t for t in tags if t.startswith("B-")] == ["B-PER", "B-ORG", "B-PER", "B-LOC"]
    # the protocol: experts decide ORG; the decision above was the reviewer's, so it stays...
    run("adjudicate", path, "--protocol", "majority", "--expert-label", "ORG", "--user", "rob", "--tier", "reviewer")
    out = json.loads(run("adjudicate", path, "--json"))
    assert out["protocol"] == {"rule": "majority", "expert_labels": ["ORG"]} and out["unresolved"] == 0
    # ...but a new decision on ORG needs an expert
    r = CliRunner().invoke(cli, ["adjudicate", str(path), "1", "--take", "bob", "--user", "rob", "--tier", "reviewer"])
    assert r.exit_code == 1 and "[E407]" in r.output
    run("adjudicate", path, "1", "--spans", "0-13:PER", "--user", "eve", "--tier", "expert", "--reason", "no")
    assert json.loads(run("adjudicate", path, "1", "--json"))["resolution"]["by"] == "eve"
