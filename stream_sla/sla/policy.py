"""The service levels the agreement promises, as numbers with units.

A policy is versioned (the version travels in every breach), so a breach can
always be traced to the targets that were in force when it was decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream_sla.sla.timestamps import MS_PER_HOUR


@dataclass(frozen=True, slots=True)
class FirstTouchTarget:
    """Hand-off to first contact attempt: reps inside one hour are ~7x likelier to connect."""

    within_ms: int = MS_PER_HOUR
    warn_at: float = 0.75
    """Fraction of ``within_ms`` after which an untouched lead gets a pre-breach warning."""

    @property
    def warn_after_ms(self) -> int:
        return int(self.within_ms * self.warn_at)


@dataclass(frozen=True, slots=True)
class Policy:
    version: str = "default-1"
    first_touch: FirstTouchTarget = FirstTouchTarget()
