"""Bounded labels on the real broker: 5,000 leads with distinct CRM values cannot blow up
/metrics or the status page.

Before issue 10 this flood took /metrics from 26 series to 98,320 (8.5 MB) and the status
page to 427 KB with 5,013 team rows.
"""

from __future__ import annotations

from stream_sla.sla.events import EventKind

from .harness import Harness, crm_event, now_ms, wait_for

LEADS = 5_000
SERIES_BOUND = 2_500
"""README, Operations: with the default policy and label_buckets=4, every CRM label has at most
6 values (4 buckets, unknown, and none known), so the worker exports under 2,500 series."""


async def test_a_flood_of_distinct_crm_values_keeps_metrics_and_status_page_bounded(
    harness: Harness,
) -> None:
    worker = harness.start_worker("w1", known_teams="east")
    worker.wait_ready()
    t0 = now_ms() - 60_000
    records = []
    for i in range(LEADS):
        lead = f"L-{i}"
        records += [
            crm_event(EventKind.LEAD_CREATED, lead, f"c-{i}", t0, source=f"src-{i}",
                      segment=f"seg-{i}"),
            crm_event(EventKind.HANDED_TO_SALES, lead, f"h-{i}", t0 + 1, owner=f"rep-{i}",
                      team="east" if i == 0 else f"team-{i}"),
            crm_event(EventKind.CONTACT_ATTEMPT, lead, f"a-{i}", t0 + 2, channel="call",
                      outcome="connected", owner=f"rep-{i}"),
        ]  # fmt: skip
    await harness.produce(records, batched=True)

    def consumed() -> bool:
        m = worker.metrics()
        return sum(
            m.get("stream_sla_events_consumed_total", topic=harness.catalog.name(s.name)) or 0
            for s in harness.catalog.crm().values()
        ) >= len(records)

    assert await wait_for(consumed, timeout=120), worker.log_tail()
    status, body = worker.get("/metrics")
    assert status == 200
    m = worker.metrics()
    series = len(m.values)
    teams = {
        dict(labels)["team"] for (name, labels), _ in m.values.items() if "team" in dict(labels)
    }
    page = worker.get("/")[1]
    print(
        f"\nlabel flood: {series} series, {len(body):,} bytes of /metrics,"
        f" teams {sorted(teams)}, status page {len(page):,} bytes"
    )
    assert series < SERIES_BOUND
    assert "east" in teams  # a known team keeps its name
    assert teams <= {"east", "unknown"} | {f"other-{b:02d}" for b in range(4)}
    assert sum(v for (n, _), v in m.values.items() if n == "stream_sla_open_leads") == LEADS
    assert page.count("<tr>") < 60 and len(page) < 20_000
