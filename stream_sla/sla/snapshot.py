"""A lead's state as compact bytes for the changelog (and back).

Positional JSON arrays keep a typical lead to a few hundred bytes; the leading
format number lets a later release read what an older one wrote. Format 2 puts
the lead's next wake-up and its gauge summary up front, so recovering a million
leads reads two fields per lead instead of re-evaluating every one of them.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream_sla.sla.lead import Attempt, Handoff, LeadState, LeadSummary, Profile, StatusChange

FORMAT = 2
_READABLE = (1, 2)


def dump_state(
    state: LeadState, wake_at: int | None = None, summary: LeadSummary | None = None
) -> bytes:
    return orjson.dumps(
        [
            FORMAT,
            wake_at,
            tuple(summary) if summary is not None else None,
            tuple(state.profile) if state.profile else None,
            [tuple(h) for h in state.handoffs],
            [tuple(a) for a in state.attempts],
            [tuple(s) for s in state.statuses],
            sorted(state.emitted),
        ]
    )


def load_state(lead_id: str, data: bytes) -> LeadState:
    profile, handoffs, attempts, statuses, emitted = _facts(_expect_format(orjson.loads(data)))
    return LeadState(
        lead_id,
        profile=Profile(*profile) if profile else None,
        handoffs=[Handoff(*h) for h in handoffs],
        attempts=[Attempt(*a) for a in attempts],
        statuses=[StatusChange(*s) for s in statuses],
        emitted=set(emitted),
    )


def load_header(data: bytes) -> tuple[int | None, LeadSummary | None]:
    """(next wake-up, gauge summary) as written with the state; format 1 knows neither."""
    value = _expect_format(orjson.loads(data))
    if value[0] == 1:
        return None, None
    wake_at, summary = value[1], value[2]
    return wake_at, LeadSummary(*summary) if summary is not None else None


def _facts(value: list[Any]) -> list[Any]:
    return value[1:6] if value[0] == 1 else value[3:8]


def _expect_format(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value or value[0] not in _READABLE:
        raise ValueError(f"lead state in an unknown format: {str(value)[:80]}")
    return value
