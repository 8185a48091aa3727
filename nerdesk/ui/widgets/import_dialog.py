"""Import a file: which file, which format (detected by default), and whether its annotations
come in too. The import itself runs in the background (MainWindow.import_file)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from nerdesk.core.errors import NerdeskError


def format_names() -> list[str]:
    from nerdesk.core.formats import FORMATS

    return list(FORMATS)


def file_row(name: str, browse) -> tuple[QWidget, QLineEdit]:
    """A path field (object name ``name``) with a "Browse…" button calling ``browse``."""
    row = QWidget()
    h = QHBoxLayout(row)
    h.setContentsMargins(0, 0, 0, 0)
    path = QLineEdit()
    path.setObjectName(name)
    path.setMinimumWidth(380)
    button = QPushButton("Browse…")
    button.clicked.connect(browse)
    h.addWidget(path, 1)
    h.addWidget(button)
    return row, path


class ImportDialog(QDialog):
    def __init__(self, parent=None, start_dir: str = ""):
        super().__init__(parent)
        self.setObjectName("importDialog")
        self.setWindowTitle("Import a file")
        self.start_dir = start_dir or str(Path.home())
        form = QFormLayout(self)
        row, self.path = file_row("importPath", self._browse)
        form.addRow("File:", row)
        self.fmt = QComboBox()
        self.fmt.setObjectName("importFormat")
        self.fmt.addItem("detect from the file", None)
        for name in format_names():
            self.fmt.addItem(name, name)
        form.addRow("Format:", self.fmt)
        self.detected = QLabel("")
        form.addRow("", self.detected)
        self.annotations = QCheckBox("Import its annotations too (as reviewed by the file's annotator)")
        self.annotations.setObjectName("importAnnotations")
        form.addRow("", self.annotations)
        self.lines = QCheckBox("Plain text: one document per line")
        form.addRow("", self.lines)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)
        self.path.textChanged.connect(self._detect)
        self.fmt.currentIndexChanged.connect(lambda _i: self._detect())

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import file", self.start_dir, "All files (*)")
        if path:
            self.path.setText(path)

    def _detect(self) -> None:
        p = self.path.text().strip()
        if not p or self.fmt.currentData() is not None:
            self.detected.setText("")
            return
        from nerdesk.core.formats import detect_format

        try:
            self.detected.setText(f"<i>detected: {detect_format(p)}</i>")
        except NerdeskError as exc:
            self.detected.setText(f"<i>{exc.message}</i>")
        except OSError as exc:
            self.detected.setText(f"<i>{exc}</i>")

    def values(self) -> tuple[str, str | None, dict]:
        fmt = self.fmt.currentData()
        options: dict = {"annotations": self.annotations.isChecked()}
        path = self.path.text().strip()
        if self.lines.isChecked() and (fmt == "text" or (fmt is None and Path(path).suffix in (".txt", ""))):
            fmt = "text"
            options["lines"] = True
        return path, fmt, options
