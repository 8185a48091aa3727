"""nerdesk never opens a network connection (issue 13): every entry point runs under a socket audit
hook (tests/core/netguard.py), and a model held past onnxruntime's telemetry delay (~9 s) runs under
strace, which also sees native code (onnxruntime's C++): no inet socket connects or sends."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
GUARD = HERE / "netguard.py"


def _guarded(tmp_path, *args, env=None) -> list:
    log = tmp_path / f"net{len(list(tmp_path.glob('net*')))}.json"
    r = subprocess.run([sys.executable, str(GUARD), str(log), *map(str, args)], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path, env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return json.loads(log.read_text())


def test_cli_commands_open_no_socket(tmp_path, shared_data):
    p = tmp_path / "n.nerdesk"
    text = tmp_path / "t.txt"
    text.write_text("Ada Lovelace met Charles Babbage in London .\n", encoding="utf-8")
    data = tmp_path / "d.jsonl"
    data.write_text("".join((shared_data / "train" / "gum_ne" / "test.jsonl").read_text().splitlines(True)[:20]))
    for args in (["init", p, "--labels", "PER,ORG,LOC"], ["import", p, text], ["predict", p], ["stats", p],
                 ["queue", p], ["report", p, "--html", tmp_path / "r.html"], ["export", p, "--format", "bundle",
                 "--out", tmp_path / "b.zip"], ["evaluate", "default", data],
                 ["models", "list"]):
        assert _guarded(tmp_path, "cli", *args) == [], args


def test_app_and_selftest_open_no_socket(tmp_path):
    home = {"XDG_CONFIG_HOME": str(tmp_path), "NERDESK_DATA_DIR": str(tmp_path)}
    assert _guarded(tmp_path, "app", env=home) == []


@pytest.mark.parametrize("tool", ["hook", "strace"])
def test_a_model_held_past_the_telemetry_delay_sends_nothing(tmp_path, tool):
    if tool == "hook" or not shutil.which("strace"):  # without strace: the hook alone
        assert _guarded(tmp_path, "hold", "12") == []
        return
    trace = tmp_path / "strace.log"
    log = tmp_path / "net.json"
    r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=network", "-o", str(trace), sys.executable, str(GUARD),
                        str(log), "hold", "12"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    inet = [line for line in trace.read_text().splitlines()
            if re.search(r"\b(connect|sendto|sendmsg|sendmmsg)\(", line) and "AF_UNIX" not in line
            and "AF_NETLINK" not in line]
    assert inet == [], inet[:5]
