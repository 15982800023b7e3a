"""Speed to lead against outcome: does a fast first touch pay off on this company's leads?

The source documents quote "almost 7x as likely to have a meaningful conversation when
followed up within an hour". Here the same question is asked of the replayed cycles:
connect, qualification and win rates per first-touch bucket, each with a Wilson score
interval (sound for small counts and for rates near 0 or 1, unlike the normal
approximation), and a verdict that says plainly when the counts cannot settle it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from stream_sla.sla.outcomes import CycleOutcome

BUCKETS: tuple[tuple[str, float], ...] = (
    ("within 5 min", 300.0),
    ("within 1 h", 3600.0),
    ("within 1 day", 86400.0),
    ("later", math.inf),
)
"""Upper bounds in seconds; each bucket holds first touches above the previous bound."""
NEVER = "never touched"
MIN_PER_SIDE = 30
"""Fewer cycles than this on either side of the one-hour line: too few to conclude."""
Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Rate:
    hits: int
    n: int
    low: float | None
    high: float | None

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None


def wilson(hits: int, n: int, z: float = Z_95) -> Rate:
    """Wilson score interval for hits out of n (95% by default)."""
    if n == 0:
        return Rate(hits, n, None, None)
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Rate(hits, n, max(0.0, centre - half), min(1.0, centre + half))


OUTCOMES: tuple[tuple[str, Callable[[CycleOutcome], bool]], ...] = (
    ("connect", lambda c: c.connected),
    ("qualification", lambda c: c.qualified),
    ("win", lambda c: c.won),
)


def bucket(first_touch_seconds: float | None) -> str:
    if first_touch_seconds is None:
        return NEVER
    for name, bound in BUCKETS:
        if first_touch_seconds <= bound:
            return name
    raise AssertionError("unreachable: the last bound is infinite")


@dataclass(frozen=True, slots=True)
class Comparison:
    """One outcome within an hour against after an hour: the ratio and whether it holds."""

    outcome: str
    within_hour: Rate
    after_hour: Rate
    ratio: float | None
    verdict: str


@dataclass(frozen=True, slots=True)
class SpeedToLead:
    rates: dict[str, dict[str, Rate]]
    """bucket -> outcome -> rate."""
    comparisons: tuple[Comparison, ...]


def speed_to_lead(cycles: Iterable[CycleOutcome]) -> SpeedToLead:
    grouped: dict[str, list[CycleOutcome]] = {name: [] for name, _ in BUCKETS}
    grouped[NEVER] = []
    for cycle in cycles:
        grouped[bucket(cycle.first_touch_seconds)].append(cycle)
    rates = {
        name: {outcome: wilson(sum(map(test, rows)), len(rows)) for outcome, test in OUTCOMES}
        for name, rows in grouped.items()
    }
    fast = grouped["within 5 min"] + grouped["within 1 h"]
    slow = grouped["within 1 day"] + grouped["later"]
    comparisons = tuple(
        _compare(
            outcome,
            wilson(sum(map(test, fast)), len(fast)),
            wilson(sum(map(test, slow)), len(slow)),
        )
        for outcome, test in OUTCOMES
    )
    return SpeedToLead(rates, comparisons)


def _compare(outcome: str, fast: Rate, slow: Rate) -> Comparison:
    ratio = fast.value / slow.value if fast.value is not None and slow.value else None
    if fast.n < MIN_PER_SIDE or slow.n < MIN_PER_SIDE:
        verdict = (
            f"too few cycles to conclude ({fast.n} within an hour, {slow.n} after;"
            f" at least {MIN_PER_SIDE} each)"
        )
    elif fast.hits + slow.hits == 0:
        verdict = f"no {outcome} on either side: nothing to compare"
    elif _overlap(fast, slow):
        verdict = "no clear difference: the 95% intervals overlap"
    elif ratio is None:
        verdict = f"{outcome} only within an hour: faster is better, by a factor not measurable"
    else:
        verdict = f"{ratio:.1f}x as likely within an hour (95% intervals apart)"
    return Comparison(outcome, fast, slow, ratio, verdict)


def _overlap(a: Rate, b: Rate) -> bool:
    assert a.low is not None and a.high is not None and b.low is not None and b.high is not None
    return a.low <= b.high and b.low <= a.high
