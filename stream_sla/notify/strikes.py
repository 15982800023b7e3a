"""Strikes: N breaches by one rep within a rolling window (e.g. 3 in 30 days).

Pure, event time only: a breach counts at its ``deadline_at``, so a replay of the
breaches topic (or issue 18's report, through :func:`count_strikes`) finds the same
strikes as the live notifier. A strike consumes the breaches it counted: the next one
needs N new breaches. Its id is derived from those breach ids, so a notifier that
re-reads breaches after a crash publishes the same strike with the same id.
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
            "threshold": self.threshold,
            "detected_at": format_ms(detected_at),
        }


@dataclass(slots=True)
class StrikeCounter:
    breaches: int
    within_ms: int
    _window: dict[str, list[Notice]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def record(self, notice: Notice) -> Strike | None:
        """Count a breach; the strike it completes, if any. Warnings and repeats count nothing."""
        if notice.severity != "breach" or not notice.owner or notice.id in self._seen:
            return None
        self._seen.add(notice.id)
        window = self._window.setdefault(notice.owner, [])
        window.append(notice)
        window.sort(key=lambda n: (n.deadline_at, n.id))
        newest = window[-1].deadline_at
        window[:] = [n for n in window if n.deadline_at > newest - self.within_ms]
        if len(window) < self.breaches:
            return None
        counted = window[-self.breaches :]
        window.clear()
        return Strike(
            id=str(uuid.uuid5(_STRIKE_NAMESPACE, "|".join(n.id for n in counted))),
            rep=notice.owner,
            team=counted[-1].team,
            breach_ids=tuple(n.id for n in counted),
            lead_ids=tuple(n.lead_id for n in counted),
            first_deadline_at=counted[0].deadline_at,
            last_deadline_at=counted[-1].deadline_at,
            threshold=self.breaches,
            within_ms=self.within_ms,
        )


def count_strikes(breaches: Iterable[Notice], threshold: int, within_ms: int) -> list[Strike]:
    """Every strike in a set of breaches, in deadline order (for reports and replays)."""
    counter = StrikeCounter(threshold, within_ms)
    found = [counter.record(n) for n in sorted(breaches, key=lambda n: (n.deadline_at, n.id))]
    return [s for s in found if s is not None]
