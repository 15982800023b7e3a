"""Vendor payloads (fixtures from the vendors' documented shapes) -> canonical events."""

from __future__ import annotations

import json
import random
from collections import Counter
from itertools import permutations
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream_sla.gateway import hubspot, pipedrive, salesforce
from stream_sla.gateway.backtest import canonical_lines
from stream_sla.gateway.canonical import Translation
from stream_sla.gateway.mappings import Mappings
from stream_sla.people import PeopleDirectory, Person
from stream_sla.replay import read_events, replay
from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.events import (
    ContactAttempt,
    EventKind,
    HandedToSales,
    LeadCreated,
    LeadStatusChanged,
    Outcome,
    RejectReason,
    decode_event,
)
from stream_sla.sla.policy import Policy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
PEOPLE = PeopleDirectory(
    [
        Person("71001", "Ada Byron", "inbound-east"),
        Person("18487521", "Pip Rep", "smb"),
        Person("0055e000002XyZaAAC", "Sales Force", "enterprise"),
    ]
)
MAPPINGS = Mappings()


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def decoded(result: Translation) -> list[Any]:
    """Every output must pass the worker's own strict decoder, keyed by its lead id."""
    return [decode_event(e.kind, e.lead_id.encode(), e.value) for e in result.events]


def test_every_fixture_names_the_documentation_page_it_follows() -> None:
    for path in FIXTURES.glob("*.json"):
        assert json.loads(path.read_text())["documentation"].startswith("https://"), path.name


def test_a_hubspot_batch_becomes_lead_handoff_attempt_and_status() -> None:
    body = orjson.dumps(fixture("hubspot-new-contact-batch.json")["body"])
    result = hubspot.translate(body, MAPPINGS, PEOPLE)
    events = sorted(decoded(result), key=lambda e: e.occurred_at)
    assert [type(e) for e in events] == [
        LeadCreated,
        HandedToSales,
        ContactAttempt,
        LeadStatusChanged,
    ]
    created, handoff, attempt, status = events
    assert {e.lead_id for e in events} == {"1001"}
    assert created.source == "ORGANIC_SEARCH"  # from the same batch's property change
    assert created.event_id == "hubspot:3000"
    assert (handoff.owner, handoff.team) == ("71001", "inbound-east")
    assert attempt.outcome is Outcome.VOICEMAIL  # the call's disposition, same batch
    assert attempt.event_id == "hubspot:call:555001:1001"
    assert status.status.value == "disqualified"
    assert result.dead == [] and result.ignored == 3  # source, disposition: read; firstname


def test_a_retried_hubspot_batch_in_another_order_gives_the_same_events() -> None:
    items = fixture("hubspot-new-contact-batch.json")["body"]
    first = hubspot.translate(orjson.dumps(items), MAPPINGS, PEOPLE)
    retried = [dict(item, attemptNumber=1) for item in items]
    random.Random(3).shuffle(retried)
    again = hubspot.translate(orjson.dumps(retried), MAPPINGS, PEOPLE)
    assert sorted(e.value for e in first.events) == sorted(e.value for e in again.events)


def test_both_directions_of_a_call_association_are_one_attempt() -> None:
    item = fixture("hubspot-new-contact-batch.json")["body"][4]
    reverse = dict(
        item,
        eventId=9999,
        fromObjectTypeId="0-1",
        fromObjectId=1001,
        toObjectTypeId="0-48",
        toObjectId=555001,
    )
    result = hubspot.translate(orjson.dumps([item, reverse]), MAPPINGS, PEOPLE)
    assert len({orjson.loads(e.value)["event_id"] for e in result.events}) == 1


def test_an_unknown_owner_is_handed_to_the_default_team() -> None:
    item = fixture("hubspot-new-contact-batch.json")["body"][0]
    result = hubspot.translate(orjson.dumps([dict(item, propertyValue="42")]), MAPPINGS, PEOPLE)
    (handoff,) = decoded(result)
    assert (handoff.owner, handoff.team) == ("42", "unassigned")


def test_one_bad_hubspot_event_is_dead_lettered_and_the_rest_kept() -> None:
    items = fixture("hubspot-new-contact-batch.json")["body"][:2]
    bad = dict(items[1], objectId=None, eventId=4000)
    result = hubspot.translate(orjson.dumps([*items, bad, "x"]), MAPPINGS, PEOPLE)
    assert len(result.events) == 2
    assert [d.reason for d in result.dead] == [
        RejectReason.MISSING_FIELD,
        RejectReason.NOT_AN_OBJECT,
    ]
    assert orjson.loads(result.dead[0].payload)["eventId"] == 4000  # the vendor's own event


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"{not json", RejectReason.INVALID_JSON), (b'{"eventId": 1}', RejectReason.WRONG_TYPE)],
    ids=["not-json", "not-an-array"],
)
def test_a_hubspot_body_that_is_no_batch_is_dead_lettered_whole(
    body: bytes, reason: RejectReason
) -> None:
    result = hubspot.translate(body, MAPPINGS, PEOPLE)
    assert result.events == [] and [(d.reason, d.payload) for d in result.dead] == [(reason, body)]


def test_pipedrive_lead_then_planned_call_then_call_done() -> None:
    bodies = fixture("pipedrive-lead-and-call.json")["bodies"]
    results = [pipedrive.translate(orjson.dumps(b), MAPPINGS, PEOPLE) for b in bodies]
    created, handoff = decoded(results[0])
    assert isinstance(created, LeadCreated) and created.source == "Web forms"
    assert created.lead_id == "adf21080-0e10-11eb-879b-05d71fb426ec"
    assert isinstance(handoff, HandedToSales) and handoff.team == "smb"
    assert results[1].events == [] and results[1].ignored == 1  # done: false is planned
    (attempt,) = decoded(results[2])
    assert isinstance(attempt, ContactAttempt)
    assert (attempt.lead_id, attempt.owner) == (created.lead_id, "18487521")
    assert attempt.event_id == "pipedrive:activity:41"


def test_a_pipedrive_retry_gives_the_same_event_ids() -> None:
    body = fixture("pipedrive-lead-and-call.json")["bodies"][0]
    retry = dict(body, meta=dict(body["meta"], attempt=2))
    first = pipedrive.translate(orjson.dumps(body), MAPPINGS, PEOPLE)
    again = pipedrive.translate(orjson.dumps(retry), MAPPINGS, PEOPLE)
    assert [e.value for e in first.events] == [e.value for e in again.events]


def test_pipedrive_owner_change_and_archive() -> None:
    body = fixture("pipedrive-lead-and-call.json")["bodies"][0]
    changed = dict(
        body,
        meta=dict(body["meta"], action="change", timestamp="2025-12-02T09:00:00Z"),
        data=dict(body["data"], owner_id=5, is_archived=True),
        previous={"owner_id": 18487521, "is_archived": False},
    )
    handoff, status = decoded(pipedrive.translate(orjson.dumps(changed), MAPPINGS, PEOPLE))
    assert (handoff.owner, handoff.team) == ("5", "unassigned")
    assert status.status.value == "disqualified"


def test_salesforce_cdc_lead_queue_then_rep_then_call_then_closed() -> None:
    records = fixture("salesforce-cdc-lead-and-task.json")["records"]
    results = [salesforce.translate(orjson.dumps(r), MAPPINGS, PEOPLE) for r in records]
    (created,) = decoded(results[0])  # owned by a queue: no hand-off yet
    assert isinstance(created, LeadCreated) and created.source == "Web"
    (handoff,) = decoded(results[1])
    assert (handoff.owner, handoff.team) == ("0055e000002XyZaAAC", "enterprise")
    (attempt,) = decoded(results[2])
    assert attempt.lead_id == "00Q5e00000AbCdEEAZ" and attempt.channel.value == "call"
    assert attempt.outcome is Outcome.NO_ANSWER  # "Left Voicemail" is not mapped by default
    (status,) = decoded(results[3])
    assert status.status.value == "disqualified"


def test_salesforce_records_wrapped_by_the_json_converter_schema_are_read() -> None:
    record = fixture("salesforce-cdc-lead-and-task.json")["records"][0]
    wrapped = orjson.dumps({"schema": {"type": "struct"}, "payload": record})
    assert [e.kind for e in salesforce.translate(wrapped, MAPPINGS, PEOPLE).events] == [
        EventKind.LEAD_CREATED
    ]


def test_salesforce_update_without_header_is_dead_lettered() -> None:
    result = salesforce.translate(b'{"OwnerId": "005x"}', MAPPINGS, PEOPLE)
    assert [d.reason for d in result.dead] == [RejectReason.NOT_AN_OBJECT]


def test_retried_and_out_of_order_hubspot_requests_give_one_late_first_touch() -> None:
    """The call came 2 hours after the hand-off: one breach, whatever the delivery order."""
    requests = fixture("hubspot-retry-out-of-order.json")["requests"]
    verdicts = set()
    for order in permutations(requests):
        rejected: Counter[str] = Counter()
        lines = canonical_lines(
            [orjson.dumps(r) for r in order], "hubspot", MAPPINGS, PEOPLE, rejected
        )
        events = read_events(lines, rejected)
        assert not rejected and len(events) == 5  # three events and the retry's two again
        result = replay(events, Policy(), until=1_764_600_000_000, keep_effects=True)
        breaches = [
            (e.rule.value, e.lead_id, e.owner)
            for e in result.effects
            if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
        ]
        verdicts.add(tuple(breaches))
    assert verdicts == {(("first_touch", "2001", "71001"),)}


def test_a_pipedrive_activity_linked_only_through_participants_names_the_primary_person() -> None:
    done = fixture("pipedrive-lead-and-call.json")["bodies"][2]
    data = {k: v for k, v in done["data"].items() if k not in ("lead_id", "person_id")}
    data["participants"] = [{"person_id": 8, "primary": False}, {"person_id": 9, "primary": True}]
    (attempt,) = decoded(pipedrive.translate(orjson.dumps(dict(done, data=data)), MAPPINGS, PEOPLE))
    assert attempt.lead_id == "person-9"
    del data["participants"]
    result = pipedrive.translate(orjson.dumps(dict(done, data=data)), MAPPINGS, PEOPLE)
    assert [d.reason for d in result.dead] == [RejectReason.MISSING_FIELD]
