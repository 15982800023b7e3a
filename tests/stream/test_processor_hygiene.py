"""The per-record work under abuse: random and mutated input, and a steady stream of leads.

Drives :class:`LeadProcessor` (the agent's body) directly with an in-memory store
and a controllable clock, as many records as a broker test could not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_sla.metrics import Metrics
from stream_sla.sla.effects import Severity
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import Policy
from stream_sla.sla.timestamps import format_ms
from stream_sla.stream.processor import LeadProcessor, Outbox, Record, Retention

MIN = 60_000
T0 = 1_793_628_000_000
POLICY = Policy().with_first_touch(60 * MIN, 0.75)


@dataclass
class Clock:
    now: int = T0

    def __call__(self) -> int:
        return self.now


def processor(retention: Retention | None = None) -> tuple[LeadProcessor, Outbox, Clock]:
    """A processor, and one outbox that collects everything it asks to send."""
    clock = Clock()
    retention = retention or Retention()
    p = LeadProcessor(POLICY, Metrics(), clock=clock, retention=retention)
    return p, Outbox(), clock


def crm(
    kind: EventKind, lead: str, eid: str, at: int, **fields: object
) -> tuple[EventKind, Record]:
    body = orjson.dumps({"event_id": eid, "lead_id": lead, "occurred_at": format_ms(at), **fields})
    return kind, Record(f"crm.{kind.value}", 0, 0, lead.encode(), body)


def collect(into: Outbox, out: Outbox) -> None:
    into.violations += out.violations
    into.dead_letters += out.dead_letters


def fire_due(p: LeadProcessor, clock: Clock, into: Outbox) -> None:
    collect(into, p.fire(p.index.pop_due(clock.now), clock.now))


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
def test_every_fuzzed_record_is_processed_or_dead_lettered_and_valid_results_hold(
    junk: list[bytes], kinds: list[EventKind]
) -> None:
    p, outbox, clock = processor()
    batch: list[tuple[EventKind, Record]] = []
    sent = len(junk) + len(VALID)
    for i, raw in enumerate(junk):
        kind = kinds[i]
        batch.append((kind, Record(f"crm.{kind.value}", 0, i, b"L-silent", raw)))
        if i % 20 == 0:
            batch.append(VALID[(i // 20) % len(VALID)])
            sent += 1
        if i % 7 == 0:  # batches of varying size, as take() hands them over
            collect(outbox, p.apply(batch))
            batch = []
    collect(outbox, p.apply([*batch, *VALID]))
    clock.now = T0 + 2 * 60 * MIN
    fire_due(p, clock, outbox)

    # apply() never raised: each record was applied, ignored as a duplicate or dead-lettered
    breaches = {v.lead_id for v in outbox.violations if v.severity is Severity.BREACH}
    assert "L-silent" in breaches
    assert "L-quick" not in breaches
    assert Counter(v.id for v in outbox.violations).most_common(1)[0][1] == 1
    consumed = p.metrics.events_consumed.collect()[0].samples
    assert sum(s.value for s in consumed if s.name.endswith("_total")) == sent


def test_state_stays_flat_under_a_steady_stream_of_leads_that_open_and_close() -> None:
    p, outbox, clock = processor(Retention(closed_ms=30 * MIN, idle_ms=24 * 60 * MIN))
    sizes = []
    for n in range(2_000):
        clock.now = T0 + n * MIN
        lead = f"L-{n}"
        batch = [
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
        ]
        collect(outbox, p.apply(batch))
        fire_due(p, clock, outbox)
        sizes.append(len(p.engine))
        p.take_changes()
    assert max(sizes[500:]) <= 32  # about 30 minutes' worth of closed leads, not 2,000
    assert max(sizes[500:]) - min(sizes[500:]) <= 2
    assert p.metrics.evicted.collect()[0].samples[0].value >= 1_900
