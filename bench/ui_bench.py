"""UI figures (offscreen): open, next item, long documents, span edits, cold start, memory.

    QT_QPA_PLATFORM=offscreen python bench/ui_bench.py [--segments 1000000] [--cache DIR]

Projects are generated synthetically (and cached in --cache, default /tmp/nerdesk-bench):
* "big": N segments (10 sentences per document) with model predictions (1-3 spans each);
* "long": one document of 50,000 words in paragraphs of ~100 words, 5,000 predicted spans.
The timings include the SQL reads, the Qt layout and a synchronous repaint of the view.
Targets (issue 4): open 1M project to first paint < 1.5 s; next item painted < 16 ms median,
< 50 ms p95; 50k-word/5k-span document opens < 1 s; a span edit repaints < 16 ms median;
cold start to window < 1.5 s; RSS < 400 MB with the 1M project open.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NERDESK_USER", "bench")

WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "so no what up out who them some could more into time only new about than other"
).split()
NAMES = ["Ada", "Lovelace", "Paris", "Berlin", "Acme", "Curie", "Tokyo", "Nile", "Orwell", "Volvo"]
LABELS = ["PER", "ORG", "LOC", "MISC"]
MODEL = "bench-model@1"


def _sentence(rnd: random.Random, n: int, p_name: float = 0.12) -> tuple[str, list[tuple[int, int]], list[int]]:
    words, caps = [], []
    for i in range(n):
        if rnd.random() < p_name:
            caps.append(i)
            words.append(rnd.choice(NAMES))
        else:
            words.append(rnd.choice(WORDS))
    words[0] = words[0].capitalize()
    toks, pos = [], 0
    for w in words:
        toks.append((pos, pos + len(w)))
        pos += len(w) + 1
    text = " ".join(words)
    toks.append((len(text), len(text) + 1))
    return text + ".", toks, caps


def build(
    path: Path,
    n_docs: int,
    sents_per_doc: int,
    words_per_sent: int,
    para_every: int,
    spans_per_seg: float,
    p_name: float = 0.12,
    seed: int = 0,
) -> None:
    """Write a project straight through the store (fast; the importer is measured elsewhere)."""
    from nerdesk.core.project import Project
    from nerdesk.core.store import now

    rnd = random.Random(seed)
    t0 = time.perf_counter()
    p = Project.create(path, labels=LABELS)
    st = p.store
    st.register_model(MODEL, "bench", "1", "", "", LABELS, {})
    st.set_active_model(MODEL)
    st.conn.execute("PRAGMA synchronous = OFF")
    seg_id = 0
    docs, segs, preds = [], [], []

    def flush():
        with st.transaction():
            st.insert_documents(docs)
            st.insert_segments(segs)
            st.insert_predictions(MODEL, preds)
        docs.clear(), segs.clear(), preds.clear()

    created = now()
    for d in range(1, n_docs + 1):
        parts, offset = [], 0
        for k in range(sents_per_doc):
            n = max(3, int(rnd.gauss(words_per_sent, 3)))
            text, toks, caps = _sentence(rnd, n, p_name)
            sep = "\n\n" if para_every and k and k % para_every == 0 else " " if k else ""
            offset += len(sep)
            parts.append(sep + text)
            flat = [x for a, b in toks for x in (a, b)]
            seg_id += 1
            segs.append((seg_id, d, k, offset, offset + len(text), json.dumps(flat), len(toks), "new"))
            want = min(len(caps), max(1, int(rnd.expovariate(1 / spans_per_seg)))) if caps else 0
            spans = [
                [offset + toks[i][0], offset + toks[i][1], rnd.choice(LABELS), round(rnd.uniform(0.3, 1), 3)]
                for i in sorted(rnd.sample(caps, want))
            ]
            u = rnd.random()
            preds.append((seg_id, spans, u, u, u, u, u))
            offset += len(text)
        text = "".join(parts)
        docs.append((d, text, f"bench{d}.txt", "{}", f"h{d}", created))
        if len(segs) >= 50000:
            flush()
    flush()
    with st.transaction():
        st.index_documents_after(0)
    st.conn.execute("ANALYZE")
    p.close()
    print(f"  built {path.name}: {n_docs} docs, {seg_id} segments in {time.perf_counter() - t0:.1f} s", flush=True)


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
    return f"median {statistics.median(xs) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (n={len(xs)})"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def paint_spy():
    """An event filter whose ``painted`` turns True at the first paint of what it watches."""
    from PySide6.QtCore import QEvent, QObject

    class PaintSpy(QObject):
        painted = False

        def eventFilter(self, obj, ev):  # noqa: N802
            if ev.type() == QEvent.Type.Paint:
                self.painted = True
            return False

    return PaintSpy()


def cold_start(project: Path | None = None) -> float:
    """`python -m nerdesk app [project]` until the window has painted (NERDESK_EXIT_AFTER_SHOW)."""
    import tempfile

    home = tempfile.mkdtemp()
    env = dict(
        os.environ,
        QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        NERDESK_EXIT_AFTER_SHOW="1",
        XDG_CONFIG_HOME=home,
        NERDESK_DATA_DIR=home,
    )
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "nerdesk", "app", *([str(project)] if project else [])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    dt = time.perf_counter() - t0
    assert "SHOWN" in r.stdout, r.stderr
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", type=int, default=1_000_000)
    ap.add_argument("--cache", default="/tmp/nerdesk-bench")
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    big = cache / f"big-{args.segments}.nerdesk"
    long = cache / "long-50k-v2.nerdesk"
    for p, kw in (
        (big, dict(n_docs=args.segments // 10, sents_per_doc=10, words_per_sent=14, para_every=5, spans_per_seg=1.5)),
        (long, dict(n_docs=1, sents_per_doc=3000, words_per_sent=17, para_every=6, spans_per_seg=2.5, p_name=0.2)),
    ):
        if args.rebuild:
            for q in (p, Path(f"{p}-wal"), Path(f"{p}-shm")):
                q.unlink(missing_ok=True)
        if not p.exists():
            build(p, **kw)

    results: dict[str, str] = {}
    runs = [cold_start() for _ in range(3)]
    results["cold start: `python -m nerdesk app` to painted window"] = (
        f"best {min(runs) * 1000:.0f} ms, worst {max(runs) * 1000:.0f} ms (3 runs)"
    )
    runs = [cold_start(big) for _ in range(2)]
    results[f"cold start with the {args.segments:,}-segment project"] = (
        f"best {min(runs) * 1000:.0f} ms, worst {max(runs) * 1000:.0f} ms (2 runs)"
    )

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from nerdesk.ui.app import make_app
    from nerdesk.ui.main_window import MainWindow

    app = make_app()
    import tempfile

    win = MainWindow(QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat))
    win.resize(1400, 850)
    win.show()
    app.processEvents()
    rss0 = rss_mb()

    spy = paint_spy()
    win.view.viewport().installEventFilter(spy)
    t0 = time.perf_counter()
    assert win.open_project(big)
    while not spy.painted:
        app.processEvents()
    t_open = time.perf_counter() - t0
    results[f"open {args.segments:,}-segment project to first paint"] = f"{t_open * 1000:.0f} ms"
    segs = win.session.project.stats()["segments"]

    view, s = win.view, win.session
    times = []
    for _ in range(300):
        t = time.perf_counter()
        s.next()
        view.viewport().repaint()
        times.append(time.perf_counter() - t)
    app.processEvents()
    results["next item (read + highlight + repaint)"] = stats(times)
    times = []
    for _ in range(100):
        t = time.perf_counter()
        s.previous()
        view.viewport().repaint()
        times.append(time.perf_counter() - t)
    results["previous item (read + highlight + repaint)"] = stats(times)
    # scrolling the queue pages in rows lazily
    t = time.perf_counter()
    m = win.queue.model
    for _ in range(10):
        m.fetchMore()
    results["queue: fetch 10 more pages of 200 rows"] = (
        f"{(time.perf_counter() - t) * 1000:.0f} ms total, rows loaded {m.rowCount()}"
    )
    app.processEvents()
    results[f"resident memory with the {segs:,}-segment project open"] = (
        f"{rss_mb():.0f} MB (window alone {rss0:.0f} MB)"
    )

    # the long document
    spy.painted = False
    t0 = time.perf_counter()
    assert win.open_project(long)
    while not spy.painted:
        app.processEvents()
    t_long = time.perf_counter() - t0
    doc = s.doc
    n_words = len(doc["text"].split())
    n_spans = sum(len(x.spans) for x in doc["segments"])
    results[f"open a {n_words:,}-word document with {n_spans:,} spans (first paint)"] = f"{t_long * 1000:.0f} ms"
    # span edits in the current segment: relabel the first span back and forth, add/remove
    times, times_add = [], []
    for i in range(60):
        seg = s.segment()
        if not seg.spans:
            s.next()
            continue
        sp = seg.spans[0]
        view.set_focus_span(view.current_segment(), sp)
        new = LABELS[(LABELS.index(sp.label) + 1) % len(LABELS)]
        t = time.perf_counter()
        view.apply_label(new)
        view.viewport().repaint()
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        view.move_boundary("end", 1)
        view.viewport().repaint()
        times_add.append(time.perf_counter() - t)
        if i % 3 == 2:
            s.next()
    results["span edit, relabel (facade transaction + re-highlight + repaint)"] = stats(times)
    results["span edit, move a boundary one token (same)"] = stats(times_add)
    # the facade's share: the same relabel called directly (then undone), no UI
    core = []
    p = s.project
    for _ in range(40):
        seg = s.segment()
        if not seg.spans:
            s.next()
            continue
        sp = seg.spans[0]
        new = LABELS[(LABELS.index(sp.label) + 1) % len(LABELS)]
        t = time.perf_counter()
        p.relabel_span(seg.id, sp.start, sp.end, new)
        core.append(time.perf_counter() - t)
        p.undo()
    results["  of which the facade alone (relabel_span, synchronous=FULL commit)"] = stats(core)
    # scrolling the long document: paint at several positions
    sb = view.verticalScrollBar()
    times = []
    for k in range(40):
        sb.setValue(int(sb.maximum() * k / 40))
        t = time.perf_counter()
        view.viewport().repaint()
        times.append(time.perf_counter() - t)
    results["long document: repaint after scrolling"] = stats(times)
    win.close()
    QApplication.processEvents()

    print("\nnerdesk UI bench (QT_QPA_PLATFORM=%s, %d CPUs)" % (os.environ.get("QT_QPA_PLATFORM"), os.cpu_count()))
    for k, v in results.items():
        print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
