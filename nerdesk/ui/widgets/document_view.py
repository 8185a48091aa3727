"""The span editor: the whole document, the current segment emphasised, spans by label and
confidence, corrected by mouse or by keyboard alone.

Rendering: a read-only QPlainTextEdit (it lays out only what it shows, so long documents open
fast) and a QSyntaxHighlighter that formats one block at a time from the spans of the segments
that block intersects; an edit re-highlights only the blocks of the segment it touched. The
focused span gets a frame painted over the viewport, and a dragged boundary a live preview.

Looks, all with a non-colour cue as well as colour:

* model suggestion: label colour, shaded by confidence (paler = less sure);
* low confidence (< ``LOW_CONFIDENCE``): wavy underline as well;
* confirmed by a human (accepted or edited): solid label colour and **bold**;
* term-list suggestion (nerdesk.core.terms): *italic*, with a dashed frame;
* nested / overlapping spans (where the label set allows them): the inner span is overlined;
* the current segment: normal ink on a light background; its context is dimmed grey (at least
  4.5:1 on the page, in the light and the dark theme: nerdesk.ui.theme);
* a model suggestion's confidence: a bar under the span (its length) and the label tag's percentage,
  legible on every label colour (the span's own colour is not paled);
* the label's name in a small tag at the end of each span (View › Label names on spans).

Offsets: the core's code points become Qt's UTF-16 positions only through
:class:`nerdesk.ui.textpos.TextPos`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPen,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextLine,
)
from PySide6.QtWidgets import QInputDialog, QMenu, QPlainTextEdit, QToolTip

from nerdesk.core import boundaries
from nerdesk.core.boundaries import Edge
from nerdesk.core.types import Segment, ShownSpan
from nerdesk.ui.textpos import TextPos, display
from nerdesk.ui.theme import LIGHT, THEMES, ViewSettings, ink_for, label_colors, span_alpha, span_background

LOW_CONFIDENCE = 0.6
DIM = QColor(LIGHT.context)
CURRENT_BG = QColor(LIGHT.current_bg)
CURRENT_BAR = QColor(LIGHT.current_bar)
LOW_MARK = QColor(LIGHT.low_mark)
COMMAND_KEYS = frozenset("nspfr ")

K = Qt.Key
NO, SHIFT = Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier


class Press(NamedTuple):
    """A key press as the bindings read it: the key, the character typed (lower case), the modifiers."""

    key: int
    text: str
    mods: Qt.KeyboardModifier
    ctrl: bool
    shift: bool
    alt: bool

    @classmethod
    def of(cls, e: QKeyEvent) -> Press:
        mods = e.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        return cls(
            e.key(),
            e.text().lower() if e.text() else "",
            mods,
            bool(mods & Qt.KeyboardModifier.ControlModifier),
            bool(mods & Qt.KeyboardModifier.ShiftModifier),
            bool(mods & Qt.KeyboardModifier.AltModifier),
        )


@dataclass(frozen=True)
class Chord:
    """The presses a binding takes: one of ``keys``, or the character ``text`` typed, or (``label``) a
    label's key: ``"typed"`` (the character typed is a label's shortcut) or ``"digit"`` (the digit key
    is one, read from the key: Ctrl+digit types no digit everywhere). ``ctrl``/``shift``/``alt``: what
    that modifier must be (None: either). ``first``: with these modifiers the view takes the key before
    the window's shortcuts (a ShortcutOverride)."""

    keys: tuple[int, ...] = ()
    text: str = ""
    label: str = ""
    ctrl: bool | None = False
    shift: bool | None = None
    alt: bool | None = False
    first: tuple[Qt.KeyboardModifier, ...] = ()

    def hits(self, view: DocumentView, p: Press) -> bool:
        """The key itself (modifiers aside)."""
        if self.label == "typed":
            return bool(p.text) and p.text in view.shortcuts
        if self.label == "digit":
            return K.Key_0 <= p.key <= K.Key_9 and chr(p.key) in view.shortcuts
        return p.key in self.keys or (bool(self.text) and p.text == self.text)

    def takes(self, view: DocumentView, p: Press) -> bool:
        wanted = ((self.ctrl, p.ctrl), (self.shift, p.shift), (self.alt, p.alt))
        return all(w is None or w == have for w, have in wanted) and self.hits(view, p)


@dataclass(frozen=True)
class Binding:
    """One row of Help › Keyboard shortcuts (``keys``, ``does``) and, where the view handles it, what it
    takes (``chords``), ``when`` it applies (else the key goes on) and what it does (``run``). A row
    without chords is the mouse's or the text editor's own keys (``where``). The window's keys are
    not here: they are its menus' (nerdesk.ui.actions)."""

    keys: str
    does: str
    chords: tuple[Chord, ...] = ()
    run: Callable[[DocumentView, Press], object] | None = None
    when: Callable[[DocumentView], bool] | None = None
    where: str = "view"  # "view", "mouse", "editor"

    @property
    def label_key(self) -> bool:
        """A label's key (its chords read the project's label shortcuts), not a fixed key."""
        return bool(self.chords) and bool(self.chords[0].label)

    def takes(self, view: DocumentView, p: Press) -> bool:
        return any(c.takes(view, p) for c in self.chords) and (self.when is None or self.when(view))


@dataclass(frozen=True)
class Focus:
    """The focused span and the segment it is in (what ``focusChanged`` sends: the inspector shows it,
    the guideline editor takes it as an example)."""

    segment_id: int
    span: ShownSpan

    @property
    def start(self) -> int:
        return self.span.start

    @property
    def end(self) -> int:
        return self.span.end

    @property
    def label(self) -> str:
        return self.span.label


def _focused(view: DocumentView) -> bool:
    return view.focus is not None


def _letter(ch: str) -> Chord:  # a command letter, Shift or not; taken before the window's shortcuts
    return Chord(text=ch, first=(NO, SHIFT))


def _plain(*keys: int) -> Chord:  # Shift or not; taken before the window's shortcuts when alone
    return Chord(keys=keys, first=(NO,))


def _arrows(*, ctrl: bool | None, alt: bool | None) -> Chord:
    return Chord(keys=(K.Key_Right, K.Key_Left), ctrl=ctrl, shift=True, alt=alt)


def _step(p: Press) -> int:
    return 1 if p.key == K.Key_Right else -1


def _clear(view: DocumentView) -> None:
    c = view.textCursor()
    c.clearSelection()
    view.setTextCursor(c)
    view.set_focus_span(None, None)


#: The view's keys, in the order Help › Keyboard shortcuts lists them (and the mouse's, for the help;
#: the window's keys follow them there: nerdesk.ui.actions). A press goes to the first row that takes
#: it, then to a window key, and the label keys come last: a fixed key wins over a label's shortcut
#: (as COMMAND_KEYS keep labels off n, s, p, f, r).
KEYS: tuple[Binding, ...] = (
    Binding(
        "1-9, 0, letters",
        "Label the selected text (or relabel the focused span) with that label",
        (Chord(label="typed", shift=False, first=(NO, SHIFT)),),
        lambda v, p: v.apply_label(v.shortcuts[p.text]),
    ),
    Binding(
        "Ctrl + label key",
        "Label the selection exactly, without snapping to tokens",
        (Chord(label="typed", ctrl=True, shift=False), Chord(label="digit", ctrl=True, shift=False)),
        lambda v, p: v.apply_label(v.shortcuts.get(p.text) or v.shortcuts[chr(p.key)], exact=True),
    ),
    Binding(
        "Enter",
        "Accept the segment and go to the next item",
        (_plain(K.Key_Return, K.Key_Enter),),
        lambda v, p: v.session.accept(),
    ),
    Binding(
        "Space / N",
        "Next item, in the queue's order (its routing strategy and filters)",
        (_plain(K.Key_Space), _letter("n")),
        lambda v, p: v.session.next(),
    ),
    Binding("P", "Previous item", (_letter("p"),), lambda v, p: v.session.previous()),
    Binding("S", "Skip the segment", (_letter("s"),), lambda v, p: v.session.skip()),
    Binding("F", "Flag the segment for escalation, with a note", (_letter("f"),), lambda v, p: v.flag_dialog()),
    Binding(
        "Tab",
        "Focus the next span in the segment",
        (Chord(keys=(K.Key_Tab,), ctrl=None, shift=False, alt=None),),
        lambda v, p: v.next_span(),
    ),
    Binding(
        "Shift+Tab",
        "Focus the previous span in the segment",
        (Chord(keys=(K.Key_Backtab,), ctrl=None, alt=None), Chord(keys=(K.Key_Tab,), ctrl=None, shift=True, alt=None)),
        lambda v, p: v.previous_span(),
    ),
    Binding("Esc", "Clear the focused span and the selection", (_plain(K.Key_Escape),), lambda v, p: _clear(v)),
    Binding(
        "Del / Backspace",
        "Delete the focused span",
        (_plain(K.Key_Delete, K.Key_Backspace),),
        lambda v, p: v.delete_focused(),
    ),
    Binding("R", "Relabel the focused span (menu)", (_letter("r"),), lambda v, p: v.relabel_menu()),
    Binding(
        "Shift+Right / Shift+Left",
        "Move the focused span's end one token right / left",
        (_arrows(ctrl=False, alt=False),),
        lambda v, p: v.move_boundary("end", _step(p)),
        _focused,
    ),
    Binding(
        "Alt+Shift+Right / Alt+Shift+Left",
        "Move the focused span's start one token right / left",
        (_arrows(ctrl=False, alt=True),),
        lambda v, p: v.move_boundary("start", _step(p)),
        _focused,
    ),
    Binding(
        "add Ctrl (Ctrl+Shift+Arrow, Ctrl+Alt+Shift+Arrow)",
        "Move the boundary one character instead of one token",
        (_arrows(ctrl=True, alt=None),),
        lambda v, p: v.move_boundary("start" if p.alt else "end", _step(p), exact=True),
        _focused,
    ),
    Binding("Arrows, Shift+Arrows (no span focused)", "Move the cursor, select text to label", where="editor"),
    Binding("Mouse: drag over text, then label key or palette click", "Add a span", where="mouse"),
    Binding(
        "Mouse: click a span; drag its left or right edge",
        "Focus it; move that boundary (Ctrl: exact)",
        where="mouse",
    ),
)

#: The order a press is offered to the rows: the fixed keys, then the label keys.
_DISPATCH = tuple(b for b in KEYS if b.chords and not b.label_key) + tuple(b for b in KEYS if b.label_key)


def binding_for(view: DocumentView, p: Press) -> Binding | None:
    """The row of KEYS that handles this press in the view, if one does."""
    return next((b for b in _DISPATCH if b.takes(view, p)), None)


def window_action(view: DocumentView, p: Press) -> QAction | None:
    """The window's action (nerdesk.ui.actions) whose key this press is, if one is. The view passes
    such a key on to it: a window that is not active (no window manager: Xvfb) gets no shortcuts, and
    a disabled action's key comes to the view as well."""
    try:
        seq = QKeySequence(p.key | p.mods.value)
    except (TypeError, ValueError, OverflowError):
        return None
    for act in view.window().actions():
        if any(s.matches(seq) == QKeySequence.SequenceMatch.ExactMatch for s in act.shortcuts()):
            return act
    return None


def taken_first(view: DocumentView, p: Press) -> bool:
    """Whether the view takes this key before the window's shortcuts (its single keys, Shift or not)."""
    return any(p.mods in c.first and c.hits(view, p) for b in KEYS for c in b.chords)


def _x(line: QTextLine, pos: int) -> float:
    r = line.cursorToX(pos)
    return float(r[0] if isinstance(r, tuple) else r)


class SpanHighlighter(QSyntaxHighlighter):
    def __init__(self, view: DocumentView):
        super().__init__(view.document())
        self.view = view
        self._formats: dict[tuple, QTextCharFormat] = {}
        self.set_theme(LIGHT)
        #: While set, a block Qt asks for is only noted in ``pending``: the view formats the blocks on
        #: screen (:meth:`DocumentView.format_visible`) and the rest as they scroll into view. Qt
        #: highlights every block of a new text at once (250 blocks, 13,000 segments for a
        #: 1M-character line: 0.4 s before the first paint).
        self.deferring = False
        self.pending: set[int] = set()

    def set_theme(self, theme) -> None:
        self._formats.clear()
        dim = QTextCharFormat()
        dim.setForeground(QColor(theme.context))
        self._dim = dim
        cur = QTextCharFormat()
        cur.setBackground(QColor(theme.current_bg))
        cur.setForeground(QColor(theme.text))
        self._cur = cur

    def defer_all(self) -> None:
        """Qt's next pass over the whole text (setPlainText, rehighlight) only notes the blocks."""
        self.deferring = True
        self.pending.clear()

    def format_blocks(self, first, last_pos: int) -> None:
        """Format the pending blocks from ``first`` up to the block holding UTF-16 ``last_pos``."""
        self.deferring = False
        block = first
        while block.isValid() and block.position() <= last_pos and self.pending:
            if block.blockNumber() in self.pending:
                self.pending.discard(block.blockNumber())
                self.rehighlightBlock(block)
            block = block.next()

    def span_format(
        self, label: str, conf: float | None, confirmed: bool, current: bool, nested: bool, term: bool = False
    ) -> QTextCharFormat:
        low = conf is not None and conf < LOW_CONFIDENCE and not confirmed
        key = (label, low, confirmed, current, nested, term)
        fmt = self._formats.get(key)
        if fmt is not None:
            return fmt
        theme = self.view.theme
        fmt = QTextCharFormat()
        if confirmed:
            fmt.setFontWeight(QFont.Weight.Bold)
        elif low:
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(QColor(theme.low_mark))
        # the label's colour as drawn, and black or white ink on it, whichever reads better
        color = self.view.colors.get(label, "#bbbbbb")
        bg = QColor(color)
        bg.setAlphaF(span_alpha(theme, confirmed=confirmed, current=current))
        fmt.setBackground(bg)
        seen = span_background(theme, color, confirmed=confirmed, current=current)
        fmt.setForeground(QColor(ink_for(seen)))
        if nested:
            fmt.setFontOverline(True)
        if term and not confirmed:
            fmt.setFontItalic(True)
        self._formats[key] = fmt
        return fmt

    def tag_format(self, fmt: QTextCharFormat, width: float) -> QTextCharFormat:
        """``fmt`` with room after the character for a label tag ``width`` pixels wide."""
        key = ("tag", id(fmt), round(width))
        out = self._formats.get(key)
        if out is None:
            out = QTextCharFormat(fmt)
            out.setFontLetterSpacingType(QFont.SpacingType.AbsoluteSpacing)
            out.setFontLetterSpacing(round(width))
            self._formats[key] = out
        return out

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt API)
        view = self.view
        if not view.segs:
            return
        block = self.currentBlock()
        if self.deferring:
            self.pending.add(block.blockNumber())
            return
        self.pending.discard(block.blockNumber())
        bs = block.position()
        be = bs + block.length() - 1  # UTF-16 units (len(text) counts code points)
        if be == bs:
            return
        # dim everything, then the segments that fall in this block
        self.setFormat(0, be - bs, self._dim)
        i = max(0, bisect_right(view.seg_starts16, bs) - 1)
        segs = view.segs
        current = view.session.current
        while i < len(segs):
            seg = segs[i]
            s16, e16 = view.seg_ranges16[i]
            if s16 >= be:
                break
            if e16 > bs:
                is_cur = seg.id == current
                if is_cur:
                    a, b = max(s16, bs), min(e16, be)
                    self.setFormat(a - bs, b - a, self._cur)
                for ss, se, sp, nested in view.spans16(seg):
                    a, b = max(ss, bs), min(se, be)
                    if a < b:
                        fmt = self.span_format(
                            sp.label,
                            sp.confidence,
                            sp.confirmed,
                            is_cur,
                            nested,
                            sp.origin == "terms",
                        )
                        self.setFormat(a - bs, b - a, fmt)
                        if view.show_tags and bs <= se - 1 < be:  # room for the tag after the last character
                            ls, le = view.tp.range16(sp.end - 1, sp.end)
                            self.setFormat(ls - bs, le - ls, self.tag_format(fmt, view.tag_width(sp) + 3))
            i += 1


class DocumentView(QPlainTextEdit):
    """Shows ``session.doc``; edits go through ``session``."""

    focusChanged = Signal(object)  # the focused span (a Focus) or None
    labelRequested = Signal()  # R pressed: a relabel menu is shown

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("documentView")
        self.setReadOnly(True)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setTabChangesFocus(False)
        self.setMouseTracking(True)
        font = self.font()
        font.setPointSizeF(max(font.pointSizeF(), 11.0))
        self.setFont(font)
        self.text = ""
        self.tp = TextPos("")
        self.segs: list[Segment] = []
        self._seg_pos: dict[int, int] = {}
        #: the UTF-16 range of each of ``segs`` (its start: ``seg_starts16``, for bisecting)
        self.seg_ranges16: list[tuple[int, int]] = []
        self.seg_starts16: list[int] = []
        #: segment id -> (the segment, its spans16) for the segments drawn so far
        self._spans16: dict[int, tuple[Segment, list[tuple[int, int, ShownSpan, bool]]]] = {}
        self.colors: dict[str, str] = {}
        self.shortcuts: dict[str, str] = {}
        #: View menu settings (nerdesk.ui.theme): theme, label tags, colour-blind-safe colours, text size
        self.view_settings = ViewSettings()
        self.theme = LIGHT
        self.show_tags = True
        self._tag_font = QFont(self.font())
        self.focus: Focus | None = None
        self._drag: dict[str, Any] | None = None
        self._press_pos: QPointF | None = None
        self.document().setDocumentMargin(10)  # room for the current-segment bar
        self.highlighter = SpanHighlighter(self)
        session.documentChanged.connect(self.set_document)
        session.currentChanged.connect(self._on_current)
        session.changed.connect(self._on_changes)
        session.projectChanged.connect(self.refresh_labels)
        self.definitions: dict[str, str] = {}
        self.offered: list[str] = []
        self.apply_view(ViewSettings())

    # ------------------------------------------------------------------ data in
    def refresh_labels(self) -> None:
        p = self.session.project
        labels = p.labels() if p else []
        self.colors = label_colors(labels, colour_blind_safe=self.view_settings.colour_blind_safe)
        self.definitions = {
            lab["name"]: (lab.get("guide") or {}).get("definition") or lab.get("description") or "" for lab in labels
        }
        self.offered = [lab["name"] for lab in labels if lab.get("status", "active") == "active"]
        # command keys win over a label's letter shortcut (that label stays on the palette)
        self.shortcuts = {
            str(lab["shortcut"]).lower(): lab["name"]
            for lab in labels
            if lab["shortcut"] and str(lab["shortcut"]).lower() not in COMMAND_KEYS
        }
        self.highlighter._formats.clear()

    # ------------------------------------------------------------------ view settings
    def apply_view(self, vs: ViewSettings) -> None:
        """Theme, label tags, colour-blind-safe colours and text size (View menu), then redraw."""
        self.view_settings = vs
        self.theme = THEMES[vs.theme]
        self.show_tags = vs.tags
        font = self.font()
        font.setPointSizeF(vs.font_pt)
        self.setFont(font)
        self._tag_font = QFont(font)
        self._tag_font.setPointSizeF(max(6.0, vs.font_pt * 0.72))
        self._tag_font.setBold(True)
        self._tag_widths: dict[str, float] = {}
        pal = self.palette()
        pal.setColor(pal.ColorRole.Base, QColor(self.theme.base))
        pal.setColor(pal.ColorRole.Text, QColor(self.theme.context))
        self.setPalette(pal)
        self.highlighter.set_theme(self.theme)
        self.refresh_labels()
        self.highlighter.defer_all()
        self.highlighter.rehighlight()
        self.highlighter.deferring = False
        self.format_visible()
        self.viewport().update()

    def tag_text(self, sp: ShownSpan) -> str:
        """What a span's tag says: its label, and a model suggestion's confidence in percent."""
        conf = sp.confidence
        if conf is not None and not sp.confirmed:
            return f"{sp.label} {round(100 * conf)}%"
        return sp.label

    def tag_width(self, sp: ShownSpan) -> float:
        text = self.tag_text(sp)
        cache = self.__dict__.setdefault("_tag_widths", {})
        w = cache.get(text)
        if w is None:
            from PySide6.QtGui import QFontMetricsF

            w = cache[text] = QFontMetricsF(self._tag_font).horizontalAdvance(text) + 8
        return w

    def examples_text(self, label: str | None = None) -> str:
        """The guideline of a label (default: the focused span's) as rich text: definition and examples."""
        import html

        label = label or (self.focus.label if self.focus else None)
        p = self.session.project
        if not label or p is None:
            return ""
        try:
            g = p.guidelines.guide(label)
        except Exception:  # a label the project no longer has
            return ""
        out = [f"<b>{html.escape(label)}</b>"]
        for field, title in (
            ("definition", "Definition"),
            ("boundaries", "Boundaries"),
            ("nested", "Nested"),
            ("exceptions", "Exceptions"),
        ):
            if g.get(field):
                out.append(f"<i>{title}:</i> {html.escape(g[field])}")
        for kind, mark in (("positive", "✓"), ("negative", "✗")):
            for ex in g[kind]:
                out.append(
                    f"{mark} …{html.escape(ex.get('before', ''))}<b>{html.escape(ex['text'])}</b>"
                    f"{html.escape(ex.get('after', ''))}…"
                )
        if len(out) == 1:
            out.append("<i>No guideline yet: Labels › Guideline…</i>")
        return "<br>".join(out)

    def show_examples(self) -> str:
        """Show the focused span's guideline and examples beside it (on demand: F2)."""
        text = self.examples_text()
        if not text:
            self.session.message.emit("Focus a span first (Tab or click) to see its label's guideline.")
            return ""
        rects = self.range_rects16(*self.tp.range16(self.focus.start, self.focus.end))
        at = rects[-1].bottomLeft().toPoint() if rects else self.viewport().rect().center()
        QToolTip.showText(self.viewport().mapToGlobal(at), text, self)
        return text

    def spans16(self, seg: Segment) -> list[tuple[int, int, ShownSpan, bool]]:
        """(start16, end16, span, nested) for each span of ``seg``, longest first: worked out when first
        drawn (a 13,000-segment line opens without converting 21,000 spans that are not on screen) and
        kept until the segment is read again (a new object)."""
        cached = self._spans16.get(seg.id)
        if cached is not None and cached[0] is seg:
            return cached[1]
        tp = self.tp
        spans = sorted(seg.spans, key=lambda sp: (-(sp.end - sp.start), sp.start))
        out = []
        for k, sp in enumerate(spans):
            nested = any(
                o.start <= sp.start and sp.end <= o.end or (o.start < sp.end and sp.start < o.end) for o in spans[:k]
            )
            out.append((*tp.range16(sp.start, sp.end), sp, nested))
        self._spans16[seg.id] = (seg, out)
        return out

    def range16_of(self, segment_id: int | None) -> tuple[int, int] | None:
        """The UTF-16 range of a segment of the shown document (None if it is not in it)."""
        i = self._seg_pos.get(segment_id) if segment_id is not None else None
        return None if i is None else self.seg_ranges16[i]

    def set_document(self, doc: dict[str, Any] | None) -> None:
        # the same document read again (after a label change): keep the focused span
        kept = (
            self.focus
            if doc is not None
            and self.segs
            and self.focus is not None
            and any(s.id == self.focus.segment_id for s in doc["segments"])
            else None
        )
        self.focus = None
        self._drag = None
        if not self.colors and self.session.project is not None:
            self.refresh_labels()
        if doc is None:
            self.text, self.tp, self.segs, self.seg_ranges16, self.seg_starts16 = "", TextPos(""), [], [], []
            self._seg_pos, self._spans16 = {}, {}
            self.setPlainText("")
            self.focusChanged.emit(None)
            return
        self.text = doc["text"]
        shown, self.tp = display(self.text)
        segs = sorted(doc["segments"], key=lambda s: s.start)
        self.segs = segs
        self.seg_ranges16 = [self.tp.range16(s.start, s.end) for s in segs]
        self.seg_starts16 = [r[0] for r in self.seg_ranges16]
        self._seg_pos = {s.id: i for i, s in enumerate(segs)}
        self._spans16 = {}
        self.highlighter.defer_all()
        self.setPlainText(shown)  # the highlighter only notes the blocks; format_visible formats
        self.highlighter.deferring = False
        self.format_visible()
        self.focusChanged.emit(None)
        if kept is not None:
            self.focus = kept
            self._restore_focus()

    def _sync_segments(self) -> None:
        """Pick up re-read segments from session.doc (same document)."""
        doc = self.session.doc
        if doc is None:
            return
        for i, seg in enumerate(self.segs):
            fresh = self.session.segment(seg.id)
            if fresh is not None and fresh is not seg:
                self.segs[i] = fresh

    def _sync_ids(self, ids) -> None:
        for sid in ids:
            i = self._seg_pos.get(sid)
            fresh = self.session.segment(sid)
            if i is not None and fresh is not None and fresh is not self.segs[i]:
                self.segs[i] = fresh

    def _rehighlight_cp(self, start: int, end: int) -> None:
        self._rehighlight16(*self.tp.range16(start, end))

    def _rehighlight16(self, s16: int, e16: int) -> None:
        doc = self.document()
        block = doc.findBlock(s16)
        last = doc.findBlock(max(s16, e16 - 1))
        while block.isValid():
            self.highlighter.rehighlightBlock(block)
            if block == last:
                break
            block = block.next()

    def _on_current(self, segment_id: int) -> None:
        old = getattr(self, "_shown_current", None)
        self._shown_current = segment_id
        if segment_id != old or self.focus is None or self.focus.segment_id != segment_id:
            self.focus = None  # (the same segment shown again, after a label change: the focus stays)
            self.focusChanged.emit(None)
        for sid in {old, segment_id}:
            r16 = self.range16_of(sid)
            if r16 is not None:
                self._rehighlight16(*r16)
        r16 = self.range16_of(segment_id)
        if r16 is not None:
            self._show_range16(*r16)
        self.viewport().update()

    def _on_changes(self, changes) -> None:
        if changes.labels:
            self.refresh_labels()
        if changes.labels or changes.models:
            self._sync_segments()
        self._sync_ids(changes.segments)
        for sid in changes.segments:
            r16 = self.range16_of(sid)
            if r16 is not None:
                self._rehighlight16(*r16)
        if changes.labels or changes.models:
            self.highlighter.defer_all()
            self.highlighter.rehighlight()
            self.highlighter.deferring = False
            self.format_visible()
        self._restore_focus()
        self.viewport().update()

    def seg_by_id(self, sid: int | None) -> Segment | None:
        i = self._seg_pos.get(sid) if sid is not None else None
        return None if i is None else self.segs[i]

    def current_segment(self) -> Segment | None:
        return self.seg_by_id(self.session.current)

    # ------------------------------------------------------------------ focus
    def set_focus_span(self, seg: Segment | None, sp: ShownSpan | None) -> None:
        if seg is None or sp is None:
            self.focus = None
        else:
            self.focus = Focus(seg.id, sp)
            self._show_range16(*self.tp.range16(sp.start, sp.end))
        self.focusChanged.emit(self.focus)
        self.viewport().update()

    def _restore_focus(self, near: tuple[int, int, str] | None = None) -> None:
        """After an edit, keep focus on the same (or the moved / relabelled) span."""
        if self.focus is None and near is None:
            return
        ref = near or (self.focus.start, self.focus.end, self.focus.label)
        seg = self.seg_by_id(self.focus.segment_id if self.focus else self.session.current)
        if seg is None:
            self.set_focus_span(None, None)
            return
        best, best_score = None, None
        for sp in seg.spans:
            overlap = min(sp.end, ref[1]) - max(sp.start, ref[0])
            if overlap <= 0 and not (sp.start, sp.end) == (ref[0], ref[1]):
                continue
            score = (sp.start == ref[0] and sp.end == ref[1], sp.label == ref[2], overlap)
            if best_score is None or score > best_score:
                best, best_score = sp, score
        self.set_focus_span(seg if best else None, best)

    def _show_range16(self, s16: int, e16: int) -> None:
        c = QTextCursor(self.document())
        c.setPosition(min(e16, self.document().characterCount() - 1))
        self.setTextCursor(c)
        self.ensureCursorVisible()
        c.setPosition(s16)
        self.setTextCursor(c)
        self.ensureCursorVisible()

    def span_at16(self, pos16: int) -> tuple[Segment, dict[str, Any]] | None:
        """(segment, span) under a UTF-16 position; the innermost if nested."""
        i = bisect_right(self.seg_starts16, pos16) - 1
        if i < 0 or i >= len(self.segs):
            return None
        seg = self.segs[i]
        hits = [(se - ss, sp) for ss, se, sp, _ in self.spans16(seg) if ss <= pos16 < se]
        if not hits:
            return None
        return seg, min(hits, key=lambda h: h[0])[1]

    def segment_at16(self, pos16: int) -> Segment | None:
        i = bisect_right(self.seg_starts16, pos16) - 1
        if 0 <= i < len(self.segs) and pos16 <= self.seg_ranges16[i][1]:
            return self.segs[i]
        return None

    # ------------------------------------------------------------------ actions
    def selection_cp(self) -> tuple[int, int] | None:
        c = self.textCursor()
        if not c.hasSelection():
            return None
        a, b = c.selectionStart(), c.selectionEnd()
        return self.tp.to_cp(a), self.tp.to_cp(b, round_up=True)

    def apply_label(self, label: str, *, exact: bool = False) -> bool:
        """Label the selection (add a span) or, with none, relabel the focused span."""
        sel = self.selection_cp()
        if sel is not None:
            start, end = sel
            seg = self.session.segment_at(start)
            if seg is None or end > seg.end:
                self.session.message.emit("A span must lie inside one segment (sentence).")
                return False
            if seg.id != self.session.current:
                self.session.goto(seg.id)
            c = self.textCursor()
            c.clearSelection()
            self.setTextCursor(c)
            self.focus = Focus(seg.id, ShownSpan(start, end, label))  # where the new span will be
            ch = self.session.add_span(seg.id, start, end, label, snap=not exact)
            if ch is None:
                self.focus = None
                return False
            self._restore_focus((start, end, label))
            return True
        if self.focus is not None:
            f = self.focus
            if f.label == label:
                return True
            ch = self.session.relabel_span(f.segment_id, f.start, f.end, label)
            if ch is not None:
                self._restore_focus((f.start, f.end, label))
            return ch is not None
        self.session.message.emit("Select some text (or focus a span with Tab) first.")
        return False

    def delete_focused(self) -> bool:
        f = self.focus
        if f is None:
            return False
        self.focus = None
        ch = self.session.remove_span(f.segment_id, f.start, f.end, f.label)
        seg = self.seg_by_id(f.segment_id)
        nxt = None
        if ch is not None and seg is not None:
            nxt = next((sp for sp in sorted(seg.spans, key=lambda s: s.start) if sp.start >= f.start), None)
        self.set_focus_span(seg if nxt else None, nxt)
        return ch is not None

    def cycle_focus(self, step: int) -> None:
        seg = self.current_segment()
        if seg is None or not seg.spans:
            self.set_focus_span(None, None)
            return
        spans = sorted(seg.spans, key=lambda s: (s.start, s.end, s.label))
        idx = -1
        if self.focus is not None and self.focus.segment_id == seg.id:
            idx = next(
                (
                    i
                    for i, s in enumerate(spans)
                    if (s.start, s.end, s.label) == (self.focus.start, self.focus.end, self.focus.label)
                ),
                -1,
            )
        if idx == -1:
            idx = 0 if step > 0 else len(spans) - 1
        else:
            idx = (idx + step) % len(spans)
        self.set_focus_span(seg, spans[idx])

    def next_span(self) -> None:
        self.cycle_focus(1)

    def previous_span(self) -> None:
        self.cycle_focus(-1)

    def move_boundary(self, which: Edge, direction: int, *, exact: bool = False) -> bool:
        """Move the focused span's start or end one token (or one character) left or right: where it
        goes is nerdesk.core.boundaries' rule."""
        f = self.focus
        seg = self.seg_by_id(f.segment_id) if f else None
        if f is None or seg is None:
            return False
        span = boundaries.step(
            self.text, (seg.start, seg.end), seg.tokens, (f.start, f.end), which, direction, exact=exact
        )
        if span is None:
            return False
        start, end = span
        ch = self.session.move_span(f.segment_id, f.start, f.end, start, end, snap=not exact)
        if ch is not None:
            self._restore_focus((start, end, f.label))
        return ch is not None

    def relabel_menu(self) -> None:
        if self.focus is None or not self.colors:
            self.session.message.emit("Focus a span first (Tab or click).")
            return
        menu = QMenu(self)
        menu.setObjectName("relabelMenu")
        keys = {v: k for k, v in self.shortcuts.items()}
        for name in self.offered:
            act = menu.addAction(f"{name}\t{keys.get(name, '')}")
            act.setData(name)
        rects = self.range_rects16(*self.tp.range16(self.focus.start, self.focus.end))
        at = rects[-1].bottomLeft().toPoint() if rects else self.viewport().rect().center()
        self.labelRequested.emit()
        chosen = self.exec_menu(menu, self.viewport().mapToGlobal(at))
        if chosen is not None and chosen.data():
            self.apply_label(chosen.data())

    def exec_menu(self, menu: QMenu, pos):  # tests replace this (a modal menu blocks)
        return menu.exec(pos)

    def flag_dialog(self) -> None:
        if self.session.current is None:
            return
        note, ok = QInputDialog.getText(self, "Flag for escalation", "Note for the reviewer:")
        if ok:
            self.session.flag(note)

    # ------------------------------------------------------------------ keyboard
    def event(self, e):  # Tab must reach keyPressEvent, not move the focus
        if e.type() == e.Type.KeyPress and e.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            self.keyPressEvent(e)
            return True
        if e.type() == e.Type.ShortcutOverride:
            if taken_first(self, Press.of(e)):
                e.accept()
                return True
        return super().event(e)

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        """A press goes to its row of :data:`KEYS`, or to the window's action with that key; any other to
        the (read-only) text editor."""
        if self.session.project is None:
            return super().keyPressEvent(e)
        p = Press.of(e)
        b = binding_for(self, p)
        if b is None or b.label_key:  # a window key wins over a label's key, as it does in an active window
            act = window_action(self, p)
            if act is not None:
                if act.isEnabled():
                    act.trigger()
                else:
                    self.session.message.emit(f"{act.text().replace('&', '')}: not available now.")
                return None
        if b is None or b.run is None:
            return super().keyPressEvent(e)
        b.run(self, p)
        return None

    # ------------------------------------------------------------------ mouse
    def _pos16(self, p: QPointF) -> int:
        return self.cursorForPosition(p.toPoint()).position()

    def _edge_at(self, p: QPointF) -> str | None:
        if self.focus is None:
            return None
        rects = self.range_rects16(*self.tp.range16(self.focus.start, self.focus.end))
        if not rects:
            return None
        first, last = rects[0], rects[-1]
        if abs(p.x() - first.left()) <= 4 and first.top() <= p.y() <= first.bottom():
            return "start"
        if abs(p.x() - last.right()) <= 4 and last.top() <= p.y() <= last.bottom():
            return "end"
        return None

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if e.button() == Qt.MouseButton.LeftButton:
            edge = self._edge_at(e.position())
            if edge is not None:
                self._drag = {"edge": edge, "pos16": None}
                e.accept()
                return
            self._press_pos = e.position()
        super().mousePressEvent(e)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            self._drag["pos16"] = self._pos16(e.position())
            self.viewport().update()
            return
        if e.buttons() == Qt.MouseButton.NoButton:
            edge = self._edge_at(e.position())
            self.viewport().setCursor(Qt.CursorShape.SizeHorCursor if edge else Qt.CursorShape.IBeamCursor)
            hit = self.span_at16(self._pos16(e.position()))
            if hit is not None:
                sp = hit[1]
                conf = sp.confidence
                who = "confirmed" if sp.confirmed else f"model {conf:.2f}" if conf is not None else "human"
                QToolTip.showText(e.globalPosition().toPoint(), f"{sp.label} ({who})", self)
        super().mouseMoveEvent(e)

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None and e.button() == Qt.MouseButton.LeftButton:
            drag, self._drag = self._drag, None
            f = self.focus
            pos16 = self._pos16(e.position())
            exact = bool(e.modifiers() & Qt.KeyboardModifier.ControlModifier)
            start, end = f.start, f.end
            if drag["edge"] == "start":
                start = self.tp.to_cp(pos16)
            else:
                end = self.tp.to_cp(pos16, round_up=True)
            seg = self.seg_by_id(f.segment_id)
            if seg is not None:
                start, end = max(start, seg.start), min(end, seg.end)
            if start < end and (start, end) != (f.start, f.end):
                ch = self.session.move_span(f.segment_id, f.start, f.end, start, end, snap=not exact)
                if ch is not None:
                    self._restore_focus((start, end, f.label))
            self.viewport().update()
            return
        super().mouseReleaseEvent(e)
        if e.button() == Qt.MouseButton.LeftButton and not self.textCursor().hasSelection():
            pos16 = self._pos16(e.position())
            hit = self.span_at16(pos16)
            seg = hit[0] if hit else self.segment_at16(pos16)
            if seg is not None and seg.id != self.session.current:
                self.session.goto(seg.id)
            if hit is not None:
                self.set_focus_span(hit[0], hit[1])
            else:
                self.set_focus_span(None, None)

    # ------------------------------------------------------------------ painting
    def range_rects16(self, s16: int, e16: int) -> list[QRectF]:
        """Viewport rectangles covering [s16, e16), one per visual line, for the lines on screen
        only: the first line is found by position (a 1,000,000-character line has ~15,000 visual
        lines; walking them per span froze the app for minutes)."""
        out: list[QRectF] = []
        doc = self.document()
        block = doc.findBlock(s16)
        offset = self.contentOffset()
        height = self.viewport().height()
        while block.isValid() and block.position() < e16:
            layout = block.layout()
            geo = self.blockBoundingGeometry(block).translated(offset)
            if geo.top() > height:
                break
            bp = block.position()
            first = layout.lineForTextPosition(max(0, s16 - bp)) if s16 > bp else layout.lineAt(0)
            i = first.lineNumber() if first.isValid() else 0
            while i < layout.lineCount():
                line = layout.lineAt(i)
                i += 1
                top = line.y() + geo.top()
                if top > height:
                    break
                ls, ll = line.textStart(), line.textLength()
                if ls >= e16 - bp:
                    break
                a, b = max(s16 - bp, ls), min(e16 - bp, ls + ll)
                if a >= b or top + line.height() < 0:
                    continue
                x1, x2 = _x(line, a), _x(line, b)
                if x2 < x1:
                    x1, x2 = x2, x1
                out.append(QRectF(x1 + geo.left(), top, x2 - x1, line.height()))
            block = block.next()
        return out

    def format_visible(self) -> None:
        """Format the pending blocks on screen, the block before and those within a screen below."""
        hl = self.highlighter
        if not hl.pending:
            return
        first = self.firstVisibleBlock()
        if first.previous().isValid():
            first = first.previous()
        height = self.viewport().height()
        block, offset = self.firstVisibleBlock(), self.contentOffset()
        last_pos = block.position()
        while block.isValid():
            last_pos = block.position()
            if self.blockBoundingGeometry(block).translated(offset).top() > 1.5 * height:
                break
            block = block.next()
        hl.format_blocks(first, last_pos)

    def visible_range16(self) -> tuple[int, int]:
        """UTF-16 positions from the first visible character to the end of the last visible line."""
        vp = self.viewport().rect()
        a = self.cursorForPosition(vp.topLeft()).position()
        b = self.cursorForPosition(vp.bottomRight()).position()
        block = self.document().findBlock(b)
        line = block.layout().lineForTextPosition(b - block.position())
        if line.isValid():
            return a, block.position() + line.textStart() + line.textLength()
        return a, block.position() + block.length()

    def _paint_span_frames(self, painter: QPainter) -> None:
        """Every visible span gets a frame: dotted for a model suggestion, dashed for a term-list one,
        solid when confirmed (the shape tells what the shade tells, for readers who cannot tell the
        colours apart)."""
        if not self.segs:
            return
        a16, b16 = self.visible_range16()
        i = max(0, bisect_right(self.seg_starts16, a16) - 1)
        current = self.session.current
        while i < len(self.segs):
            seg = self.segs[i]
            s16, e16 = self.seg_ranges16[i]
            if s16 > b16:
                break
            i += 1
            if e16 < a16:
                continue
            if seg.id == current:
                rects = self.range_rects16(s16, e16)
                if rects:
                    top, bottom = min(r.top() for r in rects), max(r.bottom() for r in rects)
                    painter.fillRect(QRectF(1, top, 3, bottom - top), QColor(self.theme.current_bar))
            for ss, se, sp, _nested in self.spans16(seg):
                if se < a16 or ss > b16:
                    continue
                label_color = self.colors.get(sp.label, "#888888")
                color = QColor(label_color).darker(150) if self.theme.name == "light" else QColor(label_color)
                confirmed = sp.confirmed
                style = (
                    Qt.PenStyle.SolidLine
                    if confirmed
                    else Qt.PenStyle.DashLine
                    if sp.origin == "terms"
                    else Qt.PenStyle.DotLine
                )
                pen = QPen(color, 1.6 if confirmed else 1.0, style)
                painter.setPen(pen)
                rects = self.range_rects16(ss, se)
                for r in rects:
                    painter.drawRect(r.adjusted(0, 0.5, -0.5, -0.5))
                conf = sp.confidence
                if rects and conf is not None and not confirmed:  # confidence: a bar as long as it is sure
                    r = rects[0]
                    painter.fillRect(
                        QRectF(r.left() + 1, r.bottom() - 3, max(2.0, (r.width() - 2) * conf), 2.5),
                        QColor(self.theme.text),
                    )
                if rects and self.show_tags:
                    self._paint_tag(painter, rects[-1], sp, label_color)

    def _paint_tag(self, painter: QPainter, r: QRectF, sp: ShownSpan, color: str) -> None:
        """The label's name in a small pill at the end of the span (the room was left by the highlighter)."""
        w = self.tag_width(sp)
        box = QRectF(r.right() - w - 1, r.top() + 2, w, r.height() - 5)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        painter.drawRoundedRect(box, 3, 3)
        painter.setPen(QColor(ink_for(color)))
        painter.setFont(self._tag_font)
        painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), self.tag_text(sp))
        painter.restore()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 (Qt API)
        super().scrollContentsBy(dx, dy)
        self.format_visible()

    def resizeEvent(self, e) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(e)
        self.format_visible()

    def paintEvent(self, e) -> None:  # noqa: N802
        super().paintEvent(e)
        painter = QPainter(self.viewport())
        self._paint_span_frames(painter)
        f = self.focus
        if f is None:
            painter.end()
            return
        s16, e16 = self.tp.range16(f.start, f.end)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(self.theme.focus), 2.5)
        painter.setPen(pen)
        for r in self.range_rects16(s16, e16):
            painter.drawRoundedRect(r.adjusted(-1, 0, 1, 0), 3, 3)
        if self._drag is not None and self._drag.get("pos16") is not None:
            p = self._drag["pos16"]
            a, b = (p, e16) if self._drag["edge"] == "start" else (s16, p)
            if a > b:
                a, b = b, a
            painter.setPen(QPen(QColor("#0072B2"), 2, Qt.PenStyle.DashLine))
            for r in self.range_rects16(a, b):
                painter.drawRect(r)
        painter.end()
