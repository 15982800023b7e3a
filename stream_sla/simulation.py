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


def _json(**fields: object) -> bytes:
    return orjson.dumps(fields)
