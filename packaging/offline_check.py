"""Prove that a nerdesk command never tries the network: ``python packaging/offline_check.py CMD [ARGS...]``.

The command runs inside a fresh network namespace (``unshare -n``: no interface but a loopback that is
down, so nothing could leave the machine even if it tried) and under ``strace -f -e trace=network``
(which also sees native code, e.g. onnxruntime's C++ telemetry). It fails (exit 1) when the command
fails or when any process of it calls connect/sendto/sendmsg on a socket other than AF_UNIX or
AF_NETLINK. ``make bundle`` runs it on the bundle: ``dist/nerdesk/nerdesk --selftest --hold 30``
(a model held past onnxruntime's ~9 s telemetry delay); ``tests/core/test_no_network.py`` on the
installed package.

Without root, ``unshare -rn`` (a user namespace) is tried; where neither is allowed, or strace is
missing, the check says so and fails: it never reports a pass it did not see.
"""

from __future__ import annotations

import os
import re
import signal
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SENDS = re.compile(r"\b(connect|sendto|sendmsg|sendmmsg)\(")


def namespace() -> list[str] | None:
    """The ``unshare`` prefix this machine allows, or None."""
    if not shutil.which("unshare"):
        return None
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return None


def inet_calls(trace: str) -> list[str]:
    return [
        line for line in trace.splitlines() if SENDS.search(line) and "AF_UNIX" not in line and "AF_NETLINK" not in line
    ]


def check(cmd: list[str], timeout: float = 600, env: dict[str, str] | None = None) -> tuple[bool, str]:
    """(passed, report) for ``cmd`` run in a network namespace under strace."""
    prefix = namespace()
    if prefix is None:
        return False, "cannot create a network namespace here (unshare -n / -rn refused)"
    if not shutil.which("strace"):
        return False, "strace is not installed (apt-get install strace)"
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "strace.log"
        p = subprocess.Popen(
            [*prefix, "strace", "-f", "-qq", "-e", "trace=network", "-o", str(log), *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env=env,
        )
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            return False, f"{' '.join(cmd)} did not finish within {timeout:g} s offline"
        calls = inet_calls(log.read_text(errors="replace")) if log.exists() else []
    out = out.strip()
    if p.returncode != 0:
        return False, f"{' '.join(cmd)} failed offline (exit {p.returncode}):\n{out[-3000:]}"
    if calls:
        return False, f"{len(calls)} network call(s) by {' '.join(cmd)}:\n" + "\n".join(calls[:10])
    return True, f"{out}\noffline check ({' '.join(prefix)} + strace): 0 network calls by {' '.join(cmd)}"


def main(argv: list[str]) -> int:  # noqa: D103
    if not argv:
        print(__doc__)
        return 2
    ok, report = check(argv)
    print(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
