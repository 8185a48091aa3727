"""The label palette (colour, name, shortcut key; click to apply) and the confidence legend."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from nerdesk.ui.theme import LIGHT
from nerdesk.ui.widgets.document_view import COMMAND_KEYS, LOW_CONFIDENCE, LOW_MARK


class LabelButton(QPushButton):
    def __init__(self, name: str, color: str, shortcut: str | None, parent=None, definition: str = ""):
        super().__init__(parent)
        self.name = name
        self.color = QColor(color)
        self.shortcut_key = shortcut
        self.setObjectName(f"label_{name}")
        self.setText(f"  {name}" + (f"   [{shortcut}]" if shortcut else ""))
        self.definition = definition
        self.setToolTip(
            (f"<b>{html.escape(name)}</b>: {html.escape(definition)}<br>" if definition else "")
            + f"Apply {html.escape(name)} to the selection or the focused span"
            + (f" (key {shortcut})" if shortcut else "")
        )
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep the keyboard in the document
        self.setStyleSheet(
            f"QPushButton {{ text-align: left; padding: 4px 6px; border: 1px solid #888;"
            f" border-left: 14px solid {color}; border-radius: 3px; background: #fafafa; color: #111111; }}"
            "QPushButton:hover { background: #eef; }"
        )  # its own ink: legible in the dark theme too


class Legend(QWidget):
    """Swatches: confidence shading, the low-confidence underline, term-list suggestions, confirmed = bold."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(112)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def paintEvent(self, e) -> None:  # noqa: N802
        p = QPainter(self)
        base = QColor("#56B4E9")
        fm = p.fontMetrics()
        y = 4
        p.drawText(4, y + fm.ascent(), "Model confidence (bar, tag %):")
        y += fm.height() + 2
        x = 4
        for conf in (0.2, 0.5, 0.8, 1.0):  # the span keeps its colour; a bar under it is as long as it is sure
            c = QColor(base)
            c.setAlphaF(LIGHT.span_alpha)
            w = fm.horizontalAdvance("0.0") + 10
            p.fillRect(x, y, w, fm.height(), c)
            p.fillRect(x + 1, y + fm.height() - 3, max(2, int((w - 2) * conf)), 2, QColor("#000"))
            p.setPen(QColor("#000"))
            p.drawText(x + 5, y + fm.ascent(), f"{conf:.1f}")
            if conf < LOW_CONFIDENCE:
                pen = QPen(LOW_MARK, 1)
                p.setPen(pen)
                yy = y + fm.height() - 1
                for i in range(x, x + w - 2, 4):
                    p.drawLine(i, yy, i + 2, yy - 2)
                    p.drawLine(i + 2, yy - 2, i + 4, yy)
                p.setPen(QColor("#000"))
            x += w + 4
        y += fm.height() + 4
        p.drawText(4, y + fm.ascent(), f"wavy underline: below {LOW_CONFIDENCE:.1f}")
        y += fm.height() + 2
        term = "italic, dashed: term list"
        fi = QFont(p.font())
        fi.setItalic(True)
        p.setFont(fi)
        c = QColor(base)
        c.setAlpha(110)
        tw = p.fontMetrics().horizontalAdvance(term) + 8
        p.fillRect(4, y, tw, fm.height(), c)
        p.setPen(QPen(QColor("#333"), 1, Qt.PenStyle.DashLine))
        p.drawRect(4, y, tw, fm.height() - 1)
        p.setPen(QColor("#000"))
        p.drawText(8, y + fm.ascent(), term)
        p.setFont(QFont(self.font()))
        y += fm.height() + 4
        f = QFont(p.font())
        f.setBold(True)
        p.setFont(f)
        c = QColor(base)
        c.setAlpha(150)
        p.fillRect(4, y, fm.horizontalAdvance("bold: confirmed by a human") + 16, fm.height(), c)
        p.drawText(6, y + fm.ascent(), "bold: confirmed by a human")
        p.end()


class LabelPalette(QWidget):
    labelChosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("labelPalette")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._buttons: list[LabelButton] = []
        self.title = QLabel("<b>Labels</b>")
        self._layout.addWidget(self.title)
        self._end = QWidget()
        self._layout.addWidget(self._end)
        self.legend = Legend()
        self._layout.addWidget(self.legend)

    def set_labels(self, labels: list[dict]) -> None:
        for b in self._buttons:
            self._layout.removeWidget(b)
            b.deleteLater()
        self._buttons = []
        labels = [lab for lab in labels if lab.get("status", "active") == "active"]  # retired, split: not offered
        for i, lab in enumerate(labels):
            key = lab.get("shortcut")
            definition = (lab.get("guide") or {}).get("definition") or lab.get("description") or ""
            b = LabelButton(
                lab["name"], lab["color"], None if key and key.lower() in COMMAND_KEYS else key, definition=definition
            )
            b.clicked.connect(lambda _=False, n=lab["name"]: self.labelChosen.emit(n))
            self._layout.insertWidget(1 + i, b)
            self._buttons.append(b)
        if not labels:
            self.title.setText("<b>Labels</b><br><i>none yet</i>")
        else:
            self.title.setText("<b>Labels</b>")

    def button(self, name: str) -> LabelButton | None:
        return next((b for b in self._buttons if b.name == name), None)
