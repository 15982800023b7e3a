"""Emitted keys survive the changelog: FORMAT 3 round trips, FORMAT 2 rows convert exactly.

The FORMAT 2 strings below are written by hand from the release that wrote them (see
``tests/fixtures/changelog/record_format_2_keys.py``), not by the code under test.
"""

from __future__ import annotations

import base64
import json
from itertools import combinations
from pathlib import Path

import jsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream_sla.sla import emitted
from stream_sla.sla.effects import Rule, Severity
from stream_sla.sla.emitted import (
    MQL_COUNTED,
    EmittedKey,
    Measured,
    Retracted,
    Sent,
    Settled,
    Skipped,
)
from stream_sla.sla.lead import LeadState
from stream_sla.sla.snapshot import FORMAT, dump_state, load_header, load_state
from stream_sla.topics import TopicCatalog

CHANGELOGS = Path(__file__).parents[1] / "fixtures" / "changelog"

moments = st.integers(min_value=0, max_value=2**62)
rules = st.sampled_from(Rule)
keys: st.SearchStrategy[EmittedKey] = st.one_of(
    st.just(MQL_COUNTED),
    st.builds(Sent, rules, st.sampled_from(Severity), moments),
    st.builds(Skipped, rules, st.just(Severity.WARNING), moments, moments),
    st.builds(Measured, moments),
    st.builds(Settled, rules, moments),
    st.builds(Retracted, rules, moments, st.integers(min_value=0, max_value=1000)),
)


def format_2(key: EmittedKey) -> str:
    """The string the FORMAT 2 release wrote for this key."""
    match key:
        case Sent(rule, severity, start):
            return f"{rule.value}/{severity.value}/{start}"
        case Skipped(rule, severity, start, due_at):
            return f"{rule.value}/{severity.value}-skipped/{start}/{due_at}"
        case Measured(start):
            return f"first_touch/measured/{start}"
        case Settled(rule, start):
            return f"{rule.value}/settled/{start}"
        case Retracted(rule, start, generation):
            return f"{rule.value}/retracted/{start}/{generation}"
    return "mql"


@given(st.sets(keys))
def test_format_3_keys_decode_to_the_keys_encoded(original: set[EmittedKey]) -> None:
    wire = orjson.dumps(emitted.encode(original))
    assert emitted.decode(orjson.loads(wire)) == original


@given(st.sets(keys))
def test_format_2_keys_convert_to_the_same_typed_keys(original: set[EmittedKey]) -> None:
    strings = sorted(format_2(key) for key in original)
    converted = emitted.from_format_2(strings)
    assert converted == original
    assert emitted.decode(emitted.encode(converted)) == original


@given(st.lists(keys, min_size=2, max_size=2))
def test_keys_of_different_kinds_are_never_equal(pair: list[EmittedKey]) -> None:
    first, second = pair
    if type(first) is not type(second):
        assert first != second
        assert len({first, second}) == 2


def test_one_of_each_kind_with_the_same_numbers_are_six_distinct_keys() -> None:
    each = [
        MQL_COUNTED,
        Sent(Rule.FIRST_TOUCH, Severity.WARNING, 7),
        Skipped(Rule.FIRST_TOUCH, Severity.WARNING, 7, 7),
        Measured(7),
        Settled(Rule.FIRST_TOUCH, 7),
        Retracted(Rule.FIRST_TOUCH, 7, 7),
    ]
    assert all(a != b for a, b in combinations(each, 2))
    assert len(set(each)) == len(each)


@pytest.mark.parametrize(
    "key",
    ["", "mql/1", "first_touch/breach", "first_touch/breach/x", "nope/settled/1",
     "first_touch/warning-skipped/1", "attempts/measured/1", "first_touch/teleported/1/2"],
)  # fmt: skip
def test_a_format_2_key_no_release_wrote_is_refused_naming_it(key: str) -> None:
    with pytest.raises(ValueError, match="not one FORMAT 2 wrote") as refused:
        emitted.from_format_2(["mql", key])
    assert repr(key) in str(refused.value)


@pytest.mark.parametrize(
    "value",
    [[], "mql", {"mql": 1}, [0, 5], [1, [], [[9, 5]]], [0, [], [[0, 0, 5]]],
     [0, [], [], [[0, 0]]], [0, [], [], [], [[0, 3, 5, 6]]], [1, [], [], [], [], [], [], []]],
)  # fmt: skip
def test_malformed_format_3_keys_are_refused_naming_them(value: object) -> None:
    with pytest.raises(ValueError, match="not what FORMAT 3 writes") as refused:
        emitted.decode(value)
    assert repr(value) in str(refused.value)


def test_format_3_groups_keys_by_kind_as_short_arrays_of_integers() -> None:
    keys = {
        MQL_COUNTED,
        Sent(Rule.FIRST_TOUCH, Severity.BREACH, 1793620800000),
        Skipped(Rule.ATTEMPTS, Severity.WARNING, 1793620800000, 1793793600000),
        Measured(1793620800000),
        Settled(Rule.DISPOSITION, 1793620800000),
        Retracted(Rule.FIRST_TOUCH, 1793620800000, 2),
    }
    assert orjson.dumps(emitted.encode(keys)) == (
        b"[1,[1793620800000],[[2,1793620800000]],[[0,1,1793620800000]],"
        b"[[1,0,1793620800000,1793793600000]],[[0,1793620800000,2]]]"
    )
    assert orjson.dumps(emitted.encode({MQL_COUNTED, Measured(1)})) == b"[1,[1]]"
    assert orjson.dumps(emitted.encode(set())) == b"[0]"


def format_2_rows() -> list[tuple[str, bytes]]:
    found = []
    for name in ("before-issue-17.json", "format-2-keys.json"):
        recorded = json.loads((CHANGELOGS / name).read_text())
        for table in recorded["rows"]["lead-state"].values():
            found += [(lead, base64.b64decode(row)) for lead, row in table.items()]
    return found


@pytest.mark.parametrize(("lead", "row"), format_2_rows(), ids=lambda v: str(v)[:12])
def test_a_recorded_format_2_row_is_rewritten_as_format_3_with_smaller_keys(
    lead: str, row: bytes
) -> None:
    old = orjson.loads(row)
    assert old[0] == 2
    state = load_state(lead, row)
    assert {format_2(key) for key in state.emitted} == set(old[-1])
    wake_at, summary = load_header(row)
    rewritten = dump_state(state, wake_at, summary)
    assert orjson.loads(rewritten)[0] == FORMAT == 3
    assert load_state(lead, rewritten) == state
    assert load_header(rewritten) == (wake_at, summary)
    assert len(orjson.dumps(orjson.loads(rewritten)[-1])) < len(orjson.dumps(old[-1]))


@given(st.sets(keys))
def test_format_3_rows_validate_against_the_lead_state_topic_schema(
    original: set[EmittedKey],
) -> None:
    schema = TopicCatalog.load().spec("sla.lead-state").value_schema
    jsonschema.validate(orjson.loads(dump_state(LeadState("L", emitted=original))), schema)
