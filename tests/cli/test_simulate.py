"""`nerdesk simulate`: the loop with an oracle on a gold corpus, written as JSON and a PNG."""

from __future__ import annotations

import json

from .helpers import run


def test_simulate_writes_the_learning_curve(tmp_path, shared_data):
    d = shared_data / "adapt" / "ncbi_disease"
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text("".join(d.joinpath("train.jsonl").read_text(encoding="utf-8").splitlines(True)[:120]))
    test.write_text("".join(d.joinpath("test.jsonl").read_text(encoding="utf-8").splitlines(True)[:60]))
    out = tmp_path / "sim"
    said = run(
        "simulate",
        train,
        test,
        "--strategy",
        "random",
        "--sizes",
        "30",
        "--epochs",
        "2",
        "--replay",
        "0",
        "--threads",
        "1",
        "--out",
        out,
    )
    (result,) = json.loads((out / "results.json").read_text())
    assert result["strategy"] == "random" and [pt["segments"] for pt in result["curve"]] == [0, 30]
    start, after = result["curve"]
    assert start["f1"] == result["base_f1"] and start["actions"] == 0  # the base model: no Disease
    assert 0.0 < after["f1"] <= 1.0 and after["actions"] > 0
    png = (out / "learning_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert "random: 0 -> F1 0.000, 30 -> F1" in said and "learning_curve.png" in said
