"""Who hears about a warning or breach, and over which channels: a pure function of the
notice, the routing file and the people directory.

Every route whose ``when`` matches contributes its (recipient, channel) pairs; a pair
named by two routes is delivered once (the first route's name and the most urgent flag
win), so overlapping routes never double-post. A breach goes to the owner and, through
``manager``, up one level of the directory; a recipient the directory cannot resolve
(an owner nobody listed, a manager-less rep, no chat handle for a chat channel) is left
out and reported in ``unreachable`` so the metric and the log can say who was missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from stream_sla.notify.config import NotifyConfig, Route
from stream_sla.notify.model import Delivery, Notice, Recipient


class PersonLike(Protocol):
    @property
    def owner_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def team(self) -> str: ...
    @property
    def manager(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def chat(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...


class Directory(Protocol):
    """What routing needs of the people directory (``stream_sla.people.PeopleDirectory``)."""

    def get(self, owner_id: str) -> PersonLike | None: ...


@dataclass(slots=True)
class Routed:
    deliveries: list[Delivery] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    """``who`` entries no recipient could be found for, e.g. ``manager of ana.silva``."""


def matches(route: Route, notice: Notice) -> bool:
    if notice.severity not in route.severities or notice.rule not in route.rules:
        return False
    if route.teams is not None and notice.team not in route.teams:
        return False
    return route.segments is None or bool({notice.policy_segment, notice.segment} & route.segments)


def route(notice: Notice, config: NotifyConfig, people: Directory) -> Routed:
    result = Routed()
    chosen: dict[tuple[str, str], Delivery] = {}
    for rule in config.routes:
        if not matches(rule, notice):
            continue
        for who in rule.notify:
            recipient = _recipient(who, notice, config, people)
            if recipient is None:
                result.unreachable.append(_describe(who, notice))
                continue
            for channel in rule.via:
                key = (recipient.key, channel)
                earlier = chosen.get(key)
                if earlier is not None:
                    if rule.urgent and not earlier.urgent:
                        chosen[key] = Delivery(
                            earlier.route, channel, recipient, notice, True, earlier.escalation
                        )
                    continue
                chosen[key] = Delivery(
                    rule.name, channel, recipient, notice, rule.urgent, who == "manager"
                )
    result.deliveries = list(chosen.values())
    return result


def person_recipient(person: PersonLike) -> Recipient:
    return Recipient(
        key=f"person:{person.owner_id}",
        name=person.name,
        timezone=person.timezone,
        email=person.email,
        chat=person.chat,
        crm_owner_id=person.owner_id,
    )


def manager_of(owner: str | None, people: Directory) -> PersonLike | None:
    person = people.get(owner) if owner else None
    return people.get(person.manager) if person is not None and person.manager else None


def _recipient(
    who: str, notice: Notice, config: NotifyConfig, people: Directory
) -> Recipient | None:
    if who == "owner":
        person = people.get(notice.owner) if notice.owner else None
        return person_recipient(person) if person is not None else None
    if who == "manager":
        manager = manager_of(notice.owner, people)
        return person_recipient(manager) if manager is not None else None
    if who == "team":
        contact = config.teams.get(notice.team or "")
        if contact is None:
            return None
        return Recipient(f"team:{notice.team}", contact.name, contact.timezone, contact.email,
                         contact.chat)  # fmt: skip
    contact = config.on_call
    if contact is None:
        return None
    return Recipient("on_call", contact.name, contact.timezone, contact.email, contact.chat)


def _describe(who: str, notice: Notice) -> str:
    if who == "manager":
        return f"manager of {notice.owner}"
    if who == "team":
        return f"team {notice.team}"
    return f"{who} {notice.owner}" if who == "owner" else who
