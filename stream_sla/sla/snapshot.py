"""A lead's state as compact bytes for the changelog (and back).

Positional JSON arrays keep a typical lead to a few hundred bytes; the leading
format number lets a later release read what an older one wrote. The lead's next
wake-up and its gauge summary come first, so recovering a million leads reads two
fields per lead instead of re-evaluating every one of them. What the lead already
published (its emitted keys) is encoded by :mod:`stream_sla.sla.emitted`, the one owner of
that wire form.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream_sla.sla import emitted
from stream_sla.sla.lead import Attempt, Handoff, LeadState, LeadSummary, Profile, StatusChange

FORMAT = 3
"""Format 3 writes emitted keys as arrays of integers (:func:`emitted.encode`). Format 2 wrote
them as strings; its rows are still read (a changelog is taken over from the release that
wrote it) and rewritten as format 3 the next time the lead changes. Format 1 (facts only)
lived in the Faust table's changelog, which nothing reads any more."""
READABLE = (2, 3)


def dump_state(
    state: LeadState, wake_at: int | None = None, summary: LeadSummary | None = None
) -> bytes:
    """The row as exact-size bytes: orjson 3.13 hands back its 4 KiB output buffer as the
    bytes object, and a row lives as long as its lead in memory (4.1 KB of a live lead's
    4.7 KB, where a row read back from Kafka is exact: 0.8 KB per lead after recovery)."""
    row = orjson.dumps(
        [
            FORMAT,
            wake_at,
            tuple(summary) if summary is not None else None,
            _profile(state.profile),
            [tuple(h) for h in state.handoffs],
            [tuple(a) for a in state.attempts],
            [tuple(s) for s in state.statuses],
            emitted.encode(state.emitted),
        ]
    )
    return memoryview(row).tobytes()


def _profile(profile: Profile | None) -> tuple[object, ...] | None:
    """The profile's fields; a lead without a time zone (issue 15) writes the seven fields of
    before, so its row is the same bytes and a release without the field still reads it."""
    if profile is None:
        return None
    return tuple(profile) if profile.timezone is not None else tuple(profile)[:7]


def load_state(lead_id: str, data: bytes) -> LeadState:
    row = _expect_format(orjson.loads(data))
    profile, handoffs, attempts, statuses, keys = row[3:]
    return LeadState(
        lead_id,
        profile=Profile(*profile) if profile else None,
        handoffs=[Handoff(*h) for h in handoffs],
        attempts=[Attempt(*a) for a in attempts],
        statuses=[StatusChange(*s) for s in statuses],
        emitted=emitted.decode(keys) if row[0] == FORMAT else emitted.from_format_2(keys),
    )


def load_header(data: bytes) -> tuple[int | None, LeadSummary | None]:
    """(next wake-up, gauge summary) as written with the state. The summary is built with
    ``tuple.__new__`` (a restore reads one per lead; the named tuple's ``__new__`` was a fifth
    of it); a summary written before ``owner`` was kept gets its default."""
    _, wake_at, summary = _expect_format(orjson.loads(data))[:3]
    if summary is None:
        return wake_at, None
    if len(summary) == _SUMMARY_FIELDS - 1:
        summary.append(None)
    elif len(summary) != _SUMMARY_FIELDS:
        raise ValueError(f"lead state with a summary of {len(summary)} fields: {summary!r:.80}")
    return wake_at, tuple.__new__(LeadSummary, summary)


_SUMMARY_FIELDS = len(LeadSummary._fields)


def _expect_format(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value or value[0] not in READABLE:
        raise ValueError(f"lead state in an unknown format: {str(value)[:80]}")
    return value
