"""Concurrent writers on one project (issue 13): nothing acknowledged is lost, a busy project is a
coded error, never a traceback.

    .venv/bin/python bench/concurrency_bench.py [--seconds 60] [--docs 400] [--json]

A project of ``--docs`` one-sentence documents (60 tokens each) is written for ``--seconds`` by,
at once, in separate processes: two writers as the same user ("alice" twice: the lost-update
case), one as "bob", a ``predict`` with the default model (re-run with a fresh model id each
time, so it keeps writing batches) and an importer (new 200-document files, one transaction
each). Each writer adds spans on its own tokens of random segments (alice #1 even tokens,
alice #2 odd ones, bob every token: another annotator's row) and prints each acknowledged edit.
Afterwards every acknowledged span must be in its user's annotation. Reported: acknowledged
writes per process, coded errors shown (by code), tracebacks, lost.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOKENS = 60


def _text(i: int) -> str:
    return " ".join(f"w{i}t{k}" for k in range(TOKENS))


def _attempt(action, ack: list) -> None:
    """Run one write; print what the user would see: an acknowledgement, a coded error or a traceback."""
    from nerdesk.core.errors import NerdeskError

    try:
        action()
        print(json.dumps({"ack": ack}), flush=True)
    except NerdeskError as exc:
        print(json.dumps({"error": exc.code}), flush=True)
    except Exception:  # noqa: BLE001 - what the bench counts
        print(json.dumps({"traceback": traceback.format_exc(limit=3)}), flush=True)


def writer(project: str, user: str, parity: str, seconds: float, seed: int) -> None:
    from nerdesk.core.project import Project

    rng = random.Random(seed)
    p = Project.open(project, user=user)
    ids = [s for s, _ in p.next_items(100000, order="document")]
    end = time.time() + seconds
    while time.time() < end:
        sid = rng.choice(ids)
        seg = p.segment(sid)
        k = rng.randrange(TOKENS)
        if parity == "even":
            k -= k % 2
        elif parity == "odd":
            k = min(TOKENS - 1, k - k % 2 + 1)
        a, b = seg.tokens[k]
        _attempt(lambda: p.add_span(sid, a, b, "PER"), [user, sid, a, b])
    p.close()


def predictor(project: str, seconds: float) -> None:
    """Pre-annotate again and again (a fresh model id each time) for ``seconds``."""
    from nerdesk.core.model import load_model
    from nerdesk.core.project import Project
    from nerdesk.core.types import drain

    model = load_model(None)
    p = Project.open(project, user="predictor")
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        model.id = f"{model.card.name}-run{n}"
        _attempt(lambda: drain(p.predict(model, activate=False)), ["predict", n])
        n += 1
    p.close()


def importer(project: str, seconds: float, folder: str) -> None:
    from nerdesk.core.project import Project
    from nerdesk.core.types import drain

    p = Project.open(project, user="importer")
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        f = Path(folder) / f"more{n}.txt"
        f.write_text("\n".join(f"imported file {n} line {i} " + _text(i) for i in range(200)) + "\n")
        _attempt(lambda: drain(p.import_file(f, "text", lines=True)), ["import", n])
        n += 1
    p.close()


def run(seconds: float, docs: int, folder: Path) -> dict:
    from nerdesk.core.project import Project
    from nerdesk.core.types import DocRecord, drain

    path = folder / "c.nerdesk"
    with Project.create(path, labels=["PER", "ORG"]) as p:
        drain(p.import_records([DocRecord(_text(i)) for i in range(docs)]))
    me = [sys.executable, __file__, "--worker"]
    roles = {
        "alice#1": [*me, "writer", str(path), "alice", "even", str(seconds), "1"],
        "alice#2": [*me, "writer", str(path), "alice", "odd", str(seconds), "2"],
        "bob": [*me, "writer", str(path), "bob", "any", str(seconds), "3"],
        "predict": [*me, "predictor", str(path), str(seconds)],
        "import": [*me, "importer", str(path), str(seconds), str(folder)],
    }
    procs = {
        name: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, cmd in roles.items()
    }
    out = {}
    acked: list[tuple[str, int, int, int]] = []
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=seconds + 300)
        rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        errors: dict[str, int] = {}
        for r in rows:
            if "error" in r:
                errors[r["error"]] = errors.get(r["error"], 0) + 1
        tracebacks = [r["traceback"] for r in rows if "traceback" in r]
        if proc.returncode != 0:
            tracebacks.append(stderr[-2000:])
        out[name] = {
            "acknowledged": sum("ack" in r for r in rows),
            "coded_errors": errors,
            "tracebacks": len(tracebacks),
            "first_traceback": tracebacks[0] if tracebacks else None,
        }
        acked += [tuple(r["ack"]) for r in rows if "ack" in r and len(r["ack"]) == 4]
    lost = 0
    with Project.open(path) as p:
        by_user: dict[tuple[str, int], set[tuple[int, int]]] = {}
        for user, sid, _, _ in acked:
            key = (user, sid)
            if key not in by_user:
                ann = p.store.annotation(sid, user)
                by_user[key] = {(s.start, s.end) for s in (ann.spans if ann else ())}
        lost = sum((a, b) not in by_user[(user, sid)] for user, sid, a, b in acked)
        integrity = p.store.conn.execute("PRAGMA integrity_check").fetchone()[0]
        imported = p.stats()["documents"] - docs
    return {
        "seconds": seconds,
        "processes": out,
        "acknowledged_edits": len(acked),
        "lost": lost,
        "documents_imported_meanwhile": imported,
        "integrity": integrity,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        role, *args = sys.argv[2:]
        if role == "writer":
            writer(args[0], args[1], args[2], float(args[3]), int(args[4]))
        elif role == "predictor":
            predictor(args[0], float(args[1]))
        else:
            importer(args[0], float(args[1]), args[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--json", action="store_true", help="print the result as JSON only")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = run(a.seconds, a.docs, Path(tmp))
    if a.json:
        print(json.dumps(res))
        return
    print(f"{a.seconds:.0f} s, {a.docs} documents; five processes at once")
    for name, r in res["processes"].items():
        print(
            f"  {name:8} acknowledged {r['acknowledged']:6}  coded errors {r['coded_errors'] or 0}  "
            f"tracebacks {r['tracebacks']}"
        )
        if r["first_traceback"]:
            print("    " + r["first_traceback"].strip().replace("\n", "\n    "))
    print(
        f"acknowledged edits {res['acknowledged_edits']}, lost {res['lost']}, "
        f"documents imported meanwhile {res['documents_imported_meanwhile']}, integrity {res['integrity']}"
    )


if __name__ == "__main__":
    main()
