"""A status-bar strip: a message, a progress bar and a Cancel button (jobs, fine-tuning)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class ProgressStrip(QWidget):
    def __init__(self, cancel_text: str, cancel_name: str):
        super().__init__()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setMaximumHeight(16)
        self.cancel = QPushButton(cancel_text)
        self.cancel.setObjectName(cancel_name)
        for w in (self.label, self.bar, self.cancel):
            lay.addWidget(w)
