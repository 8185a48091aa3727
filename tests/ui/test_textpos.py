"""Code points <-> UTF-16 at the one boundary, and exact offsets between the view and the store."""

from __future__ import annotations

import unicodedata

import pytest

from fakes import make_project
from nerdesk.ui.textpos import TextPos, display_text, utf16_len

SAMPLES = {
    "emoji": "Hi 👋🏽 Ada Lovelace 🇬🇧 met Charles Babbage in London.",
    "combining": "Cafe\u0301 owner Zoe\u0308 Martínez lives in Malmo\u0308 now.",
    "cjk": "東京 is big. 𠮷野家 opened in Osaka near 大阪城.",
    "rtl": "Then שלום עליכם said Yosef Cohen in ירושלים today.",
    "crlf": "First line with Paris.\r\nSecond line with Berlin.\r\nThird 🎉 with Rome.",
}


def _u16(text: str, cp: int) -> int:
    return len(text[:cp].encode("utf-16-le")) // 2


@pytest.mark.parametrize("name", SAMPLES)
def test_roundtrip_every_offset(name):
    text = SAMPLES[name]
    tp = TextPos(text)
    assert tp.length16 == utf16_len(text) == len(text.encode("utf-16-le")) // 2
    for cp in range(len(text) + 1):
        u = tp.to_utf16(cp)
        assert u == _u16(text, cp)
        assert tp.to_cp(u) == cp
    # a position between the halves of a surrogate pair rounds to the character
    for cp, ch in enumerate(text):
        if ord(ch) > 0xFFFF:
            u = tp.to_utf16(cp)
            assert tp.to_cp(u + 1) == cp
            assert tp.to_cp(u + 1, round_up=True) == cp + 1


@pytest.mark.parametrize("name", SAMPLES)
def test_display_text_keeps_positions(name):
    text = SAMPLES[name]
    shown = display_text(text)
    assert utf16_len(shown) == utf16_len(text)
    assert "\r" not in shown


# (sample, entity to label, label)
CASES = [
    ("emoji", "Ada Lovelace", "PER"),
    ("emoji", "London", "LOC"),
    ("combining", "Zoe\u0308 Martínez", "PER"),
    ("combining", "Malmo\u0308", "LOC"),
    ("cjk", "Osaka", "LOC"),
    ("rtl", "Yosef Cohen", "PER"),
    ("crlf", "Berlin", "LOC"),
    ("crlf", "Rome", "LOC"),
]


@pytest.mark.parametrize("name,entity,label", CASES)
def test_view_selection_to_store_offsets(window, qtbot, tmp_path, name, entity, label):
    """Select the entity in the widget by Qt positions, label it with its key, read the store."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextCursor

    text = SAMPLES[name]
    path = make_project(tmp_path / f"{name}.nerdesk", [text], predictions=False)
    assert window.open_project(path)
    view = window.view
    assert view.text == text
    # Qt's own text has the same UTF-16 positions
    shown = view.document().toPlainText()
    assert len(shown.encode("utf-16-le")) == len(text.encode("utf-16-le"))
    cp_start = text.index(entity)
    cp_end = cp_start + len(entity)
    seg = window.session.segment_at(cp_start)
    window.session.goto(seg.id)
    c = view.textCursor()
    c.setPosition(_u16(text, cp_start))
    c.setPosition(_u16(text, cp_end), QTextCursor.MoveMode.KeepAnchor)
    view.setTextCursor(c)
    assert c.selectedText().replace("\u2029", "\n") == entity
    key = {"PER": Qt.Key.Key_1, "ORG": Qt.Key.Key_2, "LOC": Qt.Key.Key_3}[label]
    qtbot.keyClick(view, key)
    ann = window.session.project.store.annotation(seg.id, "tester")
    assert ann is not None
    spans = [(s.start, s.end, s.label) for s in ann.spans]
    assert (cp_start, cp_end, label) in spans
    assert text[cp_start:cp_end] == entity
    # and the view shows it where Qt has it
    hit = view.span_at16(_u16(text, cp_start))
    assert hit is not None and hit[1].label == label
    assert view.span_at16(_u16(text, cp_end)) is None or view.span_at16(_u16(text, cp_end))[1].start >= cp_end


@pytest.mark.parametrize("name", SAMPLES)
def test_highlights_land_on_the_stored_characters(window, tmp_path, name):
    """Every stored span is painted exactly over its characters, and the whole block is formatted."""
    from PySide6.QtGui import QColor

    from fakes import add_fake_predictions
    from nerdesk.core.project import Project

    text = SAMPLES[name]
    path = make_project(tmp_path / f"h-{name}.nerdesk", [text], predictions=False)
    with Project.open(path) as p:
        add_fake_predictions(p)
    assert window.open_project(path)
    view = window.view
    doc = view.document()
    colors = {k: QColor(v).rgb() for k, v in view.colors.items()}
    block = doc.firstBlock()
    painted = {}  # utf16 position -> background rgb
    while block.isValid():
        bs = block.position()
        ranges = block.layout().formats()
        if block.length() > 1:
            assert max(r.start + r.length for r in ranges) == block.length() - 1
        for r in ranges:
            bg = r.format.background()
            for u in range(bs + r.start, bs + r.start + r.length):
                painted[u] = bg.color().rgb() if bg.style() != bg.style().NoBrush else None
        block = block.next()
    n = 0
    for seg in window.session.doc["segments"]:
        for sp in seg.spans:
            a, b = view.tp.to_utf16(sp.start), view.tp.to_utf16(sp.end)
            assert all(painted.get(u) == colors[sp.label] for u in range(a, b)), (sp, text[sp.start : sp.end])
            # the characters just outside are not painted in this span's colour (unless adjacent spans)
            n += 1
    assert n > 0


LONG = {
    "words": " ".join(f"word{i} Paris" for i in range(6000)),  # ~70,000 characters, one line
    "nospace": "abcdefghij" * 5000 + "👋🏽" + "é" * 3 + "x\u0301" * 4000 + "🇫🇷" * 3000,
}


@pytest.mark.parametrize("name", LONG)
def test_a_huge_line_is_shown_as_blocks_with_exact_positions(name):
    """A line over MAX_LINE characters is split for display; every offset still round-trips,
    the shown characters are the text's (a space may show as a break), and no visible character
    (a combining mark, a flag, a skin tone) is split by an inserted break."""
    from nerdesk.ui.textpos import MAX_LINE, display

    text = LONG[name]
    assert len(text) > MAX_LINE and "\n" not in text
    shown, tp = display(text)
    assert max(len(b) for b in shown.split("\n")) <= MAX_LINE
    assert tp.length16 == len(shown.encode("utf-16-le")) // 2
    inserted = tp.length16 - utf16_len(text)
    assert (inserted == 0) == (name == "words")
    for cp in range(0, len(text) + 1):
        u = tp.to_utf16(cp)
        assert tp.to_cp(u) == cp
        s16, e16 = tp.range16(cp, min(cp + 1, len(text)))
        assert s16 <= e16
    # each character sits at its position in the shown text (UTF-16 units)
    units = shown.encode("utf-16-le")
    for cp in range(0, len(text), 997):
        a, b = tp.range16(cp, cp + 1)
        ch = units[2 * a : 2 * b].decode("utf-16-le")
        assert ch == text[cp] or (text[cp] == " " and ch == "\n")
    if name == "nospace":
        for piece in shown.split("\n")[1:]:
            assert unicodedata.category(piece[0]) not in ("Mn", "Mc", "Me")
            assert not (0x1F1E6 <= ord(piece[0]) <= 0x1F1FF and piece[:2] != "🇫🇷")


def test_labelling_in_a_huge_line_lands_on_the_stored_characters(window, qtbot, tmp_path):
    """In a 60,000-character line without whitespace around the entity (shown as blocks with
    inserted breaks), a selection made by Qt positions is stored at the right code points."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextCursor

    text = "x" * 30000 + " Paris " + "y" * 30000
    path = make_project(tmp_path / "huge.nerdesk", [text], predictions=False)
    assert window.open_project(path)
    view = window.view
    assert view.document().blockCount() > 10  # shown as blocks, not one 60,000-character line
    cp = text.index("Paris")
    a, b = view.tp.range16(cp, cp + 5)
    assert a > cp  # breaks were inserted before it
    window.session.goto(window.session.segment_at(cp).id)
    c = view.textCursor()
    c.setPosition(a)
    c.setPosition(b, QTextCursor.MoveMode.KeepAnchor)
    view.setTextCursor(c)
    assert c.selectedText() == "Paris"
    qtbot.keyClick(view, Qt.Key.Key_3)
    seg = window.session.segment_at(cp)
    ann = window.session.project.store.annotation(seg.id, "tester")
    assert (cp, cp + 5, "LOC") in [(s.start, s.end, s.label) for s in ann.spans]
    assert view.span_at16(a)[1].label == "LOC"


def test_only_the_blocks_on_screen_are_formatted_until_they_scroll_into_view(window, tmp_path):
    """Opening a long document formats the blocks on screen (Qt would format all of them before
    the first paint: 0.4 s for a 1M-character line); a block far below is formatted, with its
    spans' colours, once the view scrolls to it."""
    from PySide6.QtGui import QColor

    from fakes import add_fake_predictions
    from nerdesk.core.project import Project

    text = "\n".join(f"Line {i} says Paris ." for i in range(3000))
    path = make_project(tmp_path / "long.nerdesk", [text], predictions=False)
    with Project.open(path) as p:
        add_fake_predictions(p)
    assert window.open_project(path)
    view = window.view
    doc = view.document()
    hl = view.highlighter
    first = view.firstVisibleBlock().blockNumber()
    assert doc.blockCount() == 3000 and 2500 < len(hl.pending) < 3000
    assert doc.findBlockByNumber(first).layout().formats()  # on screen: formatted
    far = doc.findBlockByNumber(2990)
    assert far.blockNumber() in hl.pending and not far.layout().formats()

    last = max(window.session.doc["segments"], key=lambda s: s.start)
    window.session.goto(last.id)  # scrolls to the end of the document
    assert far.blockNumber() not in hl.pending
    paris = [sp for sp in last.spans if text[sp.start : sp.end] == "Paris"]
    colours = {
        r.format.background().color().rgb() for r in doc.findBlock(view.tp.to_utf16(last.start)).layout().formats()
    }
    assert paris and QColor(view.colors[paris[0].label]).rgb() in colours
