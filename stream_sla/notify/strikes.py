"""Strikes: N breaches by one rep within a window of the configured length (e.g. 3 in 30 days).

Pure, event time only: a breach counts in the window its ``deadline_at`` falls in. The
windows are consecutive periods of ``within`` from the Unix epoch, the same for every rep,
replay and restart, so a strike does not depend on the order breaches arrive in. A truly
rolling window cannot promise that: breaches of one rep come from many partitions in any
interleaving, and which N breaches make up "the" strike would depend on that order (and a
restarted notifier would publish different strikes). The price: 2 breaches at the end of
one period and 1 at the start of the next make no strike. Each N-th breach of a rep in a
window completes a strike whose id is derived from (rep, window, ordinal), so a notifier
that re-reads breaches after a crash publishes the same strike with the same id, and issue
18's report (through :func:`count_strikes`) counts the same strikes as the live notifier.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stream_sla.notify.model import Notice
from stream_sla.sla.timestamps import format_ms

_STRIKE_NAMESPACE = uuid.UUID("9b3e1d7a-0c55-4d8e-a2f1-6e4b7c9d0a32")


@dataclass(frozen=True, slots=True)
class Strike:
    id: str
    rep: str
    team: str | None
    breach_ids: tuple[str, ...]
    lead_ids: tuple[str, ...]
    first_deadline_at: int
    last_deadline_at: int
    threshold: int
    within_ms: int
    window_start_at: int

    def to_record(self, detected_at: int, manager: str | None) -> dict[str, Any]:
        """The value published to ``sla.strikes`` (schema in topics/sla.strikes.yaml)."""
        return {
            "id": self.id,
            "rep": self.rep,
            "team": self.team,
            "manager": manager,
            "breaches": len(self.breach_ids),
            "breach_ids": list(self.breach_ids),
            "lead_ids": list(self.lead_ids),
            "first_deadline_at": format_ms(self.first_deadline_at),
            "last_deadline_at": format_ms(self.last_deadline_at),
            "window_seconds": self.within_ms / 1000,
            "window_start_at": format_ms(self.window_start_at),
            "window_end_at": format_ms(self.window_start_at + self.within_ms),
            "threshold": self.threshold,
            "detected_at": format_ms(detected_at),
        }


@dataclass(slots=True)
class StrikeCounter:
    breaches: int
    within_ms: int
    _windows: dict[tuple[str, int], dict[str, Notice]] = field(default_factory=dict)
    _newest_window: int = 0

    def record(self, notice: Notice) -> Strike | None:
        """Count a breach; the strike it completes, if any. Warnings and repeats count nothing."""
        if notice.severity != "breach" or not notice.owner:
            return None
        window = notice.deadline_at // self.within_ms
        counted = self._windows.setdefault((notice.owner, window), {})
        if notice.id in counted:
            return None
        counted[notice.id] = notice
        self._forget_before(window)
        if len(counted) % self.breaches:
            return None
        ordinal = len(counted) // self.breaches
        in_order = sorted(counted.values(), key=lambda n: (n.deadline_at, n.id))
        these = in_order[(ordinal - 1) * self.breaches : ordinal * self.breaches]
        return Strike(
            id=str(uuid.uuid5(_STRIKE_NAMESPACE, f"{notice.owner}|{window}|{ordinal}")),
            rep=notice.owner,
            team=these[-1].team,
            breach_ids=tuple(n.id for n in these),
            lead_ids=tuple(n.lead_id for n in these),
            first_deadline_at=these[0].deadline_at,
            last_deadline_at=these[-1].deadline_at,
            threshold=self.breaches,
            within_ms=self.within_ms,
            window_start_at=window * self.within_ms,
        )

    def forget(self, breach_id: str) -> bool:
        """A retraction on sla.breaches withdrew this breach: it counts towards no later strike
        (a strike already published stays). True if it was counted."""
        holding = [counted for counted in self._windows.values() if breach_id in counted]
        for counted in holding:
            del counted[breach_id]
        return bool(holding)

    def _forget_before(self, window: int) -> None:
        """Keep the current and the previous window (late breaches); older ones are closed."""
        if window <= self._newest_window:
            return
        self._newest_window = window
        for key in [k for k in self._windows if k[1] < window - 1]:
            del self._windows[key]


def count_strikes(breaches: Iterable[Notice], threshold: int, within_ms: int) -> list[Strike]:
    """Every strike in a set of breaches, in deadline order (for reports and replays)."""
    counter = StrikeCounter(threshold, within_ms)
    found = [counter.record(n) for n in sorted(breaches, key=lambda n: (n.deadline_at, n.id))]
    return [s for s in found if s is not None]
