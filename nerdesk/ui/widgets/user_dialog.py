"""Who is acting: the user's name and review tier, asked on first opening a project (remembered for
this OS user in this project, nerdesk.core.review.remember_identity) and from Team › Who am I."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit

from nerdesk.core.tiers import TIERS

TIER_HELP = {
    "annotator": "annotate; your queue also holds what reviewers sent back",
    "reviewer": "review annotators' accepted work: approve, correct, send back; adjudicate",
    "expert": "escalations: flagged segments, disagreements, low-agreement labels; expert-only labels",
}


class UserDialog(QDialog):
    def __init__(self, win, *, first: bool = False):
        super().__init__(win)
        self.win = win
        self.setObjectName("userDialog")
        self.setWindowTitle("Who is working?")
        p = win.session.project
        form = QFormLayout(self)
        intro = QLabel(
            "Your name and tier are recorded on every action, annotation and bundle, and decide "
            "what your queue holds." + (" (Asked once per project; Team › Who am I changes it.)" if first else "")
        )
        intro.setWordWrap(True)
        form.addRow(intro)
        self.name = QLineEdit(p.user if p else "")
        self.name.setObjectName("userName")
        self.name.selectAll()
        form.addRow("Name:", self.name)
        self.tier = QComboBox()
        self.tier.setObjectName("userTier")
        for t in TIERS:
            self.tier.addItem(f"{t} — {TIER_HELP[t]}", t)
        if p is not None:
            self.tier.setCurrentIndex(TIERS.index(p.tier))
        form.addRow("Tier:", self.tier)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)
        self.name.setFocus()

    def accept(self) -> None:
        """Saved in the project (one transaction); a bad name shows its coded error and stays open."""
        if self.win.session.set_identity(self.name.text(), self.tier.currentData()) is not None:
            super().accept()
