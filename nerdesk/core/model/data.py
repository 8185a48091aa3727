"""Reading the shared NER JSONL format and mapping corpus label names onto model labels.

A line is ``{"tokens": [...], "tags": [...]}`` with IOB2 tags in the corpus's own label names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nerdesk.core.errors import Errors, err
from nerdesk.core.formats._tokens import InvalidTag
from nerdesk.core.model.decode import spans_from_bio

# Common corpus names -> PER/ORG/LOC/MISC. Anything else is dropped (becomes O).
DEFAULT_LABEL_MAP: dict[str, str] = {
    "PER": "PER",
    "PERSON": "PER",
    "person": "PER",
    "ORG": "ORG",
    "organization": "ORG",
    "organisation": "ORG",
    "LOC": "LOC",
    "place": "LOC",
    "location": "LOC",
    "GPE": "LOC",
    "MISC": "MISC",
}


@dataclass
class Sentence:
    tokens: list[str]
    spans: list[tuple[int, int, str]]  # mapped labels only
    source_labels: frozenset[str] = frozenset()  # corpus labels seen on this line


def parse_label_map(spec: str | None) -> dict[str, str]:
    """``"person=PER,place=LOC,organization=ORG"`` -> dict. ``None``/``"default"`` -> the default map.

    Names not in the map are dropped. ``"identity"`` keeps every corpus label as it is (empty dict
    returned; :func:`apply_label_map` treats an empty map as identity). ``"X=-"`` drops X explicitly.
    """
    if spec is None or spec.strip() == "default":
        return dict(DEFAULT_LABEL_MAP)
    if spec.strip() == "identity":
        return {}
    out: dict[str, str] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        src, sep, dst = part.partition("=")
        src, dst = src.strip(), dst.strip()
        if not sep or not src or not dst:
            raise err(Errors.E209, spec=spec, reason=f"'{part}' is not SOURCE=TARGET")
        if "-" in dst and dst != "-":
            raise err(Errors.E209, spec=spec, reason=f"target label '{dst}' contains '-'")
        out[src] = dst
    if not out:
        raise err(Errors.E209, spec=spec, reason="empty map")
    return out


def apply_label_map(spans, label_map: dict[str, str]) -> list[tuple[int, int, str]]:
    if not label_map:
        return [tuple(s) for s in spans]
    out = []
    for s, e, lab in spans:
        dst = label_map.get(lab)
        if dst and dst != "-":
            out.append((s, e, dst))
    return out


def read_jsonl(
    path: str | Path, label_map: dict[str, str] | None = None, limit: int | None = None
) -> Iterator[Sentence]:
    """Sentences from a JSONL file, labels mapped (``None`` -> default map)."""
    label_map = DEFAULT_LABEL_MAP if label_map is None else label_map
    path = Path(path)
    if not path.is_file():
        raise err(Errors.E100, path=str(path))
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if limit is not None and n > limit:
                break
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
                tokens, tags = obj["tokens"], obj["tags"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise err(Errors.E106, reason=str(exc), file=str(path), line=n) from None
            if len(tokens) != len(tags):
                raise err(Errors.E110, tokens=len(tokens), tags=len(tags), file=str(path), line=n)
            try:
                spans = spans_from_bio(tags)
            except InvalidTag as exc:
                raise err(Errors.E111, tag=exc.tag, file=str(path), line=n) from None
            yield Sentence(
                [str(t) for t in tokens], apply_label_map(spans, label_map), frozenset(lab for _, _, lab in spans)
            )


HOLDOUT_BLOCK = 20  # sentences; held-out slices are whole blocks, so a document rarely straddles them


def held_out(index: int, fraction: float) -> bool:
    """Whether sentence ``index`` of a file is in its held-out ``fraction`` (``nerdesk train --holdout``).

    Blocks of 20 sentences are picked by a golden-ratio sequence: spread evenly over the file,
    the same every run.
    """
    return ((index // HOLDOUT_BLOCK) * 0.6180339887498949) % 1.0 < fraction


def load_records(
    path: str | Path, label_map: dict[str, str] | None = None, limit: int | None = None
) -> list[tuple[list[str], list[tuple[int, int, str]]]]:
    """(tokens, gold spans) pairs, the input of :func:`nerdesk.core.model.evaluate.evaluate`."""
    return [(s.tokens, s.spans) for s in read_jsonl(path, label_map, limit)]


def model_label_map(spec: str | None, model_labels: Sequence[str]) -> dict[str, str]:
    """The label map to score a model with: the default map plus each of the model's own labels
    by name (a fine-tuned "Disease" model on "Disease" data), or what ``spec`` names."""
    if spec is None or spec.strip() == "default":
        return {**DEFAULT_LABEL_MAP, **{lab: lab for lab in model_labels}}
    return parse_label_map(spec)


def check_scorable(
    path: str | Path,
    records: Sequence[tuple[list[str], list[tuple[int, int, str]]]],
    model_labels: Sequence[str],
    label_map: dict[str, str],
    spec: str | None,
    labels: Sequence[str] | None = None,
) -> None:
    """E213 when the gold holds no entity the model could be scored on (it would score 0 silently)."""
    wanted = set(labels or model_labels)
    if any(lab in wanted for _, spans in records for _, _, lab in spans):
        return
    raw: dict[str, int] = {}
    for s in read_jsonl(path, {}):
        for _, _, lab in s.spans:
            raw[lab] = raw.get(lab, 0) + 1
    raise err(
        Errors.E213,
        file=str(path),
        spec=spec or "default",
        scored=", ".join(sorted(wanted)),
        data=", ".join(f"{k} ({v})" for k, v in sorted(raw.items(), key=lambda kv: -kv[1])) or "none",
        model=", ".join(model_labels),
    )


def corpus_labels(path: str | Path, label_map: dict[str, str] | None = None) -> set[str]:
    """The mapped labels a corpus annotates at all (a corpus without MISC is no evidence of not-MISC)."""
    out: set[str] = set()
    for s in read_jsonl(path, label_map):
        out.update(lab for _, _, lab in s.spans)
    return out
