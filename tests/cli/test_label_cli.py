"""``nerdesk labels`` and ``nerdesk guideline`` (issue 17): each change from the command line, the
re-review queue, errors that change nothing, and a fine-tune after a rename that learns the new name."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nerdesk.cli import cli
from nerdesk.core.project import Project
from tests.cli.helpers import run


def fail(*args) -> str:
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 1, r.output
    return r.output


def make(tmp_path, shared_data, n=40, corpus="train/wikigold/train.jsonl"):
    small = tmp_path / "small.jsonl"
    lines = (shared_data / corpus).read_text(encoding="utf-8").splitlines(True)
    small.write_text("".join(lines[:n]), encoding="utf-8")
    p = tmp_path / "p.nerdesk"
    run("init", p)
    run("import", p, small, "--annotations", "--add-labels")
    return p


def labels_json(p):
    return {r["name"]: r for r in json.loads(run("labels", "list", p, "--json"))}


def test_each_label_change_from_the_command_line(tmp_path, shared_data):
    p = make(tmp_path, shared_data)
    before = labels_json(p)
    assert set(before) == {"PER", "ORG", "LOC", "MISC"}
    out = run("labels", "rename", p, "PER", "PERSON")
    assert "renamed PER → PERSON" in out and "guideline v" in out
    run("labels", "merge", p, "LOC,MISC", "PLACE")
    after = labels_json(p)
    assert after["PLACE"]["annotations"] == len({r for r in _segments_with(p, ("PLACE",))})
    run("labels", "add", p, "DATE", "--description", "A calendar date", "--key", "d")
    run("labels", "parent", p, "DATE", "PLACE")
    assert labels_json(p)["DATE"]["parent"] == "PLACE" and labels_json(p)["DATE"]["shortcut"] == "d"
    run("labels", "edit", p, "DATE", "--color", "#123456", "--severity", "high")
    assert labels_json(p)["DATE"]["severity"] == "high"
    run("labels", "retire", p, "DATE")
    assert labels_json(p)["DATE"]["status"] == "retired"
    out = run("labels", "split", p, "ORG", "COMPANY,TEAM", "--no-model")
    assert "split ORG → COMPANY | TEAM" in out
    n_org = labels_json(p)["ORG"]["annotations"]
    stale = json.loads(run("queue", p, "--status", "stale", "--limit", "1000", "--json"))
    assert len(stale["segments"]) == n_org and stale["per_label"]["ORG"]["stale"] == n_org
    assert "current" in run("labels", "stale", p)
    assert f"Stale       ORG {n_org} of {n_org} segments" in run("stats", p)
    assert json.loads(run("stats", p, "--json"))["label_currency"]["ORG"]["stale"] == n_org
    run("labels", "overlaps", p, "allow")
    with Project.open(p) as proj:
        assert proj.allow_overlaps and "ORG" not in proj.label_names()
    # each change undoes, one at a time, back to the labels imported
    for _ in range(8):
        run("labels", "undo", p)
    assert {k: (v["color"], v["shortcut"], v["status"]) for k, v in labels_json(p).items()} == {
        k: (v["color"], v["shortcut"], v["status"]) for k, v in before.items()
    }
    assert "redo" in run("labels", "redo", p)


def _segments_with(p, labels):
    with Project.open(p) as proj:
        return [
            sid
            for sid, spans in proj.store.conn.execute("SELECT segment_id, spans FROM annotations")
            if any(sp["label"] in labels for sp in json.loads(spans))
        ]


def test_bad_input_exits_with_the_code_and_changes_nothing(tmp_path, shared_data):
    p = make(tmp_path, shared_data, n=10)
    before = run("labels", "list", p, "--json")
    assert "E422" in fail("labels", "rename", p, "PER", "ORG")
    assert "E009" in fail("labels", "merge", p, "PER,NOPE", "X")
    assert "E424" in fail("labels", "split", p, "PER", "PER,X")
    assert "E428" in fail("labels", "edit", p, "PER", "--color", "blue")
    assert "E433" in fail("guideline", "show", p, "--version", "99")
    assert "E006" in fail("labels", "undo", p)
    bad = tmp_path / "bad.json"
    bad.write_text("{oops", encoding="utf-8")
    assert "E435" in fail("guideline", "edit", p, "--file", bad)
    assert run("labels", "list", p, "--json") == before


def test_guideline_show_edit_diff(tmp_path, shared_data):
    p = make(tmp_path, shared_data, n=10)
    run("guideline", "edit", p, "--label", "PER", "--definition", "A named person", "--boundaries", "No titles")
    run("guideline", "edit", p, "--label", "PER", "--example", "1:0:3", "--summary", "first example")
    shown = run("guideline", "show", p)
    assert "## PER" in shown and "Definition: A named person" in shown and "Boundary rules: No titles" in shown
    diff = run("guideline", "diff", p)
    assert diff.startswith("---") and "+  + …[" in diff
    history = run("guideline", "show", p, "--history")
    assert "first example" in history and "tester" in history
    doc = json.loads(run("guideline", "edit", p, "--dump"))
    doc["labels"]["ORG"]["definition"] = "A company, team or institution"
    doc["text"] = "Tag the longest name."
    f = tmp_path / "g.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    run("guideline", "edit", p, "--file", f, "--summary", "ORG defined")
    assert "ORG defined" in run("guideline", "show", p, "--history")
    assert "Tag the longest name." in run("guideline", "show", p)
    old = run("guideline", "diff", p, "1", "2")
    assert old.startswith("---")


def test_a_finetune_after_a_rename_trains_on_the_new_name(tmp_path, shared_data):
    """ncbi_disease's 'Disease' renamed 'DISEASE': the bundle, the fine-tuned model's labels and its
    predictions in the project carry the new name only."""
    p = make(tmp_path, shared_data, n=30, corpus="adapt/ncbi_disease/train.jsonl")
    run("labels", "rename", p, "Disease", "DISEASE")
    bundle = tmp_path / "b.zip"
    run("export", p, "--format", "bundle", "--out", bundle)
    out = tmp_path / "ft"
    run(
        "finetune",
        bundle,
        "--out",
        out,
        "--epochs",
        "1",
        "--replay",
        "50",
        "--no-refit",
        "--no-int8",
        "--threads",
        "1",
        "--allow-small",
        "--progress",
        "none",
    )
    card = json.loads((out / "model.json").read_text())
    assert "DISEASE" in card["labels"] and "Disease" not in card["labels"]
    run("predict", p, "--model", out)
    with Project.open(p) as proj:
        seen = {
            sp[2] for (spans,) in proj.store.conn.execute("SELECT spans FROM predictions") for sp in json.loads(spans)
        }
        assert seen <= {"DISEASE"}  # the model is asked for the project's labels, by their names now


def test_guideline_edit_with_no_option_opens_the_editor(tmp_path, shared_data):
    import stat
    import sys

    p = make(tmp_path, shared_data, n=10)
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import json, sys\n"
        "doc = json.load(open(sys.argv[1]))\n"
        "doc['labels']['LOC']['boundaries'] = 'Include the article only in official names'\n"
        "doc['summary'] = 'LOC boundaries'\n"
        "json.dump(doc, open(sys.argv[1], 'w'))\n",
        encoding="utf-8",
    )
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    r = CliRunner().invoke(
        cli,
        ["guideline", "edit", str(p)],
        env={"EDITOR": f"{sys.executable} {editor}", "VISUAL": ""},
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    assert "LOC boundaries" in run("guideline", "show", p, "--history")
    assert "Boundary rules: Include the article only in official names" in run("guideline", "show", p)
