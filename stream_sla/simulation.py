"""A synthetic CRM: leads created, handed to reps, followed up fast, late or never.

Deterministic for a seed (tests and demos can predict which leads must breach).
Pure: it yields records with the time they should be published; the CLI decides
whether to publish them in real time (demo) or as fast as possible (benchmarks).
Rep reaction times are drawn relative to the first-touch target, so a demo with
a 45-second target and a production-like run with 1 hour behave alike.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import orjson

from stream_sla.sla.events import EventKind
from stream_sla.sla.timestamps import format_ms

SOURCES = ("web_form", "webinar", "paid_social", "content_download", "event", "referral")
SEGMENTS = ("smb", "mid_market", "enterprise")
REGIONS = ("na", "emea", "apac")
PERSONAS = ("ceo", "director", "manager", "individual")
CHANNELS = ("call", "email", "sms", "social", "meeting")
NON_CONNECT = ("no_answer", "voicemail", "sent")


@dataclass(frozen=True, slots=True)
class SimRecord:
    at: int
    kind: EventKind
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class SimulationPlan:
    """Shares of leads by follow-up behaviour; the rest are followed up in time."""

    leads: int
    start_ms: int
    leads_per_second: float = 5.0
    first_touch_target_ms: int = 3_600_000
    never_contacted: float = 0.15
    contacted_late: float = 0.15
    reps_per_team: int = 4
    teams: tuple[str, ...] = ("smb-east", "smb-west", "mid-market", "enterprise")
    seed: int = 7
    prefix: str = "L"


def simulate(plan: SimulationPlan) -> Iterator[SimRecord]:
    """Records in publication order (by ``at``)."""
    records: list[SimRecord] = []
    rng = random.Random(plan.seed)
    gap_ms = 1000.0 / plan.leads_per_second
    for n in range(plan.leads):
        records.extend(_lead(rng, plan, n, plan.start_ms + int(n * gap_ms)))
    records.sort(key=lambda r: r.at)
    yield from records


def _fate(rng: random.Random, plan: SimulationPlan) -> str:
    roll = rng.random()
    if roll < plan.never_contacted:
        return "never"
    if roll < plan.never_contacted + plan.contacted_late:
        return "late"
    return "in_time"


_DRAWS_AFTER_FATE = 12


def _lead(rng: random.Random, plan: SimulationPlan, n: int, created_at: int) -> list[SimRecord]:
    fate = _fate(rng, plan)
    draws = [rng.random() for _ in range(_DRAWS_AFTER_FATE)]
    lead_id = f"{plan.prefix}-{n:07d}"
    key = lead_id.encode()
    team_index = int(draws[0] * len(plan.teams))
    team = plan.teams[team_index]
    owner = f"rep-{team}-{int(draws[1] * plan.reps_per_team) + 1}"
    source = SOURCES[int(draws[2] * len(SOURCES))]
    target = plan.first_touch_target_ms
    handed_at = created_at + int(target * 0.01 * draws[3])
    out = [
        SimRecord(
            created_at,
            EventKind.LEAD_CREATED,
            key,
            _json(
                event_id=f"{lead_id}-c",
                lead_id=lead_id,
                occurred_at=format_ms(created_at),
                source=source,
                segment=SEGMENTS[int(draws[4] * len(SEGMENTS))],
                region=REGIONS[int(draws[5] * len(REGIONS))],
                persona=PERSONAS[int(draws[6] * len(PERSONAS))],
                company=f"Company {n % 9973}",
                email=f"contact{n}@example.com",
                utm={"campaign": f"q4-{source}", "medium": "cpc", "content": "sla-guide"},
            ),
        ),
        SimRecord(
            handed_at,
            EventKind.HANDED_TO_SALES,
            key,
            _json(
                event_id=f"{lead_id}-h",
                lead_id=lead_id,
                occurred_at=format_ms(handed_at),
                owner=owner,
                team=team,
            ),
        ),
    ]
    if fate == "never":
        return out
    factor = 0.1 + 0.8 * draws[7] if fate == "in_time" else 1.1 + 0.9 * draws[7]
    attempt_at = handed_at + int(target * factor)
    attempts = 1 + int(draws[8] * 4)
    for i in range(attempts):
        at = attempt_at + i * int(target * (0.5 + draws[9]))
        connected = i == attempts - 1 and draws[10] < 0.4
        out.append(
            SimRecord(
                at,
                EventKind.CONTACT_ATTEMPT,
                key,
                _json(
                    event_id=f"{lead_id}-a{i}",
                    lead_id=lead_id,
                    occurred_at=format_ms(at),
                    channel=CHANNELS[(i + int(draws[11] * 5)) % len(CHANNELS)],
                    outcome="connected" if connected else NON_CONNECT[i % len(NON_CONNECT)],
                    owner=owner,
                    subject=f"Following up on your {source.replace('_', ' ')} request",
                ),
            )
        )
        if connected:
            qualified_at = at + int(target * 0.25)
            out.append(
                SimRecord(
                    qualified_at,
                    EventKind.LEAD_STATUS_CHANGED,
                    key,
                    _json(
                        event_id=f"{lead_id}-s",
                        lead_id=lead_id,
                        occurred_at=format_ms(qualified_at),
                        status="qualified",
                    ),
                )
            )
    return out


_CRM_ENVELOPE = {
    "portal_id": 20261123,
    "object_type": "contact",
    "change_source": "CRM_UI",
    "source_id": "integration:stream-sla-sim",
    "app_version": "2026.11.3",
    "attempt_number": 0,
}
"""What real CRM webhooks wrap around a change; it makes payloads realistically 300-600 bytes."""


def _json(**fields: object) -> bytes:
    return orjson.dumps({**fields, "crm": _CRM_ENVELOPE})


@dataclass(frozen=True, slots=True)
class HistoryPlan:
    """Months of CRM history in business hours, for replays, reports and the sample data set."""

    leads: int
    start: date
    days: int = 61
    timezone: str = "America/New_York"
    teams: tuple[str, ...] = ("smb-east", "smb-west", "mid-market", "enterprise")
    reps_per_team: int = 5
    seed: int = 2026


def history(plan: HistoryPlan) -> list[dict[str, object]]:
    """Events (with their ``type``) sorted by time: leads created on weekdays 08:00-18:00,
    followed up in minutes, hours, days or never, with attempt cadences over weeks."""
    rng = random.Random(plan.seed)
    zone = ZoneInfo(plan.timezone)
    weekdays = [
        plan.start + timedelta(days=d)
        for d in range(plan.days)
        if (plan.start + timedelta(days=d)).weekday() < 5
    ]
    events: list[dict[str, object]] = []
    for n in range(plan.leads):
        day = weekdays[int(rng.random() * len(weekdays))]
        local = datetime.combine(day, time(8), tzinfo=zone) + timedelta(
            seconds=rng.random() * 36000
        )
        created = int(local.timestamp() * 1000)
        events.extend(_history_lead(rng, plan, n, created))
    events.sort(key=lambda e: (str(e["occurred_at"]), str(e["event_id"])))
    return events


def _history_lead(
    rng: random.Random, plan: HistoryPlan, n: int, created: int
) -> list[dict[str, object]]:
    minute, hour, day = 60_000, 3_600_000, 86_400_000
    lead_id = f"H-{n:06d}"
    team_index = int(rng.random() * len(plan.teams))
    team = plan.teams[team_index]
    owner = f"{team}-rep-{int(rng.random() * plan.reps_per_team) + 1}"
    source = SOURCES[int(rng.random() * len(SOURCES))]
    segment = ("smb", "smb", "mid_market", "enterprise")[team_index]
    out: list[dict[str, object]] = [
        _typed(
            "lead-created",
            f"{lead_id}-c",
            lead_id,
            created,
            source=source,
            segment=segment,
            region=REGIONS[int(rng.random() * 3)],
            persona=PERSONAS[int(rng.random() * 4)],
        ),
    ]
    handed = created + int((5 + rng.random() * 85) * minute)
    out.append(_typed("handed-to-sales", f"{lead_id}-h", lead_id, handed, owner=owner, team=team))
    if rng.random() < 0.85:  # the rep accepts the lead (a disposition) within 2.5 days
        accepted = handed + int(rng.random() * 60 * hour)
        out.append(
            _typed("lead-status-changed", f"{lead_id}-s0", lead_id, accepted, status="accepted")
        )
    roll = rng.random()
    if roll < 0.05:
        return out  # never followed up
    if roll < 0.72:
        first = handed + int(rng.random() * 55 * minute)
    elif roll < 0.90:
        first = handed + int((1 + rng.random() * 7) * hour)
    else:
        first = handed + int((1 + rng.random() * 3) * day)
    attempts = 1 + int(rng.random() * 9)
    at = first
    connected_at = None
    for i in range(attempts):
        connected = rng.random() < 0.15
        out.append(
            _typed(
                "contact-attempt",
                f"{lead_id}-a{i}",
                lead_id,
                at,
                channel=CHANNELS[int(rng.random() * len(CHANNELS))],
                outcome="connected" if connected else NON_CONNECT[i % len(NON_CONNECT)],
                owner=owner,
            )
        )
        if connected:
            connected_at = at
            break
        at += int((1 + rng.random() * 5) * day)
    if connected_at is not None:
        status_at = connected_at + int(rng.random() * 4 * hour)
        status = "qualified" if rng.random() < 0.7 else "disqualified"
        out.append(_typed("lead-status-changed", f"{lead_id}-s", lead_id, status_at, status=status))
        if status == "qualified" and rng.random() < 0.3:
            won_at = status_at + int((7 + rng.random() * 30) * day)
            out.append(
                _typed(
                    "lead-status-changed",
                    f"{lead_id}-w",
                    lead_id,
                    won_at,
                    status="won",
                    amount=round(1500 + rng.random() * 1000, 2),
                )
            )
    return out


def _typed(kind: str, event_id: str, lead_id: str, at: int, **fields: object) -> dict[str, object]:
    return {
        "type": kind,
        "event_id": event_id,
        "lead_id": lead_id,
        "occurred_at": format_ms(at),
        **fields,
    }
