"""Fine-tuning (issue 6): replay drawn afresh each epoch in proportion to the bundle, the base
model's own predictions as replay targets (distillation), the step budget, and the card."""

from __future__ import annotations

import json
import math

from nerdesk.core.types import Progress
from tests.cli.helpers import gold_bundle, run


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
    """A bundle of the first 40 ncbi_disease train sentences."""
    return gold_bundle(tmp_path, shared_data / "adapt" / "ncbi_disease" / "train.jsonl", 40)


def test_replay_is_sampled_per_epoch_and_distilled(tmp_path, shared_data):
    bundle = ncbi_bundle(tmp_path, shared_data)
    replay = [shared_data / "train" / c / "train.jsonl" for c in ("gum_ne", "btc")]
    card, totals = finetune(
        bundle,
        tmp_path / "ft",
        replay=200,
        replay_paths=replay,
        replay_ratio=1.0,
        distill=1.0,
        epochs=2,
        batch_size=4,
        refit=False,
    )
    ft = card.finetune
    assert ft["segments"] == {"train": 34, "held_out": 6}
    assert ft["replay"]["sentences"] == 200 and ft["replay"]["per_epoch"] == 34 and ft["replay"]["distill"] == 1.0
    # each epoch: the 34 bundle segments and 2 x 17 replay sentences, not the whole replay sample
    assert set(totals) == {2 * math.ceil((34 + 34) / 4)}
    assert "Disease" in card.labels and card.labels[:4] == ["PER", "ORG", "LOC", "MISC"]
    # without a ratio every epoch goes through the whole replay sample
    card, totals = finetune(
        bundle,
        tmp_path / "ft2",
        replay=200,
        replay_paths=replay,
        replay_ratio=None,
        distill=0.0,
        epochs=1,
        batch_size=4,
        refit=False,
    )
    assert card.finetune["replay"]["per_epoch"] == 200
    assert set(totals) == {math.ceil((34 + 200) / 4)}


def test_step_budget_caps_the_epochs(tmp_path, shared_data):
    bundle = ncbi_bundle(tmp_path, shared_data)
    replay = [shared_data / "train" / "gum_ne" / "train.jsonl"]
    # 34 segments + 34 replay sentences an epoch, batches of 4: 17 steps an epoch; 40 steps: 2 epochs
    card, totals = finetune(
        bundle,
        tmp_path / "ft",
        replay=100,
        replay_paths=replay,
        replay_ratio=1.0,
        epochs=5,
        patience=5,
        batch_size=4,
        max_steps=40,
        refit=False,
    )
    assert card.training["epochs_run"] == 2 and set(totals) == {2 * 17}


def test_refit_trains_on_every_segment_for_the_epoch_count_early_stopping_chose(tmp_path, shared_data):
    bundle = ncbi_bundle(tmp_path, shared_data)
    replay = [shared_data / "train" / "gum_ne" / "train.jsonl"]
    card, totals = finetune(
        bundle,
        tmp_path / "ft",
        replay=100,
        replay_paths=replay,
        replay_ratio=1.0,
        epochs=4,
        patience=4,
        batch_size=4,
        lr=0.01,
        refit_min_held_out=6,
    )
    ft = card.finetune
    first = ft["refit"]["history"]
    scores = [h["dev_f1"][next(iter(h["dev_f1"]))] for h in first]
    n = ft["refit"]["epochs"]
    assert len(first) == 4 and n == 1 + scores.index(max(scores))
    assert card.training["epochs_run"] == n and ft["refit"]["segments"] == 40
    assert ft["replay"]["per_epoch"] == 34 and ft["refit"]["replay_per_epoch"] == 40
    # the refit's data: all 40 segments (and 40 replay sentences an epoch), none held out
    assert [d["sentences"] for d in card.training["data"]] == [40, 100]
    assert set(totals) == {4 * math.ceil((34 + 34) / 4), n * math.ceil((40 + 40) / 4)}
    # the held-out F1 "after" is the first model's (the refit has seen those segments): it
    # matches the first run's last dev score when the best epoch was the last
    assert ft["held_out"]["after"]["labels"] == ["Disease"]
    no, _ = finetune(
        bundle, tmp_path / "ft0", replay=100, replay_paths=replay, replay_ratio=1.0, epochs=2, batch_size=4, refit=False
    )
    assert "refit" not in no.finetune and no.training["data"][0]["sentences"] == 34
    # 6 held-out segments are too few to trust their epoch count (20 by default): no refit
    few, _ = finetune(bundle, tmp_path / "ft1", replay=0, epochs=1, batch_size=4)
    assert "refit" not in few.finetune and few.training["data"][0]["sentences"] == 34


def test_new_labels_learn_which_base_label_they_are_a_kind_of(tmp_path, shared_data):
    """crossner_politics' politician, organisation and country: the base model called their spans
    PER, ORG and LOC, so a project that asks for the base labels gets them as those; election
    (which the base model does not tag) has no parent and stays O there, and person (4 spans) is
    too rare to tell."""
    from nerdesk.core.model import load_model

    bundle = gold_bundle(tmp_path, shared_data / "adapt" / "crossner_politics" / "train.jsonl", 60)
    card, _ = finetune(bundle, tmp_path / "ft", replay=0, epochs=1, batch_size=8, refit=False)
    parents = card.label_parents
    assert parents == {
        "politician": "PER",
        "organisation": "ORG",
        "politicalparty": "ORG",
        "country": "LOC",
        "location": "LOC",
    }
    seen = card.finetune["label_parents"]
    assert seen["politician"]["base_predicted"]["PER"] >= 0.5 and seen["election"]["parent"] is None
    assert seen["politician"]["spans"] >= 5
    m = load_model(tmp_path / "ft", verify=False)
    assert m.parents == parents
    words = "Barack Obama met Angela Merkel in Germany after the 2009 federal election .".split()
    asked = {s[2] for s in m.predict([words], only=["PER", "ORG", "LOC", "MISC"])[0].spans}
    assert asked <= {"PER", "ORG", "LOC", "MISC"}
    assert "politician -> PER" in run("models", "show", tmp_path / "ft")
    # a fine-tune of that fine-tune keeps what its base knew (and adds no label)
    out = run(
        "finetune",
        bundle,
        "--base",
        tmp_path / "ft",
        "--out",
        tmp_path / "ft2",
        "--epochs",
        "1",
        "--replay",
        "0",
        "--no-refit",
        "--no-int8",
        "--progress",
        "jsonl",
    )
    result = json.loads(out.strip().splitlines()[-1])["result"]
    assert result["new_labels"] == {}
    assert json.loads((tmp_path / "ft2" / "model.json").read_text())["label_parents"] == parents


def test_forgetting_is_measured_on_data_the_base_model_held_out(tmp_path, shared_data):
    """A base model trained with --holdout: replay never draws its held-out sentences; they score
    the base and the fine-tuned model on the base labels, and the card and the CLI report it."""
    from nerdesk.core.model import load_model
    from nerdesk.core.model.data import held_out, read_jsonl
    from nerdesk.core.model.evaluate import score_spans
    from nerdesk.core.model.package import load_card
    from nerdesk.train.finetune import _replay
    from nerdesk.train.train import train

    src = shared_data / "train" / "wikigold" / "train.jsonl"
    base = tmp_path / "base"
    train(
        [src],
        base,
        limit=300,
        holdout=0.2,
        epochs=4,
        batch_size=8,
        lr=0.01,
        ema=0,
        threads=1,
        quantize=False,
        log=lambda s: None,
        arch={"emb_width": 16, "width": 32, "depth": 1},
        features={"type": "spacy-hash", "attrs": ["NORM", "SHAPE"], "rows": [2000, 200], "hashes": 1, "seed": 1},
    )
    sents = [s.tokens for s in read_jsonl(src, limit=300)]
    held = [t for i, t in enumerate(sents) if held_out(i, 0.2)]
    replay, guard = _replay(load_card(base), base, 1000, None, 0, lambda s: None, n_guard=1000)
    assert [len(c.tokens) for c in guard] == [len(held)] and guard[0].tokens == held
    assert len(replay[0].tokens) == 300 - len(held) and not any(t in held for t in replay[0].tokens)

    bundle = gold_bundle(tmp_path, shared_data / "adapt" / "ncbi_disease" / "train.jsonl", 30)
    card, _ = finetune(bundle, tmp_path / "ft", base=base, epochs=1, batch_size=8)
    fg = card.finetune["forgetting"]
    assert fg["sentences"] == len(held) and fg["labels"] == ["PER", "ORG", "LOC", "MISC"]
    assert set(fg["per_file"]) == {f"{src}#holdout"} and 0 <= fg["after"] <= 1
    gold = [s.spans for i, s in enumerate(read_jsonl(src, limit=300)) if held_out(i, 0.2)]
    preds = [p.spans for p in load_model(base, verify=False).predict(held, only=["PER", "ORG", "LOC", "MISC"])]
    assert fg["before"] == round(score_spans(gold, preds, ["LOC", "MISC", "ORG", "PER"])["exact"]["f1"], 4) > 0
    no_replay, _ = finetune(bundle, tmp_path / "ft0", base=base, replay=0, epochs=1, batch_size=8)
    assert no_replay.finetune["replay"]["sentences"] == 0  # forgetting is measured all the same
    assert no_replay.finetune["forgetting"]["before"] == fg["before"]
    out = run("finetune", bundle, "--base", base, "--out", tmp_path / "ft2", "--epochs", "1", "--no-int8")
    assert f"base domain held-out F1 {fg['before']:.3f} ->" in out
    # the project's model versions show it beside the model's quality on reviewed segments
    p = tmp_path / "v.nerdesk"
    run("init", p)
    run("promote", p, base)
    run("promote", p, tmp_path / "ft")
    rows = json.loads(run("versions", p, "--json"))
    assert rows[0]["base_domain_f1"] == {"before": fg["before"], "after": fg["after"]}
    assert rows[1]["base_domain_f1"] is None  # a model trained from scratch forgot nothing
    assert f"{fg['before']:.3f} -> {fg['after']:.3f}" in run("versions", p)


def test_only_the_new_labels_rows_learn_at_head_lr(tmp_path, shared_data):
    """The output rows of the base tags move at the shared learning rate; the new label's rows at
    head_lr times it (an absurd head_lr makes the difference plain)."""
    from safetensors.numpy import load_file

    from nerdesk.core.model.package import resolve_model_path

    bundle = ncbi_bundle(tmp_path, shared_data)
    card, _ = finetune(bundle, tmp_path / "ft", replay=0, epochs=1, batch_size=8, head_lr=1e5, lr=1e-3)
    base = load_file(str(resolve_model_path(None) / "model.safetensors"))["out.weight"]
    new = load_file(str(tmp_path / "ft" / "model.safetensors"))["out.weight"]
    k_old = base.shape[0]
    assert new.shape[0] == k_old + 2  # B-Disease, I-Disease
    assert abs(new[:k_old] - base).max() < 0.1  # 5 steps at lr 1e-3 (and EMA)
    assert abs(new[k_old:]).max() > 10  # at lr 100
