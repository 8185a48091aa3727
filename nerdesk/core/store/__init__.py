"""The only code in nerdesk that speaks SQL. One :class:`Store` per thread and project file.

The store knows tables and rows, not domain rules: the :mod:`nerdesk.core.project` facade
decides what to write; the store writes it, in transactions.

:class:`Store` opens the connection, runs the migrations and holds ``transaction()``; its methods
come from one class per table group, each in the module with that group's SQL:

* documents and segments (counts, search): ``DocumentTables`` in :mod:`.segments`
* annotations, the event log, corrections, effort: ``AnnotationTables`` in :mod:`.human`
* models and predictions (the queue): ``ModelTables`` in :mod:`.predictions`
* labels and the guideline: ``LabelTables`` in :mod:`.labels` (label changes there too)
* project settings and the connection's accessor: ``Tables`` in :mod:`.base`, under all of them

Review across tiers (:mod:`.review`) and term lists (:mod:`.terms`) are plain functions over a Store.
Queries over many ids go through :func:`~nerdesk.core.store.base.chunked`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from nerdesk.core.errors import Errors, err
from nerdesk.core.store.base import CHUNK, chunked, now
from nerdesk.core.store.human import AnnotationTables
from nerdesk.core.store.labels import LabelTables
from nerdesk.core.store.migrations import SCHEMA_VERSION, migrations
from nerdesk.core.store.predictions import ModelTables
from nerdesk.core.store.segments import DocumentTables

__all__ = ["BUSY_TIMEOUT", "CHUNK", "Store", "busy_error", "chunked", "is_busy", "now"]


#: Seconds a write waits for another program's write lock (SQLite's busy handler retries until then).
BUSY_TIMEOUT = 10.0


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "database is busy" (another writer holds the lock)."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def busy_error(path: Path | None, seconds: float, exc: BaseException | None = None):
    """E016: nothing was written because another program held the write lock for ``seconds``."""
    return err(Errors.E016, file=path, seconds=f"{seconds:g}", details=str(exc) if exc else None)


def _connect(path: Path, wait: float) -> Database:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=True, timeout=wait)
    db = Database(conn)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    # WAL + NORMAL loses no committed transaction on a process crash; FULL also survives
    # power loss at a small cost per commit. Human edits are small: take FULL.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA cache_size = -65536")
    return db


class Store(DocumentTables, AnnotationTables, ModelTables, LabelTables):
    """Rows in and out of one project file: the connection and its transactions here, the methods of
    each table group in that group's module (see the module's docstring)."""

    def __init__(self, path: str | Path, *, create: bool = False, wait: float = BUSY_TIMEOUT):
        """``wait``: seconds a write waits for another program's lock before it fails with E016
        (the app's UI thread waits less than a CLI command)."""
        self.path = Path(path)
        self.wait = wait
        if not create and not self.path.exists():
            raise err(Errors.E001, path=self.path)
        if create and self.path.exists():
            raise err(Errors.E003, path=self.path)
        try:
            self.db = _connect(self.path, wait)
            applied = [m.name for m in migrations.applied(self.db)]
            if not create and not applied:
                raise err(Errors.E002, path=self.path, reason="no nerdesk schema")
            if len(applied) > SCHEMA_VERSION:
                raise err(Errors.E004, found=len(applied), supported=SCHEMA_VERSION)
            migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise err(Errors.E002, path=self.path, reason=str(exc)) from exc

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction. ``BEGIN IMMEDIATE`` takes the write lock before anything is read,
        so what a caller reads inside is what it changes, and another writer is waited for (up to
        ``wait`` seconds) instead of refused half-way. Still busy: E016, nothing written. Nested
        blocks are savepoints."""
        conn = self.conn
        if conn.in_transaction:
            with self.db.atomic():  # a savepoint inside the open transaction
                yield
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                raise busy_error(self.path, self.wait, exc) from exc
            raise
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
