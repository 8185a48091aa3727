"""Mutation fuzzing of every import format (issue 13): a mutated sample file either imports or
fails with a coded error naming the file, leaving the project unchanged; never a traceback, a
partial import or a hang. See tests/core/fuzz_cases.py for the mutations.

The default run takes a few seeded cases per format; ``NERDESK_FUZZ_CASES=200 pytest -m slow
tests/core/test_fuzz_formats.py`` runs that many per format (skipped without the variable).
"""

from __future__ import annotations

import os

import pytest

from .fuzz_cases import FORMATS, check

QUICK_CASES = 4
SLOW_CASES = int(os.environ.get("NERDESK_FUZZ_CASES", "0"))
many = pytest.mark.skipif(not SLOW_CASES, reason="set NERDESK_FUZZ_CASES (e.g. 200) to run it")


@pytest.mark.parametrize("fmt", FORMATS)
def test_fuzz_quick(fmt, tmp_path):
    failures = check(fmt, range(QUICK_CASES), tmp_path)
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@many
@pytest.mark.parametrize("fmt", FORMATS)
def test_fuzz_many(fmt, tmp_path):
    failures = check(fmt, range(SLOW_CASES), tmp_path)
    assert not failures, f"{len(failures)} of {SLOW_CASES} cases failed:\n" + "\n".join(failures)
