"""A package's int8 graph quantised again, statically, from its own fp32 graph (no retraining).

    python -m nerdesk.train.requantize SRC_DIR OUT_DIR --version 2.1.0 [--src-from "how SRC_DIR was made"]

en-base 2.1.0 is 2.0.0 run through this: the weights, the fp32 graph, the vectors and every other
file stay byte for byte; only ``model.int8.onnx`` is new. 2.0's int8 graph quantised its
activations per batch (dynamic), so a segment's spans depended on the other segments of its batch
and the runner had to use big batches (8,192 tokens) to keep them as measured; with scales fixed
from calibration batches (the package's own replay sentences, ``replay.jsonl.gz``) the spans do
not depend on the batch, and small batches run faster (README, Model). The temperature and span
calibration are kept (the bench re-measures ECE); the card records the source and the command.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

from nerdesk.core.model.features import FeatureExtractor
from nerdesk.core.model.card import ModelCard
from nerdesk.core.model.package import CARD_NAME, dump_card, load_card, sha256_file
from nerdesk.train.export import calibration_feeds, quantize_int8
from nerdesk.train.train import staging


def requantize(src: Path, out: Path, version: str, src_from: str | None = None) -> ModelCard:
    """Write ``out``: ``src`` with its int8 graph statically quantised and the card's version,
    files and ``requantized`` note updated (``src_from``: the command that made ``src``, e.g. a
    ``git archive`` of the source version, put before this one's). Returns the new card."""
    card = load_card(src)
    onnx = card.onnx
    replay = card.replay or {}
    if not replay.get("file"):
        raise SystemExit(f"{src}: no replay sentences to calibrate on")
    with staging(out) as tmp:
        for f in src.iterdir():
            if f.is_file():
                shutil.copyfile(f, tmp / f.name)
        fe = FeatureExtractor(card.features, base_dir=tmp)
        with gzip.open(tmp / replay["file"], "rt", encoding="utf-8") as fh:
            tokens = [json.loads(line)["tokens"] for line in fh]
        feats = [fe(t) for t in tokens if t]
        int8 = onnx.get("int8") or "model.int8.onnx"
        old_sha = sha256_file(src / int8) if (src / int8).is_file() else None
        quantize_int8(tmp / onnx["fp32"], tmp / int8, calibration=calibration_feeds(fe, feats))
        files = dict(card.files)
        files[int8] = {"sha256": sha256_file(tmp / int8), "bytes": (tmp / int8).stat().st_size}
        card = card.replace(
            version=version,
            onnx={**onnx, "int8": int8, "default": "int8"},
            files=files,
            requantized={
                "from": f"{card.name}@{card.version}" + (f"+{old_sha[:8]}" if old_sha else ""),
                "command": (f"{src_from} && " if src_from else "")
                + f"python -m nerdesk.train.requantize {src} {out} --version {version}",
                "what": "int8 graph only: static quantisation (onnxruntime quantize_static, QOperator, "
                "per-tensor, uint8 activations with the moving average of per-batch min/max over the "
                f"package's {len(feats)} replay sentences in batches of 8,192 tokens, int8 weights) "
                "of the unchanged fp32 graph; "
                "weights, fp32 graph, temperature and span calibration as in the source; "
                "metrics are the source's",
            },
        )
        (tmp / CARD_NAME).write_text(dump_card(card), encoding="utf-8")
    return card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--version", required=True)
    ap.add_argument("--src-from", default=None, help="the command that made SRC (recorded in the card)")
    args = ap.parse_args()
    card = requantize(args.src, args.out, args.version, args.src_from)
    print(f"{args.out}: {card.name} {card.version} int8 {card.files[card.onnx['int8']]['sha256'][:8]}")


if __name__ == "__main__":
    main()
