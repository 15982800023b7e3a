"""Routing, quiet hours, rate limits with digests, strikes and message text: pure decisions
driven by a controlled clock (``now`` is a parameter everywhere)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from stream_sla.notify.config import NotifyConfig, load_notifications
from stream_sla.notify.message import render
from stream_sla.notify.model import Delivery, Message, Notice
from stream_sla.notify.pacing import Pacer
from stream_sla.notify.routing import route
from stream_sla.notify.strikes import StrikeCounter, count_strikes

from .fixtures import DAY, HOUR, MINUTE, MONDAY_10_NY, PEOPLE, ROUTING, notice, write


@pytest.fixture
def config(tmp_path: Path) -> NotifyConfig:
    return load_notifications(write(tmp_path, ROUTING))


def pacer(config: NotifyConfig) -> Pacer:
    return Pacer(config, lambda d: PEOPLE.team_of(d.recipient.crm_owner_id or ""))


def pairs(deliveries: list[Delivery]) -> set[tuple[str, str, bool]]:
    return {(d.recipient.key, d.channel, d.escalation) for d in deliveries}


# -- routing ---------------------------------------------------------------------------------


def test_warning_reminds_the_owner_by_mail_and_crm_task(config: NotifyConfig) -> None:
    routed = route(notice(severity="warning"), config, PEOPLE)
    assert pairs(routed.deliveries) == {("person:200", "mail", False), ("person:200", "crm", False)}


def test_breach_escalates_to_the_manager_the_team_room_and_on_call(config: NotifyConfig) -> None:
    routed = route(notice(severity="breach"), config, PEOPLE)
    assert pairs(routed.deliveries) == {
        ("person:200", "mail", False),
        ("person:100", "mail", True),
        ("team:smb-east", "hook", False),
        ("on_call", "mail", False),
    }
    assert [d.urgent for d in routed.deliveries if d.recipient.key == "on_call"] == [True]


def test_team_and_rule_filters_narrow_routes(config: NotifyConfig) -> None:
    routed = route(notice(severity="breach", rule="disposition", owner="300", team="emea"),
                   config, PEOPLE)  # fmt: skip
    assert pairs(routed.deliveries) == {("person:300", "mail", False), ("person:100", "mail", True)}


def test_unknown_owner_and_missing_manager_are_reported_not_guessed(config: NotifyConfig) -> None:
    unknown = route(notice(severity="breach", owner="999"), config, PEOPLE)
    assert "owner 999" in unknown.unreachable and "manager of 999" in unknown.unreachable
    top = route(notice(severity="breach", owner="100"), config, PEOPLE)
    assert "manager of 100" in top.unreachable


def test_a_recipient_named_by_two_routes_gets_one_message_the_urgent_way(
    config: NotifyConfig,
) -> None:
    doubled = replace(config, routes=(*config.routes, replace(config.routes[1], name="again",
                                                              urgent=True)))  # fmt: skip
    routed = route(notice(severity="breach"), doubled, PEOPLE)
    owner_mail = [d for d in routed.deliveries if d.recipient.key == "person:200"]
    assert len(owner_mail) == 1 and owner_mail[0].urgent and owner_mail[0].route == "escalate"


# -- quiet hours -----------------------------------------------------------------------------


def test_reminder_in_working_hours_goes_at_once(config: NotifyConfig) -> None:
    p = pacer(config)
    [delivery] = [d for d in route(notice(), config, PEOPLE).deliveries if d.channel == "mail"]
    assert len(p.offer(delivery, MONDAY_10_NY)) == 1


def test_reminder_at_night_waits_for_the_recipients_morning(config: NotifyConfig) -> None:
    p = pacer(config)
    night = MONDAY_10_NY + 13 * HOUR  # 23:00 in New York
    [delivery] = [d for d in route(notice(), config, PEOPLE).deliveries if d.channel == "mail"]
    assert p.offer(delivery, night) == []
    assert p.due(MONDAY_10_NY + 22 * HOUR) == []  # 08:00 Tuesday in New York
    assert p.next_release() == MONDAY_10_NY + 23 * HOUR  # 09:00 Tuesday New York
    [message] = p.due(MONDAY_10_NY + 23 * HOUR)
    assert message.deliveries == (delivery,)


def test_working_hours_follow_the_recipients_time_zone(config: NotifyConfig) -> None:
    """15:00 UTC is 10:00 in New York (open) and 15:00 in London (open); 20:00 UTC is
    15:00 in New York (open) but 20:00 in London (closed)."""
    p = pacer(config)
    ny = next(d for d in route(notice(), config, PEOPLE).deliveries if d.channel == "mail")
    london = next(d for d in route(notice(owner="300", team="emea"), config, PEOPLE).deliveries
              if d.channel == "mail")  # fmt: skip
    evening_utc = MONDAY_10_NY + 5 * HOUR
    assert len(p.offer(ny, evening_utc)) == 1
    assert p.offer(london, evening_utc) == []


def test_urgent_breach_ignores_quiet_hours(config: NotifyConfig) -> None:
    p = pacer(config)
    page = next(d for d in route(notice(severity="breach"), config, PEOPLE).deliveries if d.urgent)
    assert len(p.offer(page, MONDAY_10_NY + 13 * HOUR)) == 1


# -- rate limit and digests ------------------------------------------------------------------


def test_twelve_reminders_in_an_hour_make_two_messages_and_one_digest(
    config: NotifyConfig,
) -> None:
    p = pacer(config)
    sent: list[Message] = []
    for i in range(12):
        [d] = [d for d in route(notice(lead=f"L-{i}"), config, PEOPLE).deliveries
               if d.channel == "mail"]  # fmt: skip
        sent += p.offer(d, MONDAY_10_NY + i * MINUTE)
    assert [len(m.deliveries) for m in sent] == [1, 1]  # the limit: 2 per hour
    assert p.due(MONDAY_10_NY + 59 * MINUTE) == []
    [digest] = p.due(MONDAY_10_NY + HOUR)
    assert [d.notice.lead_id for d in digest.deliveries] == [f"L-{i}" for i in range(2, 12)]
    text = render(digest, MONDAY_10_NY + HOUR, config.crm_link)
    assert text.subject.startswith("10 SLA reminders")
    assert text.text.count("https://crm.example.com/leads/L-") == 10


def test_a_digest_counts_once_against_the_limit(config: NotifyConfig) -> None:
    p = pacer(config)
    ds = [next(d for d in route(notice(lead=f"L-{i}"), config, PEOPLE).deliveries
           if d.channel == "mail") for i in range(4)]  # fmt: skip
    for i, d in enumerate(ds[:3]):
        p.offer(d, MONDAY_10_NY + i)
    assert len(p.due(MONDAY_10_NY + HOUR)) == 1  # the digest of L-2
    assert len(p.offer(ds[3], MONDAY_10_NY + HOUR + 1)) == 1  # one slot left in the new window


def test_held_reminder_of_a_lead_met_meanwhile_is_dropped(config: NotifyConfig) -> None:
    p = pacer(config)
    night = MONDAY_10_NY + 13 * HOUR
    for lead in ("L-met", "L-open"):
        [d] = [d for d in route(notice(lead=lead), config, PEOPLE).deliveries
               if d.channel == "mail"]  # fmt: skip
        p.offer(d, night)
    dropped = p.discard(lambda d: d.notice.lead_id == "L-met")
    assert [d.notice.lead_id for d in dropped] == ["L-met"]
    [message] = p.due(MONDAY_10_NY + 23 * HOUR)
    assert [d.notice.lead_id for d in message.deliveries] == ["L-open"]


# -- strikes ---------------------------------------------------------------------------------

WINDOW = 1_793_664_000_000
"""2026-11-03T00:00Z: a 30-day strike window starts here (30-day periods from the epoch)."""


def breaches(*offsets: int, owner: str = "200") -> list[Notice]:
    return [
        notice(lead=f"L-{i}", severity="breach", owner=owner, deadline_at=WINDOW + at)
        for i, at in enumerate(offsets)
    ]


def test_third_breach_in_a_thirty_day_window_is_a_strike(config: NotifyConfig) -> None:
    counter = StrikeCounter(config.strike_breaches, config.strike_within_ms)
    b = breaches(HOUR, 14 * DAY, 28 * DAY)
    assert counter.record(b[0]) is None and counter.record(b[1]) is None
    strike = counter.record(b[2])
    assert strike is not None and strike.rep == "200" and strike.lead_ids == ("L-0", "L-1", "L-2")


def test_breaches_in_two_windows_are_no_strike(config: NotifyConfig) -> None:
    """2 at the end of one window and 1 at the start of the next: the price of windows
    that do not depend on arrival order (see stream_sla/notify/strikes.py)."""
    b = breaches(-2 * HOUR, -HOUR, HOUR)
    assert count_strikes(b, config.strike_breaches, config.strike_within_ms) == []


def test_strikes_ignore_warnings_repeats_and_other_reps(config: NotifyConfig) -> None:
    counter = StrikeCounter(3, 30 * DAY)
    one = notice(lead="L-1", severity="breach")
    assert counter.record(one) is None and counter.record(one) is None
    assert counter.record(notice(lead="L-2", severity="warning")) is None
    assert counter.record(notice(lead="L-3", severity="breach", owner="300")) is None
    assert counter.record(notice(lead="L-4", severity="breach")) is None


def test_a_retracted_breach_counts_towards_no_strike() -> None:
    counter = StrikeCounter(3, 30 * DAY)
    b = breaches(HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR)
    assert counter.record(b[0]) is None and counter.record(b[1]) is None
    assert counter.forget(b[1].id) and not counter.forget(b[1].id)
    assert counter.record(b[2]) is None  # two in effect, not three
    strike = counter.record(b[3])
    assert strike is not None and strike.lead_ids == ("L-0", "L-2", "L-3")


def test_every_third_breach_is_a_strike_whatever_the_arrival_order() -> None:
    b = breaches(*(i * HOUR for i in range(7)))
    strikes = count_strikes(b, 3, 30 * DAY)
    assert [s.lead_ids for s in strikes] == [("L-0", "L-1", "L-2"), ("L-3", "L-4", "L-5")]
    for order in (list(reversed(b)), b[3:] + b[:3], b[1::2] + b[::2]):
        counter = StrikeCounter(3, 30 * DAY)
        live = [s for s in map(counter.record, order) if s is not None]
        assert [s.id for s in live] == [s.id for s in strikes]


# -- message text ----------------------------------------------------------------------------


def test_reminder_says_what_by_when_in_the_recipients_zone_with_the_crm_link(
    config: NotifyConfig,
) -> None:
    [d] = [d for d in route(notice(), config, PEOPLE).deliveries if d.channel == "mail"]
    text = render(Message("mail", d.recipient, (d,)), MONDAY_10_NY, config.crm_link)
    assert text.subject == "Reminder: first contact lead L-1 by 10:15"
    assert "Deadline: Mon 02 Nov 10:15 (America/New_York), 15 min left." in text.text
    assert "make a first contact attempt" in text.text
    assert "https://crm.example.com/leads/L-1" in text.text and text.text.startswith("Hello Ana")


def test_escalation_names_the_rep_and_how_late(config: NotifyConfig) -> None:
    breach = notice(severity="breach", deadline_at=MONDAY_10_NY)
    [d] = [d for d in route(breach, config, PEOPLE).deliveries if d.escalation]
    text = render(Message("mail", d.recipient, (d,)), MONDAY_10_NY + 90 * MINUTE,
                  config.crm_link, owner_name={"200": "Ana Silva"}.get)  # fmt: skip
    assert text.subject.startswith("Escalation: Ana Silva missed the SLA")
    assert "1 h 30 min late" in text.text and text.text.startswith("Hello Grace")


def test_templates_can_be_overridden(config: NotifyConfig) -> None:
    [d] = [d for d in route(notice(), config, PEOPLE).deliveries if d.channel == "mail"]
    text = render(Message("mail", d.recipient, (d,)), MONDAY_10_NY, config.crm_link,
                  {"subject": "[SLA] {lead_id} due {deadline}"})  # fmt: skip
    assert text.subject == "[SLA] L-1 due Mon 02 Nov 10:15"


def test_strike_record_validates_against_its_topic_schema() -> None:
    import jsonschema

    from stream_sla.topics import TopicCatalog

    [strike] = count_strikes(breaches(0, HOUR, 2 * HOUR), 3, 30 * DAY)
    record = strike.to_record(WINDOW + 3 * HOUR, "100")
    jsonschema.validate(record, TopicCatalog.load().spec("sla.strikes").value_schema)
    assert record["breaches"] == 3 and record["manager"] == "100" and record["rep"] == "200"


def test_a_reminder_read_again_after_a_restart_is_held_once(config: NotifyConfig) -> None:
    p = pacer(config)
    night = MONDAY_10_NY + 13 * HOUR
    [d] = [d for d in route(notice(), config, PEOPLE).deliveries if d.channel == "mail"]
    assert p.offer(d, night) == [] and p.offer(d, night + MINUTE) == []
    [message] = p.due(MONDAY_10_NY + 23 * HOUR)
    assert message.deliveries == (d,)


def test_a_warning_read_after_its_deadline_is_stale() -> None:
    from stream_sla.notify.settled import stale

    warning = notice(deadline_at=MONDAY_10_NY)
    assert not stale(warning, MONDAY_10_NY - 1) and stale(warning, MONDAY_10_NY)
    assert not stale(notice(severity="breach", deadline_at=MONDAY_10_NY), MONDAY_10_NY + HOUR)
