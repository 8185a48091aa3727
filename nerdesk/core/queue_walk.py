"""Where a reviewer's Next goes in the queue: the first item not yet seen in this walk.

The queue itself is ``Project.next_items`` (one page of segment ids, best first, for a status, an
order and filters; reading it changes nothing). Walking it is the rule here: a routed list first,
then the queue page by page from near where the last item was found, then once from the top; and
when nothing is left, something already reviewed, so the reviewer is never shown an empty page.
The app's session keeps only where the reviewer is (what was seen, the offset to resume at).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence

#: Items read from the queue at a time.
PAGE = 64

#: Shown when the queue is empty: the first segment of these statuses, in this order (unfinished first).
REVIEWED = ("draft", "flagged", "skipped", "accepted", "rejected")

#: One page of the queue: ``(limit, offset) -> [(segment id, score), ...]``.
PageOf = Callable[[int, int], Sequence[tuple[int, float]]]


def next_routed(
    routed: Iterable[int], seen: Container[int], status_of: Callable[[int], str | None], status: str
) -> int | None:
    """The first segment of a routed list (a routing strategy's order) not seen yet that still has
    the queue's ``status`` (an item reviewed since it was routed has left the queue)."""
    return next((sid for sid in routed if sid not in seen and status_of(sid) == status), None)


def next_in_queue(page_of: PageOf, seen: Container[int], resume: int = 0, page: int = PAGE) -> tuple[int, int] | None:
    """The first queued segment not seen yet and its offset in the queue (the ``resume`` of the next
    call), or None when every queued item has been seen.

    The walk starts a page before ``resume``: items reviewed since the last call have left the queue
    and moved the rest forward. If nothing unseen is left from there, it looks once from the top."""
    for offset in dict.fromkeys((max(0, resume - page), 0)):
        while True:
            items = page_of(page, offset)
            for k, (sid, _score) in enumerate(items):
                if sid not in seen:
                    return sid, offset + k
            if len(items) < page:
                break
            offset += page
    return None


def first_reviewed(page_of_status: Callable[[str], Sequence[tuple[int, float]]]) -> int | None:
    """Something to show when the queue is empty: the first segment (in document order) of the
    first status of :data:`REVIEWED` that has one; ``page_of_status(status)`` reads that queue."""
    for status in REVIEWED:
        items = page_of_status(status)
        if items:
            return items[0][0]
    return None
