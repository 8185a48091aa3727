"""Small QPainter charts for the dashboard (no plotting library): grouped bars, lines, and a
reliability diagram. Each draws its title, axes with ticks, a legend, and the values as text
where they fit, so nothing is told by colour alone."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

PALETTE = ["#3b7dd8", "#e08a2c", "#3aa676", "#b84fa8", "#8c8c8c"]
DASHES = [Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine]


class _Chart(QWidget):
    def __init__(self, title: str = "", parent=None):
        super().__init__(parent)
        self.title = title
        self.empty_text = "No data yet"
        self.setMinimumSize(320, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def _frame(self, p: QPainter) -> QRectF:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        f = QFont(self.font())
        f.setBold(True)
        p.setFont(f)
        p.setPen(self.palette().text().color())
        p.drawText(QRectF(8, 4, self.width() - 16, 20), Qt.AlignmentFlag.AlignLeft, self.title)
        p.setFont(self.font())
        return QRectF(46, 30, max(10, self.width() - 46 - 16), max(10, self.height() - 30 - 52))

    def _axes(self, p: QPainter, plot: QRectF, lo: float, hi: float, ticks: int = 5, fmt="{:.1f}") -> None:
        grid = QPen(QColor(0, 0, 0, 40))
        for i in range(ticks + 1):
            v = lo + (hi - lo) * i / ticks
            y = plot.bottom() - plot.height() * i / ticks
            p.setPen(grid)
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(self.palette().text().color())
            p.drawText(QRectF(0, y - 8, plot.left() - 4, 16), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       fmt.format(v))
        p.setPen(QPen(self.palette().text().color(), 1))
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        p.drawLine(plot.bottomLeft(), plot.topLeft())

    def _legend(self, p: QPainter, names: list[str], *, lines: bool = False) -> None:
        x, y = 46.0, self.height() - 18.0
        for i, name in enumerate(names):
            c = QColor(PALETTE[i % len(PALETTE)])
            if lines:
                p.setPen(QPen(c, 2, DASHES[i % len(DASHES)]))
                p.drawLine(QPointF(x, y), QPointF(x + 18, y))
            else:
                p.fillRect(QRectF(x, y - 5, 12, 10), c)
            p.setPen(self.palette().text().color())
            w = p.fontMetrics().horizontalAdvance(name)
            p.drawText(QPointF(x + 22, y + 4), name)
            x += 22 + w + 18

    def _empty(self, p: QPainter, plot: QRectF) -> None:
        p.setPen(QColor(120, 120, 120))
        p.drawText(plot, Qt.AlignmentFlag.AlignCenter, self.empty_text)


class BarChart(_Chart):
    """Grouped bars: groups (x) × series, values in [lo, hi]."""

    def __init__(self, title: str = "", parent=None):
        super().__init__(title, parent)
        self.groups: list[str] = []
        self.series: list[str] = []
        self.values: dict[tuple[str, str], float | None] = {}
        self.hi = 1.0
        self.integer = False  # counts: whole-number ticks and values

    def set_data(self, groups: list[str], series: list[str], values: dict[tuple[str, str], float | None],
                 hi: float = 1.0) -> None:
        self.groups, self.series, self.values, self.hi = groups, series, values, hi
        self.update()

    def paintEvent(self, _e) -> None:  # noqa: N802
        p = QPainter(self)
        plot = self._frame(p)
        if self.integer:
            self._axes(p, plot, 0.0, self.hi, ticks=int(min(5, max(1, self.hi))), fmt="{:.0f}")
        else:
            self._axes(p, plot, 0.0, self.hi)
        if not self.groups or all(v is None for v in self.values.values()):
            self._empty(p, plot)
            p.end()
            return
        gw = plot.width() / len(self.groups)
        bw = min(42.0, gw * 0.8 / max(1, len(self.series)))
        for gi, g in enumerate(self.groups):
            x0 = plot.left() + gi * gw + (gw - bw * len(self.series)) / 2
            for si, s in enumerate(self.series):
                v = self.values.get((g, s))
                x = x0 + si * bw
                if v is None:
                    p.setPen(QColor(120, 120, 120))
                    p.drawText(QRectF(x, plot.bottom() - 16, bw, 14), Qt.AlignmentFlag.AlignCenter, "—")
                    continue
                h = plot.height() * max(0.0, min(v, self.hi)) / self.hi
                r = QRectF(x + 1, plot.bottom() - h, bw - 2, h)
                p.fillRect(r, QColor(PALETTE[si % len(PALETTE)]))
                p.setPen(self.palette().text().color())
                p.drawText(QRectF(x - 6, r.top() - 15, bw + 12, 14), Qt.AlignmentFlag.AlignCenter,
                           f"{v:.0f}" if self.integer else f"{v:.2f}")
            label = p.fontMetrics().elidedText(g, Qt.TextElideMode.ElideMiddle, int(gw) - 4)
            p.drawText(QRectF(plot.left() + gi * gw, plot.bottom() + 2, gw, 16), Qt.AlignmentFlag.AlignCenter, label)
        self._legend(p, self.series)
        p.end()


class LineChart(_Chart):
    """Lines over x labels; None values leave a gap."""

    def __init__(self, title: str = "", parent=None):
        super().__init__(title, parent)
        self.xlabels: list[str] = []
        self.lines: dict[str, list[float | None]] = {}
        self.hi = 1.0

    def set_data(self, xlabels: list[str], lines: dict[str, list[float | None]], hi: float = 1.0) -> None:
        self.xlabels, self.lines, self.hi = xlabels, lines, hi
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

        p.setPen(self.palette().text().color())
        for i, lab in enumerate(self.xlabels):
            x = plot.left() + plot.width() * i / n
            p.drawText(QRectF(x, plot.bottom() + 2, plot.width() / n, 16), Qt.AlignmentFlag.AlignCenter, lab)
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
                if v is not None:
                    pt = xy(i, v)
                    p.setBrush(c)
                    p.setPen(Qt.PenStyle.NoPen)
                    p.drawEllipse(pt, 3.5, 3.5)
                    p.setPen(c.darker(150))
                    p.drawText(QRectF(pt.x() - 24, pt.y() - 18 - 12 * li, 48, 14), Qt.AlignmentFlag.AlignCenter,
                               f"{v:.2f}")
        p.setBrush(Qt.BrushStyle.NoBrush)
        self._legend(p, list(self.lines), lines=True)
        p.end()


class ReliabilityChart(_Chart):
    """Confidence bins against the share of spans that were right; the diagonal is perfect
    calibration. Bars are the accuracy per bin, dots the mean confidence; n under each bin."""

    def __init__(self, title: str = "Reliability", parent=None):
        super().__init__(title, parent)
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
                p.drawText(QRectF(x - bw / 2, plot.bottom() + 2, bw, 14), Qt.AlignmentFlag.AlignCenter, f"{b['low']:.1f}")
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
        self._legend(p, ["accuracy (share exactly right)", "mean confidence"])
        if self.ece is not None:
            p.setPen(self.palette().text().color())
            p.drawText(QRectF(plot.left() + 8, plot.top() + 2, 200, 16), Qt.AlignmentFlag.AlignLeft, f"ECE {self.ece:.3f}")
        p.end()
