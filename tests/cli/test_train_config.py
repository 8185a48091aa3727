"""Training defaults live in one place (nerdesk/train/config.py): the functions, the CLI options and
the model card all take them from the frozen config dataclasses."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from click.testing import CliRunner

from nerdesk.cli import cli
from nerdesk.train.config import FinetuneConfig, HFFinetuneConfig, TrainConfig, configure


def _options(command: str) -> dict:
    return {p.name: p for p in cli.commands[command].params}


@pytest.mark.parametrize(
    "command, cls, expected",
    [
        (
            "train",
            TrainConfig,
            {
                "epochs",
                "batch_size",
                "lr",
                "patience",
                "max_minutes",
                "seed",
                "holdout",
                "ship_replay",
                "ema",
                "label_smoothing",
                "case_augment",
                "limit",
                "quantize",
            },
        ),
        (
            "finetune",
            FinetuneConfig,
            {
                "holdout",
                "replay",
                "replay_ratio",
                "distill",
                "error_weight",
                "epochs",
                "patience",
                "lr",
                "head_lr",
                "anchor",
                "refit",
                "max_steps",
                "seed",
                "quantize",
                "silver_weight",
            },
        ),
    ],
)
def test_cli_options_take_their_defaults_and_help_from_the_config(command, cls, expected):
    options = _options(command)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    shared = set(options) & set(fields)
    assert shared == expected
    for name in shared:
        assert options[name].default == fields[name].default, name
        assert options[name].help == (fields[name].metadata.get("help") or None), name
    text = CliRunner().invoke(cli, [command, "--help"]).output
    assert "[default: 0.15]" in text if command == "finetune" else "[default: 0.002]" in text


def test_functions_have_no_defaults_of_their_own():
    """No hyperparameter is re-declared in a signature: they come from the config (or overrides)."""
    from nerdesk.train.finetune import finetune_iter
    from nerdesk.train.hf_finetune import finetune_hf_iter
    from nerdesk.train.train import train_iter

    for fn, cls in ((train_iter, TrainConfig), (finetune_iter, FinetuneConfig), (finetune_hf_iter, HFFinetuneConfig)):
        params = set(inspect.signature(fn).parameters)
        assert not params & {f.name for f in dataclasses.fields(cls)}, fn.__name__


def test_configure_applies_overrides_and_refuses_unknown_names():
    cfg = configure(FinetuneConfig, None, {"epochs": 3})
    assert cfg.epochs == 3 and cfg.lr == FinetuneConfig().lr
    assert configure(FinetuneConfig, cfg, {"lr": 0.1}).epochs == 3
    with pytest.raises(TypeError, match="no field epoch"):
        configure(TrainConfig, None, {"epoch": 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 4  # type: ignore[misc]
