"""Import benchmark (issue 2): 1,000,000 sentences as JSONL and as CoNLL.

    .venv/bin/python bench/import_bench.py [--sentences 1000000] [--data ../shared/data] [--predict]

The sentences are those of ../shared/data/train and adapt (27,824 + 8,679), repeated until the
count is reached. Repetition k > 0 appends one token "·k" to each sentence so that every
sentence is a new document (the store deduplicates identical texts). Reports, per format:
end-to-end import speed (parse, store, index, through the same function as `nerdesk import`),
project size, time to open the project and count it, a full-text query, and the "next 50 by
uncertainty" query (after predicting with the default model when --predict is given).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nerdesk.core.project import Project  # noqa: E402
from nerdesk.core.types import drain  # noqa: E402


def corpus(data: Path) -> list[dict]:
    out = []
    for f in sorted(data.glob("*/*/*.jsonl")):
        with open(f, encoding="utf-8") as fh:
            out.extend(json.loads(line) for line in fh)
    return out


def make_files(data: Path, n: int, work: Path) -> tuple[Path, Path, int]:
    base = corpus(data)
    jsonl, conll = work / f"bench_{n}.jsonl", work / f"bench_{n}.conll"
    tokens = 0
    if jsonl.exists() and conll.exists():
        with open(jsonl, encoding="utf-8") as f:
            tokens = sum(len(json.loads(line)["tokens"]) for line in f)
        return jsonl, conll, tokens
    with open(jsonl, "w", encoding="utf-8") as fj, open(conll, "w", encoding="utf-8") as fc:
        for i in range(n):
            rep, k = divmod(i, len(base))
            s = base[k]
            toks, tags = s["tokens"], s["tags"]
            if rep:
                toks, tags = [*toks, f"·{rep}"], [*tags, "O"]
            tokens += len(toks)
            fj.write(json.dumps({"tokens": toks, "tags": tags}, ensure_ascii=False) + "\n")
            fc.write("".join(f"{t}\t{g}\n" for t, g in zip(toks, tags)) + "\n")
    return jsonl, conll, tokens


def timed(fn, repeat: int = 1):
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return result, times


def bench_format(fmt: str, path: Path, n: int, tokens: int, work: Path, predict: bool) -> dict:
    proj_path = work / f"bench_{fmt}_{n}.nerdesk"
    for suffix in ("", "-wal", "-shm"):
        Path(str(proj_path) + suffix).unlink(missing_ok=True)
    p = Project.create(proj_path, labels=["PER", "ORG", "LOC", "MISC"])
    t = time.perf_counter()
    res = drain(p.import_file(path, fmt))
    elapsed = time.perf_counter() - t
    p.close()
    out = {
        "format": fmt,
        "sentences": res.documents,
        "tokens": res.tokens,
        "import_s": round(elapsed, 1),
        "sentences_per_s": round(res.documents / elapsed),
        "tokens_per_s": round(res.tokens / elapsed),
        "project_mb": round(
            sum(os.path.getsize(str(proj_path) + s) for s in ("", "-wal", "-shm") if os.path.exists(str(proj_path) + s))
            / 1e6,
            1,
        ),
    }

    def open_and_count():
        with Project.open(proj_path) as q:
            return q.stats()

    stats, times = timed(open_and_count, 5)
    out["open_and_count_ms"] = round(statistics.median(times) * 1000, 1)
    assert stats["segments"] == res.segments
    with Project.open(proj_path) as q:
        hits, times = timed(lambda: q.search("London", 20), 5)
        out["fts_query_ms"] = round(statistics.median(times) * 1000, 2)
        out["fts_hits"] = len(hits)
        if predict:
            t = time.perf_counter()
            drain(q.predict(None))
            out["predict_s"] = round(time.perf_counter() - t, 1)
            out["predict_tokens_per_s"] = round(res.tokens / out["predict_s"])
        items, times = timed(lambda: q.next_items(50), 20)
        out["next_50_ms"] = round(statistics.median(times) * 1000, 2)
        out["next_50_order"] = "uncertainty" if q.active_model_id() else "document"
        _, times = timed(lambda: q.segments([i for i, _ in items]), 20)
        out["next_50_with_spans_ms"] = round(statistics.median(times) * 1000, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=ROOT / ".bench")
    ap.add_argument("--formats", default="jsonl,conll")
    ap.add_argument("--predict", action="store_true", help="predict with the default model first")
    args = ap.parse_args()
    args.work.mkdir(exist_ok=True)
    jsonl, conll, tokens = make_files(args.data, args.sentences, args.work)
    print(f"input: {args.sentences:,} sentences, {tokens:,} tokens", flush=True)
    for fmt in args.formats.split(","):
        r = bench_format(fmt, jsonl if fmt == "jsonl" else conll, args.sentences, tokens, args.work, args.predict)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
