"""A model's training vocabulary, for input drift against the data it learnt from.

A package ships it as ``vocab.txt.gz``: one ``word<TAB>count`` a line, most frequent first, the
words of every sentence the model was trained on (never its held-out part). A word is a run of
``\\w`` characters of the lower-cased text, every digit read as 0 (a new number is not new
vocabulary): :func:`words`, which the drift measure applies to imported text too.

Who writes it: ``nerdesk train`` (its training files' trained parts) and the fast ``nerdesk
finetune`` (its base's vocabulary plus the bundles' and replay words), both in
``nerdesk.train.train.package``; for a package trained before that, ``python -m nerdesk.train.vocab
PACKAGE`` rebuilds it from the training files its card names. :func:`training_vocabulary` finds a
package's vocabulary: its own file, else its base's (a fine-tune that wrote none), else the
training sample it ships (``replay.jsonl.gz``, a few thousand sentences: a rougher measure).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nerdesk.core.errors import Errors, err
from nerdesk.core.model.card import ModelCard

VOCAB_FILE = "vocab.txt.gz"
REPLAY_FILE = "replay.jsonl.gz"
_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
_CACHE: dict[tuple[str, float], dict[str, int]] = {}


def words(text: str) -> list[str]:
    """The words of a text as the vocabulary counts them: ``\\w+`` of the lower-cased text, digits as 0."""
    return [_DIGIT.sub("0", w) for w in _WORD.findall(text.lower())]


def count_words(texts: Iterable[str]) -> Counter[str]:
    c: Counter[str] = Counter()
    for t in texts:
        c.update(words(t))
    return c


def write_vocab(model_dir: str | Path, counts: Mapping[str, int]) -> dict[str, Any]:
    """Write ``vocab.txt.gz`` (byte-identical for the same counts) and return the card's note of it."""
    rows = sorted(
        ((w, int(n)) for w, n in counts.items() if n > 0 and w and "\t" not in w and "\n" not in w),
        key=lambda x: (-x[1], x[0]),
    )
    data = "".join(f"{w}\t{n}\n" for w, n in rows).encode("utf-8")
    path = Path(model_dir) / VOCAB_FILE
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(data)
    return {
        "file": VOCAB_FILE,
        "words": len(rows),
        "tokens": sum(n for _, n in rows),
        "note": "lower-cased \\w+ words (digits as 0) of the sentences trained on, with their counts",
    }


def read_vocab(model_dir: str | Path) -> dict[str, int] | None:
    """The package's ``vocab.txt.gz`` as {word: count}; None when it has none; E205 when unreadable."""
    path = Path(model_dir) / VOCAB_FILE
    if not path.is_file():
        return None
    key = (str(path.resolve()), path.stat().st_mtime)
    if key in _CACHE:
        return _CACHE[key]
    out: dict[str, int] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                word, _, n = line.rstrip("\n").partition("\t")
                if not word or not n.isdigit():
                    raise err(Errors.E205, path=f"{path}:{i}", reason="expected 'word<TAB>count'")
                out[word] = int(n)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise err(Errors.E205, path=str(path), reason=f"unreadable vocabulary: {exc}") from None
    _CACHE[key] = out
    return out


def replay_vocab(model_dir: str | Path) -> tuple[dict[str, int], int] | None:
    """(word counts, sentences) of the trained-on part (``replay``) of the package's shipped sample."""
    path = Path(model_dir) / REPLAY_FILE
    if not path.is_file():
        return None
    c: Counter[str] = Counter()
    n = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row.get("part", "replay") == "replay":
                    c.update(words(" ".join(row.get("tokens") or [])))
                    n += 1
    except (OSError, EOFError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise err(Errors.E205, path=str(path), reason=f"unreadable replay sample: {exc}") from None
    return dict(c), n


def held_out_rate(model_dir: str | Path | None, vocab: set[str] | dict[str, int]) -> tuple[float, int] | None:
    """(share of words unseen in ``vocab``, words) of the held-out part (``guard``) of the package's
    shipped sample: sentences of the training files the model never trained on, the rate its own
    domain shows (the reference an import's rate is read against)."""
    if model_dir is None or not (Path(model_dir) / REPLAY_FILE).is_file():
        return None
    unseen = total = 0
    try:
        with gzip.open(Path(model_dir) / REPLAY_FILE, "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row.get("part") == "guard":
                    ws = words(" ".join(row.get("tokens") or []))
                    unseen += sum(w not in vocab for w in ws)
                    total += len(ws)
    except (OSError, EOFError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return (unseen / total, total) if total else None


def _finetune_record(model_dir: Path) -> dict[str, Any]:
    """The ``finetune`` record of a package's card file (model.json, or a Hugging Face package's
    nerdesk.json, which need not be a whole card), read leniently: {} for none or a broken file."""
    for name in ("model.json", "nerdesk.json"):
        p = model_dir / name
        if p.is_file():
            try:
                card = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
            record = card.get("finetune") if isinstance(card, dict) else None
            return record if isinstance(record, dict) else {}
    return {}


def _base_dir(finetune: Mapping[str, Any]) -> Path | None:
    """The package a fine-tune started from (its card's ``finetune`` record): the path it records,
    else a shipped model of that name."""
    base = finetune.get("base") or {}
    if not isinstance(base, dict):
        return None
    path = base.get("path")
    if path and Path(path).is_dir():
        return Path(path)
    name = base.get("name")
    if name and "/" not in str(name):
        from nerdesk.core.resources import resources_dir

        shipped = resources_dir() / "models" / str(name)
        if shipped.is_dir():
            return shipped
    return None


def training_vocabulary(
    model_dir: str | Path | None, card: ModelCard | None = None
) -> tuple[dict[str, int], str] | None:
    """(word counts, where they come from) for a package: its ``vocab.txt.gz``; else its base's
    (walking back through fine-tunes that wrote none); else the trained part of the sample it
    ships. None when none of these exists (the caller adds the project's trained-on segments)."""
    if model_dir is None:
        return None
    d = Path(model_dir)
    seen: set[str] = set()
    cur: Path | None = d
    record = card.finetune if card is not None else _finetune_record(d)
    while cur is not None and str(cur.resolve()) not in seen:
        seen.add(str(cur.resolve()))
        v = read_vocab(cur)
        if v is not None:
            where = f"{VOCAB_FILE} of {cur.name}" + (f" (the base of {d.name})" if cur != d else "")
            return v, where
        cur = _base_dir(record)
        record = _finetune_record(cur) if cur is not None else {}
    rv = replay_vocab(d)
    if rv is not None:
        return rv[0], f"the training sample {d.name} ships ({REPLAY_FILE}, {rv[1]} sentences)"
    return None
