"""Where Next goes in the queue (nerdesk.core.queue_walk): routed list first, then the queue page by
page from near the last find, then once from the top; something reviewed when nothing is left."""

from __future__ import annotations

from nerdesk.core.queue_walk import PAGE, REVIEWED, first_reviewed, next_in_queue, next_routed


class Queue:
    """A queue of segment ids; records the pages read."""

    def __init__(self, ids):
        self.ids = list(ids)
        self.reads: list[tuple[int, int]] = []

    def __call__(self, limit, offset):
        self.reads.append((limit, offset))
        return [(sid, 1.0) for sid in self.ids[offset : offset + limit]]


def test_the_first_unseen_item_and_where_it_was_found():
    q = Queue(range(100, 300))
    assert next_in_queue(q, set()) == (100, 0)
    assert next_in_queue(q, {100, 101}) == (102, 2)
    seen = set(range(100, 100 + PAGE + 5))
    assert next_in_queue(q, seen) == (100 + PAGE + 5, PAGE + 5)  # on the second page
    assert q.reads[-2:] == [(PAGE, 0), (PAGE, PAGE)]


def test_the_walk_resumes_a_page_before_where_it_stopped():
    """Items reviewed since the last find left the queue and moved the rest forward: a page earlier
    covers them; pages before that are not read again."""
    q = Queue(range(1000))
    assert next_in_queue(q, set(range(300)), resume=300) == (300, 300)
    assert q.reads == [(PAGE, 300 - PAGE), (PAGE, 300)]
    q.ids = q.ids[10:]  # ten reviewed meanwhile: 300 is at offset 290 now
    q.reads = []
    assert next_in_queue(q, set(range(301)), resume=300) == (301, 291)
    assert q.reads == [(PAGE, 300 - PAGE)]  # found on the first page read


def test_then_once_from_the_top_and_none_when_all_was_seen():
    q = Queue([5, 6, 7, 8])
    assert next_in_queue(q, {6, 7, 8}, resume=500) == (5, 0)  # nothing from 436 on: from the top
    assert q.reads == [(PAGE, 500 - PAGE), (PAGE, 0)]
    q.reads = []
    assert next_in_queue(q, {5, 6, 7, 8}) is None
    assert q.reads == [(PAGE, 0)]  # the top only once
    assert next_in_queue(Queue([]), set()) is None


def test_a_routed_list_skips_the_seen_and_what_left_the_queue():
    status = {1: "new", 2: "accepted", 3: "new", 4: "new"}
    assert next_routed([1, 2, 3, 4], {1}, status.get, "new") == 3
    assert next_routed([2, 9], set(), status.get, "new") is None  # 9: gone from the project
    assert next_routed([], set(), status.get, "new") is None


def test_an_empty_queue_shows_something_reviewed_unfinished_first():
    by_status = {"accepted": [(7, 0.0)], "skipped": [(4, 0.0), (5, 0.0)]}
    asked = []

    def page(status):
        asked.append(status)
        return by_status.get(status, [])

    assert first_reviewed(page) == 4
    assert asked == list(REVIEWED[: REVIEWED.index("skipped") + 1])
    assert first_reviewed(lambda status: []) is None
