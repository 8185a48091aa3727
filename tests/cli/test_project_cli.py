"""The project commands through the CLI, on real data: init, import, export, stats, search.

The round trip per format goes through the project: import -> export -> import into a new
project gives identical texts and spans.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nerdesk.cli import cli
from nerdesk.core.project import Project
from tests.conftest import read_shared

ROUND_TRIP_FORMATS = ["jsonl", "conll", "prodigy", "labelstudio", "spacy", "brat", "doccano"]
LABEL_MAP = {"person": "PER", "PER": "PER", "organization": "ORG", "ORG": "ORG", "place": "LOC", "LOC": "LOC"}


def invoke(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def corpus(tmp_path, shared_data):
    """300 sentences of BTC test and 200 of GUM test, labels mapped to PER/ORG/LOC."""
    path = tmp_path / "in.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for s in read_shared("train/btc/test.jsonl", 300) + read_shared("train/gum_ne/test.jsonl", 200):
            tags = []
            for t in s["tags"]:
                lab = t[2:]
                tags.append(t[:2] + LABEL_MAP[lab] if t != "O" and lab in LABEL_MAP else "O")
            f.write(json.dumps({"tokens": s["tokens"], "tags": tags}, ensure_ascii=False) + "\n")
    return path


def _content(path):
    with Project.open(path) as p:
        out = []
        for rec in p.export_records():
            out.append((rec.text, [(s.start, s.end, s.label) for s in rec.spans or []]))
        return sorted(out)


@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS)
def test_round_trip_through_project(tmp_path, corpus, fmt):
    a, b = tmp_path / "a.nerdesk", tmp_path / "b.nerdesk"
    invoke("init", a, "--labels", "PER,ORG,LOC")
    invoke("import", a, corpus, "--annotations")
    out = tmp_path / (
        "out_dir"
        if fmt == "brat"
        else f"out.{'spacy' if fmt == 'spacy' else 'json' if fmt == 'labelstudio' else 'jsonl' if fmt != 'conll' else 'conll'}"
    )
    r = invoke("export", a, "--format", fmt, "--out", out)
    assert "Wrote 500 documents" in r.output or "Wrote 49" in r.output
    invoke("init", b, "--labels", "PER,ORG,LOC")
    invoke("import", b, out, "--format", fmt, "--annotations")
    first, second = _content(a), _content(b)
    assert len(first) >= 490 and sum(len(s) for _, s in first) > 300
    assert first == second


def test_text_and_csv_round_trip_texts(tmp_path, corpus):
    a = tmp_path / "a.nerdesk"
    invoke("import", a, corpus, "--create")
    for fmt, name in (("text", "out.txt"), ("csv", "out.csv"), ("tsv", "out.tsv")):
        out = tmp_path / name
        invoke("export", a, "--format", fmt, "--out", out)
        b = tmp_path / f"b_{fmt}.nerdesk"
        opts = ["--lines"] if fmt == "text" else []
        invoke("import", b, out, "--format", fmt, "--create", *opts)
        assert [t for t, _ in _content(a)] == [t for t, _ in _content(b)], fmt


def test_reimport_adds_no_duplicates_and_stats(tmp_path, corpus):
    a = tmp_path / "a.nerdesk"
    invoke("init", a, "--labels", "PER,ORG,LOC")
    first = json.loads(invoke("import", a, corpus, "--json").output)[0]
    again = json.loads(invoke("import", a, corpus, "--json").output)[0]
    assert again["documents"] == 0 and again["duplicates"] == first["documents"] + first["duplicates"]
    stats = json.loads(invoke("stats", a, "--json").output)
    assert stats["documents"] == first["documents"] and stats["segments"] == first["segments"]
    assert stats["tokens"] == first["tokens"] and stats["annotated"] == 0
    invoke("import", a, corpus, "--annotations")
    stats = json.loads(invoke("stats", a, "--json").output)
    assert stats["annotated"] == stats["segments"] and stats["per_label"]["PER"] > 100
    assert "Documents" in invoke("stats", a).output


def test_search(tmp_path, corpus):
    a = tmp_path / "a.nerdesk"
    invoke("import", a, corpus, "--create")
    hits = json.loads(invoke("search", a, "Obama", "--json").output)
    assert hits and all("obama" in h["snippet"].lower() for h in hits)
    assert "No matches" in invoke("search", a, "zzqqxxnotaword").output
    invoke("search", a, 'odd "punctuation (')  # never a syntax error for plain input


def test_version_and_help():
    from nerdesk import __version__

    assert __version__ in invoke("--version").output
    out = invoke("--help").output
    for cmd in ("init", "import", "export", "stats", "search", "predict"):
        assert cmd in out


BAD_INPUTS = {
    "malformed.jsonl": ('{"text": "ok"}\n{"text": "broken\n', "E106", 2),
    "empty.jsonl": ("", "E103", None),
    "latin1.txt": ("caf\xe9 cr\xe8me".encode("latin-1"), "E104", None),
    "binary.txt": (b"\x00\x01\x02\x03binary\x00" * 50, "E105", None),
    "range.jsonl": (
        '{"text": "Bob is here", "spans": [{"start": 0, "end": 3, "label": "PER"}]}\n'
        '{"text": "Ann", "spans": [{"start": 0, "end": 30, "label": "PER"}]}\n',
        "E107",
        2,
    ),
    "misaligned.jsonl": (
        '{"text": "in Rome", "spans": [{"start": 3, "end": 7, "label": "LOC"}], "answer": "accept"}\n'
        '{"text": "New York", "spans": [{"start": 2, "end": 6, "label": "LOC"}], "answer": "accept", '
        '"tokens": [{"text": "New", "start": 0, "end": 3, "id": 0}, '
        '{"text": "York", "start": 4, "end": 8, "id": 1}]}\n',
        "E108",
        2,
    ),
    "unknown.jsonl": ('{"text": "Acme sells", "spans": [{"start": 0, "end": 4, "label": "COMPANY"}]}\n', "E109", 1),
    "tags.jsonl": ('{"tokens": ["a", "b"], "tags": ["O"]}\n', "E110", 1),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_clear_error_and_nothing_changes(tmp_path, name):
    content, code, line = BAD_INPUTS[name]
    bad = tmp_path / name
    (bad.write_bytes if isinstance(content, bytes) else lambda c: bad.write_text(c, encoding="utf-8"))(content)
    a = tmp_path / "a.nerdesk"
    invoke("init", a, "--labels", "PER,LOC")
    invoke("import", a, tmp_path.parent / "does-not-exist.txt", ok=False)
    r = invoke("import", a, bad, "--annotations", ok=False)
    assert r.exit_code == 1
    assert f"[{code}]" in r.output and name in r.output, r.output
    if line:
        assert f"line {line}" in r.output
    assert "Traceback" not in r.output
    stats = json.loads(invoke("stats", a, "--json").output)
    assert stats["documents"] == 0 and stats["labels"] == ["PER", "LOC"]


def test_missing_file_error(tmp_path):
    a = tmp_path / "a.nerdesk"
    invoke("init", a)
    r = invoke("import", a, tmp_path / "nope.jsonl", ok=False)
    assert r.exit_code == 1 and "[E100]" in r.output and "nope.jsonl" in r.output


def test_huge_single_document_is_refused_cleanly(tmp_path):
    big = tmp_path / "big.txt"
    line = "The quick brown fox jumps over the lazy dog near Paris. " * 18 + "\n"
    with open(big, "w", encoding="utf-8") as f:
        f.write(line * (50_000_000 // len(line)))
    a = tmp_path / "a.nerdesk"
    invoke("init", a)
    r = invoke("import", a, big, ok=False)
    assert "[E113]" in r.output and "big.txt" in r.output and "--lines" in r.output
    assert json.loads(invoke("stats", a, "--json").output)["documents"] == 0


def test_import_pre_annotates_with_the_active_model(tmp_path):
    """Every import is pre-annotated by the active model (here en-accurate, made active by a
    predict), not the default; --no-predict leaves the new segments for later."""
    p = tmp_path / "auto.nerdesk"
    a, b, c = (tmp_path / f"{n}.txt" for n in "abc")
    a.write_text("Ada Lovelace lived in London .\n", encoding="utf-8")
    b.write_text("Grace Hopper worked for the US Navy .\n", encoding="utf-8")
    c.write_text("Alan Turing was born in Maida Vale .\n", encoding="utf-8")
    invoke("init", p, "--labels", "PER,ORG,LOC")
    out = invoke("import", p, a, "--no-predict").output
    assert "Pre-annotated" not in out
    with Project.open(p) as proj:
        assert proj.active_model_id() is None
    invoke("predict", p, "--model", "en-accurate")
    res = json.loads(invoke("import", p, b, "--json").output)[-1]
    assert res["preannotated"]["segments"] == 1 and res["preannotated"]["model"].startswith("en-accurate")
    with Project.open(p) as proj:
        active = proj.active_model_id()
        assert proj.store.count_segments_without_prediction(active) == 0
    invoke("import", p, c, "--no-predict")
    with Project.open(p) as proj:
        assert proj.store.count_segments_without_prediction(active) == 1
