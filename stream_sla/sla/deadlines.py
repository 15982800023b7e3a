"""Which lead falls due next, per partition, without scanning the state table.

One min-heap per partition with lazy deletion: re-scheduling a lead pushes a new
entry and leaves the old one to be skipped when popped (``_due`` holds the truth).
Partitions are the unit of ownership in Kafka, so they are the unit here too:
a revoked partition's deadlines are dropped whole, a lagging one is left alone.
A lead is known by (partition, lead id): a record of the lead found on another partition
(a wrong key) must never replace, or be replaced by, the deadline of its own partition.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import NamedTuple


class Due(NamedTuple):
    at: int
    lead_id: str
    partition: int


class Slice(NamedTuple):
    """Due deadlines of one partition, and the instant to evaluate them at."""

    partition: int
    until: int
    """``min(now, horizon)``: the partition's input is complete up to here, and no later. A lead
    popped for one deadline is assessed as of this instant, so a later checkpoint of it that
    falls after the horizon waits (an attempt that meets it may still be unread)."""
    due: list[Due]


class DeadlineIndex:
    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[int, str]]] = {}
        self._due: dict[int, dict[str, int]] = {}
        """Each partition's pending deadline per lead: the truth the heaps' entries are checked
        against. Per partition, not keyed by (partition, lead): no tuple per lead (56 B of a
        live lead's memory, and one built per lookup)."""

    def __len__(self) -> int:
        return sum(len(due) for due in self._due.values())

    def schedule(self, lead_id: str, partition: int, at: int | None) -> None:
        """Set (or clear, with ``None``) the one pending deadline of a lead."""
        due = self._due.get(partition)
        if due is None:
            if at is None:
                return
            due = self._due[partition] = {}
        current = due.get(lead_id)
        if at is None:
            if current is not None:
                del due[lead_id]
            return
        if current == at:
            return
        due[lead_id] = at
        heap = self._heaps.setdefault(partition, [])
        heapq.heappush(heap, (at, lead_id))
        if len(heap) > 3 * len(due) + 4096:
            self._compact(partition)

    def schedule_many(self, partition: int, wakes: Iterable[tuple[str, int | None]]) -> None:
        """:meth:`schedule` for many leads of one partition (a restore): the same result, with
        one heapify instead of a push per lead."""
        due = self._due.setdefault(partition, {})
        added: list[tuple[int, str]] = []
        for lead_id, at in wakes:
            if at is None:
                due.pop(lead_id, None)
            elif due.get(lead_id) != at:
                due[lead_id] = at
                added.append((at, lead_id))
        if not added:
            return
        heap = self._heaps.setdefault(partition, [])
        heap.extend(added)
        if len(heap) > 3 * len(due) + 4096:
            self._compact(partition)
        else:
            heapq.heapify(heap)

    def pop_due(self, now: int, horizon: Callable[[int], int | None] | None = None) -> list[Due]:
        """Remove and return the deadlines at or before ``now``.

        ``horizon(partition)`` bounds it further: the instant up to which that partition's
        input is known to be complete (None: not at all yet). The live worker passes the time
        of its last fetch that found the partition fully read; a replay passes nothing.
        """
        fired: list[Due] = []
        for partition, heap in self._heaps.items():
            if not heap or heap[0][0] > now:
                continue
            limit = now
            if horizon is not None:
                known = horizon(partition)
                if known is None:
                    continue
                limit = min(now, known)
            due = self._due.get(partition, {})
            while heap and heap[0][0] <= limit:
                at, lead_id = heapq.heappop(heap)
                if due.get(lead_id) == at:
                    del due[lead_id]
                    fired.append(Due(at, lead_id, partition))
        return fired

    def pop_slices(self, now: int, horizon: Callable[[int], int | None], most: int) -> list[Slice]:
        """Remove and return at most ``most`` due deadlines, earliest first across partitions,
        grouped by partition; each partition's up to ``min(now, horizon(partition))``.

        The live worker's sweep: bounded, so one sweep never holds the event loop (fetches,
        batches, the gate's own clock) for seconds, and earliest first, so the longest-waiting
        breaches leave first whichever partition holds them.
        """
        limits: dict[int, int] = {}
        heads: list[tuple[int, int]] = []
        for partition, heap in self._heaps.items():
            if not heap or heap[0][0] > now:
                continue
            known = horizon(partition)
            if known is None or heap[0][0] > known:
                continue
            limits[partition] = min(now, known)
            heads.append((heap[0][0], partition))
        heapq.heapify(heads)
        taken: dict[int, list[Due]] = {}
        count = 0
        while heads and count < most:
            _, partition = heads[0]
            heap = self._heaps[partition]
            due = self._due.get(partition, {})
            at, lead_id = heapq.heappop(heap)
            if due.get(lead_id) == at:
                del due[lead_id]
                taken.setdefault(partition, []).append(Due(at, lead_id, partition))
                count += 1
            if heap and heap[0][0] <= limits[partition]:
                heapq.heapreplace(heads, (heap[0][0], partition))
            else:
                heapq.heappop(heads)
        return [Slice(p, limits[p], due) for p, due in sorted(taken.items())]

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._heaps.pop(partition, None)
            self._due.pop(partition, None)

    def any_due(self, now: int) -> bool:
        """Whether some partition's earliest entry is at or before ``now`` (cheap: the heads
        only; a superseded head may say yes for nothing, never no for something)."""
        return any(heap and heap[0][0] <= now for heap in self._heaps.values())

    def next_at(self) -> int | None:
        return min((min(due.values()) for due in self._due.values() if due), default=None)

    def _compact(self, partition: int) -> None:
        """Drop a partition's superseded entries so re-scheduled leads cannot grow its heap
        without bound."""
        heap = [(at, lead_id) for lead_id, at in self._due.get(partition, {}).items()]
        heapq.heapify(heap)
        self._heaps[partition] = heap
