"""Label changes on a big project (issue 17): time to apply and to undo a rename, a merge and a split.

    .venv/bin/python bench/taxonomy_bench.py [--segments 1000000] [--per-doc 10] [--json out.json]

A project of ``--segments`` segments (``--per-doc`` sentences per document), each with one human span
in its annotation and one model span in the active model's prediction: ``--segments`` spans of each,
labels PER / ORG / LOC / MISC in turn (a quarter each). Built through the store's bulk inserts (an
import of a million sentences would time spaCy, not the label change). Then, each timed apart:

* rename PER -> PERSON, and its undo;
* merge LOC, MISC -> PLACE (half the spans), and its undo;
* split ORG -> COMPANY | TEAM without a model (no span placed: the spans wait for re-review), and its undo;
* split ORG -> COMPANY | TEAM with a sorter that places every ORG span (as a model that knows both labels
  would; the model's own time is not counted), and its undo.

After each undo the annotation and prediction tables are compared with a digest taken before the change
(byte for byte). Reported: seconds, the rows rewritten, the size of the event in the log (the reverse is
compact: no row copies in it) and the rows kept aside for undo (label_change_rows).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core import taxonomy  # noqa: E402
from nerdesk.core.project import Project  # noqa: E402
from nerdesk.core.store import labels as label_sql  # noqa: E402
from nerdesk.core.store import now  # noqa: E402
from nerdesk.core.types import Annotation  # noqa: E402

LABELS = ["PER", "ORG", "LOC", "MISC"]
SENTENCE = "Ann Lee of Acme met them in Paris ."
WORDS = SENTENCE.split(" ")
#: the span of each label, in token offsets of SENTENCE
SPAN = {"PER": (0, 2), "ORG": (3, 4), "LOC": (7, 8), "MISC": (3, 4)}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build(path: Path, n: int, per_doc: int) -> Project:
    p = Project.create(path, labels=LABELS)
    store = p.store
    offs = []
    pos = 0
    for w in WORDS:
        offs.append((pos, pos + len(w)))
        pos += len(w) + 1
    flat = json.dumps([x for ab in offs for x in ab])
    doc_text = " ".join([SENTENCE] * per_doc)
    step = len(SENTENCE) + 1
    ts = now()
    model = "bench-model@1"
    with store.transaction():
        store.register_model(model, "bench", "1", "", "", LABELS, {})
        store.set_active_model(model)
    t0 = time.perf_counter()
    n_docs = (n + per_doc - 1) // per_doc
    sid = 0
    batch = 20000
    for d0 in range(0, n_docs, batch):
        docs, segs, anns, preds = [], [], [], []
        for d in range(d0, min(n_docs, d0 + batch)):
            doc_id = d + 1
            docs.append((doc_id, doc_text, "bench.txt", "{}", f"h{doc_id}", ts))
            for k in range(per_doc):
                if sid >= n:
                    break
                sid += 1
                base = k * step
                segs.append((sid, doc_id, k, base, base + len(SENTENCE), flat, len(WORDS), "new"))
                label = LABELS[sid % 4]
                a, b = SPAN[label]
                s, e = base + offs[a][0], base + offs[b - 1][1]
                anns.append(
                    {
                        "segment_id": sid,
                        "annotator": "import",
                        "tier": "annotator",
                        "status": "accepted",
                        "spans": [{"start": s, "end": e, "label": label, "confidence": None, "origin": "human"}],
                        "note": "",
                        "guideline_version": 1,
                        "model_id": None,
                        "created": ts,
                        "updated": ts,
                    }
                )
                preds.append((sid, [[s, e, label, 0.9]], 0.1, 0.1, 0.1, 0.1, 0.1))
        with store.transaction():
            store.insert_documents(docs)
            store.insert_segments(segs)
            store.put_annotations(map(Annotation.from_dict, anns))
            store.insert_predictions(model, preds)
            store.conn.execute(
                "UPDATE segments SET status = 'accepted' WHERE id > ? AND id <= ?", (sid - len(segs), sid)
            )
        log(f"  built {sid:,} segments ({time.perf_counter() - t0:.0f} s)")
    return p


def digest(p: Project) -> str:
    h = hashlib.sha256()
    for table, cols in (
        ("annotations", "segment_id, annotator, spans"),
        ("predictions", "segment_id, model_id, spans, min_confidence"),
    ):
        for row in p.store.conn.execute(f"SELECT {cols} FROM {table} ORDER BY 1, 2"):
            h.update(repr(row).encode())
    for row in p.store.conn.execute("SELECT * FROM labels ORDER BY name"):
        h.update(repr(row).encode())
    return h.hexdigest()


def counts(p: Project) -> dict[str, int]:
    return label_sql.span_counts(p.store)


def timed(name: str, p: Project, change, out: dict, before_digest: str) -> None:
    t = time.perf_counter()
    changes = change()
    apply_s = time.perf_counter() - t
    ev = p.store.conn.execute(
        "SELECT id, length(before) + length(after) FROM events ORDER BY id DESC LIMIT 1"
    ).fetchone()
    kept = label_sql.kept_count(p.store, ev[0])
    after = counts(p)
    t = time.perf_counter()
    p.undo()
    undo_s = time.perf_counter() - t
    same = digest(p) == before_digest
    out[name] = {
        "apply_s": round(apply_s, 2),
        "undo_s": round(undo_s, 2),
        "event_bytes": ev[1],
        "rows_kept_for_undo": kept,
        "spans_after": after,
        "undo_exact": same,
        "summary": changes.action,
    }
    log(
        f"{name}: apply {apply_s:.2f} s, undo {undo_s:.2f} s, event {ev[1]:,} bytes, {kept:,} rows kept, "
        f"undo exact: {same}; {changes.action}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--segments", type=int, default=1_000_000)
    ap.add_argument("--per-doc", type=int, default=10)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log(f"building a project of {a.segments:,} segments ...")
        p = build(Path(tmp) / "tax.nerdesk", a.segments, a.per_doc)
        base = counts(p)
        d0 = digest(p)
        log(f"spans per label: {base}")
        out: dict = {"segments": a.segments, "spans": sum(base.values()), "per_label": base}
        timed("rename PER -> PERSON", p, lambda: p.taxonomy.rename_label("PER", "PERSON"), out, d0)
        timed("merge LOC,MISC -> PLACE", p, lambda: p.taxonomy.merge_labels(["LOC", "MISC"], "PLACE"), out, d0)
        timed(
            "split ORG -> COMPANY|TEAM (no model)",
            p,
            lambda: p.taxonomy.split_label("ORG", ["COMPANY", "TEAM"]),
            out,
            d0,
        )

        def sorter(ids, targets):  # a model that knows both labels: every ORG span placed, alternately
            spans = {}
            for seg_id, _annotator, js in label_sql.annotation_rows_with(p.store, "ORG"):
                sp = json.loads(js)[0]
                spans[seg_id] = [(sp["start"], sp["end"], targets[(seg_id // 4) % 2], 0.8)]
            return spans

        t = time.perf_counter()
        found = sorter([], ["COMPANY", "TEAM"])
        log(f"  (the sorter's own time, not counted: {time.perf_counter() - t:.2f} s)")
        timed(
            "split ORG -> COMPANY|TEAM (model places every span)",
            p,
            lambda: taxonomy.split_label(p.store, p.identity, "ORG", ["COMPANY", "TEAM"], sorter=lambda ids, tg: found),
            out,
            d0,
        )
        p.close()
    print(json.dumps(out, indent=2))
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
    return 0 if all(v.get("undo_exact", True) for v in out.values() if isinstance(v, dict)) else 1


if __name__ == "__main__":
    sys.exit(main())
