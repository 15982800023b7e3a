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

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._heaps.pop(partition, None)
            self._due.pop(partition, None)

    def next_at(self) -> int | None:
        return min((min(due.values()) for due in self._due.values() if due), default=None)

    def _compact(self, partition: int) -> None:
        """Drop a partition's superseded entries so re-scheduled leads cannot grow its heap
        without bound."""
        heap = [(at, lead_id) for lead_id, at in self._due.get(partition, {}).items()]
        heapq.heapify(heap)
        self._heaps[partition] = heap
