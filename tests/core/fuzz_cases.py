"""Seeded, bounded, mutation-based fuzzing of every import path (issue 13).

Shared by tests/core/test_fuzz_formats.py, tests/core/test_fuzz_bundles.py and bench/fuzz_bench.py.
A case is a valid sample file of one format, changed by a seeded choice of one to three mutations
(bit flips, truncation, hostile inserts such as lone surrogates, NULs, CRs and deep nesting, odd
JSON values, dropped, swapped or renamed fields, duplicated list items, CR-only line ends, changes
inside a DocBin's msgpack, a bundle's zip headers or its members), then imported into a fresh
project through ``Project.import_file``, as ``nerdesk import`` does. The outcome is one of:

* ``ok``: the import succeeded (and stored no overlapping spans when the project forbids them);
* ``coded``: a NerdeskError with a code and a file, and the project's counts unchanged;
* ``traceback``: any other exception, or a NerdeskError without a code or a file;
* ``partial``: a NerdeskError, but the project changed;
* ``hang``: the case ran past its time limit;
* ``overlap``: the import succeeded but stored overlapping spans in a project that forbids them.

The same ``(format, seed)`` always gives the same case.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import shutil
import signal
import traceback
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ["jsonl", "conll", "csv", "tsv", "text", "doccano", "prodigy", "labelstudio", "brat", "spacy"]
LABELS = ["PER", "ORG", "LOC"]
TABLES = ("documents", "segments", "annotations", "predictions", "labels", "models", "events", "guidelines")


def counts(project) -> dict[str, int]:
    """Rows per table: what an import may change (and a failed one must not)."""
    conn = project.store.conn
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


# --------------------------------------------------------------------------- samples
def _jl(objs: list[Any]) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8")


_JSONL = [
    {
        "text": "Ann Lee met Bob in Paris.",
        "spans": [
            {"start": 0, "end": 7, "label": "PER"},
            {"start": 12, "end": 15, "label": "PER"},
            {"start": 19, "end": 24, "label": "LOC"},
        ],
        "meta": {"id": 1},
    },
    {"tokens": ["Acme", "Corp", "hired", "Eve", "."], "tags": ["B-ORG", "I-ORG", "O", "S-PER", "O"]},
    {
        "tokens": ["New", "York", "is", "big"],
        "ws": [" ", " ", " ", ""],
        "spans": [{"start": 0, "end": 8, "label": "LOC"}],
        "annotator": "ann",
        "status": "accepted",
    },
    {
        "text": "Nothing here.",
        "tokens": [[0, 7], [8, 12], [12, 13]],
        "sentences": [[0, 13]],
        "predictions": [{"start": 0, "end": 7, "label": "ORG", "confidence": 0.4}],
    },
    {"text": "Unannotated text about Rome.", "source_id": "x"},
]
_CONLL_DOCS = (
    "-DOCSTART-\tO\n\nAnn\tB-PER\nLee\tI-PER\nmet\tO\nBob\tB-PER\n.\tO\n\nParis\tS-LOC\nis\tO\n"
    "nice\tO\n\n-DOCSTART-\tO\n\nAcme\tB-ORG\nhired\tO\nEve\tU-PER\n"
)
_CONLL_SENTS = "EU B-ORG\nrejects O\nGerman B-MISC\ncall O\n\nPeter B-PER\nBlackburn I-PER\n\nBRUSSELS B-LOC\n"
_CSV = 'text,id,lang\nAnn met Bob in Paris.,1,en\n"A quoted, multi-line\ncell",2,en\nThird row,3,\n'
_TEXT = "Ann met Bob in Paris.\nAcme hired Eve.\n\nRome is old.\n"
_DOCCANO = [
    {"id": 1, "text": "Ann met Bob.", "label": [[0, 3, "PER"], [8, 11, "PER"]]},
    {
        "id": 2,
        "text": "Acme is in Rome.",
        "entities": [
            {"id": 1, "start_offset": 0, "end_offset": 4, "label": "ORG"},
            {"id": 2, "start_offset": 11, "end_offset": 15, "label": "LOC"},
        ],
    },
    {"id": 3, "text": "No labels yet.", "Comments": []},
]
_TOKS = [("Ann", 0, 3, True), ("met", 4, 7, True), ("Bob", 8, 11, False), (".", 11, 12, False)]
_PRODIGY = [
    {
        "text": "Ann met Bob.",
        "tokens": [{"text": t, "start": s, "end": e, "id": i, "ws": w} for i, (t, s, e, w) in enumerate(_TOKS)],
        "spans": [
            {"start": 0, "end": 3, "token_start": 0, "token_end": 0, "label": "PER"},
            {"start": 8, "end": 11, "token_start": 2, "token_end": 2, "label": "PER"},
        ],
        "answer": "accept",
        "_input_hash": 1,
        "_task_hash": 2,
        "_annotator_id": "ann",
    },
    {
        "text": "Rome is old.",
        "spans": [{"start": 0, "end": 4, "label": "LOC"}],
        "answer": "reject",
        "meta": {"source": "x"},
    },
    {"text": "Skip me.", "answer": "ignore"},
]
_LABELSTUDIO = [
    {
        "id": 1,
        "data": {"text": "Ann met Bob in Paris.", "src": "a"},
        "annotations": [
            {
                "completed_by": {"email": "a@x"},
                "was_cancelled": False,
                "result": [
                    {
                        "type": "labels",
                        "from_name": "label",
                        "to_name": "text",
                        "value": {"start": 0, "end": 3, "text": "Ann", "labels": ["PER"]},
                    },
                    {"type": "labels", "value": {"start": 15, "end": 20, "text": "Paris", "labels": ["LOC"]}},
                ],
            }
        ],
        "predictions": [
            {"score": 0.7, "result": [{"type": "labels", "value": {"start": 8, "end": 11, "labels": ["PER"]}}]}
        ],
    },
    {"id": 2, "data": {"text": "Cancelled one."}, "annotations": [{"was_cancelled": True, "result": []}]},
    {
        "id": 3,
        "data": {"text": "Emoji \U0001f600 Eve."},
        "annotations": [
            {"result": [{"type": "labels", "value": {"start": 9, "end": 12, "text": "Eve", "labels": ["PER"]}}]}
        ],
    },
]
_BRAT_TXT = "Ann Lee met Bob in Paris.\nAcme hired Eve.\n"
_BRAT_ANN = (
    "T1\tPER 0 7\tAnn Lee\nT2\tPER 12 15\tBob\nT3\tLOC 19 24\tParis\nR1\tRel Arg1:T1 Arg2:T2\n"
    "T4\tORG 26 30\tAcme\n#1\tAnnotatorNotes T1\tnote\nT5\tPER 37 40\tEve\n"
)


@dataclass
class Sample:
    entry: str  # the file (or folder, ".") that is imported
    files: dict[str, bytes]
    fmt: str  # the format name to pass (None is also tried: detection)


_cache: dict[str, list[Sample]] = {}


def samples(fmt: str) -> list[Sample]:
    """The valid variants of a format's sample file (built once per process; deterministic)."""
    if fmt not in _cache:
        _cache[fmt] = _build_samples(fmt)
    return _cache[fmt]


def _build_samples(fmt: str) -> list[Sample]:
    if fmt == "jsonl":
        return [Sample("s.jsonl", {"s.jsonl": _jl(_JSONL)}, fmt)]
    if fmt == "conll":
        return [
            Sample("s.conll", {"s.conll": _CONLL_DOCS.encode()}, fmt),
            Sample("s.iob", {"s.iob": _CONLL_SENTS.encode()}, fmt),
        ]
    if fmt == "csv":
        return [Sample("s.csv", {"s.csv": _CSV.encode()}, fmt)]
    if fmt == "tsv":
        return [Sample("s.tsv", {"s.tsv": _CSV.replace(",", "\t").encode()}, fmt)]
    if fmt == "text":
        return [Sample("s.txt", {"s.txt": _TEXT.encode()}, fmt)]
    if fmt == "doccano":
        return [Sample("s.jsonl", {"s.jsonl": _jl(_DOCCANO)}, fmt)]
    if fmt == "prodigy":
        return [Sample("s.jsonl", {"s.jsonl": _jl(_PRODIGY)}, fmt)]
    if fmt == "labelstudio":
        return [
            Sample("s.json", {"s.json": json.dumps(_LABELSTUDIO, indent=2, ensure_ascii=False).encode()}, fmt),
            Sample("s.json", {"s.json": _jl(_LABELSTUDIO)}, fmt),
        ]
    if fmt == "brat":
        files = {"a.txt": _BRAT_TXT.encode(), "a.ann": _BRAT_ANN.encode()}
        return [Sample("a.txt", files, fmt), Sample("a.ann", files, fmt), Sample(".", files, fmt)]
    if fmt == "spacy":
        return [Sample("s.spacy", {"s.spacy": _docbin(True)}, fmt), Sample("s.spacy", {"s.spacy": _docbin(False)}, fmt)]
    if fmt == "bundle":
        return [Sample("s.zip", {"s.zip": _deterministic_bundle()}, fmt)]
    raise ValueError(fmt)


def _docbin(nerdesk_user_data: bool) -> bytes:
    """A DocBin as nerdesk writes it (user_data) or as another tool would (entities only)."""
    import srsly
    from spacy.tokens import DocBin

    from nerdesk.core.formats.jsonl import record_from_obj
    from nerdesk.core.formats.spacybin import record_to_doc

    records = [record_from_obj(o, "s.jsonl", i) for i, o in enumerate(_JSONL, 1)]
    db = DocBin(store_user_data=nerdesk_user_data)
    for rec in records:
        doc = record_to_doc(rec)
        if not nerdesk_user_data:
            doc.user_data.clear()
        db.add(doc)
    msg = srsly.msgpack_loads(zlib.decompress(db.to_bytes()))
    msg["strings"] = sorted(msg["strings"])  # a set: its order changes with the hash seed
    return zlib.compress(srsly.msgpack_dumps(msg))


def reviewed_bundle(tmp: Path) -> bytes:
    """A real bundle: two reviewed segments with a model's predictions corrected."""
    from nerdesk.core import bundle
    from nerdesk.core.project import Project
    from nerdesk.core.types import DocRecord, drain

    text = "Angela Merkel visited Paris. She met Emmanuel Macron at the Elysee."
    p = Project.create(tmp / "bundle-source.nerdesk", labels=["PER", "LOC", "ORG"], user="alice")
    try:
        drain(p.import_records([DocRecord(text, source="news.txt", meta={"day": 1})]))
        p.store.register_model("m@1", "m", "1", "", "abc", ["PER", "LOC"], {})
        p.store.set_active_model("m@1")
        s1, s2 = [s.id for s in p.document(1)["segments"]]
        with p.store.transaction():
            p.store.insert_predictions(
                "m@1",
                [
                    (s1, [[0, 13, "PER", 0.9], [22, 27, "PER", 0.55]], 0.5, 0.5, 0.5, 0.5, 0.5),
                    (s2, [], 0.2, 0.2, 0.2, 0.2, 0.2),
                ],
            )
        p.relabel_span(s1, 22, 27, "LOC")
        p.accept(s1)
        p.add_span(s2, 37, 52, "PER")
        p.accept(s2)
        bundle.write_bundle(p.store, p.identity, tmp / "bundle-source.zip")
    finally:
        p.close()
    return (tmp / "bundle-source.zip").read_bytes()


def _deterministic_bundle() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        data = reviewed_bundle(Path(d))
    members = unzip(data)
    lines = [json.loads(x) for x in members["corrections.jsonl"].splitlines()]
    for ln in lines:
        ln["created"] = ln["updated"] = "2024-01-01T00:00:00"
    members["corrections.jsonl"] = _jl(lines)
    manifest = json.loads(members["manifest.json"])
    manifest.update(
        bundle_id="00000000-0000-0000-0000-000000000001",
        created="2024-01-01T00:00:00+00:00",
        project_id="00000000-0000-0000-0000-000000000002",
    )
    members["manifest.json"] = json.dumps(manifest, indent=2).encode()
    return rezip(members, rehash=True)


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def rezip(members: dict[str, bytes], *, rehash: bool) -> bytes:
    """Zip ``members`` (fixed timestamps); ``rehash`` makes the manifest's hash and line count
    match corrections.jsonl again, so that a mutation gets past the tamper check."""
    members = dict(members)
    if rehash and "corrections.jsonl" in members and "manifest.json" in members:
        try:
            manifest = json.loads(members["manifest.json"])
        except ValueError:
            manifest = None
        if isinstance(manifest, dict):
            body = members["corrections.jsonl"]
            manifest["files"] = {"corrections.jsonl": hashlib.sha256(body).hexdigest()}
            manifest["segments"] = sum(1 for ln in body.split(b"\n") if ln.strip())
            members["manifest.json"] = json.dumps(manifest, indent=2).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


# --------------------------------------------------------------------------- mutators
Mutator = Callable[[random.Random, bytes], bytes]
DEEP = "\x00DEEP\x00"  # replaced by deep nesting after json.dumps (which would recurse on it)
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    10**30,
    1.5,
    "",
    "banana",
    "B-PER",
    "\ud800",
    "x" * 5000,
    [],
    [["B-PER"]],
    ["x"],
    ["accept"],
    {"x": 1},
    {},
    [0, 1, "PER"],
    [[0, 1]],
    [[0, 1, "PER"], [0, 1, "LOC"]],
    {"start": 0, "end": 1, "label": "PER"},
    DEEP,
]
HOSTILE_BYTES = [
    b"\\ud800",
    b"\\udfff",
    b"\xed\xa0\x80",
    b"\x00",
    b"\r",
    b"\xff",
    b'"',
    b"{",
    b"}",
    b"[",
    b",",
    b"[" * 1200,
    b'{"a":' * 1100,
    b"\t",
    b"\n\n",
    b"-DOCSTART-\tO\n",
    b"\xef\xbb\xbf",
    b"9" * 5000,
    b"(" * 20_000,
    b"-1",
    b"\xc3",
    b"\xf0\x9f\x98",
    "\u2028".encode(),
    b"NaN",
    b"B-",
    b"I-PER I-LOC",
]


def flip(rng: random.Random, b: bytes) -> bytes:
    if not b:
        return b
    out = bytearray(b)
    for _ in range(rng.randint(1, 6)):
        out[rng.randrange(len(out))] ^= rng.randrange(1, 256)
    return bytes(out)


def truncate(rng: random.Random, b: bytes) -> bytes:
    return b[: rng.randrange(len(b))] if b else b


def insert(rng: random.Random, b: bytes) -> bytes:
    pos = rng.randrange(len(b) + 1)
    return b[:pos] + rng.choice(HOSTILE_BYTES) + b[pos:]


def insert_in_string(rng: random.Random, b: bytes) -> bytes:
    """Hostile bytes just after a quote: inside a JSON string (or a quoted CSV cell) more often than not."""
    quotes = [i + 1 for i in range(len(b)) if b[i : i + 1] == b'"']
    if not quotes:
        return insert(rng, b)
    pos = rng.choice(quotes)
    return (
        b[:pos]
        + rng.choice([b"\\ud800", b"\\udfff x", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\\u0000", b"\t", b"\xff"])
        + b[pos:]
    )


def splice(rng: random.Random, b: bytes) -> bytes:
    if len(b) < 2:
        return b
    i, j = sorted(rng.sample(range(len(b)), 2))
    pos = rng.randrange(len(b) + 1)
    return b[:pos] + b[i:j] + b[pos:]


def cr_only(rng: random.Random, b: bytes) -> bytes:
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r")


def lines(rng: random.Random, b: bytes) -> bytes:
    """Duplicate, drop, swap or blank a line."""
    ls = b.split(b"\n")
    i, j = rng.randrange(len(ls)), rng.randrange(len(ls))
    op = rng.choice(["dup", "drop", "swap", "blank"])
    if op == "dup":
        ls.insert(j, ls[i])
    elif op == "drop":
        del ls[i]
    elif op == "swap":
        ls[i], ls[j] = ls[j], ls[i]
    else:
        ls[i] = b""
    return b"\n".join(ls)


def columns(rng: random.Random, b: bytes) -> bytes:
    """On one line: swap two columns, drop or add one, or put an odd tag/value in one."""
    ls = b.split(b"\n")
    i = rng.randrange(len(ls))
    sep = b"\t" if b"\t" in ls[i] else (b"," if b"," in ls[i] else b" ")
    cols = ls[i].split(sep)
    op = rng.choice(["swap", "drop", "add", "odd"])
    if op == "swap" and len(cols) > 1:
        a, c = rng.sample(range(len(cols)), 2)
        cols[a], cols[c] = cols[c], cols[a]
    elif op == "drop" and cols:
        del cols[rng.randrange(len(cols))]
    elif op == "add":
        cols.insert(rng.randrange(len(cols) + 1), rng.choice([b"X", b"B-PER", b"", b"O"]))
    else:
        cols[rng.randrange(len(cols))] = rng.choice(
            [b"B-", b"X-PER", b"B-PER ", b"", b"\xed\xa0\x80", b"S-LOC", b"I-\xff", b"-DOCSTART-", b'"', b'"x""y']
        )
    ls[i] = sep.join(cols)
    return b"\n".join(ls)


def _dumps(obj: Any, indent: int | None = None) -> bytes:
    """JSON (ASCII: a lone surrogate becomes a \\uD800 escape), with DEEP as deep nesting."""
    text = json.dumps(obj, indent=indent)
    if DEEP in str(obj):
        deep = "[" * 1500 + "]" * 1500
        text = text.replace(json.dumps(DEEP), deep)
    return text.encode("ascii")


def _nodes(obj: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _nodes(v, (*path, i))


def mutate_tree(rng: random.Random, obj: Any) -> Any:
    """One change somewhere in a parsed JSON value: an odd value, a dropped, swapped or renamed
    key, a duplicated list item (offsets nudged: overlaps), a value wrapped in a list."""
    nodes = list(_nodes(obj))
    path, node = rng.choice(nodes)
    op = rng.choice(["odd", "odd", "drop", "swap", "rename", "dup", "wrap"])
    containers = [(p, n) for p, n in nodes if isinstance(n, (dict, list)) and n]
    if op in ("drop", "swap", "rename", "dup") and containers:
        path, node = rng.choice(containers)
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        k = rng.choice(keys)
        if op == "drop":
            del node[k]
        elif op == "swap" and len(keys) > 1:
            k2 = rng.choice(keys)
            node[k], node[k2] = node[k2], node[k]
        elif op == "rename" and isinstance(node, dict):
            new = rng.choice(
                [
                    "text",
                    "tokens",
                    "tags",
                    "spans",
                    "label",
                    "start",
                    "end",
                    "data",
                    "answer",
                    "status",
                    "annotator",
                    "meta",
                    "document",
                    "final",
                    "value",
                    "labels",
                    "result",
                ]
            )
            node[new] = node.pop(k)
        elif op == "dup" and isinstance(node, list):
            item = json.loads(json.dumps(node[k]))
            for p, n in _nodes(item):
                if type(n) is int and p and rng.random() < 0.5:
                    _set(item, p, n + rng.choice([-2, -1, 1, 2]))
            node.insert(k, item)
        return obj
    value = rng.choice(ODD_VALUES) if op == "odd" else [node]
    if not path:
        return value
    _set(obj, path, value)
    return obj


def _set(obj: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


HOSTILE_VALUES: list[Any] = [DEEP, "\ud800", "a\udfffb", [["B-PER"]], ["x"], {"x": 1}, "banana", ["accept"]]


def hostile_tree(rng: random.Random, obj: Any) -> Any:
    """The values the issue names, anywhere: deep nesting, lone surrogates, lists and objects
    where strings go, an unknown status."""
    nodes = list(_nodes(obj))
    path, _ = rng.choice(nodes)
    value = rng.choice(HOSTILE_VALUES)
    if not path:
        return value
    _set(obj, path, value)
    return obj


def json_hostile(rng: random.Random, b: bytes) -> bytes:
    """hostile_tree on one JSON line, or on the whole document if it is one."""
    try:
        return _dumps(hostile_tree(rng, json.loads(b)), indent=2)
    except ValueError:
        pass
    ls = b.split(b"\n")
    idx = [i for i, ln in enumerate(ls) if ln.strip()]
    if not idx:
        return b
    i = rng.choice(idx)
    try:
        ls[i] = _dumps(hostile_tree(rng, json.loads(ls[i])))
    except ValueError:
        return insert_in_string(rng, b)
    return b"\n".join(ls)


def json_line(rng: random.Random, b: bytes) -> bytes:
    """mutate_tree on one JSON line (a JSON-lines file)."""
    ls = b.split(b"\n")
    idx = [i for i, ln in enumerate(ls) if ln.strip()]
    if not idx:
        return b
    i = rng.choice(idx)
    try:
        obj = json.loads(ls[i])
    except ValueError:
        return insert(rng, b)
    ls[i] = _dumps(mutate_tree(rng, obj))
    return b"\n".join(ls)


def json_doc(rng: random.Random, b: bytes) -> bytes:
    """mutate_tree on a whole JSON document (pretty-printed again), or on a line of JSON lines."""
    try:
        obj = json.loads(b)
    except ValueError:
        return json_line(rng, b)
    return _dumps(mutate_tree(rng, obj), indent=2)


def brat_lines(rng: random.Random, b: bytes) -> bytes:
    """Copy a T line with its offsets nudged (overlaps, misalignment) or with odd fields."""
    ls = [ln for ln in b.split(b"\n") if ln.startswith(b"T")]
    if not ls:
        return insert(rng, b)
    parts = rng.choice(ls).split(b"\t")
    if len(parts) >= 2:
        fields = parts[1].split(b" ")
        if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
            s, e = int(fields[1]) + rng.choice([-3, -1, 0, 1, 2]), int(fields[2]) + rng.choice([-2, 0, 1, 4])
            fields[1:] = [str(s).encode(), str(e).encode()]
            if rng.random() < 0.3:
                fields[1] += b";" + str(e + 1).encode() + b" " + str(e + 3).encode()
        if rng.random() < 0.3:
            fields[0] = rng.choice([b"XYZ", b"", b"PER\xed\xa0\x80", b"B-PER"])
        parts[1] = b" ".join(fields)
    parts[0] = b"T99"
    return b + b"\t".join(parts) + b"\n"


def docbin_inside(rng: random.Random, b: bytes) -> bytes:
    """Change something inside a DocBin's msgpack (arrays, strings, user_data, flags) and pack it again."""
    import srsly

    try:
        msg = srsly.msgpack_loads(zlib.decompress(b))
    except Exception:  # noqa: BLE001 - an earlier mutation broke it: flip the bytes instead
        return flip(rng, b)
    if not isinstance(msg, dict) or not msg:
        return flip(rng, b)
    key = rng.choice(sorted(msg))
    val = msg[key]
    if key == "user_data" and isinstance(val, list) and val and rng.random() < 0.8:
        i = rng.randrange(len(val))
        odd = rng.choice(ODD_VALUES)
        inner = rng.choice(
            [
                odd,
                json.dumps(
                    {"annotated": True, rng.choice(["meta", "predictions", "annotator", "status", "annotated"]): odd}
                ).replace(json.dumps(DEEP), "[" * 1500 + "]" * 1500),
            ]
        )
        try:
            val[i] = srsly.msgpack_dumps({"nerdesk": inner} if rng.random() < 0.9 else inner)
        except Exception:  # noqa: BLE001 - not packable (a huge int, a lone surrogate)
            val[i] = b"\xc1"
    elif isinstance(val, (bytes, bytearray)):
        val = rng.choice([flip, truncate, splice])(rng, bytes(val))
    elif isinstance(val, list) and val and rng.random() < 0.7:
        i = rng.randrange(len(val))
        val[i] = rng.choice([None, 7, "x", b"\x00\x01", [], {"x": 1}, "\ud800" if key != "strings" else "zz"])
    else:
        val = rng.choice([None, 7, "x", b"", [], {}, [1, 2]])
    msg[key] = val
    try:
        return zlib.compress(srsly.msgpack_dumps(msg))
    except Exception:  # noqa: BLE001 - not packable (a lone surrogate): flip the bytes instead
        return flip(rng, b)


def zip_header(rng: random.Random, b: bytes) -> bytes:
    """Overwrite a field of a member's local and/or central header: CRC, sizes, flags, method."""
    import struct

    fields = [(6, 8, "<H"), (8, 10, "<H"), (14, 16, "<I"), (18, 20, "<I"), (22, 24, "<I"), (26, 28, "<H")]
    local, central, fmt = rng.choice(fields)
    value = rng.choice([0, 1, 8, 12, 14, 99, 10, 5000, 2**31, 2**32 - 1, rng.randrange(2**16)])
    value = value & 0xFFFF if fmt == "<H" else value
    out = bytearray(b)
    where = rng.choice(["local", "central", "both"])
    for sig, off in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        if where != "both" and (where == "local") != (sig == b"PK\x03\x04"):
            continue
        hits = [i for i in range(len(out)) if out.startswith(sig, i)]
        if hits:
            i = rng.choice(hits)
            if i + off + struct.calcsize(fmt) <= len(out):
                struct.pack_into(fmt, out, i + off, value)
    return bytes(out)


def bundle_member(rng: random.Random, b: bytes) -> bytes:
    """Change the manifest or one correction line (a JSON change, or bytes), usually making the
    hash and count match again so that the change reaches the checks behind the tamper check;
    or add, drop or rename a member."""
    try:
        members = unzip(b)
    except Exception:  # noqa: BLE001 - an earlier mutation broke the zip
        return flip(rng, b)
    name = rng.choice(sorted(members))
    op = rng.random()
    if op < 0.1:
        members[rng.choice(["../x", "extra.txt", name + "/", "/abs"])] = b"x"
    elif op < 0.15:
        del members[name]
    elif op < 0.6:
        mutate = rng.choice([json_hostile, json_doc if name == "manifest.json" else json_line])
        members[name] = mutate(rng, members[name])
    else:
        members[name] = rng.choice([flip, truncate, insert, lines, splice])(rng, members[name])
    return rezip(members, rehash=rng.random() < 0.85)


BYTES: list[Mutator] = [flip, truncate, insert, insert_in_string, splice]
JSON: list[Mutator] = [json_hostile] * 3 + [lines, cr_only]
MUTATORS: dict[str, list[Mutator]] = {
    "jsonl": BYTES + [json_line] * 4 + JSON,
    "doccano": BYTES + [json_line] * 4 + JSON,
    "prodigy": BYTES + [json_line] * 4 + JSON,
    "labelstudio": BYTES + [json_doc] * 4 + JSON,
    "conll": BYTES + [columns] * 3 + [lines, lines, cr_only],
    "csv": BYTES + [columns] * 3 + [lines, cr_only],
    "tsv": BYTES + [columns] * 3 + [lines, cr_only],
    "text": BYTES + [lines, cr_only],
    "brat": BYTES + [brat_lines] * 3 + [columns, lines, cr_only],
    "spacy": [flip, truncate, splice] + [docbin_inside] * 6,
    "bundle": [flip, flip, truncate, insert, splice, zip_header, zip_header] + [bundle_member] * 6,
}


# --------------------------------------------------------------------------- cases
@dataclass
class Case:
    fmt: str
    seed: int
    entry: str
    files: dict[str, bytes]
    fmt_arg: str | None
    options: dict[str, Any] = field(default_factory=dict)
    allow_overlaps: bool = False
    mutations: list[str] = field(default_factory=list)


def make_case(fmt: str, seed: int) -> Case:
    """The seeded case ``seed`` of format ``fmt`` (same inputs, same case)."""
    rng = random.Random(f"{fmt}/{seed}")
    sample = rng.choice(samples(fmt))
    files = dict(sample.files)
    names = sorted(files)
    mutations = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        target = rng.choice(names)
        m = rng.choice(MUTATORS[fmt])
        try:
            files[target] = m(rng, files[target])
        except RecursionError:  # an earlier mutation nested it too deeply to parse: bytes instead
            m = insert
            files[target] = m(rng, files[target])
        mutations.append(f"{m.__name__}({target})")
    options: dict[str, Any] = {"annotations": rng.random() < 0.85, "add_labels": rng.random() < 0.7 or None}
    if fmt == "text" and rng.random() < 0.5:
        options["lines"] = True
    if fmt == "brat":
        options["discontinuous"] = rng.choice(["hull", "split"])
    if fmt == "bundle":  # a bundle takes no reader options
        options = {"add_labels": options["add_labels"]}
    fmt_arg = sample.fmt if rng.random() < 0.7 else None
    if fmt_arg is None and fmt == "brat":
        options.pop("discontinuous")  # detection may pick another format: no brat options
    return Case(fmt, seed, sample.entry, files, fmt_arg, options, rng.random() < 0.15, mutations)


@dataclass
class Outcome:
    kind: str  # ok, coded, traceback, partial, hang, overlap
    detail: str = ""


class Hang(BaseException):
    """Raised by the time limit (a BaseException: no ``except Exception`` swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    if not hasattr(signal, "setitimer") or seconds <= 0:
        yield
        return

    def on_alarm(*_):
        raise Hang()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_case(case: Case, workdir: Path, timeout: float = 20.0) -> Outcome:
    """Write the case's files, import them into a fresh project, classify what happened."""
    from nerdesk.core.errors import NerdeskError
    from nerdesk.core.project import Project
    from nerdesk.core.types import drain

    d = workdir / f"{case.fmt}-{case.seed}"
    shutil.rmtree(d, ignore_errors=True)
    (d / "in").mkdir(parents=True)
    for name, data in case.files.items():
        (d / "in" / name).write_bytes(data)
    project = Project.create(d / "p.nerdesk", labels=LABELS, allow_overlaps=case.allow_overlaps)
    try:
        before = counts(project)
        try:
            with time_limit(timeout):
                drain(project.import_file(d / "in" / case.entry, case.fmt_arg, **case.options))
        except Hang:
            return Outcome("hang", f"over {timeout} s")
        except NerdeskError as e:
            if not e.code or e.code == "E000" or not e.file:
                return Outcome("traceback", f"NerdeskError without a code or a file: {e!r}")
            if counts(project) != before:
                return Outcome("partial", f"{e} changed {before} to {counts(project)}")
            return Outcome("coded", str(e)[:300])
        except Exception as e:  # noqa: BLE001 - exactly what the fuzzer looks for
            tb = traceback.format_exception(type(e), e, e.__traceback__)
            return Outcome("traceback", "".join(tb[-3:])[-1500:])
        if not case.allow_overlaps and (bad := _overlapping(project)):
            return Outcome("overlap", bad)
        return Outcome("ok")
    finally:
        with contextlib.suppress(Exception):
            project.close()
        shutil.rmtree(d, ignore_errors=True)


def _overlapping(project) -> str:
    for seg, raw in project.store.conn.execute("SELECT segment_id, spans FROM annotations"):
        spans = sorted((s["start"], s["end"]) for s in json.loads(raw))
        for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
            if s2 < e1:
                return f"segment {seg}: {s1}-{e1} and {s2}-{e2}"
    return ""


def describe(case: Case, out: Outcome) -> str:
    return (
        f"{case.fmt} seed {case.seed} ({', '.join(case.mutations)}; format {case.fmt_arg}, "
        f"{case.options}, overlaps {'allowed' if case.allow_overlaps else 'forbidden'}): {out.kind}: {out.detail}"
    )


def check(fmt: str, seeds: range, workdir: Path, timeout: float = 20.0) -> list[str]:
    """Run the cases; the descriptions of those that are neither ok nor coded."""
    failures = []
    for seed in seeds:
        case = make_case(fmt, seed)
        out = run_case(case, workdir, timeout)
        if out.kind not in ("ok", "coded"):
            failures.append(describe(case, out))
    return failures
