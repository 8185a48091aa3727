"""Hostile import files (issue 13): each one is a coded error naming the file and the line (or the
task / entry), the project is left unchanged, and nothing hangs or ends in a traceback."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import struct
import zipfile
from pathlib import Path

import pytest

from nerdesk.core import bundle
from nerdesk.core.errors import NerdeskError
from nerdesk.core.formats import write_records
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Span, drain

from .fuzz_cases import counts, reviewed_bundle


@pytest.fixture(autouse=True)
def no_hang():
    """A reader that blocks (a FIFO) fails the test after 10 s instead of hanging the suite."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def hang(*_):
        raise TimeoutError("the import hung")

    old = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, 10)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


def import_error(project: Project, path: Path, fmt: str | None = None, **options) -> NerdeskError:
    """Import ``path`` (as the CLI does, with annotations): it must fail with a coded error that
    names a file, and leave every count of the project as it was."""
    before = counts(project)
    options.setdefault("annotations", True)
    with pytest.raises(NerdeskError) as e:
        drain(project.import_file(path, fmt, **options))
    assert counts(project) == before
    assert e.value.code not in (None, "E000") and e.value.file
    return e.value


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


OK = '{"text": "Ann met Bob.", "spans": [{"start": 0, "end": 3, "label": "PER"}]}\n'


# --------------------------------------------------------------------------- lone surrogates
@pytest.mark.parametrize(
    "line",
    [
        '{"text": "a \\ud800 b"}',
        '{"text": "a b", "meta": {"x": "\\udc00"}}',
        '{"text": "ab cd", "spans": [{"start": 0, "end": 2, "label": "\\ud800"}]}',
        '{"text": "ab cd", "spans": [], "annotator": "x\\ud800"}',
        '{"text": "ab cd", "predictions": [{"start": 0, "end": 2, "label": "P\\udfff", "confidence": 0.5}]}',
        '{"tokens": ["a", "\\ud800"], "tags": ["O", "O"]}',
    ],
)
def test_lone_surrogate_escape_e118(project, tmp_path, line):
    p = write(tmp_path, "s.jsonl", OK + line + "\n")
    e = import_error(project, p, add_labels=True)
    assert (e.code, e.line, e.file) == ("E118", 2, str(p))
    assert "surrogate" in e.message


def test_lone_surrogate_raw_bytes(project, tmp_path):
    p = write(tmp_path, "s.jsonl", OK.encode() + b'{"text": "a \xed\xa0\x80 b"}\n')
    e = import_error(project, p)
    assert e.code in ("E104", "E118") and e.line == 2


@pytest.mark.parametrize(
    "fmt,name,data",
    [
        ("doccano", "d.jsonl", '{"text": "ok"}\n{"text": "\\ud800", "label": []}\n'),
        ("prodigy", "p.jsonl", '{"text": "ok", "answer": "accept"}\n{"text": "x\\ud800", "answer": "accept"}\n'),
        ("labelstudio", "l.json", '[\n{"data": {"text": "ok"}},\n{"data": {"text": "\\ud800"}}\n]\n'),
    ],
)
def test_lone_surrogate_other_json_formats(project, tmp_path, fmt, name, data):
    e = import_error(project, write(tmp_path, name, data), fmt)
    assert e.code == "E118" and e.line == (3 if fmt == "labelstudio" else 2)


# --------------------------------------------------------------------------- deep nesting
DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    "fmt,name,data,line",
    [
        ("jsonl", "d.jsonl", OK + '{"text": "a", "x": ' + DEEP + "}\n", 2),
        ("prodigy", "p.jsonl", '{"text": "a", "answer": "accept"}\n{"text": "a", "meta": ' + DEEP + "}\n", 2),
        ("doccano", "d.jsonl", '{"text": "a"}\n{"text": "a", "label": ' + DEEP + "}\n", 2),
        ("labelstudio", "l.json", '[\n{"data": {"text": "a"}},\n{"data": {"text": "a", "x": ' + DEEP + "}}\n]", 3),
        ("jsonl", "d.jsonl", OK + "[" * 999 + "]" * 999 + "\n", 2),
    ],
)
def test_deep_nesting_e106(project, tmp_path, fmt, name, data, line):
    e = import_error(project, write(tmp_path, name, data), fmt)
    assert (e.code, e.line) == ("E106", line)


# --------------------------------------------------------------------------- odd field types
@pytest.mark.parametrize("annotations", [False, True])
def test_tags_of_lists(project, tmp_path, annotations):
    p = write(tmp_path, "t.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["a"], "tags": [["B-PER"]]}\n')
    e = import_error(project, p, annotations=annotations)
    assert (e.code, e.line) == ("E111", 2)


@pytest.mark.parametrize(
    "field,value",
    [
        ("status", ["x"]),
        ("status", {"a": 1}),
        ("status", 3),
        ("annotator", {"x": 1}),
        ("annotator", ["a"]),
        ("annotator", 7),
    ],
)
def test_odd_status_and_annotator(project, tmp_path, field, value):
    bad = json.dumps({"text": "Ann met Bob.", "spans": [], field: value})
    e = import_error(project, write(tmp_path, "o.jsonl", OK + bad + "\n"))
    assert e.line == 2 and field in e.message


def test_unknown_status_names_the_known_ones(project, tmp_path):
    p = write(tmp_path, "b.jsonl", OK + '{"text": "Bob left.", "spans": [], "status": "banana"}\n')
    e = import_error(project, p)
    assert (e.code, e.line) == ("E127", 2)
    assert "banana" in e.message and "accepted" in e.message and "rejected" in e.message


def test_prodigy_answer_of_the_wrong_type(project, tmp_path):
    p = write(tmp_path, "p.jsonl", '{"text": "a", "answer": "accept"}\n{"text": "b", "answer": ["accept"]}\n')
    e = import_error(project, p, "prodigy")
    assert (e.code, e.line) == ("E106", 2) and "answer" in e.message


def test_ignored_answers_are_not_stored_as_accepted(project, tmp_path):
    p = write(
        tmp_path,
        "p.jsonl",
        '{"text": "Ann left.", "answer": "ignore", "spans": [{"start": 0, "end": 3, "label": "PER"}]}\n',
    )
    drain(project.import_file(p, "prodigy", annotations=True))
    status = project.store.conn.execute("SELECT status FROM annotations").fetchone()[0]
    assert status == "skipped"


# --------------------------------------------------------------------------- spaCy DocBin user_data
def _docbin(tmp_path: Path, user_data: object) -> Path:
    from spacy.tokens import DocBin

    from nerdesk.core.formats.spacybin import KEY, record_to_doc

    docs = [
        record_to_doc(DocRecord("Ann met Bob.", spans=[Span(0, 3, "PER")])),
        record_to_doc(DocRecord("Bob left.", spans=[])),
    ]
    docs[1].user_data[KEY] = user_data
    db = DocBin(store_user_data=True)
    for d in docs:
        db.add(d)
    p = tmp_path / "d.spacy"
    p.write_bytes(db.to_bytes())
    return p


@pytest.mark.parametrize(
    "user_data",
    [
        5,
        b"bytes",
        "not json",
        "[1, 2]",
        "null",
        '{"meta": 3}',
        '{"meta": [1]}',
        '{"predictions": 7}',
        '{"predictions": [[1]]}',
        '{"predictions": [[0, 99, "PER", null]]}',
        '{"predictions": [["a", 2, "PER", null]]}',
        '{"predictions": [[0, 2, 5, null]]}',
        '{"predictions": [[0, 2, "PER", "high"]]}',
        '{"annotator": {"x": 1}}',
        '{"status": "banana"}',
        '{"status": ["x"]}',
        '{"meta": {"x": "\\ud800"}}',
        '{"annotated": true, "meta": ' + DEEP + "}",
    ],
)
def test_spacy_odd_user_data(project, tmp_path, user_data):
    p = _docbin(tmp_path, user_data)
    e = import_error(project, p, "spacy")
    where = f"{e.message} {e.details}"
    assert e.file == str(p) and ("doc 2" in where or "record 2" in where)


def test_spacy_zlib_bomb_is_refused_before_it_fills_the_memory(project, tmp_path, monkeypatch):
    """A DocBin is one zlib stream that spaCy would inflate whole: nerdesk inflates it in steps and
    stops at the cap (E130), so a 100 MiB bomb costs ~the cap, not 100 MiB."""
    import resource
    import zlib

    from nerdesk.core.formats import spacybin

    monkeypatch.setattr(spacybin, "MAX_INFLATED", 4 << 20)
    p = write(tmp_path, "bomb.spacy", zlib.compress(bytes(100 << 20), 9))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    e = import_error(project, p, "spacy")
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert e.code == "E130" and "4.0 MiB" in e.message and e.file == str(p)
    assert grown < 50, f"peak RSS grew {grown:.0f} MiB"


def test_spacy_truncated_stream_is_coded(project, tmp_path):
    from nerdesk.core.formats.spacybin import record_to_doc
    from spacy.tokens import DocBin

    db = DocBin(store_user_data=True)
    db.add(record_to_doc(DocRecord("Ann met Bob.", spans=[Span(0, 3, "PER")])))
    p = write(tmp_path, "cut.spacy", db.to_bytes()[:-7])
    e = import_error(project, p, "spacy")
    assert e.code == "E106" and "zlib" in e.message


def test_a_docbin_under_the_cap_still_imports(project, tmp_path):
    p = _docbin(tmp_path, '{"status": "accepted", "annotated": true}')
    drain(project.import_file(p, "spacy", annotations=True))
    assert project.store.counts()["documents"] == 2


# --------------------------------------------------------------------------- FIFOs, devices, folders
@pytest.mark.parametrize(
    "name,fmt",
    [
        ("f.jsonl", None),
        ("f.jsonl", "jsonl"),
        ("f.txt", None),
        ("f", None),
        ("f.conll", "conll"),
        ("f.spacy", None),
        ("f.json", "labelstudio"),
        ("f.zip", None),
        ("f.zip", "bundle"),
        ("f.txt", "brat"),
    ],
)
def test_fifo_is_refused_before_reading(project, tmp_path, name, fmt):
    p = tmp_path / name
    os.mkfifo(p)
    e = import_error(project, p, fmt)
    assert e.code == "E117" and "FIFO" in e.message


@pytest.mark.parametrize("fmt", [None, "text", "jsonl", "spacy"])
def test_device_is_refused(project, tmp_path, fmt):
    p = tmp_path / "zero.txt"
    p.symlink_to("/dev/zero")
    assert import_error(project, p, fmt).code == "E117"


@pytest.mark.parametrize(
    "name,fmt", [("d.jsonl", "jsonl"), ("d.zip", None), ("d.zip", "bundle"), ("d.csv", "csv"), ("d.spacy", "spacy")]
)
def test_directory_is_refused(project, tmp_path, name, fmt):
    (tmp_path / name).mkdir()
    e = import_error(project, tmp_path / name, fmt)
    assert e.code == "E117" and "directory" in e.message


def test_fifo_ann_of_a_brat_pair_is_refused(project, tmp_path):
    write(tmp_path, "a.txt", "Ann met Bob.")
    os.mkfifo(tmp_path / "a.ann")
    assert import_error(project, tmp_path / "a.txt", "brat").code == "E117"


def test_read_bundle_refuses_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "b.zip")
    with pytest.raises(NerdeskError) as e:
        bundle.read_bundle(tmp_path / "b.zip")
    assert e.value.code == "E117"


# --------------------------------------------------------------------------- CR-only line ends
@pytest.mark.parametrize("fmt,name", [("conll", "c.conll"), (None, "c.conll"), (None, "c.iob")])
@pytest.mark.parametrize("body", ["A\tO\rB\tB-PER\r\rC\tO\r", "-DOCSTART- -X- O O\r\rEU B-ORG\rrejects O\r"])
def test_cr_only_conll_is_an_error_not_silent_loss(project, tmp_path, fmt, name, body):
    e = import_error(project, write(tmp_path, name, body), fmt)
    assert e.code == "E124"


@pytest.mark.parametrize(
    "fmt,name,body",
    [
        ("jsonl", "j.jsonl", '{"text": "a"}\r{"text": "b"}\r'),
        ("text", "t.txt", "one\rtwo\rthree\r"),
        ("csv", "c.csv", "text\rone\rtwo\r"),
    ],
)
def test_cr_only_line_files(project, tmp_path, fmt, name, body):
    opts = {"lines": True} if fmt == "text" else {}
    assert import_error(project, write(tmp_path, name, body), fmt, **opts).code == "E124"


# --------------------------------------------------------------------------- Label Studio lines
def test_labelstudio_error_names_the_line_where_the_task_starts(project, tmp_path):
    tasks = [{"data": {"text": "abc"}} for _ in range(6)]
    tasks.append(
        {
            "data": {"text": "abc"},
            "annotations": [{"result": [{"type": "labels", "value": {"start": 0, "end": 9, "labels": ["PER"]}}]}],
        }
    )
    raw = json.dumps(tasks, indent=2)
    p = write(tmp_path, "ls.json", raw)
    e = import_error(project, p)
    start = raw.split("\n").index("  {", 0)  # the first task's line (0-based)
    task7_line = [i for i, ln in enumerate(raw.split("\n"), 1) if ln == "  {"][6]
    assert start == 1 and (e.code, e.line) == ("E107", task7_line)
    assert "task 7" in f"{e.message} {e.details}"


def test_labelstudio_structural_error_names_task_and_line(project, tmp_path):
    raw = '[\n  {"data": {"text": "a"}},\n  {"data": {"text": "b"}},\n  {"data": 5}\n]\n'
    e = import_error(project, write(tmp_path, "ls.json", raw))
    assert e.line == 4 and "task 3" in f"{e.message} {e.details}"


def test_labelstudio_one_task_per_line(project, tmp_path):
    raw = '{"data": {"text": "a"}}\n{"data": {"text": "b"}}\n{"data": {"text": 3}}\n'
    e = import_error(project, write(tmp_path, "ls.json", raw), "labelstudio")
    assert e.line == 3


# --------------------------------------------------------------------------- brat: the .ann line
@pytest.mark.parametrize(
    "ann,code,line",
    [
        ("T1\tPER 0 3\tAnn\nT2\tXYZ 8 11\tBob\n", "E109", 2),
        ("T1\tPER 0 3\tAnn\n#1\tAnnotatorNotes T1\tnote\nT2\tPER 7 11\t Bob\n", "E108", 3),
        ("T1\tPER 0 3\tAnn\nT2\tPER 0 7\tAnn met\n", "E126", 2),
        ("T1\tPER 0 3\tAnn\nT2\tPER 0 " + "9" * 5000 + "\tx\n", "E106", 2),
    ],
)
def test_brat_errors_name_the_ann_file_and_line(project, tmp_path, ann, code, line):
    write(tmp_path, "a.txt", "Ann met Bob.")
    write(tmp_path, "a.ann", ann)
    e = import_error(project, tmp_path / "a.txt", add_labels=False)
    assert (e.code, e.file, e.line) == (code, str(tmp_path / "a.ann"), line)


# --------------------------------------------------------------------------- overlapping spans
OVERLAP = (
    '{"text": "Ann met Bob.", "spans": [{"start": 0, "end": 3, "label": "PER"}]}\n'
    '{"text": "New York City", "spans": [{"start": 0, "end": 8, "label": "LOC"}, '
    '{"start": 4, "end": 13, "label": "LOC"}]}\n'
)


def test_overlapping_spans_refused_when_the_project_forbids_them(project, tmp_path):
    assert not project.allow_overlaps
    p = write(tmp_path, "o.jsonl", OVERLAP)
    e = import_error(project, p)
    assert (e.code, e.file, e.line) == ("E126", str(p), 2)
    assert "0-8" in e.message and "4-13" in e.message


def test_identical_spans_with_two_labels_overlap(project, tmp_path):
    raw = '{"text": "Paris", "spans": [[0, 5, "LOC"], [0, 5, "PER"]]}\n'
    assert import_error(project, write(tmp_path, "o.jsonl", raw)).code == "E126"


def test_overlaps_allowed_when_the_project_allows_them(tmp_path):
    p = Project.create(tmp_path / "o.nerdesk", labels=["PER", "LOC"], allow_overlaps=True)
    res = drain(p.import_file(write(tmp_path, "o.jsonl", OVERLAP), annotations=True))
    assert res.annotated_segments == 2
    p.close()


def test_after_refusing_overlaps_conll_export_works(project, tmp_path):
    import_error(project, write(tmp_path, "o.jsonl", OVERLAP))
    drain(project.import_file(write(tmp_path, "ok.jsonl", OK), annotations=True))
    write_records(project.export_records(), tmp_path / "out.conll", "conll")
    write_records(project.export_records(), tmp_path / "out.spacy", "spacy")


def test_overlapping_brat_split_fragments(project, tmp_path):
    write(tmp_path, "a.txt", "Ann met Bob.")
    write(tmp_path, "a.ann", "T1\tPER 0 3;4 7\tAnn met\nT2\tPER 4 11\tmet Bob\n")
    e = import_error(project, tmp_path / "a.txt", discontinuous="split")
    assert (e.code, e.line) == ("E126", 2)


# --------------------------------------------------------------------------- bundles
@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory) -> bytes:
    return reviewed_bundle(tmp_path_factory.mktemp("bundle"))


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(members: dict[str, bytes], *, rehash: bool = True) -> bytes:
    if rehash:
        manifest = json.loads(members["manifest.json"])
        if isinstance(manifest, dict):
            lines = [ln for ln in members["corrections.jsonl"].split(b"\n") if ln]
            manifest["files"] = {"corrections.jsonl": hashlib.sha256(members["corrections.jsonl"]).hexdigest()}
            manifest["segments"] = len(lines)
            members = {**members, "manifest.json": json.dumps(manifest).encode()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _with_line(good: bytes, change) -> bytes:
    m = _members(good)
    lines = [json.loads(x) for x in m["corrections.jsonl"].decode().splitlines()]
    change(lines[1])
    m["corrections.jsonl"] = "".join(json.dumps(x) + "\n" for x in lines).encode()
    return _zip(m)


def bundle_error(tmp_path: Path, data: bytes, *, reader_too: bool = True) -> NerdeskError:
    path = write(tmp_path, "b.zip", data)
    target = Project.create(tmp_path / "t.nerdesk", labels=["PER", "LOC"])
    try:
        e = import_error(target, path)
    finally:
        target.close()
    assert str(path) in e.file
    if reader_too:
        with pytest.raises(NerdeskError):  # the fine-tuner's reader refuses it too
            bundle.read_bundle(path)
    return e


@pytest.mark.parametrize(
    "manifest",
    [
        b"[1, 2]",
        b"null",
        b'"x"',
        b"{}",
        b'{"bundle_format": 1}',
        b'{"bundle_format": 1, "files": [], "segments": 2}',
        b"[" * 5000 + b"]" * 5000,
        b'{"bundle_format": 1, "x": "\xff"}',
    ],
)
def test_bundle_manifest_not_an_object(tmp_path, good_bundle, manifest):
    m = _members(good_bundle)
    m["manifest.json"] = manifest
    assert bundle_error(tmp_path, _zip(m, rehash=False)).code in ("E120", "E122")  # deep nesting: 200:1


@pytest.mark.parametrize(
    "change",
    [
        lambda ln: ln.pop("document"),
        lambda ln: ln.pop("text"),
        lambda ln: ln.pop("final"),
        lambda ln: ln.update(document=[1]),
        lambda ln: ln["document"].update(start="0"),
        lambda ln: ln["document"].update(meta=5),
        lambda ln: ln.update(text=5),
        lambda ln: ln.update(tokens=[[0]]),
        lambda ln: ln.update(tokens="abc"),
        lambda ln: ln.update(final=[{"start": 0, "end": 2}]),
        lambda ln: ln.update(final=[[0, 2, "PER"]]),
        lambda ln: ln.update(final=[{"start": 0, "end": 999, "label": "PER"}]),
        lambda ln: ln.update(annotator={"x": 1}),
        lambda ln: ln.update(tier=5),
        lambda ln: ln.update(text="\ud800"),
    ],
)
def test_bundle_line_with_missing_or_odd_fields(tmp_path, good_bundle, change):
    e = bundle_error(tmp_path, _with_line(good_bundle, change))
    assert e.line == 2 and e.file.endswith("!corrections.jsonl")


def test_bundle_line_with_an_unknown_status(tmp_path, good_bundle):
    """Refused as the bundle schema says (a bundle carries accepted segments), naming the bundle's
    member, the line and the field."""
    e = bundle_error(tmp_path, _with_line(good_bundle, lambda ln: ln.update(status="banana")))
    assert (e.code, e.line) == ("E106", 2) and e.file.endswith("!corrections.jsonl")
    assert "'status' must be \"accepted\"" in e.message


def test_bundle_line_not_json_or_too_deep(tmp_path, good_bundle):
    m = _members(good_bundle)
    first = m["corrections.jsonl"].split(b"\n")[0]
    m["corrections.jsonl"] = first + b"\n" + b"[" * 5000 + b"]" * 5000 + b"\n"
    e = bundle_error(tmp_path, _zip(m))
    assert (e.code, e.line) == ("E106", 2)


def _patch(data: bytes, name: str, offset_local: int, offset_central: int, fmt: str, value) -> bytes:
    """Overwrite a field of member ``name`` in both its local and its central header."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(name)
    struct.pack_into(fmt, out, info.header_offset + offset_local, value)
    pos = 0
    while (pos := out.find(b"PK\x01\x02", pos)) >= 0:
        n = struct.unpack_from("<H", out, pos + 28)[0]
        if out[pos + 46 : pos + 46 + n] == name.encode():
            struct.pack_into(fmt, out, pos + offset_central, value)
        pos += 4
    return bytes(out)


def test_bundle_with_a_lying_compressed_size_but_intact_data_imports(tmp_path, good_bundle):
    """Deflate stops at the end of its stream: the data is intact (CRC and hash match)."""
    path = write(tmp_path, "b.zip", _patch(good_bundle, "corrections.jsonl", 18, 20, "<I", 10**6))
    assert len(bundle.read_bundle(path)[1]) == 2


@pytest.mark.parametrize(
    "what",
    ["crc", "size-smaller", "size-larger", "encrypted", "method-bzip2", "method-unknown", "data-flipped", "truncated"],
)
def test_corrupt_bundle_zip(tmp_path, good_bundle, what):
    n = "corrections.jsonl"
    data = {
        "crc": lambda d: _patch(d, n, 14, 16, "<I", 0x12345678),
        "size-smaller": lambda d: _patch(d, n, 22, 24, "<I", 10),
        "size-larger": lambda d: _patch(d, n, 22, 24, "<I", 5000),
        "encrypted": lambda d: _patch(d, n, 6, 8, "<H", 1),
        "method-bzip2": lambda d: _patch(d, n, 8, 10, "<H", 12),
        "method-unknown": lambda d: _patch(d, n, 8, 10, "<H", 99),
        "data-flipped": lambda d: _flip_member(d, n),
        "truncated": lambda d: d[: len(d) // 2],
    }[what](good_bundle)
    assert bundle_error(tmp_path, data).code in ("E120", "E122", "E123")


def _flip_member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    out = bytearray(data)
    for k in range(start + 2, start + info.compress_size - 2, 7):
        out[k] ^= 0x5A
    return bytes(out)


@pytest.mark.parametrize("seed", range(40))
def test_byte_flipped_bundle(tmp_path, good_bundle, seed):
    import random

    rng = random.Random(seed)
    out = bytearray(good_bundle)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] ^= rng.randrange(1, 256)
    path = write(tmp_path, "b.zip", bytes(out))
    target = Project.create(tmp_path / "t.nerdesk", labels=["PER", "LOC"])
    before = counts(target)
    try:
        drain(target.import_file(path))
    except NerdeskError as e:
        assert e.code != "E000" and str(path) in e.file
        assert counts(target) == before
    target.close()


def test_bundle_over_the_absolute_cap_is_refused_before_inflating(tmp_path, good_bundle, monkeypatch):
    m = _members(good_bundle)
    m["corrections.jsonl"] = m["corrections.jsonl"] * 50  # honest sizes, well under the ratio cap
    path = write(tmp_path, "b.zip", _zip(m))
    monkeypatch.setattr(bundle, "MAX_UNCOMPRESSED", 10_000)
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: opened.append(a) or real_open(self, *a, **k))
    with pytest.raises(NerdeskError) as e:
        bundle.read_bundle(path)
    assert e.value.code == "E122" and opened == []


# --------------------------------------------------------------------------- unreadable files
def test_unreadable_file_e119(project, tmp_path, monkeypatch):
    p = write(tmp_path, "u.jsonl", OK)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == p else real_access(path, mode))
    assert import_error(project, p).code == "E119"


def test_io_error_while_reading_e119(project, tmp_path, monkeypatch):
    from nerdesk.core import formats

    def failing(*_a, **_k):
        yield DocRecord("Ann met Bob.", source="x")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(formats, "read_records", failing)
    e = import_error(project, write(tmp_path, "u.jsonl", OK), "jsonl")
    assert e.code == "E119" and "Input/output error" in e.message


@pytest.mark.parametrize("name", ["d.jsonl", "d.json", "d.csv"])
def test_deep_nesting_during_format_detection(project, tmp_path, name):
    e = import_error(project, write(tmp_path, name, "[" * 5000 + "]" * 5000 + "\n" + OK))
    assert e.code in ("E101", "E106", "E112")


# --------------------------------------------------------------------------- tokenizer blow-up
@pytest.mark.parametrize("run", ["(" * 100_000, "[" * 5000 + "]" * 5000, "\"'<{" * 3000])
def test_long_punctuation_run_does_not_hang_the_tokenizer(project, tmp_path, run):
    """spaCy's tokenizer is quadratic in a run of punctuation: a long one is a single token."""
    import time

    p = write(tmp_path, "p.txt", f"Ann met Bob. {run} The end.")
    t0 = time.perf_counter()
    drain(project.import_file(p, "text"))
    assert time.perf_counter() - t0 < 5
    stats = project.stats()
    assert stats["documents"] == 1 and stats["tokens"] < 100
