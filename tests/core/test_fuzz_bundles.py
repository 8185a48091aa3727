"""Mutation fuzzing of correction bundles (issue 13): bit flips, truncation, changed zip headers
(CRC, sizes, flags, compression method) and changed members (with the hash made to match again,
so the change reaches the checks behind the tamper check). Each one imports or is a coded error
naming the bundle, with the project unchanged.

The default run takes a few seeded cases; ``NERDESK_FUZZ_CASES=200 pytest
tests/core/test_fuzz_bundles.py`` runs that many (bench/fuzz_bench.py reports the counts).
"""

from __future__ import annotations

import os

from .fuzz_cases import check

CASES = int(os.environ.get("NERDESK_FUZZ_CASES") or 8)


def test_fuzz_bundles_quick(tmp_path):
    failures = check("bundle", range(CASES), tmp_path)
    assert not failures, f"{len(failures)} of {CASES} cases failed:\n" + "\n".join(failures)
