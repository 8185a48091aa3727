"""Shared, Qt-free fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NERDESK_USER", "tester")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED.exists():  # CI clones next to shared/ as well; allow an override
    SHARED = Path(os.environ.get("NERDESK_SHARED_DATA", "/work/shared/data"))


def read_shared(rel: str, limit: int | None = None) -> list[dict]:
    """Sentences of a corpus in ../shared/data, e.g. read_shared('train/btc/test.jsonl', 300)."""
    out = []
    with open(SHARED / rel, encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if limit and len(out) >= limit:
                break
    return out


@pytest.fixture
def shared_data() -> Path:
    assert SHARED.exists(), f"test data not found at {SHARED}"
    return SHARED


@pytest.fixture
def project(tmp_path):
    from nerdesk.core.project import Project

    p = Project.create(tmp_path / "p.nerdesk", labels=["PER", "ORG", "LOC"])
    yield p
    p.close()
