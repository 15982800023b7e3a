"""What a reminder says: what to do, on which lead (with its CRM link), by when, in the
recipient's own time zone, and how much time is left or how late it is.

Templates are Python format strings over the fields of :func:`fields`; the routing file's
``templates`` section overrides any of the four (``subject``, ``body``, ``digest_subject``,
``digest_line``). Pure: ``now`` (epoch ms) is the moment of sending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from stream_sla.notify.model import Delivery, Message, Notice, Recipient
from stream_sla.notify.strikes import Strike

DEFAULT_TEMPLATES = {
    "subject": "{headline}: {action_short} lead {lead_id} {by_when}",
    "body": (
        "{greeting}\n\n"
        "{headline}: {action} for lead {lead_id}.\n"
        "Deadline: {deadline} ({timezone}), {left_or_late}.\n"
        "Rule: {rule_text} (policy segment {policy_segment}). Owner: {owner}, team {team}.\n"
        "Open the lead: {link}\n"
    ),
    "digest_subject": "{count} SLA reminders: {summary}",
    "digest_line": (
        "- {headline}: {action_short} lead {lead_id} by {deadline} ({left_or_late}) {link}"
    ),
}

NOTICE_FIELDS = (
    "headline", "greeting", "action", "action_short", "lead_id", "link", "deadline", "timezone",
    "by_when", "left_or_late", "rule", "rule_text", "severity", "policy_segment", "owner", "team",
    "recipient", "violation_id",
)  # fmt: skip
"""The fields of one notice's templates (subject, body, digest_line)."""
DIGEST_FIELDS = ("count", "summary", "recipient")
"""The fields of digest_subject."""

ACTIONS = {
    "first_touch": ("first contact", "make a first contact attempt (call, email, SMS)"),
    "attempts": ("follow up", "make the next follow-up attempt"),
    "disposition": (
        "disposition",
        "set the lead's status (accepted, qualified, disqualified or recycled)",
    ),
}
RULE_TEXT = {
    "first_touch": "first touch",
    "attempts": "follow-up attempts",
    "disposition": "disposition",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    link: str
    """The CRM link of the (first) lead, for channels that show a button."""


def duration_text(ms: int) -> str:
    """'1 h 5 min', '45 min', '2 d 3 h': a person reads it, so whole minutes at most."""
    minutes = abs(ms) // 60_000
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{mins} min" if mins else "",
    ]
    text = " ".join(p for p in parts if p)
    return text or "less than a minute"


def fields(delivery: Delivery, now: int, crm_link: str, owner_name: str | None) -> dict[str, str]:
    n: Notice = delivery.notice
    zone = ZoneInfo(delivery.recipient.timezone)
    deadline = datetime.fromtimestamp(n.deadline_at / 1000, tz=zone)
    short, action = ACTIONS.get(n.rule, (n.rule, n.rule))
    if n.rule == "attempts" and n.required_attempts:
        action = f"reach {n.required_attempts} follow-up attempts"
    left = n.deadline_at - now
    breach = n.severity == "breach"
    if n.severity == "reroute":
        away = owner_name or n.owner or "the owner"
        headline = f"Re-route: {away} is away"
        action = f"give the lead to someone available ({action} is still open)"
    elif delivery.escalation:
        headline = (
            f"Escalation: {owner_name or n.owner} missed the SLA"
            if breach
            else (f"Heads-up: {owner_name or n.owner} is close to an SLA deadline")
        )
    else:
        headline = "SLA breached" if breach else "Reminder"
    return {
        "headline": headline,
        "greeting": f"Hello {delivery.recipient.name},",
        "action": action if not breach else f"{action} now (the deadline has passed)",
        "action_short": short,
        "lead_id": n.lead_id,
        "link": crm_link.format(lead_id=n.lead_id, owner=n.owner or "", team=n.team or ""),
        "deadline": deadline.strftime("%a %d %b %H:%M"),
        "timezone": delivery.recipient.timezone,
        "by_when": f"by {deadline.strftime('%H:%M')}" if left > 0 else "(overdue)",
        "left_or_late": f"{duration_text(left)} left"
        if left > 0
        else f"{duration_text(left)} late",
        "rule": n.rule,
        "rule_text": RULE_TEXT.get(n.rule, n.rule),
        "severity": n.severity,
        "policy_segment": n.policy_segment,
        "owner": owner_name or n.owner or "unassigned",
        "team": n.team or "none",
        "recipient": delivery.recipient.name,
        "violation_id": n.id,
    }


def render(
    message: Message,
    now: int,
    crm_link: str,
    templates: dict[str, str] | None = None,
    owner_name: Callable[[str], str | None] = lambda _: None,
) -> Rendered:
    """``owner_name`` maps an owner id to a name (the directory's), for escalation texts."""
    t = {**DEFAULT_TEMPLATES, **(templates or {})}
    items = [fields(d, now, crm_link, owner_name(d.notice.owner or "")) for d in message.deliveries]
    if len(items) == 1:
        f = items[0]
        return Rendered(t["subject"].format(**f), t["body"].format(**f), f["link"])
    breaches = sum(1 for d in message.deliveries if d.notice.severity == "breach")
    summary = ", ".join(
        part
        for part in (
            f"{breaches} breached" if breaches else "",
            f"{len(items) - breaches} due soon" if len(items) > breaches else "",
        )
        if part
    )
    head = {"count": str(len(items)), "summary": summary, "recipient": message.recipient.name}
    lines = "\n".join(t["digest_line"].format(**f) for f in items)
    text = f"Hello {message.recipient.name},\n\n{len(items)} leads need you:\n{lines}\n"
    return Rendered(t["digest_subject"].format(**head), text, items[0]["link"])


def render_strike(strike: Strike, manager: Recipient, rep_name: str) -> Rendered:
    """The manager's notice of a strike: who, how many breaches in which window, which leads."""
    zone = ZoneInfo(manager.timezone)
    first = datetime.fromtimestamp(strike.first_deadline_at / 1000, tz=zone)
    last = datetime.fromtimestamp(strike.last_deadline_at / 1000, tz=zone)
    days = strike.within_ms / 86_400_000
    window = f"{days:g} day" + ("" if days == 1 else "s")
    subject = f"Strike: {rep_name} missed the SLA {len(strike.breach_ids)} times in {window}"
    text = (
        f"Hello {manager.name},\n\n{rep_name} (team {strike.team or 'none'}) breached the SLA"
        f" {len(strike.breach_ids)} times between {first:%a %d %b %H:%M} and"
        f" {last:%a %d %b %H:%M} ({manager.timezone}), on leads {', '.join(strike.lead_ids)}."
        f"\nThe agreement asks you to diagnose the shortfall with them.\nStrike id: {strike.id}\n"
    )
    return Rendered(subject, text, "")
