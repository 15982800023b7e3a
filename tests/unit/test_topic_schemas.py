"""What the worker publishes matches the JSON Schemas in topics/ that consumers code against."""

from __future__ import annotations

import jsonschema
import orjson
import pytest

from stream_sla.simulation import SimulationPlan, simulate
from stream_sla.sla.effects import BreachRetracted, Severity, SlaViolation
from stream_sla.sla.events import EventKind, HandedToSales, decode_event
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import Policy
from stream_sla.topics import TopicCatalog

CATALOG = TopicCatalog.load()
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def violations() -> list[SlaViolation]:
    """Every rule's warning and breach, from a lead nobody follows up, checked as time passes."""
    state = LeadState("L-0000000")
    for record in simulate(SimulationPlan(leads=1, start_ms=0, never_contacted=1.0)):
        state.add(decode_event(record.kind, record.key, record.value))
    found: list[SlaViolation] = []
    for now in (50 * MINUTE, 40 * HOUR, 12 * DAY + HOUR, 60 * DAY):
        found += [e for e in state.take_due(Policy(), now) if isinstance(e, SlaViolation)]
    return found


@pytest.mark.parametrize("severity", [Severity.WARNING, Severity.BREACH], ids=lambda s: s.value)
def test_published_violations_validate_against_their_topic_schema(severity: Severity) -> None:
    topic = "sla.breaches" if severity is Severity.BREACH else "sla.warnings"
    schema = CATALOG.spec(topic).value_schema
    records = [v.to_record() for v in violations() if v.severity is severity]
    assert {r["rule"] for r in records} == {"first_touch", "attempts", "disposition"}
    for record in records:
        jsonschema.validate(record, schema)


def test_simulated_crm_events_validate_against_their_topic_schema() -> None:
    specs = CATALOG.crm()
    for record in simulate(SimulationPlan(leads=50, start_ms=0)):
        jsonschema.validate(orjson.loads(record.value), specs[EventKind(record.kind)].value_schema)


def test_breach_retractions_validate_against_the_breaches_schema_and_breaches_still_do() -> None:
    """sla.breaches holds two shapes; each record matches exactly one branch of its oneOf."""
    state = LeadState("L-1")
    state.add(HandedToSales("h-late", "L-1", 10 * MINUTE, "ana", "t"))
    [breach] = [
        e
        for e in state.take_due(Policy(), 2 * HOUR)
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    ]
    state.add(HandedToSales("h-first", "L-1", 0, "ana", "t"))
    [retraction] = [e for e in state.take_due(Policy(), 2 * HOUR) if isinstance(e, BreachRetracted)]
    schema = CATALOG.spec("sla.breaches").value_schema
    jsonschema.validate(breach.to_record(), schema)
    jsonschema.validate(retraction.to_record(), schema)
    for example in schema["examples"]:
        jsonschema.validate(example, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**breach.to_record(), "retracts": breach.id}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**retraction.to_record(), "reason": "changed_mind"}, schema)
