"""The demo's synthetic HubSpot says, through the translator, what the simulator says."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import orjson

from stream_sla.gateway import hubspot
from stream_sla.gateway.demo import contact_id, hubspot_events, people_yaml
from stream_sla.gateway.mappings import Mappings
from stream_sla.people import load_people
from stream_sla.simulation import SimulationPlan, simulate
from stream_sla.sla.events import EventKind


def test_simulated_leads_posted_as_hubspot_webhooks_translate_back(tmp_path: Path) -> None:
    plan = SimulationPlan(leads=60, start_ms=1_764_583_200_000, seed=5)
    (tmp_path / "people.yaml").write_text(people_yaml(plan))
    people = load_people(tmp_path / "people.yaml")
    records = list(simulate(plan))
    ids = itertools.count(1)
    batch = [event for record in records for event in hubspot_events(record, ids)]
    result = hubspot.translate(orjson.dumps(batch), Mappings(), people)
    assert result.dead == []

    def summary(kind: EventKind, value: bytes) -> tuple[str, ...]:
        v = orjson.loads(value)
        lead = str(contact_id(v["lead_id"]))
        if kind is EventKind.HANDED_TO_SALES:
            return (kind, lead, v["occurred_at"][:19], v["owner"], v["team"])
        if kind is EventKind.CONTACT_ATTEMPT:
            return (kind, lead, v["occurred_at"][:19], v["channel"])
        return (kind, lead, v["occurred_at"][:19])

    simulated = Counter(
        summary(r.kind, r.value)
        for r in records
        if r.kind is not EventKind.LEAD_STATUS_CHANGED
        and orjson.loads(r.value).get("channel") in (None, "call", "email", "meeting")
    )
    translated = Counter(
        summary(e.kind, e.value)
        for e in result.events
        if e.kind is not EventKind.LEAD_STATUS_CHANGED
    )
    assert translated == simulated
    assert sum(1 for e in result.events if e.kind is EventKind.HANDED_TO_SALES) >= 50
