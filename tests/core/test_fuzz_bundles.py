"""Mutation fuzzing of correction bundles (issue 13): bit flips, truncation, changed zip headers
(CRC, sizes, flags, compression method) and changed members (with the hash made to match again,
so the change reaches the checks behind the tamper check). Each one imports or is a coded error
naming the bundle, with the project unchanged.

The default run takes a few seeded cases; ``NERDESK_FUZZ_CASES=200 pytest -m slow
tests/core/test_fuzz_bundles.py`` runs that many (skipped without the variable).
"""

from __future__ import annotations

import os

import pytest

from .fuzz_cases import check

QUICK_CASES = 8
SLOW_CASES = int(os.environ.get("NERDESK_FUZZ_CASES", "0"))
many = pytest.mark.skipif(not SLOW_CASES, reason="set NERDESK_FUZZ_CASES (e.g. 200) to run it")


def test_fuzz_bundles_quick(tmp_path):
    failures = check("bundle", range(QUICK_CASES), tmp_path)
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@many
def test_fuzz_bundles_many(tmp_path):
    failures = check("bundle", range(SLOW_CASES), tmp_path)
    assert not failures, f"{len(failures)} of {SLOW_CASES} cases failed:\n" + "\n".join(failures)
