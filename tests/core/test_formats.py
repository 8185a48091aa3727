"""Corpus formats: round trips on real data, tag schemes, per-format specifics, detection."""

from __future__ import annotations

import inspect
import itertools
import json
from pathlib import Path

import pytest

from nerdesk.core.formats import FORMATS, detect_format, read_records, write_records
from nerdesk.core.formats import brat, conll, doccano, jsonl, labelstudio, prodigy, spacybin, textfile
from nerdesk.core.errors import NerdeskError
from nerdesk.core.types import DocRecord, Span
from tests.conftest import SHARED

DATA = SHARED
BTC = DATA / "train/btc/test.jsonl"
GUM = DATA / "train/gum_ne/test.jsonl"

EXT = {
    "text": ".txt",
    "jsonl": ".jsonl",
    "csv": ".csv",
    "tsv": ".tsv",
    "conll": ".conll",
    "prodigy": ".jsonl",
    "labelstudio": ".json",
    "spacy": ".spacy",
    "brat": "",
    "doccano": ".jsonl",
}
KEEP_SPANS = {"jsonl", "conll", "prodigy", "labelstudio", "spacy", "brat", "doccano"}
KEEP_TOKENS = {"jsonl", "conll", "prodigy", "spacy"}
KEEP_SENTENCES = {"jsonl", "conll", "spacy"}
KEEP_META = {"jsonl", "prodigy", "labelstudio", "spacy", "doccano"}


def out_path(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / ("out_brat" if fmt == "brat" else f"out_{fmt}{EXT[fmt]}")


def read_opts(fmt: str) -> dict:
    return {"lines": True} if fmt == "text" else {}


@pytest.fixture(scope="module")
def real_records() -> list[DocRecord]:
    """The first 300 sentences of BTC test (tweets: emoji, URLs, odd Unicode) and of GUM test."""
    assert BTC.exists() and GUM.exists(), f"shared NER data not found under {DATA}"
    recs = list(itertools.islice(jsonl.read(BTC), 300)) + list(itertools.islice(jsonl.read(GUM), 300))
    assert sum(len(r.spans) for r in recs) > 500
    assert any(ord(c) > 0xFFFF for r in recs for c in r.text), "expected emoji in BTC"
    return recs


# ---------------------------------------------------------------- round trips on real data


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_round_trip_real_data(fmt, real_records, tmp_path):
    recs = [
        DocRecord(
            text=r.text,
            spans=r.spans,
            tokens=r.tokens,
            sentences=r.sentences,
            meta={"corpus": "btc" if i < 300 else "gum", "i": i},
        )
        for i, r in enumerate(real_records)
    ]
    path = out_path(tmp_path, fmt)
    write_records(recs, path, fmt)
    back = list(read_records(path, fmt, **read_opts(fmt)))
    assert len(back) == len(recs)
    assert [b.text for b in back] == [r.text for r in recs]
    if fmt in KEEP_SPANS:
        assert [sorted(b.spans) for b in back] == [sorted(r.spans) for r in recs]
    if fmt in KEEP_TOKENS:
        assert [b.tokens for b in back] == [r.tokens for r in recs]
    if fmt in KEEP_SENTENCES:
        assert [b.sentences for b in back] == [r.sentences for r in recs]
    if fmt in KEEP_META:
        assert [b.meta for b in back] == [r.meta for r in recs]
    if fmt in ("csv", "tsv"):  # meta comes back as strings
        assert back[3].meta == {"corpus": "btc", "i": "3"}
    # and a second trip changes nothing
    path2 = tmp_path / ("again_" + path.name)
    write_records(back, path2, fmt)
    again = list(read_records(path2, fmt, **read_opts(fmt)))
    assert [(a.text, a.spans, a.tokens, a.sentences, a.meta) for a in again] == [
        (b.text, b.spans, b.tokens, b.sentences, b.meta) for b in back
    ]


def test_real_jsonl_reads_exact_tokens_and_spans():
    first = next(jsonl.read(BTC))
    words = json.loads(BTC.open(encoding="utf-8").readline())["tokens"]
    assert first.text == " ".join(words)
    assert [first.text[s:e] for s, e in first.tokens] == words
    assert first.sentences == [(0, len(first.text))]
    assert first.spans == [Span(0, 1, "PER"), Span(2, 7, "PER")]  # "@" B-PER, "colgo" B-PER
    assert first.line == 1 and first.source == str(BTC)


UNICODE_TEXTS = [
    "Emoji 👩‍👩‍👧 met Zoë at Café 🇫🇷 Paris",
    "Combining: Zoe\u0301 and Ame\u0301lie live in Montre\u0301al.",
    "CJK: 東京都に住む山田太郎さん",
    "RTL: مرحبا بكم في القاهرة and עברית in Tel Aviv",
    "CRLF line one\r\nLine two with Berlin\r\n\r\nThird\tline",
]


def unicode_records() -> list[DocRecord]:
    out = []
    for text in UNICODE_TEXTS:
        spans = []
        for word, label in (
            ("Zoë", "PER"),
            ("Paris", "LOC"),
            ("Zoe\u0301", "PER"),
            ("Montre\u0301al", "LOC"),
            ("東京都", "LOC"),
            ("القاهرة", "LOC"),
            ("Tel Aviv", "LOC"),
            ("Berlin", "LOC"),
        ):
            i = text.find(word)
            if i >= 0:
                spans.append(Span(i, i + len(word), label))
        assert spans
        out.append(DocRecord(text=text, spans=sorted(spans), meta={"k": "ü"}))
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "prodigy", "labelstudio", "spacy", "brat", "doccano"])
def test_unicode_and_crlf_offsets_exact(fmt, tmp_path):
    recs = unicode_records()
    path = out_path(tmp_path, fmt)
    write_records(recs, path, fmt)
    back = list(read_records(path, fmt))
    assert [b.text for b in back] == UNICODE_TEXTS
    assert [b.spans for b in back] == [r.spans for r in recs]
    for b in back:
        for s in b.spans:
            assert b.text[s.start : s.end] in (
                "Zoë",
                "Paris",
                "Zoe\u0301",
                "Montre\u0301al",
                "東京都",
                "القاهرة",
                "Tel Aviv",
                "Berlin",
            )


def test_crlf_text_file_kept_exactly(tmp_path):
    p = tmp_path / "crlf.txt"
    p.write_bytes("\ufeffAlpha Berlin\r\n\r\nGamma 👍 Delta\r\n".encode("utf-8"))
    (doc,) = textfile.read(p)
    assert doc.text == "Alpha Berlin\r\n\r\nGamma 👍 Delta\r\n"  # BOM dropped, CRLF kept
    lines = list(textfile.read(p, lines=True))
    assert [(d.text, d.line) for d in lines] == [("Alpha Berlin", 1), ("Gamma 👍 Delta", 3)]


# ---------------------------------------------------------------- tag schemes


def test_iob1_bioes_bilou_normalised(tmp_path):
    toks = ["John", "Smith", "Mary", "Jones", "went", "to", "New", "York", "and", "Rome", "."]
    iob2 = ["B-PER", "I-PER", "B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O", "B-LOC", "O"]
    iob1 = ["I-PER", "I-PER", "B-PER", "I-PER", "O", "O", "I-LOC", "I-LOC", "O", "I-LOC", "O"]
    bioes = ["B-PER", "E-PER", "B-PER", "E-PER", "O", "O", "B-LOC", "E-LOC", "O", "S-LOC", "O"]
    bilou = ["B-PER", "L-PER", "B-PER", "L-PER", "O", "O", "B-LOC", "L-LOC", "O", "U-LOC", "O"]
    p = tmp_path / "schemes.jsonl"
    p.write_text(
        "".join(json.dumps({"tokens": toks, "tags": t}) + "\n" for t in (iob2, iob1, bioes, bilou)), encoding="utf-8"
    )
    recs = list(jsonl.read(p))
    text = recs[0].text
    expected = [("John Smith", "PER"), ("Mary Jones", "PER"), ("New York", "LOC"), ("Rome", "LOC")]
    for r in recs:
        assert [(text[s.start : s.end], s.label) for s in r.spans] == expected
    # the same through CoNLL columns (space separated, IOB1)
    c = tmp_path / "iob1.conll"
    c.write_text("".join(f"{w} NNP {t}\n" for w, t in zip(toks, iob1)) + "\n", encoding="utf-8")
    (doc,) = conll.read(c)
    assert [(doc.text[s.start : s.end], s.label) for s in doc.spans] == expected
    # written back as IOB2
    conll.write([doc], tmp_path / "out.conll", docstart=False)
    assert [ln.split("\t")[1] for ln in (tmp_path / "out.conll").read_text().splitlines() if ln] == iob2


def test_adjacent_same_label_entities_stay_apart():
    from nerdesk.core.formats._tokens import tags_to_spans

    offs = [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert tags_to_spans(["B-X", "B-X", "I-X", "O"], offs) == [Span(0, 1, "X"), Span(2, 5, "X")]
    assert tags_to_spans(["I-X", "I-Y", "O", "I-Y"], offs) == [Span(0, 1, "X"), Span(2, 3, "Y"), Span(6, 7, "Y")]
    assert tags_to_spans(["S-X", "S-X", "E-X", "O"], offs) == [Span(0, 1, "X"), Span(2, 3, "X"), Span(4, 5, "X")]


# ---------------------------------------------------------------- CoNLL specifics


def test_conll_docstart_groups_sentences(tmp_path):
    p = tmp_path / "docs.conll"
    p.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-ORG\nrejects VBZ O\n\nPeter NNP B-PER\n\n"
        "-DOCSTART- -X- -X- O\n\nBonn NNP B-LOC\n.\t.\tO\n",
        encoding="utf-8",
    )
    d1, d2 = conll.read(p)
    assert d1.text == "EU rejects\nPeter"
    assert d1.sentences == [(0, 10), (11, 16)]
    assert d1.tokens == [(0, 2), (3, 10), (11, 16)]
    assert d1.spans == [Span(0, 2, "ORG"), Span(11, 16, "PER")]
    assert d1.line == 1 and d2.line == 8
    assert d2.text == "Bonn ." and d2.spans == [Span(0, 4, "LOC")]


def test_conll_without_docstart_one_document_per_sentence(tmp_path):
    p = tmp_path / "s.conll"
    p.write_text("A\tO\nB\tB-X\n\n\nC\tS-Y\n", encoding="utf-8")
    recs = list(conll.read(p))
    assert [(r.text, r.line, r.spans) for r in recs] == [("A B", 1, [Span(2, 3, "X")]), ("C", 5, [Span(0, 1, "Y")])]


def test_conll_tab_columns_keep_spaces_in_tokens_and_single_column_is_unannotated(tmp_path):
    p = tmp_path / "t.conll"
    p.write_text("ke s\tB-PER\nok\tO\n", encoding="utf-8")
    (r,) = conll.read(p)
    assert r.tokens == [(0, 4), (5, 7)] and r.spans == [Span(0, 4, "PER")]
    q = tmp_path / "plain.conll"
    q.write_text("just\ntokens\n", encoding="utf-8")
    (u,) = conll.read(q)
    assert u.text == "just tokens" and u.spans is None


def test_conll_write_tokenises_and_splits_tokens_at_span_edges(tmp_path):
    rec = DocRecord(
        text="Visit NewYork's mayor, now!", spans=[Span(6, 9, "ORG"), Span(9, 13, "LOC")], meta={}, sentences=None
    )
    p = tmp_path / "w.conll"
    conll.write([rec], p)
    lines = p.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "-DOCSTART-\tO"
    assert "New\tB-ORG" in lines and "York\tB-LOC" in lines and "'s\tO" in lines
    (back,) = conll.read(p)
    assert [back.text[s.start : s.end] for s in back.spans] == ["New", "York"]


def test_conll_overlapping_spans_cannot_be_exported(tmp_path):
    from nerdesk.core.errors import NerdeskError

    rec = DocRecord(text="New York City", spans=[Span(0, 8, "LOC"), Span(4, 13, "LOC")])
    with pytest.raises(NerdeskError) as e:
        conll.write([rec], tmp_path / "x.conll")
    assert e.value.code == "E115" and "overlap" in e.value.message


# ---------------------------------------------------------------- JSONL specifics


def test_jsonl_text_shape_and_ws_convention(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text(
        json.dumps({"text": "Hi Ann", "spans": [{"start": 3, "end": 6, "label": "PER"}], "meta": {"a": 1}, "id": 7})
        + "\n\n"
        + json.dumps({"text": "no annotation"})
        + "\n"
        + json.dumps({"tokens": ["Hello", ",", "Bob"], "ws": ["", " ", "\n"], "tags": ["O", "O", "U-PER"]})
        + "\n"
        + json.dumps({"tokens": ["Bob", "Lee"], "spaces": [True, False], "spans": [[0, 7, "PER"]]})
        + "\n",
        encoding="utf-8",
    )
    a, b, c, d = jsonl.read(p)
    assert (a.text, a.spans, a.meta, a.line, a.tokens) == ("Hi Ann", [Span(3, 6, "PER")], {"a": 1, "id": 7}, 1, None)
    assert b.spans is None and b.line == 3
    assert c.text == "Hello, Bob\n" and c.tokens == [(0, 5), (5, 6), (7, 10)] and c.spans == [Span(7, 10, "PER")]
    assert d.text == "Bob Lee" and d.spans == [Span(0, 7, "PER")]
    out = tmp_path / "out.jsonl"
    jsonl.write([a, b, c, d], out)
    objs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert objs[0] == {"text": "Hi Ann", "spans": [{"start": 3, "end": 6, "label": "PER"}], "meta": {"a": 1, "id": 7}}
    assert objs[1] == {"text": "no annotation"}
    assert objs[2] == {"tokens": ["Hello", ",", "Bob"], "tags": ["O", "O", "B-PER"], "ws": ["", " ", "\n"]}
    assert objs[3] == {"tokens": ["Bob", "Lee"], "tags": ["B-PER", "I-PER"]}
    assert [(r.text, r.spans, r.tokens, r.meta) for r in jsonl.read(out)] == [
        (r.text, r.spans, r.tokens, r.meta) for r in (a, b, c, d)
    ]


def test_jsonl_writes_tags_for_spans_inside_tokens(tmp_path):
    rec = DocRecord(text="ParisHilton", spans=[Span(0, 5, "LOC")], tokens=[(0, 11)], sentences=[(0, 11)])
    jsonl.write([rec], tmp_path / "o.jsonl")
    obj = json.loads((tmp_path / "o.jsonl").read_text())
    assert obj == {"tokens": ["Paris", "Hilton"], "tags": ["B-LOC", "O"], "ws": ["", ""]}
    (back,) = jsonl.read(tmp_path / "o.jsonl")
    assert back.text == "ParisHilton" and back.spans == [Span(0, 5, "LOC")]


def test_read_is_a_lazy_generator(tmp_path):
    p = tmp_path / "lazy.jsonl"
    p.write_text('{"text": "a"}\n{"text": "b"}\n{broken\n', encoding="utf-8")
    it = read_records(p, "jsonl")
    assert inspect.isgenerator(it)
    assert next(it).text == "a" and next(it).text == "b"
    from nerdesk.core.errors import NerdeskError

    with pytest.raises(NerdeskError) as e:
        next(it)
    assert (e.value.code, e.value.line) == ("E106", 3)


def test_large_single_document(tmp_path):
    text = "Ünïcode 👍 line with Berlin in it.\n" * 60000  # ~2 MB, one document
    p = tmp_path / "big.txt"
    p.write_text(text, encoding="utf-8", newline="")
    (doc,) = textfile.read(p)
    assert doc.text == text
    c = tmp_path / "big.csv"
    FORMATS["csv"].write([DocRecord(text=text)], c)  # one cell far above csv's default 128 KiB limit
    (back,) = FORMATS["csv"].read(c)
    assert back.text == text


# ---------------------------------------------------------------- Prodigy


def test_prodigy_token_end_inclusive(tmp_path):
    task = {
        "text": "Apple buys New York Times",
        "answer": "accept",
        "_annotator_id": "ner-alice",
        "_input_hash": 1,
        "_task_hash": 2,
        "meta": {"src": "x"},
        "extra": True,
        "tokens": [
            {"text": w, "start": s, "end": s + len(w), "id": i, "ws": True}
            for i, (w, s) in enumerate([("Apple", 0), ("buys", 6), ("New", 11), ("York", 15), ("Times", 20)])
        ],
        "spans": [
            {"start": 0, "end": 5, "token_start": 0, "token_end": 0, "label": "ORG"},
            {"start": 11, "end": 25, "token_start": 2, "token_end": 4, "label": "ORG"},
        ],
    }
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps(task) + "\n", encoding="utf-8")
    (r,) = prodigy.read(p)
    assert r.spans == [Span(0, 5, "ORG"), Span(11, 25, "ORG")]
    assert (r.status, r.annotator) == ("accepted", "ner-alice")
    assert r.meta == {"src": "x", "_prodigy": {"_input_hash": 1, "_task_hash": 2}, "extra": True}
    out = tmp_path / "o.jsonl"
    prodigy.write([r], out)
    written = json.loads(out.read_text(encoding="utf-8"))
    assert [(s["token_start"], s["token_end"]) for s in written["spans"]] == [(0, 0), (2, 4)]
    assert written["answer"] == "accept" and written["_input_hash"] == 1 and written["_annotator_id"] == "ner-alice"
    assert written["tokens"][4] == {"text": "Times", "start": 20, "end": 25, "id": 4, "ws": False}
    # an exclusive token_end (off by one) is caught
    task["spans"][1]["token_end"] = 5
    p.write_text(json.dumps(task) + "\n", encoding="utf-8")
    from nerdesk.core.errors import NerdeskError

    with pytest.raises(NerdeskError) as e:
        list(prodigy.read(p))
    assert (e.value.code, e.value.line) == ("E108", 1)


def test_prodigy_reject_ignore_and_tokenising_on_write(tmp_path):
    recs = [
        DocRecord(text="Ann met Bob.", spans=[Span(8, 11, "PER")], status="rejected"),
        DocRecord(text="Nothing", status="ignored"),
    ]
    p = tmp_path / "p.jsonl"
    prodigy.write(recs, p)
    objs = [json.loads(x) for x in p.read_text().splitlines()]
    assert [o.get("answer") for o in objs] == ["reject", "ignore"]
    assert [t["text"] for t in objs[0]["tokens"]] == ["Ann", "met", "Bob", "."]
    assert objs[0]["spans"] == [{"start": 8, "end": 11, "token_start": 2, "token_end": 2, "label": "PER"}]
    a, b = prodigy.read(p)
    assert (a.status, a.spans, b.status, b.spans) == ("rejected", [Span(8, 11, "PER")], "ignored", None)


# ---------------------------------------------------------------- Label Studio


def test_labelstudio_annotations_predictions_scores(tmp_path):
    text = "Angela Merkel 🇩🇪 visited Paris"
    tasks = [
        {
            "id": 11,
            "data": {"text": text, "source": "news"},
            "annotations": [
                {"was_cancelled": True, "result": [], "completed_by": 9},
                {
                    "completed_by": {"id": 3, "email": "ann@example.org"},
                    "result": [
                        {
                            "from_name": "label",
                            "to_name": "text",
                            "type": "labels",
                            "value": {"start": 0, "end": 13, "text": "Angela Merkel", "labels": ["PER"]},
                        },
                        {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}},
                        # UTF-16 offsets as a browser counts them: the flag is 4 code units, 2 code points
                        {
                            "from_name": "label",
                            "to_name": "text",
                            "type": "labels",
                            "value": {"start": 27, "end": 32, "text": "Paris", "labels": ["LOC"]},
                        },
                    ],
                },
            ],
            "predictions": [
                {
                    "score": 0.5,
                    "result": [
                        {"type": "labels", "score": 0.93, "value": {"start": 0, "end": 13, "labels": ["PER"]}},
                        {"type": "labels", "value": {"start": 27, "end": 32, "labels": ["ORG"]}},
                    ],
                }
            ],
        },
        {"data": {"text": "skipped"}, "annotations": [{"was_cancelled": True, "result": []}]},
        {"data": {"text": "untouched"}},
    ]
    p = tmp_path / "ls.json"
    p.write_text(json.dumps(tasks), encoding="utf-8")
    a, b, c = labelstudio.read(p)
    assert a.text == text and a.meta == {"source": "news"} and a.annotator == "ann@example.org"
    assert a.spans == [Span(0, 13, "PER"), Span(25, 30, "LOC")]
    assert a.predictions == [Span(0, 13, "PER", 0.93), Span(25, 30, "ORG", 0.5)]
    assert (b.spans, b.status) == (None, "ignored") and (c.spans, c.status) == (None, None)
    out = tmp_path / "o.json"
    labelstudio.write([a, b, c], out)
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written[0]["data"] == {"text": text, "source": "news"}
    res = written[0]["annotations"][0]["result"]
    assert [(r["type"], r["from_name"], r["to_name"], r["value"]["labels"], r["value"]["text"]) for r in res] == [
        ("labels", "label", "text", ["PER"], "Angela Merkel"),
        ("labels", "label", "text", ["LOC"], "Paris"),
    ]
    assert written[0]["annotations"][0]["completed_by"] == "ann@example.org"
    assert [r["score"] for r in written[0]["predictions"][0]["result"]] == [0.93, 0.5]
    back = list(labelstudio.read(out))
    assert [(r.text, r.spans, r.predictions, r.meta, r.status) for r in back] == [
        (r.text, r.spans, r.predictions, r.meta, r.status) for r in (a, b, c)
    ]


# ---------------------------------------------------------------- spaCy


def test_spacy_sentences_and_foreign_docbin(tmp_path):
    import spacy
    from spacy.tokens import Doc, DocBin

    rec = DocRecord(
        text="Ann lives in Rome.\n  Bob  too.",
        spans=[Span(0, 3, "PER"), Span(13, 17, "LOC")],
        tokens=[(0, 3), (4, 9), (10, 12), (13, 17), (17, 18), (21, 24), (26, 29), (29, 30)],
        sentences=[(0, 18), (21, 30)],
        predictions=[Span(21, 24, "PER", 0.7)],
        annotator="me",
        status="accepted",
        meta={"n": [1, 2]},
    )
    p = tmp_path / "d.spacy"
    spacybin.write([rec, DocRecord(text="unannotated text")], p)
    a, b = spacybin.read(p)
    assert (a.text, a.spans, a.tokens, a.sentences, a.predictions, a.annotator, a.status, a.meta) == (
        rec.text,
        rec.spans,
        rec.tokens,
        rec.sentences,
        rec.predictions,
        "me",
        "accepted",
        {"n": [1, 2]},
    )
    assert b.spans is None and b.tokens == [(0, 11), (12, 16)]
    # a DocBin from another tool: no nerdesk user data
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["Rome", "is", "big"], spaces=[True, True, False])
    doc.ents = [doc.char_span(0, 4, label="GPE")]
    DocBin(docs=[doc]).to_disk(tmp_path / "foreign.spacy")
    (f,) = spacybin.read(tmp_path / "foreign.spacy")
    assert (f.text, f.spans, f.sentences) == ("Rome is big", [Span(0, 4, "GPE")], None)


# ---------------------------------------------------------------- brat


def test_brat_directory_crlf_and_discontinuous(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a.txt").write_bytes("Ann\r\nlives in New\r\nYork.".encode("utf-8"))
    # offsets count \r\n as two characters; multi-line covered text is given with a space
    (d / "a.ann").write_text(
        "T1\tPER 0 3\tAnn\nT2\tLOC 14 23\tNew York\n#1\tAnnotatorNotes T1\tnote\n"
        "R1\tLives Arg1:T1 Arg2:T2\nT3\tPER 0 3;14 17\tAnn New\n",
        encoding="utf-8",
    )
    (d / "b.txt").write_text("Zoë 👋 Berlin", encoding="utf-8")
    (d / "b.ann").write_text("T1\tLOC 6 12\tBerlin\n", encoding="utf-8")
    (d / "c.txt").write_text("not annotated", encoding="utf-8")
    a, b, c = brat.read(d)
    assert a.text == "Ann\r\nlives in New\r\nYork."
    assert a.spans == [Span(0, 3, "PER"), Span(14, 23, "LOC"), Span(0, 17, "PER")]  # hull of 0-3;14-17
    assert a.text[14:23] == "New\r\nYork"
    assert b.spans == [Span(6, 12, "LOC")] and c.spans is None
    assert a.source == str(d / "a.txt")
    split = next(brat.read(d / "a.ann", discontinuous="split"))
    assert split.spans[2:] == [Span(0, 3, "PER"), Span(14, 17, "PER")]
    from nerdesk.core.errors import NerdeskError

    with pytest.raises(NerdeskError) as e:
        list(brat.read(d / "a.txt", discontinuous="error"))
    assert (e.value.code, e.value.line, e.value.file) == ("E106", 5, str(d / "a.ann"))
    # write: names from source, a pair per document, no .ann for unannotated
    out = tmp_path / "out"
    brat.write([a, b, c, DocRecord(text="x", spans=[], meta={"name": "my doc/1"})], out)
    assert sorted(x.name for x in out.iterdir()) == [
        "a.ann",
        "a.txt",
        "b.ann",
        "b.txt",
        "c.txt",
        "my_doc_1.ann",
        "my_doc_1.txt",
    ]
    assert (out / "a.txt").read_bytes() == (d / "a.txt").read_bytes()
    assert (out / "a.ann").read_text(encoding="utf-8").splitlines()[2] == "T3\tLOC 14 23\tNew York"
    back = list(brat.read(out))
    assert [(r.text, sorted(r.spans) if r.spans is not None else None) for r in back] == [
        (a.text, sorted(a.spans)),
        (b.text, b.spans),
        (c.text, None),
        ("x", []),
    ]


def test_brat_offsets_for_another_text_are_caught(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"Line\r\nBerlin")
    (tmp_path / "a.ann").write_text("T1\tLOC 5 11\tBerlin\n", encoding="utf-8")  # computed on LF text
    from nerdesk.core.errors import NerdeskError

    with pytest.raises(NerdeskError) as e:
        list(brat.read(tmp_path / "a.ann"))
    assert (e.value.code, e.value.line) == ("E108", 1)


# ---------------------------------------------------------------- doccano


def test_doccano_both_label_styles(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(
        json.dumps({"id": 1, "text": "Ann in Oslo", "label": [[0, 3, "PER"], [7, 11, "LOC"]], "Comments": []})
        + "\n"
        + json.dumps(
            {
                "id": 2,
                "text": "Bob 🙂 Oslo",
                "entities": [{"id": 5, "start_offset": 6, "end_offset": 10, "label": "LOC"}],
                "relations": [],
            }
        )
        + "\n"
        + json.dumps({"text": "plain"})
        + "\n",
        encoding="utf-8",
    )
    a, b, c = doccano.read(p)
    assert a.spans == [Span(0, 3, "PER"), Span(7, 11, "LOC")] and a.meta == {"id": 1, "Comments": []}
    assert b.spans == [Span(6, 10, "LOC")] and b.meta == {"id": 2, "relations": []}
    assert c.spans is None and c.meta == {}
    for style in ("label", "entities"):
        out = tmp_path / f"{style}.jsonl"
        doccano.write([a, b, c], out, style=style)
        first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
        assert style in first and "label" not in first.get("meta", {})
        assert [(r.text, r.spans, r.meta) for r in doccano.read(out)] == [(r.text, r.spans, r.meta) for r in (a, b, c)]
    assert detect_format(tmp_path / "entities.jsonl") == "doccano"


# ---------------------------------------------------------------- CSV / TSV


def test_csv_columns_meta_and_multiline_cells(tmp_path):
    p = tmp_path / "c.csv"
    p.write_bytes(
        'id,body,lang\r\n1,"Hello, ""world""",en\r\n\r\n2,"two\r\nlines",de\r\n3,,fr\r\n4,last,\r\n'.encode("utf-8")
    )
    recs = list(FORMATS["csv"].read(p, text_column="body"))
    assert [(r.text, r.meta, r.line) for r in recs] == [
        ('Hello, "world"', {"id": "1", "lang": "en"}, 2),
        ("two\r\nlines", {"id": "2", "lang": "de"}, 4),
        ("last", {"id": "4"}, 7),
    ]
    from nerdesk.core.errors import NerdeskError

    with pytest.raises(NerdeskError) as e:
        list(FORMATS["csv"].read(p))
    assert e.value.code == "E112" and "'id', 'body', 'lang'" in e.value.message and e.value.line == 1
    t = tmp_path / "t.tsv"
    FORMATS["tsv"].write(recs, t, text_column="body")
    assert t.read_text(encoding="utf-8").splitlines()[0] == "body\tid\tlang"
    assert [(r.text, r.meta) for r in FORMATS["tsv"].read(t, text_column="body")] == [(r.text, r.meta) for r in recs]


# ---------------------------------------------------------------- detection


def test_detect_each_format(tmp_path):
    samples = {
        "a.jsonl": json.dumps({"tokens": ["a"], "tags": ["O"]}) + "\n",
        "b.jsonl": json.dumps({"text": "x", "spans": []}) + "\n",
        "c.jsonl": json.dumps({"text": "x", "answer": "accept"}) + "\n",
        "d.jsonl": json.dumps({"text": "x", "label": [[0, 1, "X"]]}) + "\n",
        "e.json": json.dumps([{"id": 1, "data": {"text": "x"}, "annotations": []}]),
        "f.conll": "EU\tB-ORG\n",
        "g.txt": "EU NNP B-ORG\nrejects VBZ O\n\nPeter NNP B-PER\n",
        "h.txt": "Just some text.\nAnd more.\n",
        "i.csv": "text,id\nhi,1\n",
        "j.tsv": "text\tid\nhi\t1\n",
        "k.tsv": "EU\tB-ORG\nx\tO\n",
        "l.data": "-DOCSTART- -X- O\n\nEU B-ORG\n",
        "m.json": json.dumps({"text": "x", "spans": []}) + "\n",
    }
    expected = {
        "a.jsonl": "jsonl",
        "b.jsonl": "jsonl",
        "c.jsonl": "prodigy",
        "d.jsonl": "doccano",
        "e.json": "labelstudio",
        "f.conll": "conll",
        "g.txt": "conll",
        "h.txt": "text",
        "i.csv": "csv",
        "j.tsv": "tsv",
        "k.tsv": "conll",
        "l.data": "conll",
        "m.json": "jsonl",
    }
    for name, content in samples.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        assert detect_format(tmp_path / name) == expected[name], name
    spacybin.write([DocRecord(text="x")], tmp_path / "s.spacy")
    assert detect_format(tmp_path / "s.spacy") == "spacy"
    (tmp_path / "br").mkdir()
    (tmp_path / "br" / "x.txt").write_text("x", encoding="utf-8")
    (tmp_path / "br" / "x.ann").write_text("", encoding="utf-8")
    assert detect_format(tmp_path / "br") == "brat"
    assert detect_format(tmp_path / "br" / "x.txt") == "brat"
    assert detect_format(tmp_path / "br" / "x.ann") == "brat"
    # read_records detects too
    assert [r.spans for r in read_records(tmp_path / "f.conll")] == [[Span(0, 2, "ORG")]]


def test_labelstudio_one_task_per_line(tmp_path):
    p = tmp_path / "ls.jsonl"
    p.write_text(
        json.dumps(
            {
                "data": {"text": "Ann"},
                "annotations": [{"result": [{"type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER"]}}]}],
            }
        )
        + "\n"
        + json.dumps({"data": {"text": "Bob"}})
        + "\n",
        encoding="utf-8",
    )
    assert detect_format(p) == "labelstudio"
    assert [(r.text, r.spans) for r in read_records(p)] == [("Ann", [Span(0, 3, "PER")]), ("Bob", None)]


def test_jsonl_fast_path_equals_general_path():
    """read() has a fast path for {"tokens", "tags"} lines; it must build the very same records."""
    with open(BTC, encoding="utf-8") as fh:
        objs = [json.loads(line) for line in itertools.islice(fh, 300)]
    fast = list(itertools.islice(jsonl.read(BTC), 300))
    slow = [jsonl.record_from_obj(o, str(BTC), i) for i, o in enumerate(objs, 1)]
    assert fast == slow
    assert all(r.predictions is None and r.meta == {} and r.annotator is None for r in fast)


def test_jsonl_keeps_spans_tags_cannot_express(tmp_path):
    recs = [
        DocRecord(
            text="New York City",
            spans=[Span(0, 8, "LOC"), Span(4, 13, "LOC")],
            tokens=[(0, 3), (4, 8), (9, 13)],
            sentences=[(0, 13)],
        )
    ]
    jsonl.write(recs, tmp_path / "o.jsonl")
    assert "tags" not in (tmp_path / "o.jsonl").read_text(encoding="utf-8")
    back = list(jsonl.read(tmp_path / "o.jsonl"))
    assert [(b.text, b.spans, b.tokens, b.sentences) for b in back] == [
        (r.text, r.spans, r.tokens, r.sentences) for r in recs
    ]


def test_conll_block_fast_path_equals_line_parser(tmp_path, real_records):
    """The block-at-a-time CoNLL reader gives exactly what the line parser gives, on real data and
    on the odd cases (CRLF, whitespace-only separator lines, untagged sentences, bad tags)."""
    from nerdesk.core.formats.conll import _read_blocks, _read_lines

    p = tmp_path / "real.conll"
    conll.write(real_records, p, docstart=False)
    assert list(_read_blocks(p)) == list(_read_lines(p))
    odd = tmp_path / "odd.conll"
    odd.write_bytes(
        "Ann\tB-PER\r\nlives\tO\r\n\r\n  \nRome\tS-LOC\n \nx y\tO\nz\tI-ORG\n\n\n\nsolo\nword\n\n"
        "last\tB-LOC\ntoken\tE-LOC".encode()
    )
    fast, slow = list(_read_blocks(odd)), list(_read_lines(odd))
    assert fast == slow and len(fast) == 5
    bad = tmp_path / "bad.conll"
    bad.write_text("a\tO\nb\tO\n\nc\tO\nd\tX-FOO\n", encoding="utf-8")
    with pytest.raises(NerdeskError) as e:
        list(conll.read(bad))
    assert e.value.code == "E111" and e.value.line == 5


@pytest.mark.parametrize("fmt", ["jsonl", "conll"])
def test_reading_without_spans_keeps_text_tokens_and_checks_tags(tmp_path, real_records, fmt):
    p = out_path(tmp_path, fmt)
    write_records(real_records, p, fmt)
    full = list(read_records(p, fmt))
    lean = list(read_records(p, fmt, spans=False))
    assert [(r.text, r.tokens, r.sentences) for r in lean] == [(r.text, r.tokens, r.sentences) for r in full]
    assert all(r.spans is None for r in lean) and any(r.spans for r in full)
    bad = tmp_path / f"bad.{fmt}"
    bad.write_text(
        '{"tokens": ["a", "b"], "tags": ["O", "B-"]}\n' if fmt == "jsonl" else "a\tO\nb\tB-\n", encoding="utf-8"
    )
    with pytest.raises(NerdeskError) as e:
        list(read_records(bad, fmt, spans=False))
    assert e.value.code == "E111"
