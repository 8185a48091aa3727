"""End to end, one thread, cold caches: en-accurate and en-base on the four test splits of ../shared/data/train.

.venv/bin/python bench/speed_bench.py
"""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from nerdesk.core.model import load_model  # noqa: E402
from nerdesk.core.model.data import load_records  # noqa: E402

toks = []
for n in ("gum_ne", "btc", "uner_en_ewt", "redocred"):
    toks += [t for t, _ in load_records(ROOT.parent / "shared" / "data" / "train" / n / "test.jsonl")]
n = sum(map(len, toks))
for name in ("en-accurate", "en-base"):
    best = 0
    for _ in range(2):
        m = load_model(name, threads=1)  # fresh: a cold tokeniser / feature cache each pass
        t = time.perf_counter()
        m.predict(toks)
        best = max(best, n / (time.perf_counter() - t))
    print(f"{name}: {n} tokens, end to end one thread (cold caches), best of 2: {best:,.0f} tokens/s")
