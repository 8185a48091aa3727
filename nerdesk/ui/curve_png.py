"""Learning curves as a PNG, drawn with QPainter on a QImage (no plotting library needed).
Used by ``nerdesk simulate``; works offscreen."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


def learning_curve_png(results: list[dict[str, Any]], path: Path, width: int = 1100, height: int = 460) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
    from PySide6.QtWidgets import QApplication

    # a QApplication, not a bare QGuiApplication: in a process that later opens a window (the test
    # suite) a QGuiApplication makes the first QWidget abort the interpreter
    _app = QApplication.instance() or QApplication([])
    img = QImage(width, height, QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setFont(QFont("DejaVu Sans", 9))
    panels = [("segments", "corrected segments"), ("actions", "edit actions")]
    pw = width // 2
    ymax = max(max(pt["f1"] + pt.get("f1_std", 0) for pt in r["curve"]) for r in results)
    ymax = min(1.0, max(0.1, ymax * 1.1))
    for k, (key, title) in enumerate(panels):
        left, top, right, bottom = k * pw + 60, 40, (k + 1) * pw - 20, height - 50
        xmax = max(max(pt[key] for pt in r["curve"]) for r in results) or 1
        p.setPen(QPen(QColor("#333"), 1))
        p.drawRect(QRectF(left, top, right - left, bottom - top))
        p.drawText(QRectF(left, bottom + 22, right - left, 20), Qt.AlignmentFlag.AlignHCenter, title)
        p.drawText(QRectF(left, 10, right - left, 20), Qt.AlignmentFlag.AlignHCenter, f"test F1 vs {title}")
        for i in range(6):
            y = bottom - (bottom - top) * i / 5
            p.setPen(QPen(QColor("#ddd"), 1))
            p.drawLine(QPointF(left, y), QPointF(right, y))
            p.setPen(QPen(QColor("#333"), 1))
            p.drawText(QRectF(left - 50, y - 8, 45, 16), Qt.AlignmentFlag.AlignRight, f"{ymax * i / 5:.2f}")
        for i in range(5):
            x = left + (right - left) * i / 4
            p.drawText(QRectF(x - 30, bottom + 4, 60, 16), Qt.AlignmentFlag.AlignHCenter, f"{xmax * i / 4:.0f}")

        def pos(pt):
            return QPointF(left + (right - left) * pt[key] / xmax, bottom - (bottom - top) * pt["f1"] / ymax)

        for j, r in enumerate(results):
            color = QColor(COLORS[j % len(COLORS)])
            p.setPen(QPen(color, 2))
            pts = [pos(pt) for pt in r["curve"]]
            for a, b in zip(pts, pts[1:]):
                p.drawLine(a, b)
            for q in pts:
                p.drawEllipse(q, 3, 3)
            if k == 0:
                p.drawText(
                    QRectF(left + 10, top + 8 + 16 * j, right - left - 20, 16),
                    Qt.AlignmentFlag.AlignLeft,
                    f"{r['strategy']} ({Path(r['train']).parent.name}, {r['seeds']} seed(s))",
                )
    p.end()
    img.save(str(path))
