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
    """Calls ``malloc_trim(0)`` after bursts: while busy every ``busy_events`` records; when
    the input goes idle after ``idle_events`` records; and while idle every ``idle_seconds``
    (a burst's last deliveries settle after its records were processed, and deadline sweeps
    make garbage with no input: a storm of breaches).

    A call walks the heap's free chunks: 0.1-5 ms on the bench's worker (300 MB), so at most
    a few a second while busy and one every ``idle_seconds`` idle."""

    def __init__(
        self,
        busy_events: int = 100_000,
        idle_events: int = 1_000,
        idle_seconds: float = 5.0,
        release: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.busy_events = busy_events
        self.idle_events = idle_events
        self.idle_seconds = idle_seconds
        self.release = release if release is not None else _malloc_trim()
        self.clock = clock
        self.pending = 0
        self.calls = 0
        self._last = clock()

    def note(self, records: int) -> None:
        """Records processed (read, applied, their outputs sent)."""
        self.pending += records
        if self.pending >= self.busy_events:
            self.now()

    def idle(self) -> None:
        """The input has nothing new: a burst, if any, is over."""
        if self.pending >= self.idle_events or self.clock() - self._last >= self.idle_seconds:
            self.now()

    def now(self) -> None:
        """Trim at once (e.g. after a recovery read a changelog)."""
        self.pending = 0
        self._last = self.clock()
        if self.release is None:
            return
        self.release()
        self.calls += 1
        log.debug("malloc_trim(0) in %.1f ms", (self.clock() - self._last) * 1000)
