"""Stands in for `nerdesk finetune ... --progress jsonl` in UI tests: the same output protocol.

    python fake_finetune.py BUNDLE --out DIR --progress jsonl [--base MODEL]

FAKE_FT_MODE: ok (copy FAKE_FT_MODEL, a real model directory, to --out), fail (a coded error on
stderr, exit 1), slow (progress forever, until terminated), small (E214 unless --allow-small,
then ok). FAKE_FT_ARGS: a file to write argv to.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import zipfile


def main() -> int:
    argv = sys.argv[1:]
    if os.environ.get("FAKE_FT_ARGS"):
        with open(os.environ["FAKE_FT_ARGS"], "w") as f:
            json.dump(argv, f)
    bundle = argv[0]
    out = argv[argv.index("--out") + 1]
    assert argv[argv.index("--progress") + 1] == "jsonl"
    with zipfile.ZipFile(bundle) as z:
        n = json.loads(z.read("manifest.json"))["segments"]
    mode = os.environ.get("FAKE_FT_MODE", "ok")
    print(json.dumps({"log": f"read {n} segments from the bundle"}), flush=True)
    if mode == "small":
        if "--allow-small" not in argv:
            print(
                f"Error: [E214] Too little to fine-tune on in {bundle}: {n} reviewed segments, 20 needed "
                f"({20 - n} more).",
                file=sys.stderr,
                flush=True,
            )
            return 1
        mode = "ok"
    if mode == "fail":
        print("Error: [E210] Fine-tuning needs the 'train' extra (torch).", file=sys.stderr, flush=True)
        return 1
    total = 5 if mode == "ok" else None
    i = 0
    while True:
        print(json.dumps({"done": i, "total": total, "message": f"epoch {i + 1}"}), flush=True)
        time.sleep(0.05)
        i += 1
        if mode == "ok" and i >= 5:
            break
    shutil.copytree(os.environ["FAKE_FT_MODEL"], out, dirs_exist_ok=True)
    print(
        json.dumps(
            {
                "result": {
                    "model": out,
                    "name": "fake-ft",
                    "version": "1.0.1",
                    "labels": ["PER"],
                    "held_out": {"before": {"f1": 0.5}, "after": {"f1": 0.6}},
                    "forgetting": {"before": 0.65, "after": 0.64},
                    "seconds": 0.3,
                    "new_labels": {"politician": "PER", "election": None},
                }
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
