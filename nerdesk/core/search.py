"""Full-text search helpers (SQLite FTS5)."""

from __future__ import annotations

import re

_FTS_SYNTAX = re.compile(r'["*():^{}]|\b(AND|OR|NOT|NEAR)\b')


def looks_like_fts_syntax(text: str) -> bool:
    return bool(_FTS_SYNTAX.search(text))


def quoted_words(text: str) -> str:
    """Each word quoted and ANDed: punctuation can never make a syntax error."""
    words = [w for w in re.split(r"\s+", text.strip()) if w]
    return " ".join('"' + w.replace('"', '""') + '"' for w in words) or '""'
