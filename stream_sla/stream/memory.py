"""Giving the C heap's free memory back to the system after a burst (glibc's ``malloc_trim``).

Why (issue 13, README "Benchmarks"): after the bench's live backfill (112,000 leads, 100,000
warnings fired as their hand-offs were read) the worker's RSS had grown 2.2 KB per lead while
the engine and its sinks hold about 0.8 KB: glibc's heap held 190 MB of which 146 MB were free
(``mallinfo2``), the high-water mark of the batches' transient buffers (fetched and produced
record batches, encoder outputs) kept in place by long-lived chunks allocated after them.
glibc gives back only the free top of its heap by itself; ``malloc_trim(0)`` also releases
the free pages inside it (``madvise``): 338 MB -> 192 MB RSS in that worker.

Linux with glibc only; elsewhere (musl has no ``malloc_trim``, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def release() -> int:
        return int(trim(0))

    return release


class HeapTrim:
    """Calls ``malloc_trim(0)`` once enough records went through since the last call: while
    busy every ``busy_events`` records, and when the input goes idle after ``idle_events``.

    A call walks the heap's free chunks (a few milliseconds on a heap of a few hundred MB), so
    it runs after bursts, not after every batch."""

    def __init__(
        self,
        busy_events: int = 100_000,
        idle_events: int = 1_000,
        release: Callable[[], int] | None = None,
    ) -> None:
        self.busy_events = busy_events
        self.idle_events = idle_events
        self.release = release if release is not None else _malloc_trim()
        self.pending = 0
        self.calls = 0

    def note(self, records: int) -> None:
        """Records processed (read, applied, their outputs sent)."""
        self.pending += records
        if self.pending >= self.busy_events:
            self.now()

    def idle(self) -> None:
        """The input has nothing new: a burst, if any, is over."""
        if self.pending >= self.idle_events:
            self.now()

    def now(self) -> None:
        """Trim at once (e.g. after a recovery read a changelog)."""
        self.pending = 0
        if self.release is None:
            return
        started = time.perf_counter()
        self.release()
        self.calls += 1
        log.debug("malloc_trim(0) in %.1f ms", (time.perf_counter() - started) * 1000)
