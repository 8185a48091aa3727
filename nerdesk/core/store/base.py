"""What every table group's module stands on: the connection's accessor and the project's settings
(:class:`Tables`, the base of each group's methods that :class:`~nerdesk.core.store.Store` composes),
the one helper for queries over many ids (:func:`chunked`), the store's clock (:func:`now`), and where
stored spans become Spans (:func:`final_spans`, :func:`predicted_spans`).

It imports no other module of the store, so each group's module can import it and the package can
import every group's module without a cycle.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlite_utils import Database

from nerdesk.core.types import Span

#: Ids per ``IN (...)`` query: well under SQLite's limit on bound parameters.
CHUNK = 500


def chunked(ids: Sequence[Any], size: int = CHUNK) -> Iterator[tuple[list[Any], str]]:
    """``(chunk, marks)`` for each run of ``size`` ids: the ids as a list and ``"?,?,..."`` for them.
    Every query over a caller's list of ids goes through this, so none outgrows SQLite's limit."""
    for i in range(0, len(ids), size):
        chunk = list(ids[i : i + size])
        yield chunk, ",".join("?" * len(chunk))


def where_equal(pairs: Sequence[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """A `` WHERE col = ? AND ...`` clause (empty when every value is None) and its arguments, for
    the optional equality filters of a read; the column names are the caller's, never user input."""
    given = [(col, val) for col, val in pairs if val is not None]
    sql = " WHERE " + " AND ".join(f"{col} = ?" for col, _ in given) if given else ""
    return sql, [val for _, val in given]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def loads_all(texts: list[str]) -> list[Any]:
    """Many JSON values parsed in one call (the per-call overhead dominates for small values)."""
    return json.loads("[" + ",".join(texts) + "]") if texts else []


class Tables:
    """The base of each table group's methods (``DocumentTables`` in segments.py, ``AnnotationTables``
    in human.py, ``ModelTables`` in predictions.py, ``LabelTables`` in labels.py): the connection the
    :class:`~nerdesk.core.store.Store` opened, and the project's settings (the key-value ``project``
    table), which more than one group reads."""

    #: the open database (set by Store.__init__)
    db: Database

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM project WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO project (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )


def final_spans(text: str) -> list[Span]:
    """An annotation's stored spans (its ``spans`` column, :meth:`Span.to_json` each) as Spans."""
    return [Span.from_json(sp) for sp in json.loads(text)]


def predicted_spans(text: str) -> list[Span]:
    """A prediction's stored spans (``[start, end, label, confidence]`` each) as Spans."""
    return [Span(a, b, lab, c) for a, b, lab, c in json.loads(text)]
