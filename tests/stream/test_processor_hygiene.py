"""The per-record work under abuse: random and mutated input, and a steady stream of leads.

Drives :class:`LeadProcessor` (the agents' body) directly with a dict as the
table and a controllable clock, as many records as a broker test could not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_sla.metrics import Metrics
from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.events import EventKind, EventRejected
from stream_sla.sla.policy import Policy
from stream_sla.sla.timestamps import format_ms
from stream_sla.stream.processor import TICK, LeadProcessor, Record, Retention, encode_tick

MIN = 60_000
T0 = 1_793_628_000_000
POLICY = Policy().with_first_touch(60 * MIN, 0.75)


@dataclass
class Recorder:
    violations: list[SlaViolation] = field(default_factory=list)
    dead: list[tuple[Record, EventRejected]] = field(default_factory=list)

    async def violation(self, violation: SlaViolation) -> None:
        self.violations.append(violation)

    async def dead_letter(self, record: Record, rejected: EventRejected) -> None:
        self.dead.append((record, rejected))


@dataclass
class Clock:
    now: int = T0

    def __call__(self) -> int:
        return self.now


def processor(retention: Retention | None = None) -> tuple[LeadProcessor, Recorder, Clock]:
    recorder, clock = Recorder(), Clock()
    retention = retention or Retention()
    table: dict[bytes, bytes] = {}
    return (
        LeadProcessor(table, POLICY, recorder, Metrics(), clock=clock, retention=retention),
        recorder,
        clock,
    )


def crm(kind: EventKind, lead: str, eid: str, at: int, **fields: object) -> tuple[str, Record]:
    body = orjson.dumps({"event_id": eid, "lead_id": lead, "occurred_at": format_ms(at), **fields})
    return kind.value, Record(f"crm.{kind.value}", 0, 0, lead.encode(), body)


async def fire_due(p: LeadProcessor, clock: Clock) -> None:
    for due in p.index.pop_due(clock.now):
        await p.handle(
            TICK,
            Record(
                "ticks", due.partition, 0, due.lead_id.encode(), encode_tick(due.lead_id, due.at)
            ),
        )


VALID = [
    crm(EventKind.HANDED_TO_SALES, "L-silent", "h1", T0, owner="ana", team="east"),
    crm(EventKind.HANDED_TO_SALES, "L-quick", "h2", T0, owner="ben", team="west"),
    crm(EventKind.CONTACT_ATTEMPT, "L-quick", "a2", T0 + MIN, channel="call", outcome="sent"),
]


def mutate(raw: bytes, cut: int, noise: bytes) -> bytes:
    position = cut % (len(raw) + 1)
    return raw[:position] + noise + raw[position:]


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    junk=st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.tuples(
                st.sampled_from([v[1].value for v in VALID]),
                st.integers(0, 400),
                st.binary(min_size=1, max_size=8),
            ).map(lambda t: mutate(*t)),
            st.dictionaries(
                st.sampled_from(
                    [
                        "event_id",
                        "lead_id",
                        "occurred_at",
                        "owner",
                        "team",
                        "channel",
                        "outcome",
                        "status",
                    ]
                ),
                st.one_of(
                    st.none(), st.integers(-(2**40), 2**40), st.text(max_size=12), st.booleans()
                ),
                max_size=8,
            ).map(orjson.dumps),
        ),
        min_size=50,
        max_size=100,
    ),
    kinds=st.lists(st.sampled_from(list(EventKind)), min_size=100, max_size=100),
)
async def test_every_fuzzed_record_is_processed_or_dead_lettered_and_valid_results_hold(
    junk: list[bytes], kinds: list[EventKind]
) -> None:
    p, recorder, clock = processor()
    for i, raw in enumerate(junk):
        kind = kinds[i]
        await p.handle(kind.value, Record(f"crm.{kind.value}", 0, i, b"L-silent", raw))
        if i % 20 == 0:
            kind_name, record = VALID[(i // 20) % len(VALID)]
            await p.handle(kind_name, record)
    for kind_name, record in VALID:
        await p.handle(kind_name, record)
    clock.now = T0 + 2 * 60 * MIN
    await fire_due(p, clock)

    # handle() never raised: each record was applied, ignored as a duplicate or dead-lettered
    breaches = {v.lead_id for v in recorder.violations if v.severity is Severity.BREACH}
    assert "L-silent" in breaches
    assert "L-quick" not in breaches
    assert Counter(v.id for v in recorder.violations).most_common(1)[0][1] == 1


async def test_state_stays_flat_under_a_steady_stream_of_leads_that_open_and_close() -> None:
    p, _, clock = processor(Retention(closed_ms=30 * MIN, idle_ms=24 * 60 * MIN))
    sizes = []
    for n in range(2_000):
        clock.now = T0 + n * MIN
        lead = f"L-{n}"
        for kind_name, record in (
            crm(EventKind.HANDED_TO_SALES, lead, f"h{n}", clock.now, owner="ana", team="east"),
            crm(
                EventKind.CONTACT_ATTEMPT,
                lead,
                f"a{n}",
                clock.now,
                channel="call",
                outcome="connected",
            ),
            crm(EventKind.LEAD_STATUS_CHANGED, lead, f"s{n}", clock.now, status="disqualified"),
        ):
            await p.handle(kind_name, record)
        await fire_due(p, clock)
        sizes.append(len(p.table))
    assert max(sizes[500:]) <= 32  # about 30 minutes' worth of closed leads, not 2,000
    assert max(sizes[500:]) - min(sizes[500:]) <= 2
    assert p.metrics.evicted.collect()[0].samples[0].value >= 1_900
