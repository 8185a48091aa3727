"""The review queue as a Qt model.

Two sources of rows:

* a *routing strategy* (``blend`` by default, or any of ``nerdesk.core.routing.STRATEGIES``):
  ``route()`` scores a pool of candidates (up to ~1 s on a huge project), so it runs as a
  background job; until it answers, the SQL queue below is shown. Its rows carry the reasons
  each segment was routed;
* the SQL queue (``uncertainty`` or ``document`` order), lazily paged: rows arrive a page at
  a time as the view scrolls (``canFetchMore``/``fetchMore``), so a million-segment project
  never loads all rows.

Label, source and confidence filters are done in SQL for the paged queue (``next_items``), and
applied with the same meaning to a routed list.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal

PAGE = 200
#: How many routed items a strategy list holds.
ROUTE_LIMIT = 500
COLUMNS = ("Segment", "Score", "Why", "Status", "Labels", "Source", "Text")
SQL_ORDERS = ("uncertainty", "document")


class QueueModel(QAbstractTableModel):
    #: (generation, strategy, status): a routed list is wanted (the panel runs the job)
    routeRequested = Signal(int, str, str)
    #: the rows were replaced by a routed list (True) or by the SQL queue (False)
    rowsReplaced = Signal(bool)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.status = "new"
        self.order = "uncertainty"
        self.strategy = "blend"
        self.filters: dict[str, Any] = {}
        self.routed = False  # rows come from a routing strategy
        self.routing = False  # a routed list was asked for and has not come yet
        self.sort_enabled = True
        self.generation = 0
        self._ids: list[tuple[int, float]] = []
        self._rows: dict[int, int] = {}
        self._info: dict[int, dict[str, Any]] = {}
        self.reasons: dict[int, list[str]] = {}
        self._exhausted = True

    # ---------------------------------------------------------------- paging
    def reset(
        self,
        status: str | None = None,
        order: str | None = None,
        *,
        strategy: str | None = None,
        filters: dict[str, Any] | None = None,
    ) -> None:
        """Reload. ``strategy``: a routing strategy, or 'uncertainty'/'document' (SQL order)."""
        if status is not None:
            self.status = status
        if order is not None:
            self.order = order
            self.strategy = order
        if strategy is not None:
            self.strategy = strategy
            if strategy in SQL_ORDERS:
                self.order = strategy
        if filters is not None:
            self.filters = {k: v for k, v in filters.items() if v is not None}
        self.generation += 1
        self.beginResetModel()
        self._ids, self._info, self._rows, self.reasons = [], {}, {}, {}
        self.routed = False
        self._exhausted = self.session.project is None
        self.endResetModel()
        if not self._exhausted:
            self.fetchMore(QModelIndex())
        self.rowsReplaced.emit(False)
        self.routing = self.session.project is not None and self.strategy not in SQL_ORDERS
        if self.routing:
            self.routeRequested.emit(self.generation, self.strategy, self.status)

    def set_routed(self, generation: int, items: list) -> bool:
        """Show a routed list (QueueItems, best first) if it answers the latest request."""
        if generation != self.generation or self.session.project is None:
            return False
        self.routing = False
        ids = [it.id for it in items]
        self.beginResetModel()
        self._ids, self._info, self._rows, self.reasons = [], {}, {}, {}
        self._load_info(ids)
        keep = [it for it in items if it.id in self._info and self._passes(it.id)]
        for it in keep:
            self._rows[it.id] = len(self._ids)
            self._ids.append((it.id, float(it.score)))
            self.reasons[it.id] = list(it.reasons) or [f"{self.strategy}"]
        self._info = {sid: self._info[sid] for sid in self._rows}
        self.routed = True
        self._exhausted = True
        self.endResetModel()
        self.rowsReplaced.emit(True)
        return True

    def _passes(self, sid: int) -> bool:
        """The SQL filters' meaning, for a routed row (its info is loaded)."""
        info = self._info[sid]
        f = self.filters
        if "label" in f and f["label"] not in info["label_set"] | info["pred_labels"]:
            return False
        if "source" in f:
            src = info["source_full"].replace("\\", "/")
            if src != f["source"] and not src.endswith("/" + f["source"]):
                return False
        if "max_confidence" in f:
            mc = info["pred_min_conf"]
            if mc is None or mc > f["max_confidence"]:
                return False
        return True

    def canFetchMore(self, parent=QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent=QModelIndex()) -> None:  # noqa: N802
        p = self.session.project
        if p is None or self._exhausted:
            return
        page = p.next_items(PAGE, status=self.status, offset=len(self._ids), order=self.order, **self.filters)
        if len(page) < PAGE:
            self._exhausted = True
        if not page:
            return
        self._load_info([sid for sid, _ in page])
        self.beginInsertRows(QModelIndex(), len(self._ids), len(self._ids) + len(page) - 1)
        by_unc = self.order != "document" and p.active_model_id() is not None
        for sid, score in page:
            self._rows[sid] = len(self._ids)
            self._ids.append((sid, score))
            self.reasons[sid] = [f"uncertain ({score:.2f})" if by_unc else "document order"]
        self.endInsertRows()

    def _load_info(self, ids: list[int]) -> None:
        p = self.session.project
        for seg in p.segments(ids):
            text = " ".join(seg.text.split())
            labels = {sp.label for sp in seg.spans}
            confs = [sp.confidence for sp in seg.spans if sp.confidence is not None]
            pred = seg.prediction
            pspans = pred.spans if pred is not None else ()
            pconfs = [sp.confidence for sp in pspans if sp.confidence is not None]
            self._info[seg.id] = {
                "status": seg.status,
                "source": _short(seg.source or ""),
                "source_full": seg.source or "",
                "text": text[:160],
                "labels": ", ".join(sorted(labels)),
                "label_set": labels,
                "pred_labels": {sp.label for sp in pspans},
                "pred_min_conf": min(pconfs) if pconfs else None,
                "min_conf": min(confs) if confs else None,
            }

    def refresh_segments(self, ids) -> None:
        """Re-read rows whose status or spans changed (the row stays until the next reset)."""
        known = [sid for sid in ids if sid in self._info]
        if not known or self.session.project is None:
            return
        self._load_info(known)
        for sid in known:
            row = self._rows[sid]
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def row_of(self, segment_id: int) -> int:
        return self._rows.get(segment_id, -1)

    def segment_id(self, row: int) -> int:
        return self._ids[row][0]

    def ids(self) -> list[int]:
        return [sid for sid, _ in self._ids]

    # ---------------------------------------------------------------- Qt model
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole and section == 2:
            return "Why the segment was routed to you"
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        sid, score = self._ids[index.row()]
        info = self._info.get(sid, {})
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return sid
            if col == 1:
                return f"{score:.3f}"
            if col == 2:
                return "; ".join(self.reasons.get(sid, []))
            if col == 3:
                return info.get("status", "")
            if col == 4:
                return info.get("labels", "")
            if col == 5:
                return info.get("source", "")
            return info.get("text", "")
        if role == Qt.ItemDataRole.ToolTipRole:
            why = "\n".join("• " + r for r in self.reasons.get(sid, []))
            return f"{info.get('text', '')}\n\nRouted because:\n{why}" if why else info.get("text", "")
        if role == Qt.ItemDataRole.UserRole:
            return sid
        if role == Qt.ItemDataRole.UserRole + 1:
            return info.get("min_conf")
        return None

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """Segment: document order; Score: the chosen strategy (most urgent first)."""
        if not self.sort_enabled:
            return
        if column == 0:
            strategy = "document"
        elif self.strategy == "document":
            strategy = "uncertainty"
        else:
            strategy = self.strategy
        self.session.set_queue(order=strategy if strategy in SQL_ORDERS else None)
        self.reset(strategy=strategy)


class QueueFilter(QSortFilterProxyModel):
    """Filters the loaded rows by a word of their labels, source, reasons or text."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.needle = ""
        self.setDynamicSortFilter(False)

    def set_filter(self, needle: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10
            self.beginFilterChange()
            self.needle = needle.lower().strip()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.needle = needle.lower().strip()
            self.invalidateFilter()

    def filterAcceptsRow(self, row, parent) -> bool:  # noqa: N802
        if not self.needle:
            return True
        m = self.sourceModel()
        hay = " ".join(str(m.index(row, c).data() or "") for c in (2, 4, 5, 6)).lower()
        return self.needle in hay

    def sort(self, column, order=Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)


def _short(source: str) -> str:
    """A file name, not its full path."""
    return source.replace("\\", "/").rsplit("/", 1)[-1]
