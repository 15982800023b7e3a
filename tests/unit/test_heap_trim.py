"""The worker gives the C heap's free pages back after a burst (stream_sla.stream.memory)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from stream_sla.stream.memory import HeapTrim, _malloc_trim


def rss() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match[1]) * 1024


def test_trims_every_busy_events_while_busy_and_once_idle_after_a_burst() -> None:
    calls: list[int] = []
    heap = HeapTrim(
        busy_events=10_000,
        idle_events=100,
        release=lambda: calls.append(1) or 1,
        clock=lambda: 0.0,
    )
    for _ in range(25):
        heap.note(1_000)
    assert len(calls) == 2  # at 10,000 and 20,000 records
    heap.idle()
    assert len(calls) == 3  # the burst's last 5,000
    heap.idle()
    heap.note(99)
    heap.idle()
    assert len(calls) == 3  # idle with nothing (or too little) since: no walk of the heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_malloc_trim_gives_back_the_free_pages_a_burst_left_inside_the_heap() -> None:
    """What the worker saw after a backfill: transient buffers freed, but held in the heap by
    small long-lived chunks allocated after each of them, so glibc cannot shrink its top."""
    release = _malloc_trim()
    assert release is not None, "glibc's malloc_trim not found on Linux"
    burst, kept = [], []
    for n in range(4_000):
        burst.append(bytes(16_384 - 33) + n.to_bytes(4))  # malloc'd, below the mmap threshold
        kept.append(bytes(600) + n.to_bytes(4))  # long-lived, malloc'd after it
    del burst
    held = rss()
    release()
    assert held - rss() > 32 * 2**20, "malloc_trim(0) gave back less than half of a 64 MB burst"
    assert len(kept) == 4_000


def test_an_idle_worker_trims_every_few_seconds_with_no_input() -> None:
    """A burst's deliveries settle after its last batch, and deadline sweeps make garbage
    with no record read (a storm of breaches)."""
    calls: list[int] = []
    now = [0.0]
    heap = HeapTrim(idle_seconds=5, release=lambda: calls.append(1) or 1, clock=lambda: now[0])
    now[0] = 4.9
    heap.idle()
    assert not calls
    now[0] = 5.0
    heap.idle()
    now[0] = 6.0
    heap.idle()
    assert len(calls) == 1
