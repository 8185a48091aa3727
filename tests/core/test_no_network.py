"""nerdesk never opens a network connection (issue 13): every entry point runs under a socket audit
hook (tests/core/netguard.py), and a model held past onnxruntime's telemetry delay (~9 s) runs under
strace, which also sees native code (onnxruntime's C++): no inet socket connects or sends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


HERE = Path(__file__).resolve().parent
GUARD = HERE / "netguard.py"
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "packaging"))
import offline_check  # noqa: E402


def _guarded(tmp_path, *args, env=None) -> list:
    log = tmp_path / f"net{len(list(tmp_path.glob('net*')))}.json"
    r = subprocess.run(
        [sys.executable, str(GUARD), str(log), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})},
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return json.loads(log.read_text())


def test_cli_commands_open_no_socket(tmp_path, shared_data):
    p = tmp_path / "n.nerdesk"
    text = tmp_path / "t.txt"
    text.write_text("Ada Lovelace met Charles Babbage in London .\n", encoding="utf-8")
    data = tmp_path / "d.jsonl"
    data.write_text("".join((shared_data / "train" / "gum_ne" / "test.jsonl").read_text().splitlines(True)[:20]))
    for args in (
        ["init", p, "--labels", "PER,ORG,LOC"],
        ["import", p, text],
        ["predict", p],
        ["stats", p],
        ["queue", p],
        ["report", p, "--html", tmp_path / "r.html"],
        ["export", p, "--format", "bundle", "--out", tmp_path / "b.zip"],
        ["evaluate", "default", data],
        ["models", "list"],
    ):
        assert _guarded(tmp_path, "cli", *args) == [], args


def test_app_and_selftest_open_no_socket(tmp_path):
    home = {"XDG_CONFIG_HOME": str(tmp_path), "NERDESK_DATA_DIR": str(tmp_path)}
    assert _guarded(tmp_path, "app", env=home) == []


def test_a_model_held_past_the_telemetry_delay_sends_nothing(tmp_path):
    assert _guarded(tmp_path, "hold", "12") == []


def test_selftest_in_a_network_namespace_under_strace_tries_nothing():
    """packaging/offline_check.py (which ``make bundle`` runs on the bundle): the selftest (import,
    pre-annotate, the window, an edit and its undo) and a model held 30 s, inside ``unshare -n``,
    with strace watching every process, native code included: no inet connect or send."""
    ok, report = offline_check.check([sys.executable, "-m", "nerdesk", "--selftest", "--hold", "30"], timeout=180)
    assert ok, report
    assert "held the model 30 s: ok" in report and "0 network calls" in report


def test_the_offline_check_sees_a_connect_and_a_name_lookup(tmp_path):
    """The check bites: a process that resolves a host name (libc's resolver sends to the DNS server) and
    one that connects a TCP socket are both caught. (Whether onnxruntime itself calls home within a given
    time varies by machine, so the probe is a program known to try the network.)"""
    for i, body in enumerate(
        ["socket.getaddrinfo('telemetry.example.com', 443)", "socket.create_connection(('192.0.2.1', 443), timeout=2)"]
    ):
        script = tmp_path / f"probe{i}.py"
        script.write_text(f"import socket\ntry:\n    {body}\nexcept OSError:\n    pass\n")
        ok, report = offline_check.check([sys.executable, str(script)], timeout=60)
        assert not ok and "network call" in report and "connect(" in report, (body, report)
