"""A session killed hard (SIGKILL) in the middle of work loses no acknowledged action."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fakes import make_project
from nerdesk.core.project import Project

WORKER = Path(__file__).resolve().parent / "kill_worker.py"


def test_sigkill_loses_no_acknowledged_action(tmp_path):
    texts = [f"Text number {i}. Alice met Bob in Paris on day {i}. Carol stayed home." for i in range(60)]
    path = make_project(tmp_path / "k.nerdesk", texts)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NERDESK_USER="killer", NERDESK_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(path), str(tmp_path / "ui.ini")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    acks: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(acks) < 25 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("ACK"):
                acks.append(line.split(maxsplit=1)[1].strip())
        proc.kill()  # SIGKILL (TerminateProcess on Windows), in the middle of the work
    finally:
        proc.wait(10)
    # any line written before the kill counts as acknowledged too
    rest = proc.stdout.read()
    acks += [ln.split(maxsplit=1)[1].strip() for ln in rest.splitlines() if ln.startswith("ACK")]
    assert len(acks) >= 25, proc.stderr.read()[-3000:]
    assert proc.returncode == (-signal.SIGKILL if hasattr(signal, "SIGKILL") else 1)  # killed, not exited
    with Project.open(path, user="killer") as p:
        for ack in acks:
            parts = ack.split()
            if parts[0] == "span":
                sid, a, b, label = int(parts[1]), int(parts[2]), int(parts[3]), parts[4]
                ann = p.store.annotation(sid, "killer")
                assert ann is not None, ack
                assert (a, b, label) in [(s.start, s.end, s.label) for s in ann.spans], ack
            else:
                sid = int(parts[1])
                assert p.store.segment(sid).status == "accepted", ack
        # and the undo history survived too
        assert p.undo_status()[0] is not None
