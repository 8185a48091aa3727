"""Bad input: every reader raises the right coded error, naming the file and (where there is one) the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nerdesk.core.errors import NerdeskError
from nerdesk.core.formats import FORMATS, detect_format, read_records, write_records

LINE_FORMATS = ["jsonl", "conll", "prodigy", "doccano", "csv", "tsv"]


def read_err(path: Path, fmt: str | None = None, **opts) -> NerdeskError:
    with pytest.raises(NerdeskError) as e:
        list(read_records(path, fmt, **opts))
    return e.value


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_missing_file_e100(fmt, tmp_path):
    missing = tmp_path / "nope.x"
    err = read_err(missing, fmt)
    assert err.code == "E100" and err.file == str(missing)
    with pytest.raises(NerdeskError) as e:  # the module's own reader too, on first iteration
        list(FORMATS[fmt].read(missing))
    assert e.value.code == "E100"


_TEXT_FORMATS = ["text", "jsonl", "csv", "tsv", "conll", "prodigy", "labelstudio", "doccano"]
_EMPTY = {"zero": b"", "bom": b"\xef\xbb\xbf", "blank": b"\n  \n\r\n"}


# a DocBin is binary: only the zero-byte case applies to it
@pytest.mark.parametrize(
    "fmt,content",
    [(f, c) for f in _TEXT_FORMATS for c in _EMPTY.values()] + [("spacy", b"")],
    ids=[f"{f}-{k}" for f in _TEXT_FORMATS for k in _EMPTY] + ["spacy-zero"],
)
def test_empty_file_e103(fmt, content, tmp_path):
    p = tmp_path / "empty.dat"
    p.write_bytes(content)
    err = read_err(p, fmt)
    assert err.code == "E103" and err.file == str(p)


def test_empty_brat_txt_e103(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"")
    assert read_err(tmp_path / "a.txt", "brat").code == "E103"


@pytest.mark.parametrize(
    "fmt,lines",
    [
        ("jsonl", ['{"text": "ok"}', '{"text": "fine"}', '{"text": "bad \xff here"}']),
        ("doccano", ['{"text": "ok"}', '{"text": "fine"}', '{"text": "bad \xff here"}']),
        ("conll", ["A\tO", "", "B\tO\xff"]),
        ("csv", ["text", "ok", "bad \xff"]),
        ("text", ["ok", "fine", "bad \xff"]),
    ],
)
def test_not_utf8_e104_with_byte_position(fmt, lines, tmp_path):
    raw = "\n".join(lines).encode("utf-8").replace(b"\xc3\xbf", b"\xff") + b"\n"
    pos = raw.index(b"\xff")
    p = tmp_path / "bad.dat"
    p.write_bytes(raw)
    for opts in [{}, {"lines": True}] if fmt == "text" else [{}]:
        err = read_err(p, fmt, **opts)
        assert err.code == "E104", err
        assert f"byte {pos}" in err.message and err.line == 3 and err.file == str(p)


def test_not_utf8_e104_in_brat_text_and_labelstudio(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"ab\ncd\xe9f")
    err = read_err(tmp_path / "a.txt", "brat")
    assert (err.code, err.line) == ("E104", 2) and "byte 5" in err.message
    (tmp_path / "ls.json").write_bytes(b'[{"data": {"text": "\xe9"}}]')
    assert read_err(tmp_path / "ls.json", "labelstudio").code == "E104"


@pytest.mark.parametrize("fmt", ["text", "jsonl", "csv", "conll", "prodigy", "labelstudio", "doccano"])
def test_binary_e105(fmt, tmp_path):
    p = tmp_path / "bin.dat"
    p.write_bytes(b'{"text": "a"}\n' + bytes(range(256)) * 4)
    err = read_err(p, fmt)
    assert err.code == "E105" and err.file == str(p)


def test_utf16_file_is_reported_binary(tmp_path):
    p = tmp_path / "u16.jsonl"
    p.write_bytes('{"text": "hello"}\n'.encode("utf-16"))
    assert read_err(p, "jsonl").code == "E105"


def test_not_a_docbin_e106(tmp_path):
    p = tmp_path / "x.spacy"
    p.write_bytes(b"this is not a docbin")
    assert read_err(p).code == "E106"


@pytest.mark.parametrize("fmt", ["jsonl", "prodigy", "doccano"])
@pytest.mark.parametrize("bad", ['{"text": "a",}', '["a list"]', '{"text": 5}'])
def test_malformed_json_line_e106(fmt, bad, tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text('{"text": "fine"}\n\n' + bad + '\n{"text": "after"}\n', encoding="utf-8")
    err = read_err(p, fmt)
    assert (err.code, err.line, err.file) == ("E106", 3, str(p))


def test_malformed_labelstudio_json_e106_has_line(tmp_path):
    p = tmp_path / "ls.json"
    p.write_text('[\n {"data": {"text": "a"}},\n {"data": }\n]', encoding="utf-8")
    err = read_err(p, "labelstudio")
    assert (err.code, err.line) == ("E106", 3)


def test_malformed_conll_and_brat_e106(tmp_path):
    p = tmp_path / "c.conll"
    p.write_text("A\tO\nB\n", encoding="utf-8")
    assert (read_err(p, "conll").code, read_err(p, "conll").line) == ("E106", 2)
    (tmp_path / "a.txt").write_text("Ann", encoding="utf-8")
    (tmp_path / "a.ann").write_text("T1\tPER 0 3\tAnn\nT2\tPER zero 3\tAnn\n", encoding="utf-8")
    err = read_err(tmp_path / "a.txt", "brat")
    assert (err.code, err.line, err.file) == ("E106", 2, str(tmp_path / "a.ann"))


@pytest.mark.parametrize(
    "fmt,obj",
    [
        ("jsonl", {"text": "abc", "spans": [{"start": 1, "end": 4, "label": "X"}]}),
        ("jsonl", {"text": "abc", "spans": [{"start": -1, "end": 2, "label": "X"}]}),
        ("jsonl", {"text": "abc", "spans": [{"start": 2, "end": 2, "label": "X"}]}),
        ("doccano", {"text": "abc", "label": [[0, 9, "X"]]}),
        ("doccano", {"text": "abc", "entities": [{"start_offset": 5, "end_offset": 6, "label": "X"}]}),
        ("prodigy", {"text": "abc", "spans": [{"start": 0, "end": 4, "label": "X"}]}),
    ],
)
def test_span_out_of_range_e107(fmt, obj, tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"text": "fine"}\n' + json.dumps(obj) + "\n", encoding="utf-8")
    err = read_err(p, fmt)
    assert (err.code, err.line, err.file) == ("E107", 2, str(p))


def test_span_out_of_range_e107_labelstudio_and_brat(tmp_path):
    p = tmp_path / "ls.json"
    p.write_text(
        json.dumps(
            [
                {
                    "data": {"text": "abc"},
                    "annotations": [{"result": [{"type": "labels", "value": {"start": 1, "end": 7, "labels": ["X"]}}]}],
                }
            ]
        ),
        encoding="utf-8",
    )
    err = read_err(p, "labelstudio")
    assert err.code == "E107" and "task 1" in err.details
    (tmp_path / "a.txt").write_text("Ann\r\n", encoding="utf-8", newline="")
    (tmp_path / "a.ann").write_text("T1\tPER 0 3\tAnn\nT2\tPER 3 6\tx\n", encoding="utf-8")
    err = read_err(tmp_path / "a.ann", "brat")
    assert (err.code, err.line) == ("E107", 2)


def test_tokens_tags_length_e110(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["a", "b"], "tags": ["O"]}\n', encoding="utf-8")
    err = read_err(p, "jsonl")
    assert (err.code, err.line) == ("E110", 2) and "2 tokens, 1 tags" in err.message


@pytest.mark.parametrize("tag", ["B_PER", "X-PER", "B-", "PER", "b-PER", "", "B- PER"])
def test_invalid_tag_e111(tag, tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(
        '{"tokens": ["a"], "tags": ["B-X"]}\n' + json.dumps({"tokens": ["a", "b"], "tags": ["O", tag]}) + "\n",
        encoding="utf-8",
    )
    err = read_err(p, "jsonl")
    assert (err.code, err.line) == ("E111", 2) and repr(tag)[1:-1] in err.message
    if tag.strip():
        c = tmp_path / "t.conll"
        c.write_text(f"a\tO\n\nb\tO\nc\t{tag}\n", encoding="utf-8")
        err = read_err(c, "conll")
        assert (err.code, err.line) == ("E111", 4)


def test_non_string_tag_e111(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"tokens": ["a", "b"], "tags": ["O", 3]}) + "\n", encoding="utf-8")
    assert read_err(p, "jsonl").code == "E111"


@pytest.mark.parametrize(
    "fmt,obj,field",
    [
        ("jsonl", {"meta": {}}, "text"),
        ("jsonl", {"text": "abc", "spans": [{"start": 0, "end": 1}]}, "label"),
        ("prodigy", {"tokens": []}, "text"),
        ("prodigy", {"text": "a", "tokens": [{"start": 0}]}, "end"),
        ("doccano", {"label": []}, "text"),
        ("doccano", {"text": "abc", "entities": [{"start_offset": 0, "label": "X"}]}, "end_offset"),
    ],
)
def test_missing_field_e114(fmt, obj, field, tmp_path):
    p = tmp_path / "f.jsonl"
    p.write_text('{"text": "fine"}\n' + json.dumps(obj) + "\n", encoding="utf-8")
    err = read_err(p, fmt)
    assert (err.code, err.line) == ("E114", 2) and field in err.message


def test_missing_field_e114_labelstudio(tmp_path):
    p = tmp_path / "ls.json"
    p.write_text(json.dumps([{"data": {"text": "a"}}, {"data": {"body": "b"}}]), encoding="utf-8")
    err = read_err(p, "labelstudio")
    assert err.code == "E114" and "data.text" in err.message and "task 2" in err.details
    p.write_text(json.dumps([{"data": {"body": "b", "text": "t"}}]), encoding="utf-8")
    (rec,) = read_records(p, "labelstudio", text_key="body")
    assert (rec.text, rec.meta) == ("b", {"text": "t"})


def test_misaligned_spans_on_pretokenised_input_e108(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(
        json.dumps({"tokens": ["New", "York"], "spans": [{"start": 0, "end": 6, "label": "LOC"}]}) + "\n",
        encoding="utf-8",
    )
    err = read_err(p, "jsonl")
    assert (err.code, err.line) == ("E108", 1) and "New Yo" in err.message
    q = tmp_path / "p.jsonl"
    q.write_text(
        json.dumps(
            {
                "text": "New York",
                "tokens": [{"text": "New", "start": 0, "end": 3}, {"text": "York", "start": 4, "end": 8}],
                "spans": [{"start": 1, "end": 8, "label": "LOC"}],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    assert read_err(q, "prodigy").code == "E108"


def test_detection_e101_e103_e105_and_unknown_format_e102(tmp_path):
    p = tmp_path / "x.bin"
    p.write_text("some words\n", encoding="utf-8")
    with pytest.raises(NerdeskError) as e:
        detect_format(p)
    assert e.value.code == "E101" and "conll" in e.value.message
    for content, code in ((b"\x00\x01\x02binary", "E105"), (b"", "E103"), (b" \n", "E103")):
        q = tmp_path / "y.txt"
        q.write_bytes(content)
        with pytest.raises(NerdeskError) as e:
            list(read_records(q))
        assert (e.value.code, e.value.file) == (code, str(q))
    q.write_bytes("caf\xe9".encode("latin-1"))  # not UTF-8: detected as text, the reader gives the position
    with pytest.raises(NerdeskError) as e:
        list(read_records(q))
    assert e.value.code == "E104" and "byte 3" in e.value.message
    with pytest.raises(NerdeskError) as e:
        read_records(tmp_path / "x.bin", "xml")
    assert e.value.code == "E102"
    with pytest.raises(NerdeskError) as e:
        write_records([], tmp_path / "o", "xml")
    assert e.value.code == "E102"


def test_option_the_format_does_not_take_e116(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"text": "a"}\n', encoding="utf-8")
    with pytest.raises(NerdeskError) as e:
        read_records(p, "jsonl", lines=True)
    assert e.value.code == "E116" and "lines" in e.value.message
    with pytest.raises(NerdeskError) as e:
        write_records([], tmp_path / "o.csv", "csv", style="x")
    assert e.value.code == "E116" and "text_column" in e.value.message
    assert [r.text for r in read_records(p, "text", lines=True)] == ['{"text": "a"}']
