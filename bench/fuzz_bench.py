"""Fuzz benchmark (issue 13): mutated import files per format, and zip-bomb bundles' peak memory.

    .venv/bin/python bench/fuzz_bench.py [--cases 200] [--formats jsonl,conll,...,bundle] [--timeout 20]
                                         [--show 3] [--no-bombs]

For every format (the ten of nerdesk.core.formats, and correction bundles) it runs ``--cases``
seeded cases of tests/core/fuzz_cases.py: a valid sample file, mutated (bit flips, truncation,
lone surrogates, deep nesting, odd field types, dropped/swapped fields, CR-only line ends, DocBin
and zip internals), imported into a fresh project through Project.import_file (what
``nerdesk import`` does), each under a per-case time limit (SIGALRM). It prints per format: cases,
ok, coded errors, tracebacks, partial imports, hangs (and successful imports that stored
overlapping spans in a project that forbids them), and the first ``--show`` failures.

Then it builds zip bombs and imports each in a fresh process, printing the process's peak RSS
(``resource.getrusage``, ru_maxrss) before and after, the error and the time:
* a 1.5 GiB-inflating bundle under the 200:1 ratio cap (honest sizes: over the absolute cap);
* the same data with its headers declaring 1 MiB (lying sizes);
* a 400 MiB-inflating bundle under every cap, with a valid hash, of junk lines.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.core import fuzz_cases  # noqa: E402

KINDS = ["ok", "coded", "traceback", "partial", "hang", "overlap"]
HEADERS = ["cases", "ok", "coded errors", "tracebacks", "partial", "hangs", "overlaps", "s"]


def run_formats(formats: list[str], cases: int, timeout: float, show: int) -> bool:
    print(f"{'format':<12}" + "".join(f"{h:>14}" for h in HEADERS))
    failures: list[str] = []
    clean = True
    with tempfile.TemporaryDirectory() as d:
        for fmt in formats:
            t0 = time.perf_counter()
            tally: Counter[str] = Counter()
            for seed in range(cases):
                case = fuzz_cases.make_case(fmt, seed)
                out = fuzz_cases.run_case(case, Path(d), timeout)
                tally[out.kind] += 1
                if out.kind not in ("ok", "coded"):
                    failures.append(fuzz_cases.describe(case, out))
            row = [cases] + [tally[k] for k in KINDS] + [f"{time.perf_counter() - t0:.1f}"]
            print(f"{fmt:<12}" + "".join(f"{v:>14}" for v in row), flush=True)
            clean &= sum(tally[k] for k in KINDS[2:]) == 0
    for line in failures[:show]:
        print("  " + line)
    return clean


# --------------------------------------------------------------------------- zip bombs
def write_bomb(path: Path, size: int, *, lie: int | None = None) -> None:
    """A bundle whose corrections.jsonl inflates to ``size`` bytes at about 100:1 (under the
    ratio cap), with a manifest whose hash and count match. ``lie``: declare that many bytes
    (in both headers) instead of the real size."""
    import hashlib
    import random
    import struct

    rng = random.Random(0)
    block = 1 << 20
    pieces = [b'{"text": "' + bytes(rng.getrandbits(8) % 26 + 97 for _ in range(10_000)) + b'"}\n' for _ in range(4)]
    filler = b" " * (block - len(pieces[0]))
    sha = hashlib.sha256()
    n_blocks = size // block
    for i in range(n_blocks):
        sha.update(pieces[i % 4] + filler)
    manifest = {
        "bundle_format": 1,
        "nerdesk_version": "bench",
        "project_id": "p",
        "bundle_id": "b",
        "created": "2024-01-01T00:00:00+00:00",
        "annotators": [],
        "segments": n_blocks,
        "guideline": {"version": 1, "text": "", "labels": []},
        "models": [],
        "error_counts": {},
        "files": {"corrections.jsonl": sha.hexdigest()},
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("manifest.json", json.dumps(manifest))
        with z.open("corrections.jsonl", "w", force_zip64=True) as f:
            for i in range(n_blocks):
                f.write(pieces[i % 4] + filler)
    if lie is not None:
        data = bytearray(path.read_bytes())
        pos = 0
        while (pos := data.find(b"PK\x01\x02", pos)) >= 0:  # central header: the size zipfile trusts
            n = struct.unpack_from("<H", data, pos + 28)[0]
            if data[pos + 46 : pos + 46 + n] == b"corrections.jsonl":
                extra_len = struct.unpack_from("<H", data, pos + 30)[0]
                extra = pos + 46 + n
                if struct.unpack_from("<I", data, pos + 24)[0] == 0xFFFFFFFF:  # zip64: sizes in the extra
                    k = extra
                    while k < extra + extra_len:
                        tag, ln = struct.unpack_from("<HH", data, k)
                        if tag == 1:
                            struct.pack_into("<Q", data, k + 4, lie)
                        k += 4 + ln
                else:
                    struct.pack_into("<I", data, pos + 24, lie)
            pos += 4
        path.write_bytes(bytes(data))


def bomb_child(path: str) -> None:
    """In a fresh process: peak RSS before and after importing the bundle (as the CLI does)."""
    from nerdesk.core.errors import NerdeskError
    from nerdesk.core.project import Project
    from nerdesk.core.types import drain

    project = Project.create(Path(path).with_suffix(".nerdesk"), labels=["PER"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    try:
        drain(project.import_file(path))
        outcome = "imported"
    except NerdeskError as e:
        outcome = f"{e.code}: {e.message[:90]}"
    except Exception as e:  # noqa: BLE001
        outcome = f"TRACEBACK {type(e).__name__}: {e}"
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "before_mib": before / 1024,
                "after_mib": after / 1024,
                "seconds": time.perf_counter() - t0,
                "outcome": outcome,
            }
        )
    )


def run_bombs() -> None:
    gib = 1 << 30
    with tempfile.TemporaryDirectory() as d:
        for name, size, lie in [
            ("1.5 GiB inflating, honest sizes", 3 * gib // 2, None),
            ("1.5 GiB inflating, declares 1 MiB", 3 * gib // 2, 1 << 20),
            ("400 MiB inflating, under every cap", 400 << 20, None),
        ]:
            path = Path(d) / "bomb.zip"
            t0 = time.perf_counter()
            write_bomb(path, size, lie=lie)
            built = time.perf_counter() - t0
            out = subprocess.run(
                [sys.executable, __file__, "--bomb-child", str(path)], capture_output=True, text=True, timeout=600
            )
            try:
                r = json.loads(out.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                print(f"zip bomb ({name}): child failed: {out.stderr[-500:]}")
                continue
            print(
                f"zip bomb ({name}; {path.stat().st_size / 2**20:.1f} MiB compressed, built in {built:.0f} s): "
                f"peak RSS {r['before_mib']:.0f} MiB before, {r['after_mib']:.0f} MiB after "
                f"(+{r['after_mib'] - r['before_mib']:.0f} MiB), {r['seconds']:.2f} s: {r['outcome']}"
            )
            path.unlink()
            Path(path.with_suffix(".nerdesk")).unlink(missing_ok=True)
        path = Path(d) / "bomb.spacy"  # a DocBin is one zlib stream: 1.5 GiB of zeros
        z = zlib.compressobj(9)
        with path.open("wb") as f:
            block = bytes(64 << 20)
            for _ in range(24):
                f.write(z.compress(block))
            f.write(z.flush())
        out = subprocess.run(
            [sys.executable, __file__, "--bomb-child", str(path)], capture_output=True, text=True, timeout=600
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"zlib bomb (.spacy, 1.5 GiB inflating; {path.stat().st_size / 2**20:.1f} MiB): peak RSS "
            f"{r['before_mib']:.0f} MiB before, {r['after_mib']:.0f} MiB after "
            f"(+{r['after_mib'] - r['before_mib']:.0f} MiB), {r['seconds']:.2f} s: {r['outcome']}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--formats", default=",".join(fuzz_cases.FORMATS + ["bundle"]))
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    ap.add_argument("--show", type=int, default=3, help="failures to print")
    ap.add_argument("--no-bombs", action="store_true")
    ap.add_argument("--bomb-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bomb_child:
        bomb_child(args.bomb_child)
        return
    os.environ.setdefault("NERDESK_USER", "bench")
    clean = run_formats(args.formats.split(","), args.cases, args.timeout, args.show)
    if not args.no_bombs:
        run_bombs()
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
