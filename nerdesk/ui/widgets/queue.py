"""The queue panel: status, routing strategy, label/source/confidence filters (SQL), the list with
why each item was routed, search."""

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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from nerdesk.core.project import STATUSES
from nerdesk.core.routing import STRATEGIES
from nerdesk.ui.jobs import project_job
from nerdesk.ui.models.queue_model import ROUTE_LIMIT, SQL_ORDERS, QueueFilter, QueueModel


STRATEGY_TEXT = {
    "blend": "blend: uncertain + novel + rare + error-prone",
    "random": "random (baseline)",
    "least_confidence": "least confidence",
    "margin": "margin",
    "entropy": "entropy",
    "mnlp": "MNLP (length-normalised)",
    "novelty": "novelty: unseen words and sources",
    "rare": "rare labels",
    "errors": "like past corrections",
    "uncertainty": "uncertainty, every item (paged)",
    "document": "document order (paged)",
}


def route_factory(project_path, strategy: str, status: str, limit: int, filters: dict | None = None):
    """A job factory: ``route()`` on its own connection, in the worker thread."""
    from nerdesk.core.routing import route

    return project_job(
        project_path,
        lambda p: route(p.store, strategy, limit, status=status, **(filters or {})),
        f"Routing the queue ({strategy})",
    )


class QueuePanel(QWidget):
    segmentActivated = Signal(int)
    documentActivated = Signal(int)

    def __init__(self, session, jobs=None, parent=None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.route_job = None
        self.setObjectName("queuePanel")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Queue</b>"))
        self.status = QComboBox()
        self.status.setObjectName("statusFilter")
        self.status.addItems(STATUSES)
        self.status.addItem("stale")  # annotated under an older definition of a label (nerdesk.core.taxonomy)
        self.status.setToolTip("Show segments with this status (audit: auto-accept checkpoints)")
        top.addWidget(self.status)
        self.strategy = QComboBox()
        self.strategy.setObjectName("strategySelector")
        for name in (*STRATEGIES, "uncertainty", "document"):
            self.strategy.addItem(STRATEGY_TEXT.get(name, name), name)
        self.strategy.setToolTip("How the queue is ordered: a routing strategy, or a plain order")
        top.addWidget(self.strategy, 1)
        self.reroute = QToolButton()
        self.reroute.setObjectName("reroute")
        self.reroute.setText("↻")
        self.reroute.setToolTip("Route again (after reviewing a batch)")
        top.addWidget(self.reroute)
        lay.addLayout(top)

        flt = QHBoxLayout()
        self.label_filter = QComboBox()
        self.label_filter.setObjectName("labelFilter")
        self.label_filter.setToolTip("Only segments with a span of this label (predicted or annotated)")
        flt.addWidget(self.label_filter, 1)
        self.max_conf = QDoubleSpinBox()
        self.max_conf.setObjectName("maxConfidence")
        self.max_conf.setRange(0.0, 1.0)
        self.max_conf.setSingleStep(0.05)
        self.max_conf.setValue(1.0)
        self.max_conf.setPrefix("conf ≤ ")
        self.max_conf.setToolTip("Only segments whose least confident predicted span is at most this")
        flt.addWidget(self.max_conf)
        lay.addLayout(flt)
        flt2 = QHBoxLayout()
        self.source_filter = QLineEdit()
        self.source_filter.setObjectName("sourceFilter")
        self.source_filter.setPlaceholderText("Source file, Enter")
        self.source_filter.setClearButtonEnabled(True)
        self.source_filter.setToolTip("Only segments of documents from this source (a file name or path)")
        flt2.addWidget(self.source_filter, 1)
        self.filter = QLineEdit()
        self.filter.setObjectName("queueFilter")
        self.filter.setPlaceholderText("Find in rows")
        self.filter.setClearButtonEnabled(True)
        self.filter.setToolTip("Filter the loaded rows by a word of their reasons, labels, source or text")
        flt2.addWidget(self.filter, 1)
        lay.addLayout(flt2)
        self.routing_label = QLabel("")
        self.routing_label.setObjectName("routingLabel")
        self.routing_label.setWordWrap(True)
        lay.addWidget(self.routing_label)

        self.model = QueueModel(session, self)
        self.proxy = QueueFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("queueTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.model.sort_enabled = False  # enabling sorting sorts once: keep the default strategy
        self.table.horizontalHeader().setSortIndicator(1, Qt.SortOrder.DescendingOrder)
        self.table.setSortingEnabled(True)
        self.model.sort_enabled = True
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setWordWrap(False)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setStretchLastSection(True)
        for col, w in enumerate((60, 48, 150, 64, 70, 80)):
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
        self.strategy.currentIndexChanged.connect(self._strategy_changed)
        self.reroute.clicked.connect(lambda: self.reset())
        self.label_filter.currentIndexChanged.connect(lambda _i: self._filters_changed())
        self.source_filter.returnPressed.connect(self._filters_changed)
        self.source_filter.textChanged.connect(lambda t: self._filters_changed() if not t else None)
        self._conf_timer = QTimer(self)
        self._conf_timer.setSingleShot(True)
        self._conf_timer.setInterval(250)
        self._conf_timer.timeout.connect(self._filters_changed)
        self.max_conf.valueChanged.connect(lambda _v: self._conf_timer.start())
        self.filter.textChanged.connect(self._apply_filter)
        self.table.activated.connect(self._activated)
        self.table.clicked.connect(self._activated)
        self.search.returnPressed.connect(self.run_search)
        self.results.itemActivated.connect(self._result)
        self.results.itemClicked.connect(self._result)
        self.model.routeRequested.connect(self._route)
        self.model.rowsReplaced.connect(self._rows_replaced)
        session.projectChanged.connect(self._project_changed)
        session.currentChanged.connect(self.select_segment)
        self._pending: set[int] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(60)
        self._timer.timeout.connect(self._refresh_pending)
        session.changed.connect(self._changed)

    # ------------------------------------------------------------------ state
    def filters(self) -> dict:
        label = self.label_filter.currentData()
        source = self.source_filter.text().strip() or None
        mc = self.max_conf.value()
        return {"label": label, "source": source, "max_confidence": None if mc >= 1.0 else mc}

    def reset(self) -> None:
        """Reload the queue with the chosen status, strategy and filters."""
        f = self.filters()
        strategy = self.strategy.currentData()
        if self.status.currentText() == "stale":  # a re-review list, in document order (no routing)
            strategy = "document"
        self.session.set_queue(
            status=self.status.currentText(), filters=f, order=strategy if strategy in SQL_ORDERS else "uncertainty"
        )
        self.model.reset(status=self.status.currentText(), strategy=strategy, filters=f)

    def _project_changed(self) -> None:
        p = self.session.project
        self.label_filter.blockSignals(True)
        self.label_filter.clear()
        self.label_filter.addItem("any label", None)
        for name in p.label_names() if p else []:
            self.label_filter.addItem(name, name)
        self.label_filter.blockSignals(False)
        self.reset()  # the session's walk and the list use this project's filters

    def _changed(self, changes) -> None:
        self._pending |= set(changes.segments)
        self._timer.start()  # after the view has repainted
        if changes.labels and self.session.project is not None:
            current = self.label_filter.currentData()
            names = self.session.project.label_names()
            if [self.label_filter.itemData(i) for i in range(1, self.label_filter.count())] != names:
                self.label_filter.blockSignals(True)
                self.label_filter.clear()
                self.label_filter.addItem("any label", None)
                for n in names:
                    self.label_filter.addItem(n, n)
                if current in names:
                    self.label_filter.setCurrentIndex(names.index(current) + 1)
                self.label_filter.blockSignals(False)

    def _refresh_pending(self) -> None:
        ids, self._pending = self._pending, set()
        self.model.refresh_segments(ids)

    def _status_changed(self, status: str) -> None:
        self.reset()  # Next (N, Space, Enter) walks this status too

    def _strategy_changed(self, _i: int) -> None:
        self.reset()

    def _filters_changed(self) -> None:
        self.reset()

    def set_status(self, status: str) -> None:
        """Show the segments with this status ('stale': the re-review queue of label changes)."""
        self.status.setCurrentText(status)

    def set_strategy(self, name: str) -> None:
        i = self.strategy.findData(name)
        if i >= 0:
            self.strategy.setCurrentIndex(i)

    # ------------------------------------------------------------------ routing
    def _route(self, generation: int, strategy: str, status: str) -> None:
        """Route in the background, from the next turn of the event loop: opening a project first
        shows its first document (a routing thread started at once competes with it for the
        interpreter: a 1M-character line took 0.45 s instead of 0.2 s to build)."""
        QTimer.singleShot(0, lambda: self._start_route(generation, strategy, status))

    def _start_route(self, generation: int, strategy: str, status: str) -> None:
        p = self.session.project
        if self.jobs is None or p is None or generation != self.model.generation:
            return
        self.routing_label.setText(f"<i>Routing ({strategy})…</i>")

        def connect(job):
            job.succeeded.connect(lambda items, g=generation: self._routed(g, items))
            job.failed.connect(lambda exc, tb, g=generation: self._route_failed(g, exc))
            job.cancelled.connect(lambda g=generation: self._route_failed(g, None))

        self.route_job = self.jobs.start(
            f"Routing the queue ({strategy})",
            route_factory(p.path, strategy, status, ROUTE_LIMIT, dict(self.model.filters)),
            connect,
        )

    def _routed(self, generation: int, items) -> None:
        if self.model.set_routed(generation, items):
            self.session.set_routed(self.model.ids(), self.model.reasons)

    def _route_failed(self, generation: int, exc) -> None:
        if generation != self.model.generation:
            return
        self.model.routing = False
        self.routing_label.setText(
            "" if exc is not None else "<i>Routing cancelled: the list below is in uncertainty order.</i>"
        )
        if exc is None:
            return
        from nerdesk.core.errors import NerdeskError

        if isinstance(exc, NerdeskError):
            self.session.error.emit(exc)
        else:
            self.session.message.emit(f"Routing failed: {exc}")

    def _rows_replaced(self, routed: bool) -> None:
        m = self.model
        if self.strategy.currentData() != m.strategy:  # a header click chose a plain order
            self.strategy.blockSignals(True)
            self.set_strategy(m.strategy)
            self.strategy.blockSignals(False)
        if routed:
            n = m.rowCount()
            self.routing_label.setText(
                f"{n} item{'s' if n != 1 else ''} routed by <b>{m.strategy}</b>"
                + (" (filtered)" if m.filters else "")
                + "; hover a row for why"
            )
        elif m.strategy in SQL_ORDERS:
            self.routing_label.setText("")
            self.session.set_routed(None, m.reasons)
        self.session.reasons = m.reasons
        self.select_segment(self.session.current if self.session.current is not None else -1)

    # ------------------------------------------------------------------ rows
    def _apply_filter(self, *_):
        self.proxy.set_filter(self.filter.text())

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
