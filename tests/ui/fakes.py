"""Helpers for UI tests and scripts: projects with model-like predictions, without a model."""

from __future__ import annotations

import random
from pathlib import Path

from nerdesk.core.project import Project
from nerdesk.core.types import DocRecord
from nerdesk.core.types import drain as run  # the tests call it run()

FAKE_MODEL = "fake-model@1"

TEXTS = [
    "Angela Merkel visited Paris last week. She met Emmanuel Macron at the Elysee Palace.\n"
    "Later, Merkel flew to Berlin with Olaf Scholz.",
    "Microsoft opened an office in Dublin. Satya Nadella spoke there.",
    "The river Thames flows through London. Oxford lies upstream.",
]


def add_fake_predictions(project: Project, seed: int = 0, labels=("PER", "ORG", "LOC")) -> None:
    """Capitalised tokens become single-token spans with a pseudo-random confidence."""
    rnd = random.Random(seed)
    store = project.store
    with store.transaction():
        store.register_model(FAKE_MODEL, "fake", "1", "", "", list(labels), {})
        store.set_active_model(FAKE_MODEL)
        rows = []
        last = 0
        while True:
            ids = [
                r[0] for r in store.conn.execute("SELECT id FROM segments WHERE id > ? ORDER BY id LIMIT 1000", (last,))
            ]
            if not ids:
                break
            for seg in store.segments_with_text(ids):
                flat, base, text = seg.tokens.flat, seg.start, seg.text
                spans = []
                for a, b in zip(flat[::2], flat[1::2]):
                    if text[a:b][:1].isupper() and a > 0:
                        spans.append(
                            [base + a, base + b, labels[(a + b) % len(labels)], round(rnd.uniform(0.3, 0.99), 3)]
                        )
                unc = 1 - min((s[3] for s in spans), default=1.0)
                rows.append((seg.id, spans, unc, unc, unc, unc, unc))
            last = ids[-1]
        store.insert_predictions(FAKE_MODEL, rows)


def make_project(path: Path, texts: list[str], labels=("PER", "ORG", "LOC"), predictions: bool = True) -> Path:
    p = Project.create(path, labels=list(labels))
    run(p.import_records([DocRecord(t, source=f"doc{i}.txt") for i, t in enumerate(texts)]))
    if predictions:
        add_fake_predictions(p, labels=labels)
    p.close()
    return path
