"""Round trips that keep every character (issue 13, deliverable 5): one regression test per finding.

brat: a span holding a TAB (the .ann line is TAB-separated) or a line break re-imports identically.
CoNLL: tokens keep grapheme clusters whole (flags, ZWJ sequences, skin tones, combining marks); a
span edge inside one is refused (E129); only the whitespace between tokens is normalised.
Label Studio: offsets are UTF-16 code units on both sides (its browser frontend counts them);
an offset inside a surrogate pair is E128 naming the task and line.

The helpers here (a project round trip, its content) are shared with test_roundtrip_props.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nerdesk.core.errors import NerdeskError
from nerdesk.core.formats import read_records, write_records
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Span, drain

LABELS = ["PER", "ORG", "LOC"]
_OUT = {"brat": "out_brat", "spacy": "out.spacy", "labelstudio": "out.json", "conll": "out.conll"}


# --------------------------------------------------------------------------- helpers
def out_path(folder: Path, fmt: str) -> Path:
    return folder / _OUT.get(fmt, "out.jsonl")


def content(project: Project) -> list[tuple[str, list[tuple[int, int, str, str]]]]:
    """Every document's text and its spans as (start, end, label, surface text), sorted."""
    out = []
    for rec in project.export_records():
        out.append((rec.text, sorted((s.start, s.end, s.label, rec.text[s.start : s.end]) for s in rec.spans or [])))
    return sorted(out)


def new_project(folder: Path, name: str, records=()) -> Project:
    p = Project.create(folder / f"{name}.nerdesk", labels=LABELS)
    if records:
        drain(p.import_records(list(records), annotations=True))
    return p


def round_trip(folder: Path, fmt: str, project: Project, name: str = "b") -> list:
    """Export ``project`` to ``fmt``, import the file into a fresh project, return its content.
    Export errors (NerdeskError) propagate."""
    out = out_path(folder, fmt)
    write_records(project.export_records(), out, fmt)
    with new_project(folder, name) as back:
        drain(back.import_file(out, fmt, annotations=True))
        return content(back)


def rec(text: str, *parts: tuple[str, str]) -> DocRecord:
    """A record with a span on the first occurrence of each ``(surface, label)``."""
    spans = []
    for surface, label in parts:
        i = text.index(surface)
        spans.append(Span(i, i + len(surface), label))
    return DocRecord(text=text, spans=spans)


def exact(tmp_path: Path, fmt: str, records: list[DocRecord]) -> tuple[list, list]:
    with new_project(tmp_path, "a", records) as a:
        return content(a), round_trip(tmp_path, fmt, a)


# --------------------------------------------------------------------------- brat
def test_brat_span_with_a_tab_reimports_identically(tmp_path):
    before, after = exact(tmp_path, "brat", [rec("Hi Ann\tSmith went home", ("Ann\tSmith", "PER"))])
    assert before == after == [("Hi Ann\tSmith went home", [(3, 12, "PER", "Ann\tSmith")])]
    (line,) = (tmp_path / "out_brat" / "doc000001.ann").read_text(encoding="utf-8").splitlines()
    assert line.split("\t") == ["T1", "PER 3 12", "Ann Smith"]  # three columns for any TAB-splitting reader


def test_brat_reads_a_tab_in_the_covered_text(tmp_path):
    """What brat itself (and nerdesk before this fix) writes: the covered text with its TAB."""
    (tmp_path / "a.txt").write_text("Hi Ann\tSmith went", encoding="utf-8")
    (tmp_path / "a.ann").write_text("T1\tPER 3 12\tAnn\tSmith\n", encoding="utf-8")
    (r,) = read_records(tmp_path / "a.ann", "brat")
    assert r.spans == [Span(3, 12, "PER")]


@pytest.mark.parametrize(
    "text,surface",
    [
        ("Hi Ann\nSmith went", "Ann\nSmith"),
        ("Hi Ann\r\nSmith went", "Ann\r\nSmith"),
        ("Hi Ann \r\n\tSmith went", "Ann \r\n\tSmith"),
    ],
)
def test_brat_span_across_a_line_break_reimports_identically(tmp_path, text, surface):
    before, after = exact(tmp_path, "brat", [rec(text, (surface, "PER"))])
    assert before == after and after[0][1][0][3] == surface


def test_brat_reads_fragments_of_a_span_across_lines(tmp_path):
    """brat writes ``START END;START END`` for a span crossing a line break; read as one span (hull)."""
    (tmp_path / "a.txt").write_bytes(b"Hi Ann\r\nSmith went")
    (tmp_path / "a.ann").write_text("T1\tPER 3 6;8 13\tAnn Smith\n", encoding="utf-8")
    (r,) = read_records(tmp_path / "a.ann", "brat")
    assert r.spans == [Span(3, 13, "PER")]


# --------------------------------------------------------------------------- CoNLL
CLUSTERS = [
    rec("I love 🇫🇷 and Paris", ("🇫🇷", "LOC"), ("Paris", "LOC")),
    rec("we 👩‍👩‍👧 met Bob", ("👩‍👩‍👧", "ORG"), ("Bob", "PER")),
    rec("hi 👋🏽 Bob", ("Bob", "PER")),
    rec("Rene\u0301e and Zoe\u0308 cafe\u0301", ("Rene\u0301e", "PER"), ("cafe\u0301", "LOC")),
    rec(
        "flags 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f 1\ufe0f\u20e3 ok",
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "LOC"),
    ),
]


def test_brat_refuses_a_label_with_whitespace(tmp_path):
    """A brat .ann line is `T1<TAB>LABEL START END`: a label 'Body Part' would read back as the
    label 'Body' (or '_'-joined before): refused, naming the label, instead of changed."""
    rec = DocRecord("Her left knee hurts.", source="k.txt", spans=[Span(4, 13, "Body Part")])
    with pytest.raises(NerdeskError) as e:
        write_records([rec], tmp_path / "out", "brat")
    assert e.value.code == "E115" and "'Body Part'" in e.value.message and "k.txt" in e.value.message


def test_conll_keeps_grapheme_clusters_whole(tmp_path):
    before, after = exact(tmp_path, "conll", CLUSTERS)
    assert after == before  # single spaces between the tokens: nothing to normalise
    words = [ln.split("\t")[0] for ln in (tmp_path / "out.conll").read_text(encoding="utf-8").splitlines()]
    for w in (
        "🇫🇷",
        "👩‍👩‍👧",
        "👋🏽",
        "Rene\u0301e",
        "cafe\u0301",
        "1\ufe0f\u20e3",
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    ):
        assert w in words
    assert "🇫" not in words and "\U0001f3fd" not in words and "\u200d" not in words


def test_conll_pairs_regional_indicators(tmp_path):
    """Two flags in a row are two clusters, so two tokens, and CoNLL puts a space between tokens."""
    _, after = exact(tmp_path, "conll", [rec("flags 🇩🇪🇫🇷🇮 ok", ("🇩🇪🇫🇷", "LOC"))])
    words = [ln.split("\t")[0] for ln in (tmp_path / "out.conll").read_text(encoding="utf-8").splitlines()]
    assert words[2:7] == ["flags", "🇩🇪", "🇫🇷", "🇮", "ok"]
    assert after == [("flags 🇩🇪 🇫🇷 🇮 ok", [(6, 11, "LOC", "🇩🇪 🇫🇷")])]


def test_conll_refuses_a_span_edge_inside_a_cluster(tmp_path):
    text = "I love 🇫🇷 and Paris"
    i = text.index("🇫🇷")
    records = [DocRecord(text=text, spans=[Span(i, i + 1, "LOC")])]
    with new_project(tmp_path, "a", records) as a, pytest.raises(NerdeskError) as e:
        write_records(a.export_records(), tmp_path / "o.conll", "conll")
    msg = str(e.value)
    assert e.value.code == "E129" and f"{i}-{i + 1}" in msg and "'LOC'" in msg and "🇫🇷" in msg
    assert "document 1" in msg


def test_conll_normalises_only_the_whitespace_between_tokens(tmp_path):
    """CoNLL holds tokens and tags, not whitespace: each run of it becomes one space (a sentence
    end a line break); the tokens, labels and span texts are kept."""
    before, after = exact(tmp_path, "conll", [rec("  Hi Ann\tSmith\r\nwent  home ", ("Ann\tSmith", "PER"))])
    assert before[0][0] == "  Hi Ann\tSmith\r\nwent  home "
    assert after == [("Hi Ann Smith went home", [(3, 12, "PER", "Ann Smith")])]


def test_conll_refuses_a_docstart_token(tmp_path):
    with new_project(tmp_path, "a", [rec("see -DOCSTART- now", ("now", "LOC"))]) as a, pytest.raises(NerdeskError) as e:
        write_records(a.export_records(), tmp_path / "o.conll", "conll")
    assert e.value.code == "E115" and "-DOCSTART-" in str(e.value)


# --------------------------------------------------------------------------- Label Studio
def u16(text: str, i: int) -> int:
    return len(text[:i].encode("utf-16-le")) // 2


LS_TEXT = "😀 Bob and 𠮷野 met Ann 🇫🇷 in Paris"


def _ls_task(text, start, end, with_text=True):
    value = {"start": start, "end": end, "labels": ["PER"]}
    if with_text:
        value["text"] = text[start:end]
    return {"data": {"text": text}, "annotations": [{"result": [{"type": "labels", "value": value}]}]}


def test_labelstudio_export_writes_utf16_offsets(tmp_path):
    r = rec(LS_TEXT, ("Bob", "PER"), ("Ann", "PER"), ("Paris", "LOC"))
    r.predictions = [Span(r.spans[1].start, r.spans[1].end, "PER", 0.9)]
    write_records([r], tmp_path / "o.json", "labelstudio")
    (task,) = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    values = [x["value"] for x in task["annotations"][0]["result"] + task["predictions"][0]["result"]]
    for v, s in zip(values, r.spans + r.predictions):
        assert (v["start"], v["end"], v["text"]) == (
            u16(LS_TEXT, s.start),
            u16(LS_TEXT, s.end),
            LS_TEXT[s.start : s.end],
        )
    # what a browser sees: JavaScript's text.substring(start, end) counts UTF-16 code units
    units = LS_TEXT.encode("utf-16-le")
    assert [units[2 * v["start"] : 2 * v["end"]].decode("utf-16-le") for v in values] == ["Bob", "Ann", "Paris", "Ann"]


def test_labelstudio_import_reads_utf16_offsets(tmp_path):
    i = LS_TEXT.index("Ann")
    tasks = [_ls_task(LS_TEXT, u16(LS_TEXT, i), u16(LS_TEXT, i + 3), with_text=False)]
    (tmp_path / "ls.json").write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    (r,) = read_records(tmp_path / "ls.json", "labelstudio")
    assert r.spans == [Span(i, i + 3, "PER")]


def test_labelstudio_offset_inside_a_surrogate_pair_is_e128(tmp_path):
    tasks = [{"data": {"text": "ok"}}, _ls_task("😀 Bob", 1, 6, with_text=False)]
    raw = "[\n" + ",\n".join(json.dumps(t, ensure_ascii=False) for t in tasks) + "\n]\n"
    (tmp_path / "ls.json").write_text(raw, encoding="utf-8")
    with pytest.raises(NerdeskError) as e:
        list(read_records(tmp_path / "ls.json", "labelstudio"))
    assert (e.value.code, e.value.line) == ("E128", 3)
    assert "task 2" in str(e.value) and "😀" in str(e.value)


def test_labelstudio_code_point_offsets_with_their_text_still_read(tmp_path):
    """Files from tools that count code points (and nerdesk before this fix) give the span's text,
    which tells them apart."""
    i = LS_TEXT.index("Ann")
    (tmp_path / "ls.json").write_text(json.dumps([_ls_task(LS_TEXT, i, i + 3)]), encoding="utf-8")
    (r,) = read_records(tmp_path / "ls.json", "labelstudio")
    assert r.spans == [Span(i, i + 3, "PER")]


def test_labelstudio_round_trip_after_astral_characters(tmp_path):
    before, after = exact(tmp_path, "labelstudio", [rec(LS_TEXT, ("Bob", "PER"), ("𠮷野", "ORG"), ("Paris", "LOC"))])
    assert before == after
