"""The store's layout (each table group's methods in its own module) and its one helper for queries
over many ids, read across more than one chunk."""

from __future__ import annotations

import inspect
import json
import random

from nerdesk.core.store import CHUNK, Store, chunked, now
from nerdesk.core.store.base import Tables
from nerdesk.core.types import Annotation, Span

GROUPS = {
    "DocumentTables": "nerdesk.core.store.segments",
    "AnnotationTables": "nerdesk.core.store.human",
    "ModelTables": "nerdesk.core.store.predictions",
    "LabelTables": "nerdesk.core.store.labels",
    "Tables": "nerdesk.core.store.base",
}


def test_chunked_covers_every_id_once_in_order():
    ids = list(range(2 * CHUNK + 3))
    parts = list(chunked(ids))
    assert [len(chunk) for chunk, _ in parts] == [CHUNK, CHUNK, 3]
    assert [i for chunk, _ in parts for i in chunk] == ids
    assert all(marks == ",".join("?" * len(chunk)) for chunk, marks in parts)
    assert list(chunked([])) == []


def test_store_is_its_connection_and_the_table_groups():
    """Store itself holds only the connection's part; every other method is one table group's, in that
    group's module (so a table's SQL is found in one file)."""
    own = {name for name in vars(Store) if not name.startswith("__") or name == "__init__"}
    assert own == {"__init__", "close", "transaction"}
    assert [c.__name__ for c in Store.__mro__[1:-1]] == [
        "DocumentTables",
        "AnnotationTables",
        "ModelTables",
        "LabelTables",
        "Tables",
    ]
    for cls in Store.__mro__[1:-1]:
        assert issubclass(cls, Tables)
        assert cls.__module__ == GROUPS[cls.__name__]
    for name, member in inspect.getmembers(Store, inspect.isfunction):
        if name in own or name.startswith("__"):
            continue
        owners = [c for c in Store.__mro__[1:-1] if name in vars(c)]
        assert len(owners) == 1, f"{name} is defined by {[c.__name__ for c in owners]}"


def test_reads_over_more_ids_than_one_chunk(tmp_path):
    """Segments, annotations and predictions of 2.5 chunks of ids, asked in a shuffled order: every one
    comes back (in the order asked where the read keeps it), none twice."""
    store = Store(tmp_path / "p.nerdesk", create=True)
    n_docs, per_doc = 250, 5  # 1,250 segments: 2.5 chunks
    ts = now()
    with store.transaction():
        store.insert_documents(
            (d, f"doc {d} " + " ".join(f"w{k}" for k in range(per_doc)), f"src{d}.txt", "{}", f"h{d}", ts)
            for d in range(1, n_docs + 1)
        )
        rows = []
        for d in range(1, n_docs + 1):
            start = len(f"doc {d} ")
            for k in range(per_doc):
                sid = (d - 1) * per_doc + k + 1
                end = start + len(f"w{k}")
                rows.append((sid, d, k, start, end, json.dumps([[0, end - start]]), 1, "new"))
                start = end + 1
        store.insert_segments(rows)
        store.register_model("m1", "m", "1", "", "", ["PER"], {})
        ids = [r[0] for r in rows]
        store.insert_predictions("m1", ((sid, [[0, 2, "PER", 0.5]], 0.1, 0.2, 0.3, 0.4, sid / 10) for sid in ids))
        store.put_annotations(
            Annotation(sid, "ann", "annotator", "accepted", (Span(0, 2, "PER"),), "", None, None, ts, ts)
            for sid in ids[::2]
        )
    asked = ids[:]
    random.Random(0).shuffle(asked)

    segs = store.segments_with_text(asked)
    assert [s.id for s in segs] == asked
    assert all(s.text == f"w{s.idx}" for s in segs)
    assert store.existing_documents([f"h{d}" for d in range(n_docs + 1, 0, -1)]) == {
        f"h{d}": d for d in range(1, n_docs + 1)
    }
    by_doc = store.segments_of_documents(list(range(1, n_docs + 1)))
    assert sorted(by_doc) == list(range(1, n_docs + 1))
    assert all([s.idx for s in segs_of] == list(range(per_doc)) for segs_of in by_doc.values())

    preds = store.predictions_for(asked, "m1")
    assert sorted(preds) == ids
    assert preds[ids[-1]].spans == (Span(0, 2, "PER", 0.5),) and preds[ids[-1]].uncertainty == ids[-1] / 10

    anns = store.annotations_of(asked)
    assert sorted(anns) == ids[::2]
    assert all(len(v) == 1 and v[0].annotator == "ann" for v in anns.values())
    store.close()


def test_where_equal_keeps_only_the_filters_given():
    from nerdesk.core.store.base import where_equal

    assert where_equal((("a", None), ("b", None))) == ("", [])
    assert where_equal((("a", 1), ("b", None), ("c", "x"))) == (" WHERE a = ? AND c = ?", [1, "x"])
    assert where_equal((("a", 0),)) == (" WHERE a = ?", [0])  # 0 is a value, not "no filter"
