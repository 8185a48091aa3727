"""`nerdesk finetune --teacher MODEL --unlabeled PROJECT`: a teacher labels the project's unreviewed
segments and the fast model learns from them beside the bundle (issue 12, deliverable 5)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nerdesk.cli import cli
from nerdesk.core.metrics import segment_hash
from nerdesk.core.model.package import default_model_path
from nerdesk.core.project import Project

from .helpers import run


def test_the_teacher_labels_the_unreviewed_segments_and_the_model_learns_from_them(tmp_path, shared_data):
    lines = (shared_data / "train" / "btc" / "test.jsonl").read_text(encoding="utf-8").splitlines(True)
    reviewed, unreviewed = tmp_path / "r.jsonl", tmp_path / "u.jsonl"
    reviewed.write_text("".join(lines[:40]), encoding="utf-8")
    unreviewed.write_text(
        "".join(json.dumps({"text": " ".join(json.loads(x)["tokens"])}) + "\n" for x in lines[40:100]), encoding="utf-8"
    )
    p = tmp_path / "p.nerdesk"
    run("init", p, "--labels", "PER,ORG,LOC")
    run("import", p, reviewed, "--annotations", "--no-predict")
    run("import", p, unreviewed, "--no-predict")
    bundle = tmp_path / "b.zip"
    run("export", p, "--format", "bundle", "--out", bundle)
    out = tmp_path / "ft"
    said = run(
        "finetune",
        bundle,
        "--out",
        out,
        "--teacher",
        default_model_path(),
        "--unlabeled",
        p,
        "--silver",
        "50",
        "--epochs",
        "2",
        "--threads",
        "1",
        "--no-refit",
        "--no-int8",
        "--replay",
        "100",
    )
    card = json.loads((out / "model.json").read_text())
    silver = card["finetune"]["silver"]
    assert silver["sentences"] == 50 and silver["weight"] == 0.5
    assert "spans in 50 unreviewed segments" in said
    with Project.open(p) as proj:
        texts = [s.text for s in proj.store.segments_with_text(proj.store.unreviewed_segment_ids(50))]
    assert len(texts) == 50 and {segment_hash(t) for t in texts} <= set(card["trained_segments"])


def test_teacher_needs_its_project_and_the_fast_model(tmp_path):
    r = CliRunner().invoke(
        cli, ["finetune", str(tmp_path / "b.zip"), "--out", str(tmp_path / "o"), "--teacher", str(tmp_path)]
    )
    assert r.exit_code != 0 and "--teacher and --unlabeled go together" in r.output


@pytest.mark.parametrize("base", ["en-accurate"])
def test_the_accurate_model_takes_no_teacher(tmp_path, base):
    r = CliRunner().invoke(
        cli,
        [
            "finetune",
            str(tmp_path / "b.zip"),
            "--out",
            str(tmp_path / "o"),
            "--base",
            base,
            "--teacher",
            str(tmp_path),
            "--unlabeled",
            str(tmp_path / "p.nerdesk"),
            "--allow-small",
        ],
    )
    assert r.exit_code != 0 and "the accurate model is the teacher" in r.output
