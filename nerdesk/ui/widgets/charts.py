"""Small QPainter charts for the dashboard (no plotting library): grouped bars, stacked shares,
lines with alert thresholds, and a reliability diagram. Each draws its title, axes with ticks, a
legend, and the values as text where they fit, so nothing is told by colour alone; every bar,
segment and point also has a tooltip with its exact value (``tip_at`` answers the same)."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

PALETTE = ["#3b7dd8", "#e08a2c", "#3aa676", "#b84fa8", "#8c8c8c", "#c9b52f", "#56b4e9", "#d55e00"]
DASHES = [Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine]
ALERT = "#b00020"


def _count_step(top: float) -> int:
    """A whole tick step (1, 2 or 5 × 10^k) that cuts [0, top] into at most 5 ticks."""
    raw = max(1.0, top / 5)
    mag = 10 ** math.floor(math.log10(raw))
    return int(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


def count_top(values) -> float:
    """The axis top for counts: at least 1, the largest value rounded up to a whole tick step."""
    top = max([0, *[v for v in values if v is not None]])
    step = _count_step(top)
    return float(max(1, step * math.ceil(top / step)))


class _Chart(QWidget):
    def __init__(self, title: str = "", parent=None):
        super().__init__(parent)
        self.title = title
        self.bottom = 52  # below the plot: the x labels and the legend
        self.empty_text = "No data yet"
        self.tips: list[tuple[QRectF, str]] = []  # hit areas of the last paint, for tooltips
        self.setMinimumSize(320, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def tip_at(self, pos: QPointF) -> str | None:
        """The tooltip text at ``pos`` (widget coordinates), from the last paint."""
        for rect, text in reversed(self.tips):
            if rect.contains(pos):
                return text
        return None

    def event(self, e) -> bool:
        if e.type() == QEvent.Type.ToolTip:
            text = self.tip_at(QPointF(e.pos()))
            if text:
                QToolTip.showText(e.globalPos(), text, self)
            else:
                QToolTip.hideText()
                e.ignore()
            return True
        return super().event(e)

    def _tip(self, rect: QRectF, text: str) -> None:
        self.tips.append((QRectF(rect), text))

    def _frame(self, p: QPainter) -> QRectF:
        self.tips = []
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        f = QFont(self.font())
        f.setBold(True)
        p.setFont(f)
        p.setPen(self.palette().text().color())
        title = p.fontMetrics().elidedText(self.title, Qt.TextElideMode.ElideRight, self.width() - 16)
        p.drawText(QRectF(8, 4, self.width() - 16, 20), Qt.AlignmentFlag.AlignLeft, title)
        p.setFont(self.font())
        return QRectF(46, 30, max(10, self.width() - 46 - 16), max(10, self.height() - 30 - self.bottom))

    def _axes(self, p: QPainter, plot: QRectF, lo: float, hi: float, ticks: int = 5, fmt="{:.1f}") -> None:
        grid = QPen(QColor(0, 0, 0, 40))
        for i in range(ticks + 1):
            v = lo + (hi - lo) * i / ticks
            y = plot.bottom() - plot.height() * i / ticks
            p.setPen(grid)
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(self.palette().text().color())
            p.drawText(
                QRectF(0, y - 8, plot.left() - 4, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                fmt.format(v),
            )
        p.setPen(QPen(self.palette().text().color(), 1))
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        p.drawLine(plot.bottomLeft(), plot.topLeft())

    def _legend(self, p: QPainter, names: list[str], *, lines: bool = False, colors: list[str] | None = None) -> None:
        x, y = 46.0, self.height() - 18.0
        colors = colors or PALETTE
        fm = p.fontMetrics()
        for i, name in enumerate(names):
            w = fm.horizontalAdvance(name)
            if x + 22 + w > self.width() - 8:  # no room left: say so, the tooltips name the rest
                p.setPen(self.palette().text().color())
                p.drawText(QPointF(x, y + 4), f"+{len(names) - i} more")
                break
            c = QColor(colors[i % len(colors)])
            if lines:
                p.setPen(QPen(c, 2, DASHES[i % len(DASHES)]))
                p.drawLine(QPointF(x, y), QPointF(x + 18, y))
            else:
                p.fillRect(QRectF(x, y - 5, 12, 10), c)
            p.setPen(self.palette().text().color())
            p.drawText(QPointF(x + 22, y + 4), name)
            x += 22 + w + 18

    def _empty(self, p: QPainter, plot: QRectF) -> None:
        p.setPen(QColor(120, 120, 120))
        p.drawText(plot, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)

    def _xlabel(self, p: QPainter, rect: QRectF, text: str) -> None:
        p.setPen(self.palette().text().color())
        label = p.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, max(8, int(rect.width()) - 4))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)


class BarChart(_Chart):
    """Grouped bars: groups (x) × series, values in [0, hi]. ``texts`` overrides the value
    written above a bar, ``notes`` adds to its tooltip; ``colors`` replaces the palette."""

    def __init__(self, title: str = "", parent=None):
        super().__init__(title, parent)
        self.groups: list[str] = []
        self.series: list[str] = []
        self.values: dict[tuple[str, str], float | None] = {}
        self.texts: dict[tuple[str, str], str] = {}
        self.notes: dict[tuple[str, str], str] = {}
        self.colors: list[str] | None = None
        self.hi = 1.0
        self.integer = False  # counts: whole-number ticks and values
        self.percent = False  # shares: ticks and values in %

    def set_data(
        self,
        groups: list[str],
        series: list[str],
        values: dict[tuple[str, str], float | None],
        hi: float = 1.0,
        *,
        texts: dict | None = None,
        notes: dict | None = None,
    ) -> None:
        self.groups, self.series, self.values, self.hi = groups, series, values, hi
        self.texts, self.notes = texts or {}, notes or {}
        self.update()

    def _value_text(self, v: float) -> str:
        return f"{v:.0f}" if self.integer else f"{v:.0%}" if self.percent else f"{v:.2f}"

    def paintEvent(self, _e) -> None:  # noqa: N802
        p = QPainter(self)
        plot = self._frame(p)
        if self.integer:
            step = _count_step(self.hi)
            ticks = round(self.hi / step) if self.hi % step == 0 else int(min(5, max(1, self.hi)))
            self._axes(p, plot, 0.0, self.hi, ticks=max(1, ticks), fmt="{:.0f}")
        elif self.percent:
            self._axes(p, plot, 0.0, self.hi, ticks=5, fmt="{:.0%}")
        else:
            self._axes(p, plot, 0.0, self.hi)
        if not self.groups or all(v is None for v in self.values.values()):
            self._empty(p, plot)
            p.end()
            return
        colors = self.colors or PALETTE
        fm = p.fontMetrics()
        gw = plot.width() / len(self.groups)
        bw = min(42.0, gw * 0.8 / max(1, len(self.series)))
        for gi, g in enumerate(self.groups):
            x0 = plot.left() + gi * gw + (gw - bw * len(self.series)) / 2
            for si, s in enumerate(self.series):
                v = self.values.get((g, s))
                x = x0 + si * bw
                note = self.notes.get((g, s))
                if v is None:
                    p.setPen(QColor(120, 120, 120))
                    r = QRectF(x, plot.bottom() - 16, bw, 14)
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, "—")
                    self._tip(r.adjusted(0, -20, 0, 0), f"{g} · {s}: no value" + (f"\n{note}" if note else ""))
                    continue
                h = plot.height() * max(0.0, min(v, self.hi)) / self.hi
                r = QRectF(x + 1, plot.bottom() - h, bw - 2, h)
                p.fillRect(r, QColor(colors[si % len(colors)]))
                text = self.texts.get((g, s), self._value_text(v))
                self._tip(
                    QRectF(x, min(r.top(), plot.bottom() - 8) - 16, bw, max(h, 8) + 16),
                    f"{g} · {s}: {text}" + (f"\n{note}" if note else ""),
                )
                room = gw if len(self.series) == 1 else bw + 12
                if fm.horizontalAdvance(text) > room:
                    text = self._value_text(v)  # the long form stays in the tooltip
                if fm.horizontalAdvance(text) <= room:
                    p.setPen(self.palette().text().color())
                    p.drawText(
                        QRectF(x + bw / 2 - room / 2, r.top() - 15, room, 14), Qt.AlignmentFlag.AlignCenter, text
                    )
            self._xlabel(p, QRectF(plot.left() + gi * gw, plot.bottom() + 2, gw, 16), g)
        self._legend(p, self.series, colors=colors)
        p.end()


class StackedBarChart(_Chart):
    """One bar per group, stacked shares (each group's parts sum to 1): e.g. the predicted label
    mix per window. The share is written inside a part tall enough to hold it."""

    def __init__(self, title: str = "", parent=None):
        super().__init__(title, parent)
        self.groups: list[str] = []
        self.parts: list[str] = []
        self.shares: dict[str, dict[str, float]] = {}
        self.alert: str | None = None  # drawn in red under the title

    def _frame(self, p: QPainter) -> QRectF:
        plot = super()._frame(p)
        if not self.alert:
            return plot
        p.setPen(QColor(ALERT))
        text = p.fontMetrics().elidedText(self.alert, Qt.TextElideMode.ElideRight, self.width() - 16)
        p.drawText(QRectF(8, 24, self.width() - 16, 18), Qt.AlignmentFlag.AlignLeft, text)
        self._tip(QRectF(8, 24, self.width() - 16, 18), self.alert)
        return plot.adjusted(0, 18, 0, 0)

    def set_data(self, groups: list[str], shares: dict[str, dict[str, float]], alert: str | None = None) -> None:
        self.groups, self.shares, self.alert = groups, shares, alert
        self.parts = sorted({k for g in groups for k in shares.get(g, {})})
        self.update()

    def paintEvent(self, _e) -> None:  # noqa: N802
        p = QPainter(self)
        plot = self._frame(p)
        self._axes(p, plot, 0.0, 1.0, ticks=4, fmt="{:.0%}")
        if not self.groups or not any(self.shares.get(g) for g in self.groups):
            self._empty(p, plot)
            p.end()
            return
        fm = p.fontMetrics()
        gw = plot.width() / len(self.groups)
        bw = min(56.0, gw * 0.7)
        for gi, g in enumerate(self.groups):
            x = plot.left() + gi * gw + (gw - bw) / 2
            y = plot.bottom()
            mix = self.shares.get(g, {})
            for pi, part in enumerate(self.parts):
                v = mix.get(part, 0.0)
                if v <= 0:
                    continue
                h = plot.height() * min(v, 1.0)
                r = QRectF(x, y - h, bw, h)
                c = QColor(PALETTE[pi % len(PALETTE)])
                p.fillRect(r, c)
                self._tip(r, f"{g}: {part} {v:.1%} of predicted spans")
                text = f"{v:.0%}"
                if h >= fm.height() and fm.horizontalAdvance(text) <= bw - 2:
                    p.setPen(QColor("white") if c.lightnessF() < 0.6 else QColor("black"))
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, text)
                y -= h
            if not mix:
                p.setPen(QColor(120, 120, 120))
                p.drawText(QRectF(x, plot.bottom() - 16, bw, 14), Qt.AlignmentFlag.AlignCenter, "—")
            self._xlabel(p, QRectF(plot.left() + gi * gw, plot.bottom() + 2, gw, 16), g)
        self._legend(p, self.parts)
        p.end()


class LineChart(_Chart):
    """Lines over x labels; None values leave a gap. ``thresholds`` (value, series or None, text)
    draw a dashed alert line; a point of that series above it is ringed in red."""

    def __init__(self, title: str = "", parent=None):
        super().__init__(title, parent)
        self.xlabels: list[str] = []
        self.lines: dict[str, list[float | None]] = {}
        self.thresholds: list[tuple[float, str | None, str]] = []
        self.hi = 1.0

    def set_data(
        self,
        xlabels: list[str],
        lines: dict[str, list[float | None]],
        hi: float = 1.0,
        thresholds: list[tuple[float, str | None, str]] | None = None,
    ) -> None:
        self.xlabels, self.lines, self.hi = xlabels, lines, hi
        self.thresholds = thresholds or []
        self.update()

    def paintEvent(self, _e) -> None:  # noqa: N802
        p = QPainter(self)
        plot = self._frame(p)
        self._axes(p, plot, 0.0, self.hi)
        n = len(self.xlabels)
        if not n or all(v is None for vs in self.lines.values() for v in vs):
            self._empty(p, plot)
            p.end()
            return

        def xy(i: int, v: float) -> QPointF:
            x = plot.left() + (plot.width() * (i + 0.5) / n)
            return QPointF(x, plot.bottom() - plot.height() * max(0.0, min(v, self.hi)) / self.hi)

        for i, lab in enumerate(self.xlabels):
            x = plot.left() + plot.width() * i / n
            self._xlabel(p, QRectF(x, plot.bottom() + 2, plot.width() / n, 16), lab)
        for value, _series, text in self.thresholds:
            y = xy(0, value).y()
            p.setPen(QPen(QColor(ALERT), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(QColor(ALERT))
            p.drawText(QRectF(plot.left() + 4, y - 15, plot.width() - 8, 14), Qt.AlignmentFlag.AlignRight, text)
        limits = {s: v for v, s, _ in self.thresholds if s}
        if n <= 12:  # values as text while they fit (the tooltips always have them)
            self._value_labels(p, xy, plot)
        for li, (name, vals) in enumerate(self.lines.items()):
            c = QColor(PALETTE[li % len(PALETTE)])
            pen = QPen(c, 2, DASHES[li % len(DASHES)])
            path, started = QPainterPath(), False
            for i, v in enumerate(vals):
                if v is None:
                    started = False
                    continue
                pt = xy(i, v)
                if started:
                    path.lineTo(pt)
                else:
                    path.moveTo(pt)
                    started = True
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(pen)
            p.drawPath(path)
            for i, v in enumerate(vals):
                if v is None:
                    continue
                pt = xy(i, v)
                over = name in limits and v > limits[name]
                if over:
                    p.setBrush(Qt.BrushStyle.NoBrush)
                    p.setPen(QPen(QColor(ALERT), 2))
                    p.drawEllipse(pt, 7, 7)
                p.setBrush(c)
                p.setPen(Qt.PenStyle.NoPen)
                p.drawEllipse(pt, 3.5, 3.5)
                self._tip(
                    QRectF(pt.x() - 8, pt.y() - 8, 16, 16),
                    f"{self.xlabels[i]} · {name}: {v:.3f}" + (" (above its alert line)" if over else ""),
                )
        p.setBrush(Qt.BrushStyle.NoBrush)
        self._legend(p, list(self.lines), lines=True)
        p.end()

    def _value_labels(self, p: QPainter, xy, plot: QRectF) -> None:
        """Each point's value, above it, or below it where the line above (or the title) took the room."""
        h = p.fontMetrics().height()
        for i in range(len(self.xlabels)):
            pts = sorted(
                (xy(i, vals[i]).y(), li, vals[i])
                for li, vals in enumerate(self.lines.values())
                if i < len(vals) and vals[i] is not None
            )
            bottom = plot.top() - 4  # the lowest edge of what is above: the title, then the labels placed here
            for y, li, v in pts:
                top = y - 6 - h  # above the point
                if top < bottom:
                    top = max(y + 5, bottom)  # below it, clear of the label above
                bottom = top + h
                x = xy(i, v).x()
                p.setPen(QColor(PALETTE[li % len(PALETTE)]).darker(150))
                p.drawText(QRectF(x - 24, top, 48, h), Qt.AlignmentFlag.AlignCenter, f"{v:.2f}")


class ReliabilityChart(_Chart):
    """Confidence bins against the share of spans that were right; the diagonal is perfect
    calibration. Bars are the accuracy per bin, dots the mean confidence; n under each bin."""

    def __init__(self, title: str = "Reliability", parent=None):
        super().__init__(title, parent)
        self.bottom = 66  # bin edges, then the spans per bin, then the legend
        self.bins: list[dict] = []
        self.ece: float | None = None

    def set_data(self, bins: list[dict], ece: float | None) -> None:
        self.bins, self.ece = bins, ece
        self.update()

    def paintEvent(self, _e) -> None:  # noqa: N802
        p = QPainter(self)
        plot = self._frame(p)
        self._axes(p, plot, 0.0, 1.0)
        if not self.bins or not any(b["n"] for b in self.bins):
            self._empty(p, plot)
            p.end()
            return
        p.setPen(QPen(QColor(120, 120, 120), 1, Qt.PenStyle.DashLine))
        p.drawLine(plot.bottomLeft(), plot.topRight())
        k = len(self.bins)
        bw = plot.width() / k
        for i, b in enumerate(self.bins):
            x = plot.left() + i * bw
            p.setPen(self.palette().text().color())
            if i % 2 == 0 or k <= 10:
                p.drawText(
                    QRectF(x - bw / 2, plot.bottom() + 2, bw, 14), Qt.AlignmentFlag.AlignCenter, f"{b['low']:.1f}"
                )
            if not b["n"]:
                continue
            h = plot.height() * b["accuracy"]
            p.fillRect(QRectF(x + 2, plot.bottom() - h, bw - 4, h), QColor(PALETTE[0]))
            cy = plot.bottom() - plot.height() * b["confidence"]
            p.setBrush(QColor(PALETTE[1]))
            p.setPen(Qt.PenStyle.NoPen)
            p.drawEllipse(QPointF(x + bw / 2, cy), 3.5, 3.5)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(self.palette().text().color())
            p.drawText(QRectF(x, plot.bottom() + 16, bw, 14), Qt.AlignmentFlag.AlignCenter, f"n{b['n']}")
            self._tip(
                QRectF(x, plot.top(), bw, plot.height() + 30),
                f"confidence {b['low']:.1f}–{b['high']:.1f}: {b['n']} spans, {b['accuracy']:.0%} exactly "
                f"right, mean confidence {b['confidence']:.2f}",
            )
        self._legend(p, ["accuracy (share exactly right)", "mean confidence"])
        if self.ece is not None:
            text = f"ECE {self.ece:.3f}"
            box = QRectF(plot.left() + 6, plot.top() + 2, p.fontMetrics().horizontalAdvance(text) + 8, 18)
            p.fillRect(box, QColor(255, 255, 255, 210))
            p.setPen(self.palette().text().color())
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        p.end()
