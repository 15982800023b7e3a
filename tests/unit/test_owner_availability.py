"""Owner availability: the clock follows the owner's hours and absences, or escalates."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_sla.people import load_people
from stream_sla.policy_file import load_policy
from stream_sla.replay import replay
from stream_sla.sla.availability import (
    Absence,
    Availability,
    OwnerAway,
    decode_absence,
)
from stream_sla.sla.calendar import Calendar
from stream_sla.sla.effects import RuleSettled, Severity, SlaViolation
from stream_sla.sla.engine import SlaEngine
from stream_sla.sla.events import (
    Channel,
    ContactAttempt,
    Event,
    EventRejected,
    HandedToSales,
    Outcome,
    RejectReason,
)
from stream_sla.sla.policy import NO_WARNING, FirstTouchRule, Policy, Segment
from stream_sla.yamlfile import ConfigError

from .policy_texts import one_segment

MIN = 60_000
HOUR = 60 * MIN


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def policy_with(
    away: OwnerAway, grace_ms: int = 0, calendar: Calendar | None = None, within: int = HOUR
) -> Policy:
    rule = FirstTouchRule(within, warn=NO_WARNING, owner_away=away, grace_ms=grace_ms)
    if calendar is not None:
        rule = FirstTouchRule(within, calendar, NO_WARNING, owner_away=away, grace_ms=grace_ms)
    return Policy("t", (Segment("default", first_touch=rule, attempts=None, disposition=None),))


def absence(
    owner: str,
    starts: str,
    ends: str,
    recorded: str = "2026-10-01T00:00:00+00:00",
    version: int = 1,
    cancelled: bool = False,
    absence_id: str = "pto-1",
) -> Absence:
    return Absence(
        f"{absence_id}-v{version}",
        absence_id,
        owner,
        at(starts),
        at(ends),
        at(recorded) + version,
        at(recorded),
        cancelled,
    )


def violations(
    events: list[Event],
    policy: Policy,
    end: int,
    availability: Availability,
    absences: list[Absence] = [],  # noqa: B006 - read only
) -> list[SlaViolation]:
    result = replay(
        sorted(events, key=lambda e: e.occurred_at),
        policy,
        end,
        keep_effects=True,
        availability=availability,
        absences=absences,
    )
    return [e for e in result.effects if isinstance(e, SlaViolation)]


def handed(when: str, owner: str = "ana", eid: str = "h") -> HandedToSales:
    return HandedToSales(eid, "L", at(when), owner, "t")


LONDON_9_TO_5 = Calendar("ana", "Europe/London", {d: ((time(9), time(17)),) for d in range(5)})


def test_the_clock_follows_the_owners_hours_across_the_dst_change() -> None:
    # Ana works 09:00-17:00 London, Mon-Fri; 2h first touch around the clock for the team.
    # Handed Fri 23 Oct 16:00 BST (15:00Z): 1h runs to 17:00 BST (16:00Z). London leaves
    # summer time on Sun 25 Oct, so Mon 26 Oct 09:00 is 09:00Z: deadline 10:00Z.
    events: list[Event] = [handed("2026-10-23T15:00:00+00:00")]
    hours = Availability({"ana": LONDON_9_TO_5})
    policy = policy_with(OwnerAway.FOLLOW_OWNER_HOURS, within=2 * HOUR)
    [breach] = violations(events, policy, at("2026-10-27T00:00:00+00:00"), hours)
    assert breach.deadline_at == at("2026-10-26T10:00:00+00:00")
    team = policy_with(OwnerAway.TEAM_CALENDAR, within=2 * HOUR)
    [plain] = violations(events, team, at("2026-10-27T00:00:00+00:00"), hours)
    assert plain.deadline_at == at("2026-10-23T17:00:00+00:00")


def test_an_absence_stops_the_clock_until_the_owner_is_back() -> None:
    # Handed Tue 09:30Z with 1h; Ana away Tue 10:00Z - Wed 10:00Z: 30 min before, 30 after.
    away = Availability()
    pto = absence("ana", "2026-11-03T10:00:00+00:00", "2026-11-04T10:00:00+00:00")
    events: list[Event] = [handed("2026-11-03T09:30:00+00:00")]
    policy = policy_with(OwnerAway.FOLLOW_OWNER_HOURS)
    [breach] = violations(events, policy, at("2026-11-05T00:00:00+00:00"), away, [pto])
    assert breach.deadline_at == at("2026-11-04T10:30:00+00:00")


def test_an_absence_recorded_late_counts_only_from_when_it_was_recorded() -> None:
    # Ana called in sick at 09:45 for the whole day from 09:00: the 45 minutes before the call
    # ran on her clock (a breach already owed cannot be taken back). 1h from 09:00: 15 min left
    # when she is back at 12:00 -> 12:15.
    pto = absence(
        "ana",
        "2026-11-03T09:00:00+00:00",
        "2026-11-03T12:00:00+00:00",
        recorded="2026-11-03T09:45:00+00:00",
    )
    events: list[Event] = [handed("2026-11-03T09:00:00+00:00")]
    [breach] = violations(
        events,
        policy_with(OwnerAway.FOLLOW_OWNER_HOURS),
        at("2026-11-04T00:00:00+00:00"),
        Availability(),
        [pto],
    )
    assert breach.deadline_at == at("2026-11-03T12:15:00+00:00")


def test_a_cancelled_absence_counts_for_nothing_and_the_newest_version_holds() -> None:
    first = absence("ana", "2026-11-03T10:00:00+00:00", "2026-11-04T10:00:00+00:00")
    cancel = absence(
        "ana", "2026-11-03T10:00:00+00:00", "2026-11-04T10:00:00+00:00", version=2, cancelled=True
    )
    for order in ([first, cancel], [cancel, first]):
        availability = Availability()
        for version in order:
            availability.apply(version)
        assert availability.away("ana") == ()


def test_the_team_calendar_ignores_absences() -> None:
    pto = absence("ana", "2026-11-03T10:00:00+00:00", "2026-11-04T10:00:00+00:00")
    events: list[Event] = [handed("2026-11-03T09:30:00+00:00")]
    [breach] = violations(
        events,
        policy_with(OwnerAway.TEAM_CALENDAR),
        at("2026-11-05T00:00:00+00:00"),
        Availability(),
        [pto],
    )
    assert breach.deadline_at == at("2026-11-03T10:30:00+00:00")


def test_a_reassignment_follows_the_new_owners_availability() -> None:
    # Ana is away all day; at 11:00 the lead goes to Bob, who is in: the clock starts then.
    pto = absence("ana", "2026-11-03T00:00:00+00:00", "2026-11-04T00:00:00+00:00")
    events: list[Event] = [
        handed("2026-11-03T09:00:00+00:00"),
        handed("2026-11-03T11:00:00+00:00", owner="bob", eid="h2"),
    ]
    [breach] = violations(
        events,
        policy_with(OwnerAway.FOLLOW_OWNER_HOURS),
        at("2026-11-04T00:00:00+00:00"),
        Availability(),
        [pto],
    )
    assert breach.deadline_at == at("2026-11-03T12:00:00+00:00")
    assert breach.owner == "bob"
    shares = breach.to_record()["owners"]
    assert [(s["owner"], s["business_seconds"]) for s in shares] == [("ana", 0), ("bob", 3600)]


def test_escalate_sends_one_reroute_after_the_grace_while_the_owner_is_away() -> None:
    # Handed 09:50Z, 2h first touch; Ana away from 10:00Z: 30 min grace -> re-route at 10:30Z,
    # and the breach still at 11:50Z (the team calendar runs the clock).
    pto = absence("ana", "2026-11-03T10:00:00+00:00", "2026-11-03T18:00:00+00:00")
    events: list[Event] = [handed("2026-11-03T09:50:00+00:00")]
    policy = policy_with(OwnerAway.ESCALATE, grace_ms=30 * MIN, within=2 * HOUR)
    found = violations(events, policy, at("2026-11-04T00:00:00+00:00"), Availability(), [pto])
    reroute, breach = found
    assert reroute.severity is Severity.REROUTE
    assert reroute.detected_at == at("2026-11-03T10:30:00+00:00")
    assert reroute.deadline_at == at("2026-11-03T11:50:00+00:00")
    assert reroute.to_record()["owner_away_seconds"] == 1800
    assert reroute.owner == "ana"
    assert breach.severity is Severity.BREACH
    assert breach.deadline_at == at("2026-11-03T11:50:00+00:00")


def test_escalate_is_quiet_when_the_owner_acts_within_the_grace_or_is_not_away() -> None:
    pto = absence("ana", "2026-11-03T10:00:00+00:00", "2026-11-03T18:00:00+00:00")
    touch = ContactAttempt(
        "a", "L", at("2026-11-03T10:20:00+00:00"), Channel.CALL, Outcome.CONNECTED
    )
    policy = policy_with(OwnerAway.ESCALATE, grace_ms=30 * MIN, within=2 * HOUR)
    end = at("2026-11-04T00:00:00+00:00")
    events: list[Event] = [handed("2026-11-03T09:50:00+00:00"), touch]
    assert violations(events, policy, end, Availability(), [pto]) == []
    lone: list[Event] = [handed("2026-11-03T09:50:00+00:00")]
    assert [v.severity for v in violations(lone, policy, end, Availability())] == [Severity.BREACH]


def test_escalate_counts_time_off_the_owners_hours_while_the_team_calendar_runs() -> None:
    # The team works 24/7 (rule without calendar); Ana's day ends 17:00 London (GMT in Nov).
    # Handed 16:40Z with 2h: away from 17:00Z, grace 15 min -> re-route at 17:15Z.
    hours = Availability({"ana": LONDON_9_TO_5})
    policy = policy_with(OwnerAway.ESCALATE, grace_ms=15 * MIN, within=2 * HOUR)
    events: list[Event] = [handed("2026-11-03T16:40:00+00:00")]
    reroute, _ = violations(events, policy, at("2026-11-04T00:00:00+00:00"), hours)
    assert reroute.severity is Severity.REROUTE
    assert reroute.detected_at == at("2026-11-03T17:15:00+00:00")


def test_the_settled_outcome_carries_each_owners_share_after_a_reassignment() -> None:
    events: list[Event] = [
        handed("2026-11-03T09:00:00+00:00"),
        handed("2026-11-03T09:40:00+00:00", owner="bob", eid="h2"),
        ContactAttempt("a", "L", at("2026-11-03T09:50:00+00:00"), Channel.CALL, Outcome.CONNECTED),
    ]
    result = replay(
        events, policy_with(OwnerAway.TEAM_CALENDAR), at("2026-11-04T00:00:00+00:00"), True
    )
    [settled] = [e for e in result.effects if isinstance(e, RuleSettled)]
    assert settled.owner == "bob"
    assert [(s.owner, s.business_ms) for s in settled.owners] == [
        ("ana", 40 * MIN),
        ("bob", 10 * MIN),
    ]


def test_the_engine_wakes_the_owners_leads_when_an_absence_is_cancelled() -> None:
    # Live: Ana's absence pushed the deadline out; its cancellation at 11:00 makes the
    # original 10:30 deadline due at once, at the next sweep, with its original deadline.
    engine: SlaEngine[object] = SlaEngine(policy_with(OwnerAway.FOLLOW_OWNER_HOURS))  # type: ignore[type-var]
    pto = absence("ana", "2026-11-03T10:00:00+00:00", "2026-11-04T10:00:00+00:00")
    engine.apply_absences([pto], at("2026-11-03T09:00:00+00:00"))
    from stream_sla.sla.engine import Placed
    from stream_sla.sla.events import EventKind

    h = handed("2026-11-03T09:30:00+00:00")
    engine.apply_events(
        [Placed(0, "crm.handed-to-sales", EventKind.HANDED_TO_SALES, h)], h.occurred_at
    )
    assert engine.index.next_at() == at("2026-11-04T10:30:00+00:00")
    cancel = absence(
        "ana", "2026-11-03T10:00:00+00:00", "2026-11-04T10:00:00+00:00", version=2, cancelled=True
    )
    now = at("2026-11-03T11:00:00+00:00")
    assert engine.apply_absences([cancel], now) == 1
    due = engine.pop_due(now)
    [breach] = [e for e in engine.fire(due, now).effects if isinstance(e, SlaViolation)]
    assert breach.deadline_at == at("2026-11-03T10:30:00+00:00")


def test_absence_records_are_checked_like_crm_events() -> None:
    good = (
        b'{"event_id":"e1","absence_id":"pto-1","owner":"ana","starts_at":"2026-12-21T00:00:00Z",'
        b'"ends_at":"2027-01-04T00:00:00Z","occurred_at":"2026-11-02T10:00:00Z"}'
    )
    parsed = decode_absence(b"pto-1", good)
    assert parsed.interval() == (at("2026-12-21T00:00:00+00:00"), at("2027-01-04T00:00:00+00:00"))
    with pytest.raises(EventRejected) as mismatch:
        decode_absence(b"other", good)
    assert mismatch.value.reason is RejectReason.KEY_MISMATCH
    backwards = good.replace(b"2027-01-04", b"2026-12-01")
    with pytest.raises(EventRejected) as invalid:
        decode_absence(b"pto-1", backwards)
    assert invalid.value.reason is RejectReason.INVALID_VALUE
    forever = good.replace(b"2027-01-04", b"2028-01-04")
    with pytest.raises(EventRejected) as too_long:
        decode_absence(b"pto-1", forever)
    assert "at most 366 days" in too_long.value.detail


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("first_touch: {owner_away: escalate}", "needs grace"),
        ("first_touch: {grace: 30m}", "grace only goes with owner_away: escalate"),
        ("first_touch: {owner_away: holiday}", "'holiday' is not a choice for owner_away"),
    ],
    ids=["escalate-without-grace", "grace-without-escalate", "unknown-choice"],
)
def test_policy_mistakes_about_owner_away_stop_the_load_at_their_line(
    tmp_path: Path, rule: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_policy(one_segment(tmp_path, rule))
    assert ":4:" in str(error.value)
    assert expected in str(error.value)


def test_working_hours_come_from_the_people_directory_yaml_or_csv(tmp_path: Path) -> None:
    yaml_file = tmp_path / "people.yaml"
    yaml_file.write_text(
        "people:\n"
        "  - {id: '1', name: Ada, team: t, timezone: Europe/London,"
        " hours: 'mon-fri 09:00-17:00; sat 10:00-12:00'}\n"
        "  - {id: '2', name: Bo, team: t}\n"
    )
    hours = load_people(yaml_file).working_hours()
    assert set(hours) == {"1"}
    assert hours["1"].timezone == "Europe/London"
    assert hours["1"].hours == {
        **{d: ((time(9), time(17)),) for d in range(5)},
        5: ((time(10), time(12)),),
    }
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("Id,Name,Team,Time Zone,Working Hours\n1,Ada,t,UTC,mon-fri 09:00-17:00\n")
    assert load_people(csv_file).working_hours()["1"].hours == {
        d: ((time(9), time(17)),) for d in range(5)
    }
    csv_file.write_text("Id,Name,Team,Working Hours\n1,Ada,t,mon-fri 17:00-09:00\n")
    with pytest.raises(ConfigError) as error:
        load_people(csv_file)
    assert ":2:" in str(error.value) and "opening before closing" in str(error.value)


@settings(max_examples=60, deadline=None)
@given(
    hand_off=st.integers(0, 48 * 60),
    spans=st.lists(st.tuples(st.integers(0, 72 * 60), st.integers(1, 12 * 60)), max_size=4),
)
def test_following_the_owner_never_makes_a_deadline_earlier_and_order_never_matters(
    hand_off: int, spans: list[tuple[int, int]]
) -> None:
    base = at("2026-11-02T00:00:00+00:00")
    versions = [
        Absence(f"e{i}", f"a{i}", "ana", base + s * MIN, base + (s + d) * MIN, base, base)
        for i, (s, d) in enumerate(spans)
    ]
    events: list[Event] = [HandedToSales("h", "L", base + hand_off * MIN, "ana", "t")]
    end = base + 30 * 24 * HOUR
    follow = policy_with(OwnerAway.FOLLOW_OWNER_HOURS)
    forward = violations(events, follow, end, Availability({"ana": LONDON_9_TO_5}), versions)
    backward = violations(events, follow, end, Availability({"ana": LONDON_9_TO_5}), versions[::-1])
    assert [v.to_record() for v in forward] == [v.to_record() for v in backward]
    [team] = violations(events, policy_with(OwnerAway.TEAM_CALENDAR), end, Availability())
    assert forward[0].deadline_at >= team.deadline_at


def test_replay_reads_absences_from_its_input_and_hours_from_people(tmp_path: Path) -> None:
    from stream_sla import cli

    policy = one_segment(
        tmp_path,
        "first_touch: {within: 1h, owner_away: follow_owner_hours, warn_at: off}",
        "attempts: off",
        "disposition: off",
    )
    people = tmp_path / "people.yaml"
    people.write_text(
        "people:\n  - {id: ana, name: Ana, team: t, timezone: Europe/London,"
        " hours: 'mon-fri 09:00-17:00'}\n"
    )
    lines = [
        {
            "type": "owner-availability",
            "event_id": "av-1",
            "absence_id": "pto-1",
            "owner": "ana",
            "starts_at": "2026-11-03T00:00:00Z",
            "ends_at": "2026-11-04T00:00:00Z",
            "occurred_at": "2026-11-01T00:00:00Z",
        },
        {
            "type": "handed-to-sales",
            "event_id": "h",
            "lead_id": "L",
            "occurred_at": "2026-11-02T16:30:00Z",
            "owner": "ana",
            "team": "t",
        },
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(orjson.dumps(line).decode() for line in lines) + "\n")
    out = tmp_path / "breaches.jsonl"
    args = ["replay", str(events), "--policy", str(policy), "--until", "2026-11-06T00:00:00Z"]
    assert cli.main([*args, "--people", str(people), "--violations-out", str(out)]) == 0
    # Mon 16:30-17:00 (30 min), away all Tuesday, Wed 09:00 + 30 min
    [breach] = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert breach["deadline_at"] == "2026-11-04T09:30:00.000Z"
    assert cli.main([*args, "--violations-out", str(out)]) == 0  # no hours: due before it
    [breach] = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert breach["deadline_at"] == "2026-11-02T17:30:00.000Z"


def test_reroutes_shares_and_absences_match_their_topic_schemas() -> None:
    import jsonschema

    from stream_sla.topics import TopicCatalog

    catalog = TopicCatalog.load()
    pto = absence("ana", "2026-11-03T10:00:00+00:00", "2026-11-03T18:00:00+00:00")
    events: list[Event] = [
        handed("2026-11-03T09:50:00+00:00"),
        handed("2026-11-03T09:55:00+00:00", owner="bob", eid="h2"),
    ]
    bob_away = Absence("e", "pto-2", "bob", pto.starts_at, pto.ends_at, 0, 0)
    policy = policy_with(OwnerAway.ESCALATE, grace_ms=30 * MIN, within=2 * HOUR)
    reroute, breach = violations(
        events, policy, at("2026-11-04T00:00:00+00:00"), Availability(), [pto, bob_away]
    )
    jsonschema.validate(reroute.to_record(), catalog.spec("sla.reroutes").value_schema)
    assert "owners" in breach.to_record()
    jsonschema.validate(breach.to_record(), catalog.spec("sla.breaches").value_schema)
    schema = catalog.spec("crm.owner-availability").value_schema
    for example in schema["examples"]:
        jsonschema.validate(example, schema)
        decode_absence(example["absence_id"].encode(), orjson.dumps(example))


def test_the_reports_outcome_rows_use_the_same_availability_as_the_replay() -> None:
    from stream_sla import report

    pto = absence("ana", "2026-11-03T10:00:00+00:00", "2026-11-04T10:00:00+00:00")
    events: list[Event] = [handed("2026-11-03T09:30:00+00:00")]
    result = replay(
        events,
        policy_with(OwnerAway.FOLLOW_OWNER_HOURS),
        at("2026-11-05T00:00:00+00:00"),
        keep_effects=True,
        absences=[pto],
    )
    [row] = report.outcomes(result)
    assert row.status == "breached"
    assert row.deadline_at == at("2026-11-04T10:30:00+00:00")


def test_escalation_follows_the_owners_local_evening_across_the_dst_change() -> None:
    # The team works around the clock; Ana's day ends 17:00 London. On Fri 23 Oct (BST) that is
    # 16:00Z; a lead handed over at 15:50Z with 4h escalates 20 min after 16:00Z = 16:20Z. One
    # week later (GMT) her day ends at 17:00Z: the same lead at 16:50Z escalates at 17:20Z.
    hours = Availability({"ana": LONDON_9_TO_5})
    policy = policy_with(OwnerAway.ESCALATE, grace_ms=20 * MIN, within=4 * HOUR)
    end = at("2026-11-01T00:00:00+00:00")
    summer, _ = violations([handed("2026-10-23T15:50:00+00:00")], policy, end, hours)
    winter, _ = violations([handed("2026-10-30T16:50:00+00:00")], policy, end, hours)
    assert summer.detected_at == at("2026-10-23T16:20:00+00:00")
    assert winter.detected_at == at("2026-10-30T17:20:00+00:00")


def test_the_owners_hours_replace_the_rule_calendar_and_without_hours_it_stays() -> None:
    # The rule's calendar is New York business hours; Kenji works 09:00-18:00 Tokyo, which never
    # overlaps it: his clock runs on his own hours. Handed Mon 2 Nov 08:30Z (17:30 Tokyo):
    # 30 min that day, 30 min from Tue 09:00 Tokyo = Tue 00:00Z -> 00:30Z.
    ny = Calendar("ny", "America/New_York", {d: ((time(9), time(18)),) for d in range(5)})
    tokyo = Calendar("kenji", "Asia/Tokyo", {d: ((time(9), time(18)),) for d in range(5)})
    policy = policy_with(OwnerAway.FOLLOW_OWNER_HOURS, calendar=ny)
    end = at("2026-11-06T00:00:00+00:00")
    handed_over: list[Event] = [handed("2026-11-02T08:30:00+00:00", owner="kenji")]
    [breach] = violations(handed_over, policy, end, Availability({"kenji": tokyo}))
    assert breach.deadline_at == at("2026-11-03T00:30:00+00:00")
    # without hours in the directory: the rule's calendar, 09:00 New York (14:00Z) + 1h
    [plain] = violations(handed_over, policy, end, Availability())
    assert plain.deadline_at == at("2026-11-02T15:00:00+00:00")


def test_a_sent_reroute_survives_the_changelog_and_its_row_matches_the_topic_schema() -> None:
    import jsonschema

    from stream_sla.sla.effects import Rule
    from stream_sla.sla.emitted import Sent, Skipped
    from stream_sla.sla.events import LeadCreated
    from stream_sla.sla.lead import LeadState
    from stream_sla.sla.snapshot import dump_state, load_state
    from stream_sla.topics import TopicCatalog

    state = LeadState("L")
    state.add(LeadCreated("c", "L", 0, "web_form", timezone="America/Los_Angeles"))
    state.emitted |= {
        Sent(Rule.FIRST_TOUCH, Severity.REROUTE, 5),
        Skipped(Rule.ATTEMPTS, Severity.REROUTE, 5, 9),
    }
    row = dump_state(state)
    assert load_state("L", row) == state
    schema = TopicCatalog.load().spec("sla.lead-state").value_schema
    jsonschema.validate(orjson.loads(row), schema)
