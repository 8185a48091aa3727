"""Fine-tuning (issue 6): replay drawn afresh each epoch in proportion to the bundle, the base
model's own predictions as replay targets (distillation), the step budget, and the card."""

from __future__ import annotations

import math

from click.testing import CliRunner

from nerdesk.cli import cli
from nerdesk.core.types import Progress


def run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def finetune(bundle, out, **kw):
    from nerdesk.train.finetune import finetune_iter

    gen = finetune_iter([bundle], out, threads=1, quantize=False, log=lambda s: None, **kw)
    totals = []
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value, totals
        assert isinstance(p, Progress)
        totals.append(p.total)


def ncbi_bundle(tmp_path, shared_data):
    """A bundle of the first 40 ncbi_disease train sentences, through init, import and export."""
    small = tmp_path / "small.jsonl"
    lines = (shared_data / "adapt" / "ncbi_disease" / "train.jsonl").read_text(encoding="utf-8").splitlines(True)
    small.write_text("".join(lines[:40]), encoding="utf-8")
    p = tmp_path / "s.nerdesk"
    run("init", p)
    run("import", p, small, "--annotations", "--add-labels")
    bundle = tmp_path / "s.zip"
    run("export", p, "--format", "bundle", "--out", bundle)
    return bundle


def test_replay_is_sampled_per_epoch_and_distilled(tmp_path, shared_data):
    bundle = ncbi_bundle(tmp_path, shared_data)
    replay = [shared_data / "train" / c / "train.jsonl" for c in ("gum_ne", "btc")]
    card, totals = finetune(bundle, tmp_path / "ft", replay=200, replay_paths=replay, replay_ratio=1.0,
                            distill=1.0, epochs=2, batch_size=4)
    ft = card["finetune"]
    assert ft["segments"] == {"train": 34, "held_out": 6}
    assert ft["replay"]["sentences"] == 200 and ft["replay"]["per_epoch"] == 34 and ft["replay"]["distill"] == 1.0
    # each epoch: the 34 bundle segments and 2 x 17 replay sentences, not the whole replay sample
    assert set(totals) == {2 * math.ceil((34 + 34) / 4)}
    assert "Disease" in card["labels"] and card["labels"][:4] == ["PER", "ORG", "LOC", "MISC"]
    # without a ratio every epoch goes through the whole replay sample
    card, totals = finetune(bundle, tmp_path / "ft2", replay=200, replay_paths=replay, replay_ratio=None,
                            distill=0.0, epochs=1, batch_size=4)
    assert card["finetune"]["replay"]["per_epoch"] == 200
    assert set(totals) == {math.ceil((34 + 200) / 4)}


def test_step_budget_caps_the_epochs(tmp_path, shared_data):
    bundle = ncbi_bundle(tmp_path, shared_data)
    replay = [shared_data / "train" / "gum_ne" / "train.jsonl"]
    # 34 segments + 34 replay sentences an epoch, batches of 4: 17 steps an epoch; 40 steps: 2 epochs
    card, totals = finetune(bundle, tmp_path / "ft", replay=100, replay_paths=replay, replay_ratio=1.0,
                            epochs=5, patience=5, batch_size=4, max_steps=40)
    assert card["training"]["epochs_run"] == 2 and set(totals) == {2 * 17}
