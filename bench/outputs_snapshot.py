"""A snapshot of what the app writes, to compare two trees byte for byte (a refactoring that must not
change them): the same actions on the demo project (a term list, edits of every kind, undo, a second
annotator, a label merge and an edit of a merged span, an adjudication), then every stored annotation
and event, the adjudications, the CLI's --json outputs and the exports (jsonl, suggestions, conll,
bundle), times, hashes and the output folder masked, written to OUTDIR/all.txt.

    python bench/outputs_snapshot.py TREE OUTDIR   # then: cmp OUT_A/all.txt OUT_B/all.txt

Spans are read with ``A`` so that a tree whose spans are still dicts runs it too.
"""

import json
import os
import re
import sys
import zipfile
from pathlib import Path

root, out = Path(sys.argv[1]), Path(sys.argv[2])
sys.path.insert(0, str(root))
os.environ.setdefault("XDG_CONFIG_HOME", str(out / "cfg"))
from click.testing import CliRunner  # noqa: E402

from nerdesk.cli import cli  # noqa: E402
from nerdesk.core.demo import create_demo_project  # noqa: E402
from nerdesk.core.project import Project  # noqa: E402
from nerdesk.core.types import Span, drain  # noqa: E402


def A(sp, k):
    return sp[k] if isinstance(sp, dict) else getattr(sp, k)


out.mkdir(parents=True, exist_ok=True)
path = out / "demo.nerdesk"
for p in out.glob("demo.nerdesk*"):
    p.unlink()
drain(create_demo_project(path))
res = []
(out / "mesh.txt").write_text("Badminton\nCity\nLiberal\nWorld\nBobick\n")
_t = CliRunner().invoke(cli, ["terms", "add", str(path), str(out / "mesh.txt"), "--label", "MISC", "--name", "mesh"])
res.append(_t.output)
with Project.open(path, user="alice") as p:
    ids = [r[0] for r in p.store.conn.execute("SELECT id FROM segments ORDER BY id LIMIT 40")]
    for k, sid in enumerate(ids[:30]):
        seg = p.segment(sid)
        if k % 5 == 1 and seg.spans:
            sp = seg.spans[0]
            p.relabel_span(sid, A(sp, "start"), A(sp, "end"), "MISC" if A(sp, "label") != "MISC" else "ORG")
        if k % 5 == 2 and seg.spans:
            sp = seg.spans[-1]
            p.remove_span(sid, A(sp, "start"), A(sp, "end"), A(sp, "label"))
        if k % 5 == 3:
            p.add_span(sid, seg.start, min(seg.end, seg.start + 4), "PER")
        if k % 5 == 4 and seg.spans:
            sp = seg.spans[0]
            try:
                p.move_span(sid, A(sp, "start"), A(sp, "end"), A(sp, "start"), A(sp, "end") + 3)
            except Exception as e:
                res.append(f"move {sid}: {e}")
        p.accept(sid)
    p.set_spans(ids[31], [Span(p.segment(ids[31]).start, p.segment(ids[31]).start + 3, "LOC")])
    p.flag(ids[32], "why")
    p.undo()
    p.undo()
    p.redo()
with Project.open(path, user="bob") as b:
    for sid in ids[:6]:
        seg = b.segment(sid)
        if seg.spans:
            sp = seg.spans[0]
            b.relabel_span(sid, A(sp, "start"), A(sp, "end"), "LOC" if A(sp, "label") != "LOC" else "PER")
        b.accept(sid)
with Project.open(path, user="alice") as p:
    p.taxonomy.merge_labels(["LOC", "MISC"], "PLACE")
    seg = p.segment(ids[1])
    if seg.spans:
        sp = seg.spans[0]
        p.relabel_span(ids[1], A(sp, "start"), A(sp, "end"), "PER")
    p.undo()
r = CliRunner()


def run(*args):
    x = r.invoke(cli, list(args), catch_exceptions=False)
    return f"$ nerdesk {' '.join(args)}\n(rc {x.exit_code})\n{x.output}"


outs = [
    run(
        "--user", "carol", "--tier", "expert", "adjudicate", str(path), str(ids[0]), "--take", "alice", "--reason", "x"
    ),
    run("adjudicate", str(path), "--all", "--json"),
    run("adjudicate", str(path), str(ids[2]), "--json"),
    run("queue", str(path), "--json"),
    run("stats", str(path), "--json"),
    run("export", str(path), "--format", "jsonl", "--out", str(out / "e.jsonl")),
    run("export", str(path), "--format", "jsonl", "--suggestions", "--out", str(out / "s.jsonl")),
    run("export", str(path), "--format", "conll", "--out", str(out / "e.conll")),
    run("export", str(path), "--format", "bundle", "--out", str(out / "b.zip")),
]
with Project.open(path, user="alice") as p:
    c = p.store.conn
    anns = [list(r) for r in c.execute("SELECT segment_id, annotator, status, spans FROM annotations ORDER BY 1, 2")]
    evs = [list(r) for r in c.execute("SELECT actor, action, kind, segment_id, before, after FROM events ORDER BY id")]
    adjs = [list(r) for r in c.execute("SELECT * FROM adjudications ORDER BY id")]
files = {n: (out / n).read_text() for n in ("e.jsonl", "s.jsonl", "e.conll")}
with zipfile.ZipFile(out / "b.zip") as z:
    for n in sorted(z.namelist()):
        files["b.zip:" + n] = z.read(n).decode("utf-8", "replace")
text = json.dumps({"res": res, "anns": anns, "events": evs, "adjudications": adjs}, ensure_ascii=False, indent=0)
text += "\n" + "\n".join(outs) + "\n" + "\n".join(f"=== {k}\n{v}" for k, v in files.items())
text = str(text).replace(str(out), "OUT").replace(str(root.resolve()), "ROOT")
text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "TIME", text)
text = re.sub(r"[0-9a-f]{32,64}", "HEX", text)
text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID", text)
(out / "all.txt").write_text(text)
print(len(text), "chars;", len(anns), "annotations;", len(evs), "events")
