"""A held reminder is dropped when the worker's own state says the lead met the rule or closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_sla.notify.config import NotifyConfig, load_notifications
from stream_sla.notify.model import Delivery
from stream_sla.notify.routing import route
from stream_sla.notify.settled import moot
from stream_sla.sla.effects import Rule, Severity, effect_id
from stream_sla.sla.emitted import Sent
from stream_sla.sla.events import (
    Channel,
    ContactAttempt,
    HandedToSales,
    LeadCreated,
    LeadStatus,
    LeadStatusChanged,
    Outcome,
)
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import Policy

from .fixtures import HOUR, MINUTE, PEOPLE, ROUTING, notice, write

HANDED = 1_793_631_600_000
POLICY = Policy()  # first touch within 1 h


@pytest.fixture
def config(tmp_path: Path) -> NotifyConfig:
    return load_notifications(write(tmp_path, ROUTING))


def lead(*events: object) -> LeadState:
    state = LeadState("L-1")
    state.add(LeadCreated("e0", "L-1", HANDED - MINUTE, "web_form"))
    state.add(HandedToSales("e1", "L-1", HANDED, "200", "smb-east"))
    for event in events:
        state.add(event)  # type: ignore[arg-type]
    return state


def held(config: NotifyConfig, severity: str = "warning", escalation: bool = False) -> Delivery:
    n = notice(lead="L-1", severity=severity, deadline_at=HANDED + HOUR)
    return next(d for d in route(n, config, PEOPLE).deliveries if d.escalation is escalation)


def test_reminder_stays_while_the_lead_is_untouched(config: NotifyConfig) -> None:
    assert not moot(held(config), lead(), POLICY)


def test_reminder_is_moot_once_the_first_attempt_is_made(config: NotifyConfig) -> None:
    touched = lead(ContactAttempt("e2", "L-1", HANDED + 50 * MINUTE, Channel.CALL,
                                  Outcome.NO_ANSWER))  # fmt: skip
    assert moot(held(config), touched, POLICY)


def test_reminder_is_moot_once_the_lead_is_closed(config: NotifyConfig) -> None:
    closed = lead(LeadStatusChanged("e2", "L-1", HANDED + 10 * MINUTE, LeadStatus.DISQUALIFIED))
    assert moot(held(config), closed, POLICY)
    assert moot(held(config, "breach", escalation=True), closed, POLICY)


def test_warning_is_moot_once_its_breach_was_published(config: NotifyConfig) -> None:
    state = lead()
    state.emitted.add(Sent(Rule.FIRST_TOUCH, Severity.BREACH, HANDED))
    assert moot(held(config), state, POLICY)


def test_escalation_of_a_breach_stays_when_the_rep_acts_late(config: NotifyConfig) -> None:
    late = lead(ContactAttempt("e2", "L-1", HANDED + 2 * HOUR, Channel.CALL, Outcome.CONNECTED))
    assert moot(held(config, "breach"), late, POLICY)
    assert not moot(held(config, "breach", escalation=True), late, POLICY)


def test_a_later_cycle_does_not_settle_an_earlier_notice(config: NotifyConfig) -> None:
    other = LeadState("L-1")
    other.add(HandedToSales("e9", "L-1", HANDED + 5 * HOUR, "200", "smb-east"))
    assert not moot(held(config), other, POLICY)
    assert effect_id("L-1", Rule.FIRST_TOUCH, Severity.WARNING, HANDED)  # ids stay stable
