"""Random and mutated vendor payloads: a translator never raises, and everything it emits is
an event the worker accepts, or a dead letter with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_sla.gateway.mappings import Mappings
from stream_sla.gateway.sources import TRANSLATORS
from stream_sla.people import PeopleDirectory, Person
from stream_sla.sla.events import RejectReason, decode_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
PEOPLE = PeopleDirectory([Person("71001", "Ada Byron", "inbound-east")])
MAPPINGS = Mappings()


def _samples() -> dict[str, list[Any]]:
    def load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
        return data

    hub = load("hubspot-new-contact-batch.json")["body"]
    return {
        "hubspot": [hub, *([item] for item in hub)],
        "pipedrive": load("pipedrive-lead-and-call.json")["bodies"],
        "salesforce": load("salesforce-cdc-lead-and-task.json")["records"],
    }


SAMPLES = _samples()

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "0-1", "0-48", "005abc", "00Qabc", "Call", "call", "CREATE", "UPDATE"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, sample: Any) -> Any:
    """The sample with a few values replaced, keys dropped, or wrong types put in."""
    value = json.loads(json.dumps(sample))
    for _ in range(draw(st.integers(1, 4))):
        value = _mutate(draw, value)
    return value


def _mutate(draw: st.DrawFn, value: Any) -> Any:
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        choice = draw(st.integers(0, 2))
        if choice == 0:
            return {k: v for k, v in value.items() if k != key}
        if choice == 1:
            return dict(value, **{key: draw(json_values)})
        return dict(value, **{key: _mutate(draw, value[key])})
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        return [*value[:index], _mutate(draw, value[index]), *value[index + 1 :]]
    return draw(json_values)


def _check(source: str, body: bytes) -> None:
    result = TRANSLATORS[source](body, MAPPINGS, PEOPLE)
    for event in result.events:
        decode_event(event.kind, event.lead_id.encode(), event.value)  # raises if unusable
    for dead in result.dead:
        assert isinstance(dead.reason, RejectReason) and dead.detail


fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(st.sampled_from(sorted(TRANSLATORS)), st.data())
def test_mutated_vendor_payloads_give_events_or_dead_letters(source: str, data: Any) -> None:
    sample = data.draw(st.sampled_from(SAMPLES[source]))
    _check(source, orjson.dumps(data.draw(mutated(sample))))


@fuzz
@given(st.sampled_from(sorted(TRANSLATORS)), json_values)
def test_random_json_gives_events_or_dead_letters(source: str, value: Any) -> None:
    _check(source, orjson.dumps(value))


@fuzz
@given(st.sampled_from(sorted(TRANSLATORS)), st.binary(max_size=64))
def test_random_bytes_give_a_dead_letter_or_nothing(source: str, body: bytes) -> None:
    _check(source, body)
