"""A 1,000,000-character single-line document in the app (issue 13): open, navigate, label key.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/huge_line_bench.py [--chars 1000000]

Two projects of one document each, written straight through the store (cached in /tmp/nerdesk-bench):
"words": sentences of ~17 words joined by spaces, no line break, ~2.5 predicted spans per sentence;
"nospace": the same length without any whitespace (segments of 200 characters, 20-character
tokens, one span in two segments). Timed, each with a synchronous repaint of the view: opening the
project to the first paint, when the queue's background routing (started once the document is on
screen) is done, then, moving to a segment in the middle of the line (goto + repaint) and to
the next one, and a label key on the focused span (the facade's transaction + re-highlight + repaint).
Targets: open < 1 s, a key < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NERDESK_USER", "bench")

from ui_bench import LABELS, MODEL, build, paint_spy  # noqa: E402


def build_nospace(path: Path, chars: int) -> None:
    from nerdesk.core.project import Project
    from nerdesk.core.store import now

    p = Project.create(path, labels=LABELS)
    st = p.store
    st.register_model(MODEL, "bench", "1", "", "", LABELS, {})
    st.set_active_model(MODEL)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    text = (alphabet * (chars // len(alphabet) + 1))[:chars]
    segs, preds = [], []
    for k, a in enumerate(range(0, chars, 200)):
        b = min(chars, a + 200)
        flat = [x for t in range(a, b, 20) for x in (t - a, min(b, t + 20) - a)]
        segs.append((k + 1, 1, k, a, b, json.dumps(flat), len(flat) // 2, "new"))
        spans = [[a + 40, a + 80, LABELS[k % len(LABELS)], 0.6]] if k % 2 == 0 else []
        preds.append((k + 1, spans, 0.5, 0.5, 0.5, 0.5, 0.5))
    with st.transaction():
        st.insert_documents([(1, text, "nospace.txt", "{}", "h1", now())])
        st.insert_segments(segs)
        st.insert_predictions(MODEL, preds)
        st.index_documents_after(0)
    p.close()


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:.1f} ms, max {max(xs) * 1000:.1f} ms (n={len(xs)})"


def measure(win, app, path: Path) -> dict[str, str]:
    spy = paint_spy()
    view, s = win.view, win.session
    view.viewport().installEventFilter(spy)
    t0 = time.perf_counter()
    assert win.open_project(path)
    while not spy.painted:
        app.processEvents()
    out = {"open to first paint": f"{(time.perf_counter() - t0) * 1000:.0f} ms"}
    # the queue routes in the background once the document is on screen; time it, then navigate
    while not win.jobs.jobs:
        app.processEvents()
        if time.perf_counter() - t0 > 5:
            break
    while win.jobs.jobs:
        app.processEvents()
    out["then the queue's background routing, done after"] = f"{(time.perf_counter() - t0) * 1000:.0f} ms"
    doc = s.doc
    out["document"] = (
        f"{len(doc['text']):,} characters, {doc['text'].count(chr(10))} line breaks, "
        f"{len(doc['segments']):,} segments, {sum(len(x.spans) for x in doc['segments']):,} spans"
    )
    ids = [x.id for x in sorted(doc["segments"], key=lambda x: x.start)]
    go, nxt, key = [], [], []
    for k in range(10):
        sid = ids[len(ids) * (k + 1) // 12]
        t = time.perf_counter()
        s.goto(sid)
        view.viewport().repaint()
        go.append(time.perf_counter() - t)
        t = time.perf_counter()
        s.goto(ids[ids.index(sid) + 1])
        view.viewport().repaint()
        nxt.append(time.perf_counter() - t)
        seg = s.segment()
        if not seg.spans:
            s.goto(ids[ids.index(sid) + 2])
            seg = s.segment()
        if seg.spans:
            sp = seg.spans[0]
            view.set_focus_span(view.current_segment(), sp)
            new = LABELS[(LABELS.index(sp.label) + 1) % len(LABELS)]
            t = time.perf_counter()
            view.apply_label(new)
            view.viewport().repaint()
            key.append(time.perf_counter() - t)
    out["move to a segment in the middle (goto + repaint)"] = ms(go)
    out["move to the next segment"] = ms(nxt)
    out["label key on the focused span (transaction + re-highlight + repaint)"] = ms(key)
    view.viewport().removeEventFilter(spy)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chars", type=int, default=1_000_000)
    ap.add_argument("--cache", default="/tmp/nerdesk-bench")
    a = ap.parse_args()
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    words = cache / f"line-words-{a.chars}.nerdesk"
    nospace = cache / f"line-nospace-{a.chars}.nerdesk"
    if not words.exists():
        build(
            words,
            n_docs=1,
            sents_per_doc=max(1, a.chars // 77),
            words_per_sent=17,
            para_every=0,
            spans_per_seg=2.5,
            p_name=0.2,
        )
    if not nospace.exists():
        build_nospace(nospace, a.chars)

    from PySide6.QtCore import QSettings

    from nerdesk.ui.app import make_app
    from nerdesk.ui.main_window import MainWindow

    app = make_app()
    win = MainWindow(QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat))
    win.resize(1400, 850)
    win.show()
    app.processEvents()
    print(f"A one-line document in the app (QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}, 1400x850 window)")
    for name, path in (("with spaces", words), ("without whitespace", nospace)):
        res = measure(win, app, path)
        print(f"  {name}:")
        for k, v in res.items():
            print(f"    {k}: {v}", flush=True)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
