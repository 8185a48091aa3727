"""Concurrent writers on one project file (issue 13): every write waits for the lock instead of
failing half-way, reads what it changes inside its transaction, and a project busy for longer than
the wait is a coded error with nothing written."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nerdesk.core.errors import NerdeskError
from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord, Span, drain

ROOT = Path(__file__).resolve().parents[2]


def _project(path: Path) -> int:
    with Project.create(path, labels=["PER"]) as p:
        drain(p.import_records([DocRecord("Alice met Bob and Carol in Paris today .")]))
        return p.next_items(1, order="document")[0][0]


def _spans(path: Path, sid: int, user: str) -> set[tuple[int, int]]:
    with Project.open(path) as p:
        ann = p.store.annotation(sid, user)
        return {(s.start, s.end) for s in ann.spans}


def test_same_user_in_two_processes_loses_no_span(tmp_path):
    """While one connection edits alice's row, another alice's edit waits, then reads that edit
    and keeps it (the lost update: both read the same row and the last write dropped the other)."""
    path = tmp_path / "p.nerdesk"
    sid = _project(path)
    first, second = Project.open(path, user="alice"), Project.open(path, user="alice")
    done = threading.Event()

    def other() -> None:
        with Project.open(path, user="alice") as p:  # its own connection, as another process has
            p.add_span(sid, 10, 13, "PER")  # "Bob"
        done.set()

    with first._editing(sid, "add span") as (_, row):
        t = threading.Thread(target=other)
        t.start()
        assert not done.wait(0.5), "a second writer must wait for the open write transaction"
        row["spans"].append(Span(0, 5, "PER", None, "human"))
    t.join(10)
    assert done.is_set()
    assert _spans(path, sid, "alice") == {(0, 5), (10, 13)}
    second.add_span(sid, 18, 23, "PER")  # "Carol", from a connection opened before both edits
    assert _spans(path, sid, "alice") == {(0, 5), (10, 13), (18, 23)}
    first.close()
    second.close()


def test_busy_project_is_a_coded_error_and_writes_nothing(tmp_path):
    path = tmp_path / "p.nerdesk"
    sid = _project(path)
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    with Project.open(path, user="alice", wait=0.2) as p:
        with pytest.raises(NerdeskError) as e:
            p.add_span(sid, 0, 5, "PER")
        assert e.value.code == "E016" and e.value.file == str(path)
        lock.execute("ROLLBACK")
        assert p.store.annotation(sid, "alice") is None
        assert p.undo_status() == (None, None)
        p.add_span(sid, 0, 5, "PER")  # free again: it goes through
    lock.close()
    assert _spans(path, sid, "alice") == {(0, 5)}


def test_cli_waits_for_a_writer_instead_of_failing(tmp_path):
    from tests.cli.helpers import run

    path = tmp_path / "p.nerdesk"
    _project(path)
    lock = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    lock.execute("BEGIN IMMEDIATE")
    threading.Timer(1.0, lambda: lock.execute("ROLLBACK")).start()
    doc = tmp_path / "more.txt"
    doc.write_text("Dana flew to Oslo .\n", encoding="utf-8")
    out = run("import", path, doc, "--format", "text", "--lines")
    lock.close()
    with Project.open(path) as p:
        assert p.stats()["documents"] == 2, out


def test_five_processes_at_once_lose_nothing(tmp_path):
    """Two processes as the same user, one as another, a predict and an import, for 3 s: no
    traceback, every acknowledged span is there (the bench, short)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "concurrency_bench.py"), "--seconds", "3", "--docs", "100", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.splitlines()[-1])
    for name, proc in res["processes"].items():
        assert proc["tracebacks"] == 0, (name, proc["first_traceback"])
        assert proc["acknowledged"] > 0, name
    assert res["lost"] == 0 and res["integrity"] == "ok"
    assert res["documents_imported_meanwhile"] > 0
