"""The queue panel: status filter, label/source/confidence filter, the paged list, search."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from nerdesk.core.project import STATUSES
from nerdesk.ui.models.queue_model import QueueFilter, QueueModel


class QueuePanel(QWidget):
    segmentActivated = Signal(int)
    documentActivated = Signal(int)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("queuePanel")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Queue</b>"))
        self.status = QComboBox()
        self.status.setObjectName("statusFilter")
        self.status.addItems(STATUSES)
        self.status.setToolTip("Show segments with this status")
        top.addWidget(self.status, 1)
        lay.addLayout(top)
        flt = QHBoxLayout()
        self.filter = QLineEdit()
        self.filter.setObjectName("queueFilter")
        self.filter.setPlaceholderText("Filter loaded rows: label, source, text")
        self.filter.setClearButtonEnabled(True)
        flt.addWidget(self.filter, 1)
        self.max_conf = QDoubleSpinBox()
        self.max_conf.setRange(0.0, 1.0)
        self.max_conf.setSingleStep(0.05)
        self.max_conf.setValue(1.0)
        self.max_conf.setPrefix("conf ≤ ")
        self.max_conf.setToolTip("Only rows whose least confident span is at most this")
        flt.addWidget(self.max_conf)
        lay.addLayout(flt)

        self.model = QueueModel(session, self)
        self.proxy = QueueFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("queueTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setWordWrap(False)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setStretchLastSection(True)
        for col, w in enumerate((64, 52, 70, 90, 80)):
            self.table.setColumnWidth(col, w)
        lay.addWidget(self.table, 3)

        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search documents (Ctrl+F), Enter")
        self.search.setClearButtonEnabled(True)
        lay.addWidget(self.search)
        self.results = QListWidget()
        self.results.setObjectName("searchResults")
        self.results.setVisible(False)
        lay.addWidget(self.results, 1)

        self.status.currentTextChanged.connect(self._status_changed)
        self.filter.textChanged.connect(self._apply_filter)
        self.max_conf.valueChanged.connect(self._apply_filter)
        self.table.activated.connect(self._activated)
        self.table.clicked.connect(self._activated)
        self.search.returnPressed.connect(self.run_search)
        self.results.itemActivated.connect(self._result)
        self.results.itemClicked.connect(self._result)
        session.projectChanged.connect(lambda: self.model.reset())
        session.currentChanged.connect(self.select_segment)
        self._pending: set[int] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(60)
        self._timer.timeout.connect(self._refresh_pending)
        session.changed.connect(self._changed)

    def _changed(self, changes) -> None:
        self._pending |= set(changes.segments)
        self._timer.start()  # after the view has repainted

    def _refresh_pending(self) -> None:
        ids, self._pending = self._pending, set()
        self.model.refresh_segments(ids)

    def _status_changed(self, status: str) -> None:
        self.session.set_queue(status=status)  # Next (N, Space, Enter) walks this status too
        self.model.reset(status=status)

    def _apply_filter(self, *_):
        mc = self.max_conf.value()
        self.proxy.set_filter(self.filter.text(), None if mc >= 1.0 else mc)

    def _activated(self, index) -> None:
        sid = self.proxy.mapToSource(index)
        self.segmentActivated.emit(self.model.segment_id(sid.row()))

    def select_segment(self, sid: int) -> None:
        row = self.model.row_of(sid)
        if row < 0:
            self.table.clearSelection()
            return
        idx = self.proxy.mapFromSource(self.model.index(row, 0))
        if idx.isValid():
            self.table.selectRow(idx.row())
            self.table.scrollTo(idx)

    def run_search(self) -> None:
        p = self.session.project
        self.results.clear()
        q = self.search.text().strip()
        if p is None or not q:
            self.results.setVisible(False)
            return
        try:
            hits = p.search(q)
        except Exception as exc:  # a bad FTS query: tell the user, do not crash
            self.session.message.emit(f"Search failed: {exc}")
            hits = []
        for h in hits:
            item = QListWidgetItem(f"doc {h['doc_id']}  {h['snippet']}")
            item.setData(Qt.ItemDataRole.UserRole, h["doc_id"])
            item.setToolTip(h.get("source") or "")
            self.results.addItem(item)
        if not hits:
            self.results.addItem("No matches")
        self.results.setVisible(True)

    def _result(self, item) -> None:
        doc_id = item.data(Qt.ItemDataRole.UserRole)
        if doc_id is not None:
            self.documentActivated.emit(int(doc_id))
