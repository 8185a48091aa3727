"""Fine-tuning on a user's machine: no training corpora beside the install. The shipped model
carries a sample of its training data (replay.jsonl.gz), so replay and the forgetting measure
still work; the fine-tune runs in a process where opening any file under ../shared fails."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.cli.helpers import gold_bundle

HOOK = """
import os, sys
SHARED = os.path.realpath(sys.argv.pop(1))
def refuse(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        if os.path.realpath(os.fsdecode(args[0])).startswith(SHARED + os.sep):
            raise PermissionError("read under ../shared: " + os.fsdecode(args[0]))
sys.addaudithook(refuse)
from nerdesk.cli import main
sys.argv[0] = "nerdesk"
main()
"""


def test_finetune_replays_the_shipped_sample_without_the_training_data(tmp_path, shared_data):
    from nerdesk.core.model.package import default_model_path, load_card

    base = load_card(default_model_path())
    assert base.replay["file"] == "replay.jsonl.gz" and base.replay["sentences"]["replay"] >= 1000
    bundle = gold_bundle(tmp_path, shared_data / "adapt" / "ncbi_disease" / "train.jsonl", 40)
    # the hook works: reading the training data is refused in that process
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            HOOK.replace(
                'from nerdesk.cli import main\nsys.argv[0] = "nerdesk"\nmain()',
                f"open({str(shared_data / 'train/btc/dev.jsonl')!r})",
            ),
            str(shared_data.parent),
        ],
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "read under ../shared" in probe.stderr
    out = tmp_path / "ft"
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            HOOK,
            str(shared_data.parent),
            "finetune",
            str(bundle),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--threads",
            "1",
            "--no-refit",
            "--no-int8",
            "--progress",
            "jsonl",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    logs = [json.loads(x)["log"] for x in r.stdout.splitlines() if x.startswith('{"log"')]
    assert any("shipped sample" in x for x in logs), logs
    card = json.loads((out / "model.json").read_text())
    ft = card["finetune"]
    k = len(base.replay["sources"])  # source files, each replayed in proportion
    assert len(ft["replay"]["sources"]) == k and all(s.startswith("replay:") for s in ft["replay"]["sources"])
    assert ft["replay"]["sentences"] == 1000 // k * k  # --replay 1000, spread over the files
    assert ft["replay"]["per_epoch"] == k * round(2 * 34 / k)  # 2 per train segment (34 of 40)
    fg = ft["forgetting"]
    assert fg["sentences"] == base.replay["sentences"]["guard"] and 0 < fg["before"] <= 1
    assert "Disease" in card["labels"]
