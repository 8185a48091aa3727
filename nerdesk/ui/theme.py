"""How the text and its spans look: the light and dark themes, the colour-blind-safe palette, the
contrast arithmetic that keeps every text legible (WCAG 2 relative luminance), and the View settings
remembered per user (QSettings ``view/...``).

Every ink is chosen against what it is drawn on: the context text of a theme has at least 4.5:1 on
its background (``tests/ui/test_labels_ui.py`` computes it), and the ink of a span and of its label tag
is black or white, whichever contrasts more with the span's colour as drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Okabe & Ito's colour-blind-safe palette (black left out), then Paul Tol's "muted" scheme.
COLOUR_BLIND_SAFE = [
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
]

#: The minimum contrast of text (WCAG AA, normal text).
MIN_CONTRAST = 4.5


@dataclass(frozen=True)
class Theme:
    name: str
    base: str  # the page
    text: str  # the current segment's ink
    context: str  # the ink of the text around it (was #7A7A7A: 4.3:1, below AA)
    current_bg: str  # the current segment's background
    current_bar: str  # the bar left of the current segment
    low_mark: str  # the wavy underline of a low-confidence span
    focus: str  # the frame of the focused span
    span_alpha: float  # how strongly a model suggestion is tinted (a confirmed span: more)
    window: str  # the widgets around the text
    window_text: str


LIGHT = Theme(
    "light",
    base="#ffffff",
    text="#000000",
    context="#595959",
    current_bg="#eef1f5",
    current_bar="#0072B2",
    low_mark="#b00020",
    focus="#111111",
    span_alpha=0.38,
    window="#f0f0f0",
    window_text="#000000",
)
DARK = Theme(
    "dark",
    base="#1e1f22",
    text="#f2f2f2",
    context="#a8a8a8",
    current_bg="#2c323b",
    current_bar="#56B4E9",
    low_mark="#ff7a8a",
    focus="#f2f2f2",
    span_alpha=0.45,
    window="#2b2d31",
    window_text="#e8e8e8",
)
THEMES = {"light": LIGHT, "dark": DARK}

#: Text sizes the View menu steps through (points).
FONT_MIN, FONT_MAX, FONT_DEFAULT = 8.0, 28.0, 11.0


def _channel(c: int) -> float:
    v = c / 255
    return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4


def rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def hex_of(r: float, g: float, b: float) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(max(0, min(255, round(x))) for x in (r, g, b)))


def luminance(color: str) -> float:
    r, g, b = rgb(color)
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""
    la, lb = luminance(a), luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def blend(color: str, alpha: float, under: str) -> str:
    """``color`` at ``alpha`` over ``under``: what the eye sees."""
    fr, fg, fb = rgb(color)
    ur, ug, ub = rgb(under)
    return hex_of(fr * alpha + ur * (1 - alpha), fg * alpha + ug * (1 - alpha), fb * alpha + ub * (1 - alpha))


def ink_for(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (never below 4.5:1 for an opaque colour)."""
    return "#000000" if contrast("#000000", background) >= contrast("#ffffff", background) else "#ffffff"


def span_alpha(theme: Theme, *, confirmed: bool, current: bool) -> float:
    """How opaque a span's label colour is drawn: stronger once a human confirmed it. Confidence is not
    told by paleness (a pale yellow was invisible) but by the bar under the span and the tag."""
    return min(0.85, theme.span_alpha * (1.6 if confirmed else 1.0) * (1.0 if current else 0.8))


def span_background(theme: Theme, color: str, *, confirmed: bool, current: bool) -> str:
    """The colour a span is seen in: its label's colour over the page (or the current segment's background)."""
    return blend(
        color, span_alpha(theme, confirmed=confirmed, current=current), theme.current_bg if current else theme.base
    )


def label_colors(labels: list[dict], *, colour_blind_safe: bool) -> dict[str, str]:
    """Label -> colour: the project's, or the colour-blind-safe palette in palette order."""
    if not colour_blind_safe:
        return {lab["name"]: lab["color"] for lab in labels}
    return {lab["name"]: COLOUR_BLIND_SAFE[i % len(COLOUR_BLIND_SAFE)] for i, lab in enumerate(labels)}


@dataclass
class ViewSettings:
    """What the View menu sets, remembered per user (QSettings)."""

    theme: str = "light"
    tags: bool = True
    colour_blind_safe: bool = False
    font_pt: float = FONT_DEFAULT

    @classmethod
    def load(cls, settings) -> ViewSettings:
        def flag(key: str, default: bool) -> bool:
            v = settings.value(key, default)
            return v if isinstance(v, bool) else str(v).lower() in ("true", "1")

        theme = str(settings.value("view/theme", "light"))
        try:
            pt = float(settings.value("view/font_pt", FONT_DEFAULT))
        except (TypeError, ValueError):
            pt = FONT_DEFAULT
        return cls(
            theme=theme if theme in THEMES else "light",
            tags=flag("view/tags", True),
            colour_blind_safe=flag("view/colour_blind_safe", False),
            font_pt=max(FONT_MIN, min(FONT_MAX, pt)),
        )

    def save(self, settings) -> None:
        settings.setValue("view/theme", self.theme)
        settings.setValue("view/tags", self.tags)
        settings.setValue("view/colour_blind_safe", self.colour_blind_safe)
        settings.setValue("view/font_pt", self.font_pt)

    @property
    def palette(self) -> Theme:
        return THEMES[self.theme]


def qpalette(theme: Theme):
    """A QPalette for the whole app in this theme."""
    from PySide6.QtGui import QColor, QPalette

    pal = QPalette()
    roles = QPalette.ColorRole
    for role, color in (
        (roles.Window, theme.window),
        (roles.WindowText, theme.window_text),
        (roles.Base, theme.base),
        (roles.AlternateBase, theme.current_bg),
        (roles.Text, theme.text),
        (roles.Button, theme.window),
        (roles.ButtonText, theme.window_text),
        (roles.ToolTipBase, theme.base),
        (roles.ToolTipText, theme.text),
        (roles.PlaceholderText, theme.context),
        (roles.Highlight, theme.current_bar),
        (roles.HighlightedText, ink_for(theme.current_bar)),
    ):
        pal.setColor(role, QColor(color))
    return pal
