"""Rebuild a package's training vocabulary (``vocab.txt.gz``) from the training files its card names.

    python -m nerdesk.train.vocab resources/models/en-base resources/models/en-accurate

For packages trained before ``nerdesk train`` wrote the vocabulary itself. Reads
``training.data[].path`` (relative to the current directory, as the card's command ran) with the
card's ``training.holdout``: the held-out part of each file (:func:`nerdesk.core.model.data.held_out`,
the split training used) is left out, and the trained-sentence count is checked against the card's
where the card records it. Adds the file and a ``vocab`` note to the card; the model's id (the name,
version and ONNX hash) does not change.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from nerdesk.core.model.data import held_out, read_jsonl
from nerdesk.core.model.card import ModelCard
from nerdesk.core.model.package import CARD_NAME, dump_card, load_card, write_card
from nerdesk.core.model.vocab import words, write_vocab


def training_counts(card: ModelCard, log=print) -> tuple[Counter[str], int]:
    """(word counts, sentences) of the trained part of every training file the card names."""
    training = card.training
    fraction = float(training.get("holdout") or 0.0)
    limit = training.get("limit")
    counts: Counter[str] = Counter()
    total = 0
    for entry in training.get("data") or []:
        path = entry["path"]
        sents = list(read_jsonl(path, {}, limit))
        kept = [s for i, s in enumerate(sents) if not (fraction and held_out(i, fraction))]
        for s in kept:
            counts.update(words(" ".join(s.tokens)))
        recorded = entry.get("sentences")
        check = (
            ""
            if recorded is None
            else " (card: {} {})".format(recorded, "matches" if recorded in (len(kept), len(sents)) else "DIFFERS")
        )
        log(f"{path}: {len(kept)} of {len(sents)} sentences trained on{check}")
        if recorded is not None and recorded not in (len(kept), len(sents)):
            raise SystemExit(f"{path}: the card records {recorded} sentences; found {len(sents)} ({len(kept)} trained)")
        total += len(kept)
    return counts, total


def rebuild(model_dir: Path, log=print) -> dict[str, Any]:
    card_path = model_dir / CARD_NAME
    hf = not card_path.is_file()
    if hf:
        card_path = model_dir / "nerdesk.json"
        card = ModelCard.from_dict(json.loads(card_path.read_text(encoding="utf-8")))
    else:
        card = load_card(model_dir, verify=False)
    counts, n = training_counts(card, log)
    if not counts:
        raise SystemExit(f"{model_dir}: its card names no training data")
    note = {
        **write_vocab(model_dir, counts),
        "sentences": n,
        "built_with": f"python -m nerdesk.train.vocab {model_dir}",
    }
    card = card.replace(vocab=note)
    if hf:
        card_path.write_text(dump_card(card), encoding="utf-8")
    else:
        write_card(model_dir, card)  # lists the new file's sha256 with the others
    log(f"{model_dir}: {note['words']} words, {note['tokens']} tokens, {n} sentences")
    return note


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["resources/models/en-base"]:
        rebuild(Path(arg))
