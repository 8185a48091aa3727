"""Full-text search helpers (SQLite FTS5)."""

from __future__ import annotations

import re

_FTS_SYNTAX = re.compile(r'["*():^{}]|\b(AND|OR|NOT|NEAR)\b')


def fts_query(text: str) -> str:
    """Turn what a user typed into a safe FTS5 query: plain words are ANDed and quoted, so
    punctuation cannot raise a syntax error. A query with FTS5 syntax (quotes, *, AND/OR/NOT)
    is passed through as typed, for those who know it."""
    if _FTS_SYNTAX.search(text):
        return text
    words = [w for w in re.split(r"\s+", text.strip()) if w]
    return " ".join('"' + w.replace('"', '""') + '"' for w in words) or '""'
