"""Issue 6 end to end through the CLI: init -> import -> predict -> corrections (imported with
--annotations) -> export bundle -> finetune -> evaluate shows a better F1 on held-out data of
that domain (crossner_politics test), and the bundle merges into another project."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nerdesk.cli import cli
from tests.cli.helpers import gold_bundle, run


def test_close_the_loop(tmp_path, shared_data):
    train = shared_data / "adapt" / "crossner_politics" / "train.jsonl"
    test = shared_data / "adapt" / "crossner_politics" / "test.jsonl"
    p = tmp_path / "politics.nerdesk"
    run("init", p)
    assert "Pre-annotated 200 segments with en-base" in run("import", p, train)
    assert "Predicted 0 segments" in run("predict", p)  # resumable: nothing left to predict
    run("import", p, train, "--annotations", "--annotator", "expert", "--add-labels")
    errors = json.loads(run("errors", p, "--json"))
    assert errors["total"] > 500 and errors["per_category"]["label"] > 100
    bundle = tmp_path / "week1.zip"
    assert "200 reviewed segments" in run("export", p, "--format", "bundle", "--out", bundle)
    out = tmp_path / "ft"
    replay = [
        a for c in ("gum_ne", "btc", "wikigold") for a in ("--replay-data", shared_data / "train" / c / "train.jsonl")
    ]
    lines = [
        json.loads(x)
        for x in run(
            "finetune", bundle, "--out", out, "--epochs", "6", "--replay", "300", *replay, "--progress", "jsonl"
        ).splitlines()
    ]
    result = lines[-1]["result"]
    assert any("done" in x for x in lines)
    assert "politician" in result["labels"] and "PER" in result["labels"]
    assert result["held_out"]["after"]["f1"] > result["held_out"]["before"]["f1"] + 0.2
    card = json.loads((out / "model.json").read_text())
    assert card["finetune"]["error_counts"] == errors["per_category"]
    assert card["finetune"]["replay"]["sentences"] > 0
    # its int8 graph has fixed scales, as the base's: its spans do not move with the batch
    import onnx

    ops = {n.op_type for n in onnx.load(str(out / card["onnx"]["int8"])).graph.node}
    assert card["onnx"]["default"] == "int8" and "QLinearMatMul" in ops and "DynamicQuantizeLinear" not in ops
    # the base model has none of the domain's labels: a coded error, not a silent 0
    r = CliRunner().invoke(cli, ["evaluate", "default", str(test), "--label-map", "identity"])
    assert r.exit_code == 1 and "[E213]" in r.output and "politician" in r.output
    after = json.loads(run("evaluate", out, test, "--json"))  # its own labels, matched by name
    f1_after = next(iter(after["results"].values()))["exact"]["f1"]
    assert f1_after > 0.3, f1_after
    # the new model becomes a version of the project; the old one stays a roll-back away
    run("promote", p, out)
    versions = json.loads(run("versions", p, "--json"))
    assert versions[0]["active"] and versions[0]["id"].startswith("en-base-ft")
    # it trained on every reviewed segment of the project: it is scored on none of them
    assert versions[0]["reviewed_segments"] == 0 and versions[0]["trained_on_left_out"] > 100
    assert versions[1]["reviewed_segments"] == versions[0]["trained_on_left_out"]
    assert not any(v["best"] for v in versions)
    assert "en-base@" in run("rollback", p)


def test_finetune_on_a_tiny_bundle_without_held_out_data(tmp_path, shared_data):
    """Fewer than 20 segments: nothing is held out, training runs its epochs and packages a model."""
    bundle = gold_bundle(tmp_path, shared_data / "adapt" / "ncbi_disease" / "train.jsonl", 7)
    # refused without a word of override: it says what is missing, and writes nothing
    r = CliRunner().invoke(cli, ["finetune", str(bundle), "--out", str(tmp_path / "ft")])
    assert r.exit_code == 1 and "[E214]" in r.output and "7 reviewed segments, 20 needed" in r.output
    assert not (tmp_path / "ft").exists()
    out = run(
        "finetune",
        bundle,
        "--out",
        tmp_path / "ft",
        "--epochs",
        "1",
        "--replay",
        "0",
        "--allow-small",
        "--progress",
        "jsonl",
    ).splitlines()
    result = json.loads(out[-1])["result"]
    assert result["held_out"]["before"] is None and "Disease" in result["labels"]
    # its training vocabulary travels with it: the base's words and the bundle's (issue 14, input drift)
    from nerdesk.core.model.package import models_dir
    from nerdesk.core.model.vocab import read_vocab, words

    base, new = read_vocab(models_dir() / "en-base"), read_vocab(tmp_path / "ft")
    lines = (shared_data / "adapt" / "ncbi_disease" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:7]
    bundle_words = {w for line in lines for w in words(" ".join(json.loads(line)["tokens"]))}
    assert base and new and set(base) <= set(new) and set(new) - set(base) == bundle_words - set(base) != set()
    note = json.loads((tmp_path / "ft" / "model.json").read_text(encoding="utf-8"))["vocab"]
    assert note["base_words"] == len(base) and note["words"] == len(new)
