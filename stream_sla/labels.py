"""Bounded Prometheus label values for CRM data (team, rep, source, segment), alike on every worker.

A label that carries a CRM value mints one series per distinct value; a CRM bug (or a
hostile producer) inventing owners would grow /metrics without bound. Admitting "the first
N values seen" bounds it, but every worker then keeps a different first N, so the same rep
is ``other`` on one worker and named on the next, and sums across workers are wrong.

The rule here depends only on the value and on configuration, never on arrival order:

- a value in the known set (from the policy, a configured list, later a people directory)
  is kept as it is;
- a missing or empty value is ``unknown``;
- any other value goes to one of ``buckets`` stable hash buckets, ``other-00`` ..
  ``other-15`` by default: CRC-32 of its UTF-8 bytes modulo ``buckets`` (not Python's
  ``hash``, which is salted per process).

So a label has at most ``len(known) + buckets + 1`` values on every worker, and a value
lands in the same bucket on all of them. Known values are a seam: anything that learns
the real reps or teams (a people directory) passes them to :meth:`LabelBound.knowing`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

UNKNOWN = "unknown"
OTHER_PREFIX = "other-"
DEFAULT_BUCKETS = 16


def bucket_of(value: str, buckets: int = DEFAULT_BUCKETS) -> str:
    """The stable hash bucket of a value that is not known: ``other-NN``."""
    return f"{OTHER_PREFIX}{zlib.crc32(value.encode()) % buckets:02d}"


class LabelBound:
    """Maps a CRM value to a bounded label value; see the module docstring for the rule."""

    __slots__ = ("_cache", "buckets", "known")

    CACHE_LIMIT = 4096
    """Unknown values remembered with their bucket (the hash is cheap; the dict is cheaper)."""

    def __init__(self, known: Iterable[str] = (), buckets: int = DEFAULT_BUCKETS) -> None:
        if buckets < 1:
            raise ValueError(f"buckets must be at least 1, not {buckets}")
        self.known = frozenset(v for v in known if v)
        self.buckets = buckets
        self._cache: dict[str, str] = {}

    @property
    def bound(self) -> int:
        """The most distinct label values this can produce."""
        return len(self.known) + self.buckets + 1

    def knowing(self, more: Iterable[str]) -> LabelBound:
        """The same rule with more known values (e.g. reps from a people directory)."""
        return LabelBound(self.known | frozenset(more), self.buckets)

    def __call__(self, value: str | None) -> str:
        if not value:
            return UNKNOWN
        if value in self.known:
            return value
        label = self._cache.get(value)
        if label is None:
            label = bucket_of(value, self.buckets)
            if len(self._cache) < self.CACHE_LIMIT:
                self._cache[value] = label
        return label
