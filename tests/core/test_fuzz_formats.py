"""Mutation fuzzing of every import format (issue 13): a mutated sample file either imports or
fails with a coded error naming the file, leaving the project unchanged; never a traceback, a
partial import or a hang. See tests/core/fuzz_cases.py for the mutations.

The default run takes a few seeded cases per format; ``NERDESK_FUZZ_CASES=200 pytest
tests/core/test_fuzz_formats.py`` runs that many per format (bench/fuzz_bench.py reports the counts).
"""

from __future__ import annotations

import os

import pytest

from .fuzz_cases import FORMATS, check

CASES = int(os.environ.get("NERDESK_FUZZ_CASES") or 4)


@pytest.mark.parametrize("fmt", FORMATS)
def test_fuzz_quick(fmt, tmp_path):
    failures = check(fmt, range(CASES), tmp_path)
    assert not failures, f"{len(failures)} of {CASES} cases failed:\n" + "\n".join(failures)
