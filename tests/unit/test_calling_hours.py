"""Lead-local calling hours: first-touch and ladder deadlines move into the lead's hours."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_sla.policy_file import load_policy
from stream_sla.replay import replay
from stream_sla.sla.calling_hours import CallingHours, RegionHours, move_into
from stream_sla.sla.effects import Rule, Severity, SlaViolation
from stream_sla.sla.events import (
    EventKind,
    EventRejected,
    HandedToSales,
    LeadCreated,
    RejectReason,
    decode_event,
)
from stream_sla.sla.policy import (
    NO_WARNING,
    AttemptsRule,
    DispositionRule,
    FirstTouchRule,
    Policy,
    Rung,
    Segment,
)
from stream_sla.yamlfile import ConfigError

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


EVERY_DAY = CallingHours()


def policy(calling: CallingHours | None = EVERY_DAY, within: int = HOUR) -> Policy:
    segment = Segment(
        "default",
        first_touch=FirstTouchRule(within, warn=NO_WARNING),
        attempts=AttemptsRule((Rung(1, 2 * DAY),), warn=NO_WARNING),
        disposition=DispositionRule(within, warn=NO_WARNING),
    )
    return Policy("t", (segment,), calling_hours=calling)


def deadlines(
    handed_at: str, zone: str | None, region: str | None = None, rules: Policy | None = None
) -> dict[Rule, int]:
    events = [
        LeadCreated("c", "L", at(handed_at) - MIN, "web_form", region=region, timezone=zone),
        HandedToSales("h", "L", at(handed_at), "ana", "t"),
    ]
    result = replay(events, rules or policy(), at(handed_at) + 10 * DAY, keep_effects=True)
    return {
        e.rule: e.deadline_at
        for e in result.effects
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    }


def test_a_deadline_after_the_lead_s_evening_moves_to_the_next_morning() -> None:
    # Los Angeles lead handed Thu 29 Oct 20:30 PDT (03:30Z) with 1h: due 21:30 local, after the
    # 21:00 close; the 30 minutes past the close carry into Friday: 08:30 PDT = 15:30Z.
    found = deadlines("2026-10-30T03:30:00+00:00", "America/Los_Angeles")
    assert found[Rule.FIRST_TOUCH] == at("2026-10-30T15:30:00+00:00")


def test_the_move_across_the_dst_change_keeps_local_morning_hours() -> None:
    # Sat 31 Oct 20:30 PDT (Sun 03:30Z): due 21:30 PDT; LA leaves summer time on Sun 1 Nov,
    # so 08:30 local on Sunday is 16:30Z (it would be 15:30Z in summer time).
    found = deadlines("2026-11-01T03:30:00+00:00", "America/Los_Angeles")
    assert found[Rule.FIRST_TOUCH] == at("2026-11-01T16:30:00+00:00")


def test_a_lead_handed_over_at_night_gets_its_whole_target_from_the_morning() -> None:
    # 23:00 local (Berlin, CET): the whole hour ran outside -> 09:00 local = 08:00Z.
    found = deadlines("2026-11-03T22:00:00+00:00", "Europe/Berlin")
    assert found[Rule.FIRST_TOUCH] == at("2026-11-04T08:00:00+00:00")


def test_deadlines_inside_calling_hours_and_dispositions_do_not_move() -> None:
    found = deadlines("2026-11-03T22:00:00+00:00", "Europe/Berlin")
    assert found[Rule.DISPOSITION] == at("2026-11-03T23:00:00+00:00")  # no call needed
    midday = deadlines("2026-11-03T11:00:00+00:00", "Europe/Berlin")
    assert midday[Rule.FIRST_TOUCH] == at("2026-11-03T12:00:00+00:00")


def test_a_ladder_rung_that_falls_at_night_moves_too() -> None:
    # 2 days from Tue 22:00Z (23:00 Berlin) is Thu 23:00 Berlin, 2h after the 21:00 close:
    # the 2h carry into Friday from 08:00 -> 10:00 Berlin = 09:00Z.
    found = deadlines("2026-11-03T22:00:00+00:00", "Europe/Berlin")
    assert found[Rule.ATTEMPTS] == at("2026-11-06T09:00:00+00:00")


def test_the_region_gives_the_zone_and_hours_when_the_lead_has_none() -> None:
    calling = CallingHours(
        regions={"emea": RegionHours("Europe/London", ((0, ((time(9), time(20)),)),))}
    )
    # Mon 2 Nov 20:30Z in London (GMT), only Mondays 09:00-20:00: handed after the close, the
    # whole hour carries to next Monday 09:00 -> 10:00Z
    found = deadlines("2026-11-02T20:30:00+00:00", None, "emea", policy(calling))
    assert found[Rule.FIRST_TOUCH] == at("2026-11-09T10:00:00+00:00")
    unknown = deadlines("2026-11-02T20:30:00+00:00", None, "apac", policy(calling))
    assert unknown[Rule.FIRST_TOUCH] == at("2026-11-02T21:30:00+00:00")
    off = deadlines("2026-11-02T20:30:00+00:00", "Europe/London", None, policy(None))
    assert off[Rule.FIRST_TOUCH] == at("2026-11-02T21:30:00+00:00")


def test_a_lead_with_an_unknown_time_zone_is_dead_lettered() -> None:
    value = (
        b'{"event_id":"c","lead_id":"L","occurred_at":"2026-11-02T10:00:00Z",'
        b'"source":"web_form","timezone":"Mars/Olympus"}'
    )
    with pytest.raises(EventRejected) as rejected:
        decode_event(EventKind.LEAD_CREATED, b"L", value)
    assert rejected.value.reason is RejectReason.INVALID_VALUE
    assert "IANA" in rejected.value.detail


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("calling_hours: {hours: '21:00-08:00'}", 2, "opening before closing"),
        ("calling_hours: {regions: {na: {timezone: Mars/Base}}}", 2, "not an IANA time zone"),
        ("calling_hours: {zone: UTC}", 2, "unknown key 'zone'"),
    ],
    ids=["backwards", "bad-zone", "typo"],
)
def test_calling_hours_mistakes_stop_the_policy_load_at_their_line(
    tmp_path: Path, text: str, line: int, expected: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(f'version: "1"\n{text}\nsegments:\n  - name: default\n')
    with pytest.raises(ConfigError) as error:
        load_policy(path)
    assert f":{line}:" in str(error.value)
    assert expected in str(error.value)


def test_calling_hours_from_the_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        'version: "1"\n'
        "calling_hours:\n"
        "  hours: '08:00-21:00'\n"
        "  regions:\n"
        "    na: {timezone: America/New_York}\n"
        "    emea: {timezone: Europe/London, hours: {mon: '09:00-20:00'}}\n"
        "segments:\n  - name: default\n"
    )
    loaded = load_policy(path).calling_hours
    assert loaded is not None
    ny = loaded.calendar_for(None, "na")
    assert ny is not None and ny.timezone == "America/New_York"
    assert ny.hours == {d: ((time(8), time(21)),) for d in range(7)}
    london = loaded.calendar_for("Europe/Paris", "emea")
    assert london is not None and london.timezone == "Europe/Paris"  # the lead's own zone wins
    assert london.hours == {0: ((time(9), time(20)),)}


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(0, 14 * 24 * 60),
    target=st.integers(1, 3 * 24 * 60),
    zone=st.sampled_from(["America/Los_Angeles", "Europe/Berlin", "Australia/Sydney", "UTC"]),
)
def test_a_moved_deadline_is_never_earlier_and_always_callable(
    start: int, target: int, zone: str
) -> None:
    calling = CallingHours().calendar_for(zone, None)
    assert calling is not None
    begin = at("2026-10-20T00:00:00+00:00") + start * MIN
    deadline = begin + target * MIN
    moved = move_into(calling, deadline, begin)
    assert moved >= deadline
    assert calling.open_between(moved - 1, moved) == 1  # a call just before it is permitted


def test_the_lead_s_time_zone_survives_the_changelog_and_rows_without_one_keep_their_shape() -> (
    None
):
    import orjson

    from stream_sla.sla.lead import LeadState
    from stream_sla.sla.snapshot import dump_state, load_state

    for zone, width in (("Europe/Berlin", 8), (None, 7)):
        state = LeadState("L")
        state.add(LeadCreated("c", "L", 0, "web_form", timezone=zone))
        row = dump_state(state)
        assert len(orjson.loads(row)[3]) == width
        restored = load_state("L", row).profile
        assert restored is not None and restored.timezone == zone
