"""Run a nerdesk entry point with a socket audit hook: ``python netguard.py LOG cli ARGS...``,
``python netguard.py LOG app`` (the demo, until its first paint), ``python netguard.py LOG hold S``
(a model held for S seconds, predicting at both ends). Every socket event other than AF_UNIX is
written to LOG, except the one probe urllib3 runs at import (an IPv6 socket bound to ::1, imported
by spaCy's CLI module: no packet can leave it)."""

from __future__ import annotations

import json
import os
import socket
import sys

LOG = sys.argv[1]
events: list[list[str]] = []


def hook(event: str, args: tuple) -> None:
    if not event.startswith("socket.") or event == "socket.sethostname":
        return
    if event == "socket.__new__":
        family = args[1] if len(args) > 1 else None
        if family == socket.AF_UNIX:
            return
    sock = args[0] if args and isinstance(args[0], socket.socket) else None
    if sock is not None and sock.family == socket.AF_UNIX:
        return
    if event in ("socket.__new__", "socket.bind") and _urllib3_probe():
        return
    events.append([event, repr(args)[:200]])


def _urllib3_probe() -> bool:
    f = sys._getframe(2)
    while f is not None:
        if f.f_code.co_name == "_has_ipv6" and "urllib3" in f.f_code.co_filename:
            return True
        f = f.f_back
    return False


sys.addaudithook(hook)


def main() -> int:
    kind, rest = sys.argv[2], sys.argv[3:]
    code = 0
    try:
        if kind == "cli":
            from nerdesk.cli import cli

            try:
                cli.main(rest, prog_name="nerdesk", standalone_mode=False)
            except SystemExit as exc:
                code = int(exc.code or 0)
        elif kind == "app":
            os.environ["NERDESK_EXIT_AFTER_SHOW"] = "1"
            from nerdesk.cli import cli

            try:
                cli.main(["app", "--demo"], prog_name="nerdesk", standalone_mode=False)
            except SystemExit as exc:
                code = int(exc.code or 0)
        else:
            import time

            from nerdesk.core.model import load_model

            m = load_model(None)
            m.predict([["Ada", "Lovelace", "lived", "in", "London"]])
            time.sleep(float(rest[0]))
            m.predict([["Ada", "Lovelace", "lived", "in", "London"]])
    finally:
        with open(LOG, "w") as f:
            json.dump(events, f)
    return code


if __name__ == "__main__":
    sys.exit(main())
