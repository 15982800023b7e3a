"""A lead's state as compact bytes for the changelogged table (and back).

Positional JSON arrays keep a typical lead to a few hundred bytes; the leading
format number lets a later release read what an older one wrote.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream_sla.sla.lead import Attempt, Handoff, LeadState, Profile, StatusChange

FORMAT = 1


def dump_state(state: LeadState) -> bytes:
    return orjson.dumps(
        [
            FORMAT,
            tuple(state.profile) if state.profile else None,
            [tuple(h) for h in state.handoffs],
            [tuple(a) for a in state.attempts],
            [tuple(s) for s in state.statuses],
            sorted(state.emitted),
        ]
    )


def load_state(lead_id: str, data: bytes) -> LeadState:
    _, profile, handoffs, attempts, statuses, emitted = _expect_format(orjson.loads(data))
    return LeadState(
        lead_id,
        profile=Profile(*profile) if profile else None,
        handoffs=[Handoff(*h) for h in handoffs],
        attempts=[Attempt(*a) for a in attempts],
        statuses=[StatusChange(*s) for s in statuses],
        emitted=set(emitted),
    )


def _expect_format(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value or value[0] != FORMAT:
        raise ValueError(f"lead state in an unknown format: {str(value)[:80]}")
    return value
