"""A partition restored from its changelog rows: the same deadlines and gauges as one lead at a
time, with the bulk paths the recovery of 1M leads uses (see README "Benchmarks")."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections import Counter

import orjson

from stream_sla.gauges import OpenLeads
from stream_sla.metrics import Metrics
from stream_sla.sla.deadlines import DeadlineIndex
from stream_sla.sla.lead import Handoff, LeadState, LeadSummary, Profile
from stream_sla.sla.policy import Policy
from stream_sla.sla.snapshot import dump_state, load_header
from stream_sla.stream.processor import LeadProcessor

T0 = 1_780_000_000_000


def summary(rng: random.Random) -> LeadSummary | None:
    if rng.random() < 0.1:
        return None
    return LeadSummary(
        f"team-{rng.randrange(4)}",
        rng.random() < 0.5,
        rng.random() < 0.5,
        rng.randrange(4),
        rng.random() < 0.2,
        rng.random() < 0.2,
        rng.choice([None, "rep-1", "rep-2"]),
    )


def test_schedule_many_fires_what_scheduling_one_lead_at_a_time_fires() -> None:
    rng = random.Random(7)
    one, many = DeadlineIndex(), DeadlineIndex()
    for round_ in range(4):  # later rounds re-schedule, clear and keep some leads' deadlines
        wakes = [
            (f"L-{rng.randrange(300)}", rng.choice([None, T0 + rng.randrange(1_000)]))
            for _ in range(400)
        ]
        for lead_id, at in wakes:
            one.schedule(lead_id, round_ % 2, at)
        many.schedule_many(round_ % 2, wakes)
        assert len(one) == len(many)
    for now in (T0 + 250, T0 + 500, T0 + 2_000):
        assert sorted(one.pop_due(now)) == sorted(many.pop_due(now))
    assert len(many) == 0


def test_gauges_updated_in_bulk_equal_gauges_updated_lead_by_lead() -> None:
    rng = random.Random(11)
    one, bulk = OpenLeads(), OpenLeads()
    for _ in range(5):
        updates = [(f"L-{rng.randrange(200)}", rng.randrange(3), summary(rng)) for _ in range(300)]
        for update in updates:
            one.update(*update)
        bulk.update_many(updates)
        assert bulk.team_totals() == one.team_totals()
        assert bulk.rep_totals() == one.rep_totals()
        assert len(bulk) == len(one)
    one.drop_partitions({1})
    bulk.drop_partitions({1})
    assert bulk.team_totals() == one.team_totals()
    assert bulk.rep_totals() == one.rep_totals()


def test_leads_with_the_same_summary_share_one_gauge_entry() -> None:
    """A million restored leads must not hold a million contribution tuples."""
    leads = OpenLeads()
    same = LeadSummary("team-1", True, False, 0, False, False, "rep-1")
    leads.update_many((f"L-{n}", 0, LeadSummary(*same)) for n in range(1_000))
    assert len({id(entry) for entry in leads._leads.values()}) == 1


def test_a_summary_written_before_the_owner_was_kept_reads_with_no_owner() -> None:
    row = orjson.dumps([3, T0, ["team-1", True, False, 2, False, True], None, [], [], [], []])
    wake, read = load_header(row)
    assert wake == T0
    assert read == LeadSummary("team-1", True, False, 2, False, True, None)
    assert read is not None and read.owner is None


def test_a_restored_partition_has_each_rows_deadline_and_gauge() -> None:
    rng = random.Random(3)
    rows: dict[str, bytes] = {}
    expected_due: list[tuple[int, str, int]] = []
    expected_open: Counter[str] = Counter()
    for n in range(2_000):
        lead = f"R-{n:05d}"
        at = T0 + n
        state = LeadState(
            lead,
            profile=Profile(at, f"{lead}-c", "webinar", "smb", "t2", "emea", "champion"),
            handoffs=[Handoff(at + 60_000, f"{lead}-h", "rep-1", "team-1")],
        )
        wake = rng.choice([None, T0 + rng.randrange(10_000)])
        lead_summary = summary(rng)
        rows[lead] = dump_state(state, wake, lead_summary)
        if wake is not None:
            expected_due.append((wake, lead, 4))
        if lead_summary is not None:
            expected_open[lead_summary.team] += 1
    processor = LeadProcessor(Policy(), Metrics())
    team = processor.metrics.team  # the bounded label each team's gauges carry
    enabled = gc.isenabled()
    processor.restore(4, rows, {})
    assert gc.isenabled() == enabled  # the collector paused during the restore is back
    totals = processor.metrics.open_leads.team_totals()
    by_label: Counter[str] = Counter()
    for name, count in expected_open.items():
        by_label[team(name)] += count
    assert {name: t["open"] for name, t in totals.items() if t["open"]} == by_label
    assert len(processor.engine) == 2_000
    assert sorted(processor.index.pop_due(T0 + 10_000)) == sorted(expected_due)


def test_a_pending_deadline_costs_the_index_under_175_bytes() -> None:
    """Per partition, a lead's deadline is one dict slot and one heap entry (no key tuple):
    124 B pure, 160 B compiled (mypyc boxes the deadline's int once for the dict and again for
    the heap entry); a (partition, lead) key tuple per lead made it 209 B."""
    ids = [f"O-{n:07d}" for n in range(20_000)]
    gc.collect()
    tracemalloc.start()
    try:
        index = DeadlineIndex()
        for n, lead in enumerate(ids):
            index.schedule(lead, n % 6, T0 + n)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(index) == 20_000
    assert held / 20_000 < 175


def test_re_scheduling_a_lead_again_and_again_keeps_its_partitions_heap_bounded() -> None:
    index = DeadlineIndex()
    for n in range(20_000):
        index.schedule("L-1", 0, T0 + n)
        index.schedule("L-2", 1, T0 + n)
    assert all(len(heap) <= 4096 + 3 for heap in index._heaps.values())
    assert index.pop_due(T0 + 30_000) and len(index) == 0
