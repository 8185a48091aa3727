"""Run core generators (import, predict, demo) off the UI thread, with progress and cancel.

A job is a *factory*: a callable, run in the worker thread, that returns a generator yielding
:class:`~nerdesk.core.types.Progress` and returning a result. The factory opens its own
``Project.open(path)`` there (a SQLite connection never crosses threads) and closes it when done.
Cancel stops the iteration and calls ``gen.close()``, which rolls back what the job had not
committed.
"""

from __future__ import annotations

import inspect
import threading
import traceback
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from nerdesk.core.errors import Cancelled
from nerdesk.core.types import Progress

Factory = Callable[[], Generator[Progress, None, Any]]


def project_job(project_path: str | Path, work: Callable[[Any], Any], message: str | None = None) -> Factory:
    """A job factory over a project: in the worker thread, open the project on its own connection
    (SQLite connections never cross threads), run ``work(project)`` (a core generator of Progress,
    or a plain function, announced by ``message``), close the project, return the result."""

    def factory() -> Generator[Progress, None, Any]:
        from nerdesk.core.project import Project

        def gen() -> Generator[Progress, None, Any]:
            p = Project.open(project_path)
            try:
                if message:
                    yield Progress(0, None, message)
                result = work(p)
                if inspect.isgenerator(result):
                    result = yield from result
                return result
            finally:
                p.close()

        return gen()

    return factory


class Job(QThread):
    """One background job. Signals arrive in the UI thread (queued connections)."""

    progress = Signal(int, int, str)  # done, total (-1 unknown), message
    succeeded = Signal(object)  # the generator's return value
    failed = Signal(object, str)  # the exception, its formatted traceback
    cancelled = Signal()

    def __init__(self, name: str, factory: Factory, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._factory = factory
        self._cancel = threading.Event()
        self.result: Any = None
        self.outcome: str | None = None  # "done" | "failed" | "cancelled"

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def is_cancelling(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:  # worker thread
        gen = None
        try:
            gen = self._factory()
            while True:
                if self._cancel.is_set():
                    gen.close()
                    raise Cancelled()
                try:
                    p = next(gen)
                except StopIteration as stop:
                    self.result = stop.value
                    break
                total = -1 if p.total is None else int(p.total)
                self.progress.emit(int(p.done), total, p.message or "")
        except Cancelled:
            self.outcome = "cancelled"
            self.cancelled.emit()
            return
        except BaseException as exc:  # reported to the user, never lost
            if gen is not None:
                try:
                    gen.close()
                except Exception:
                    pass
            self.outcome = "failed"
            self.failed.emit(exc, traceback.format_exc())
            return
        self.outcome = "done"
        self.succeeded.emit(self.result)


class JobManager(QObject):
    """Keeps running jobs alive and tells the status bar about them."""

    changed = Signal()  # a job started, progressed or finished

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.jobs: list[Job] = []
        self.last: dict[int, tuple[int, int, str]] = {}
        self._done: list[Job] = []  # finished jobs, deleted at the next start (not at once:
        # queued slots of the finished job may still be pending, and must all run)

    def start(self, name: str, factory: Factory, connect: Callable[[Job], Any] | None = None) -> Job:
        """Start a job. ``connect(job)`` runs before the thread starts: connect its signals there,
        or a fast job may finish (and emit) before the connections exist."""
        for old in self._done:
            old.deleteLater()
        self._done = []
        job = Job(name, factory, self)
        self.jobs.append(job)
        self.last[id(job)] = (0, -1, name)
        job.progress.connect(lambda d, t, m, j=job: self._progress(j, d, t, m))
        job.finished.connect(lambda j=job: self._finished(j))
        if connect is not None:
            connect(job)
        job.start()
        self.changed.emit()
        return job

    def _progress(self, job: Job, done: int, total: int, message: str) -> None:
        self.last[id(job)] = (done, total, message or job.name)
        self.changed.emit()

    def _finished(self, job: Job) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        self.last.pop(id(job), None)
        self._done.append(job)
        self.changed.emit()

    def cancel_all(self) -> None:
        for job in list(self.jobs):
            job.cancel()

    def wait_all(self, ms: int = 10000) -> None:
        for job in list(self.jobs):
            job.wait(ms)
