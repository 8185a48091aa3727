"""The review queue as a lazily paged Qt model: rows arrive a page at a time as the view
scrolls (``canFetchMore``/``fetchMore``), so a million-segment project never loads all rows.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt

PAGE = 200
COLUMNS = ("Segment", "Score", "Status", "Labels", "Source", "Text")


class QueueModel(QAbstractTableModel):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.status = "new"
        self.order = "uncertainty"
        self._ids: list[tuple[int, float]] = []
        self._rows: dict[int, int] = {}
        self._info: dict[int, dict[str, Any]] = {}
        self._exhausted = True

    # ---------------------------------------------------------------- paging
    def reset(self, status: str | None = None, order: str | None = None) -> None:
        self.beginResetModel()
        if status is not None:
            self.status = status
        if order is not None:
            self.order = order
        self._ids, self._info, self._rows = [], {}, {}
        self._exhausted = self.session.project is None
        self.endResetModel()
        if not self._exhausted:
            self.fetchMore(QModelIndex())

    def canFetchMore(self, parent=QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent=QModelIndex()) -> None:  # noqa: N802
        p = self.session.project
        if p is None or self._exhausted:
            return
        page = p.next_items(PAGE, status=self.status, offset=len(self._ids), order=self.order)
        if len(page) < PAGE:
            self._exhausted = True
        if not page:
            return
        self._load_info([sid for sid, _ in page])
        self.beginInsertRows(QModelIndex(), len(self._ids), len(self._ids) + len(page) - 1)
        for sid, _ in page:
            self._rows[sid] = len(self._ids)
            self._ids.append((sid, _))
        self.endInsertRows()

    def _load_info(self, ids: list[int]) -> None:
        p = self.session.project
        for seg in p.segments(ids):
            text = " ".join(seg["text"].split())
            labels = sorted({sp["label"] for sp in seg["spans"]})
            confs = [sp["confidence"] for sp in seg["spans"] if sp.get("confidence") is not None]
            self._info[seg["id"]] = {
                "status": seg["status"], "source": _short(seg.get("source") or ""), "text": text[:160],
                "labels": ", ".join(labels), "min_conf": min(confs) if confs else None,
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

    # ---------------------------------------------------------------- Qt model
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
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
                return info.get("status", "")
            if col == 3:
                return info.get("labels", "")
            if col == 4:
                return info.get("source", "")
            return info.get("text", "")
        if role == Qt.ItemDataRole.ToolTipRole and col == 5:
            return info.get("text", "")
        if role == Qt.ItemDataRole.UserRole:
            return sid
        if role == Qt.ItemDataRole.UserRole + 1:
            return info.get("min_conf")
        return None

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """Score: most uncertain first (the core's routing order); Segment: document order."""
        order = "document" if column == 0 else "uncertainty"
        self.session.set_queue(order=order)
        self.reset(order=order)


class QueueFilter(QSortFilterProxyModel):
    """Filters the loaded rows by label/source/text and by maximum confidence."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.needle = ""
        self.max_conf: float | None = None
        self.setDynamicSortFilter(False)

    def set_filter(self, needle: str, max_conf: float | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10
            self.beginFilterChange()
            self.needle, self.max_conf = needle.lower().strip(), max_conf
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.needle, self.max_conf = needle.lower().strip(), max_conf
            self.invalidateFilter()

    def filterAcceptsRow(self, row, parent) -> bool:  # noqa: N802
        m = self.sourceModel()
        if self.needle:
            hay = " ".join(str(m.index(row, c).data() or "") for c in (3, 4, 5)).lower()
            if self.needle not in hay:
                return False
        if self.max_conf is not None:
            mc = m.index(row, 0).data(Qt.ItemDataRole.UserRole + 1)
            if mc is None or mc > self.max_conf:
                return False
        return True

    def sort(self, column, order=Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)


def _short(source: str) -> str:
    """A file name, not its full path."""
    return source.replace("\\", "/").rsplit("/", 1)[-1]
