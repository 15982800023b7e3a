"""Re-routes (sla.reroutes, owner_away: escalate) reach whom a route names, and only then."""

from __future__ import annotations

from pathlib import Path

from stream_sla.notify.config import load_notifications
from stream_sla.notify.message import render
from stream_sla.notify.model import Message
from stream_sla.notify.routing import route
from stream_sla.notify.settled import stale

from .fixtures import MINUTE, MONDAY_10_NY, PEOPLE, ROUTING, notice, write

REROUTE_ROUTE = """\
  - name: reroute
    when: {severity: reroute}
    notify: [manager, team]
    via: [mail]
"""


def test_a_reroute_goes_to_the_manager_and_the_team_when_a_route_asks_for_it(
    tmp_path: Path,
) -> None:
    config = load_notifications(write(tmp_path, ROUTING + REROUTE_ROUTE))
    away = notice(severity="reroute", owner_away_seconds=1200)
    routed = route(away, config, PEOPLE)
    assert {(d.recipient.key, d.channel) for d in routed.deliveries} == {
        ("person:100", "mail"),
        ("team:smb-east", "mail"),
    }
    [to_manager] = [d for d in routed.deliveries if d.recipient.key == "person:100"]
    text = render(
        Message("mail", to_manager.recipient, (to_manager,)),
        MONDAY_10_NY,
        config.crm_link,
        owner_name=lambda owner: person.name if (person := PEOPLE.get(owner)) else None,
    )
    assert text.subject.startswith("Re-route: Ana Silva is away")
    assert "give the lead to someone available" in text.text


def test_routes_that_do_not_name_reroute_never_get_one(tmp_path: Path) -> None:
    config = load_notifications(write(tmp_path, ROUTING))
    assert route(notice(severity="reroute"), config, PEOPLE).deliveries == []


def test_a_reroute_read_after_its_deadline_is_stale() -> None:
    deadline = MONDAY_10_NY + 15 * MINUTE
    assert not stale(notice(severity="reroute", deadline_at=deadline), deadline - MINUTE)
    assert stale(notice(severity="reroute", deadline_at=deadline), deadline)
