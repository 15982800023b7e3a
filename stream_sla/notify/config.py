"""The notifier's routing file (YAML) -> :class:`NotifyConfig`, with errors at file:line.

Who is told, how, and when is configuration a sales-ops engineer edits, so it gets the
policy loader's treatment (``stream_sla.policy_file``): unknown keys, unknown channels,
unset secrets and bad durations stop start-up with file, line and what to write. The
README section "Reminders and escalations" has a complete example; in short::

    crm_link: "https://app.hubspot.com/contacts/123/record/0-1/{lead_id}"
    people: people.yaml                 # the people directory (owner id -> name, team, ...)
    working_hours: {mon: "09:00-18:00", tue: "09:00-18:00"}   # in each recipient's zone
    rate_limit: {messages: 5, per: 1h}  # per recipient and channel; beyond: one digest
    strikes: {breaches: 3, within: 30d, via: [manager-mail]}
    retry: {attempts: 6, first_delay: 1s, max_delay: 5m}
    channels:
      manager-mail: {type: smtp, host: smtp.example.com, port: 587, starttls: true,
                     username: sla-bot, password_env: SMTP_PASSWORD, sender: sla@example.com}
    routes:
      - {name: remind-rep, when: {severity: warning}, notify: [owner], via: [manager-mail]}

Secrets are never in the file: ``*_env`` keys name the environment variable holding them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from stream_sla import yamlfile
from stream_sla.notify.message import DIGEST_FIELDS, NOTICE_FIELDS
from stream_sla.policy_file import DayHours, Weekday, Zone, _located, _problem, _Strict
from stream_sla.sla.calendar import WEEKDAYS, Calendar
from stream_sla.sla.durations import parse_duration_ms

__all__ = ["ChannelConfig", "NotifyConfig", "Route", "load_notifications"]

SEVERITIES = ("warning", "breach", "reroute")
"""reroute: sla.reroutes (the owner is away, ``owner_away: escalate``); a route gets them only
when its ``when.severity`` names it, so older routing files change nothing."""
DEFAULT_SEVERITIES = ("warning", "breach")
RULES = ("first_touch", "attempts", "disposition")
WHO = ("owner", "manager", "team", "on_call")
"""owner: the rep holding the lead; manager: the owner's manager in the people directory;
team: the team's channel or address under ``teams``; on_call: the ``on_call`` entry."""


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration_ms(value)
        except ValueError as exc:
            raise _problem(str(exc)) from None
    return value


DurationMs = Annotated[int, BeforeValidator(_duration), Field(gt=0)]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Names = Annotated[list[str], BeforeValidator(_one_or_many)]


class _Secret(_Strict):
    """Channels whose secret is read from the environment at load time."""

    def secret(self, name: str) -> str:
        return os.environ.get(getattr(self, name) or "", "")


class Smtp(_Secret):
    type: Literal["smtp"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    starttls: bool = True
    """STARTTLS on the submission port (587); false only for a local relay or a test server."""
    ssl: bool = False
    """Implicit TLS (port 465) instead of STARTTLS."""
    username: str | None = None
    password_env: str | None = None
    sender: str
    cafile: str | None = None
    """CA bundle to verify the server (default: the system's)."""


class SlackWebhook(_Secret):
    type: Literal["slack_webhook"]
    url_env: str
    """Incoming-webhook URLs are secrets (anyone with one can post): read from the env."""


class SlackBot(_Secret):
    type: Literal["slack_bot"]
    token_env: str
    api_url: str = "https://slack.com/api"
    channel: str | None = None
    """A fixed channel; otherwise the recipient's chat handle (a member or channel id)."""


class TeamsWebhook(_Secret):
    type: Literal["teams_webhook"]
    url_env: str


class Webhook(_Secret):
    type: Literal["webhook"]
    url: str
    secret_env: str
    """HMAC-SHA256 key for the X-Stream-SLA-Signature header."""


class HubSpotTask(_Secret):
    type: Literal["hubspot_task"]
    token_env: str
    """A private app's access token (scope crm.objects.contacts.write)."""
    api_url: str = "https://api.hubapi.com"
    contact_association_type: int = 204
    """HubSpot-defined association type id task -> contact."""


class SalesforceTask(_Secret):
    type: Literal["salesforce_task"]
    instance_url: str
    token_env: str
    api_version: str = "v61.0"
    external_id_field: str = "Stream_SLA_Id__c"
    """A Text External ID field on Task: the upsert key that makes retries idempotent."""


class PipedriveActivity(_Secret):
    type: Literal["pipedrive_activity"]
    api_url: str
    """The company domain, e.g. https://acme.pipedrive.com."""
    token_env: str
    activity_type: str = "task"


ChannelConfig = Annotated[
    Smtp
    | SlackWebhook
    | SlackBot
    | TeamsWebhook
    | Webhook
    | HubSpotTask
    | SalesforceTask
    | PipedriveActivity,
    Field(discriminator="type"),
]
CRM_TASKS = ("hubspot_task", "salesforce_task", "pipedrive_activity")


class _When(_Strict):
    severity: Names = Field(default_factory=lambda: list(DEFAULT_SEVERITIES))
    rule: Names = Field(default_factory=lambda: list(RULES))
    team: Names | None = None
    segment: Names | None = None
    """The policy segment (``policy_segment`` of the record) or the lead's own segment."""

    @field_validator("severity")
    @classmethod
    def _severities(cls, value: list[str]) -> list[str]:
        return _known(value, SEVERITIES)

    @field_validator("rule")
    @classmethod
    def _rules(cls, value: list[str]) -> list[str]:
        return _known(value, RULES)


def _known(values: list[str], allowed: tuple[str, ...]) -> list[str]:
    for i, value in enumerate(values):
        if value not in allowed:
            raise _problem(f"{value!r} is not one of {', '.join(allowed)}", i)
    return values


class _Route(_Strict):
    name: str
    when: _When = Field(default_factory=_When)
    notify: Names
    via: Names
    urgent: bool = False
    """Urgent routes ignore quiet hours and the rate limit (a breach at 02:00 to on-call)."""

    @field_validator("notify")
    @classmethod
    def _who(cls, value: list[str]) -> list[str]:
        return _known(value, WHO)


class _Contact(_Strict):
    name: str | None = None
    email: str | None = None
    chat: str | None = None
    timezone: Zone = "UTC"


class _RateLimit(_Strict):
    messages: Annotated[int, Field(ge=1)] = 5
    per: DurationMs = parse_duration_ms("1h")


class _Strikes(_Strict):
    breaches: Annotated[int, Field(ge=1)] = 3
    within: DurationMs = parse_duration_ms("30d")
    via: Names = Field(default_factory=list)


class _Retry(_Strict):
    attempts: Annotated[int, Field(ge=1)] = 6
    first_delay: DurationMs = 1000
    max_delay: DurationMs = parse_duration_ms("5m")


class _Templates(_Strict):
    """Python format strings; the fields they may use are listed in the README."""

    subject: str | None = None
    body: str | None = None
    digest_subject: str | None = None
    digest_line: str | None = None

    @model_validator(mode="after")
    def _fields_exist(self) -> _Templates:
        for name in ("subject", "body", "digest_subject", "digest_line"):
            text = getattr(self, name)
            known = DIGEST_FIELDS if name == "digest_subject" else NOTICE_FIELDS
            if text is None:
                continue
            try:
                text.format(**dict.fromkeys(known, ""))
            except (KeyError, IndexError, ValueError) as exc:
                raise _problem(
                    f"{text!r}: {exc!s} is not a field here (use {', '.join(known)})", name
                ) from None
        return self


class _Notifications(_Strict):
    crm_link: str = "{lead_id}"
    people: str | None = None
    working_hours: dict[Weekday, DayHours] | None = None
    team_hours: dict[str, dict[Weekday, DayHours]] = Field(default_factory=dict)
    rate_limit: _RateLimit = Field(default_factory=_RateLimit)
    strikes: _Strikes = Field(default_factory=_Strikes)
    retry: _Retry = Field(default_factory=_Retry)
    on_call: _Contact | None = None
    teams: dict[str, _Contact] = Field(default_factory=dict)
    channels: dict[str, ChannelConfig]
    routes: list[_Route]
    templates: _Templates = Field(default_factory=_Templates)

    @field_validator("working_hours")
    @classmethod
    def _opens(cls, hours: dict[str, Any] | None) -> dict[str, Any] | None:
        if hours is not None and not any(hours.values()):
            raise _problem("never open: give at least one day's hours (leave it out for 24/7)")
        return hours

    @field_validator("crm_link")
    @classmethod
    def _link(cls, value: str) -> str:
        try:
            value.format(lead_id="L-1", owner="o", team="t")
        except (KeyError, IndexError, ValueError) as exc:
            raise _problem(
                f"{value!r}: use {{lead_id}}, {{owner}} or {{team}} only ({exc})"
            ) from None
        return value

    @model_validator(mode="after")
    def _references(self) -> _Notifications:
        known = ", ".join(self.channels) or "none defined under channels"
        for i, route in enumerate(self.routes):
            for j, name in enumerate(route.via):
                if name not in self.channels:
                    raise _problem(
                        f"unknown channel {name!r} (known: {known})", "routes", i, "via", j
                    )
                kind = self.channels[name].type
                if kind in CRM_TASKS and route.notify != ["owner"]:
                    raise _problem(
                        f"{name!r} creates a CRM task for the lead's owner: use it in a route"
                        " with notify: [owner] only",
                        "routes", i, "via", j,
                    )  # fmt: skip
            if "on_call" in route.notify and self.on_call is None:
                raise _problem("notify: on_call needs an on_call entry (name, email, chat)",
                               "routes", i, "notify")  # fmt: skip
        for j, name in enumerate(self.strikes.via):
            if name not in self.channels:
                raise _problem(f"unknown channel {name!r} (known: {known})", "strikes", "via", j)
        for name, channel in self.channels.items():
            for key in ("password_env", "url_env", "token_env", "secret_env"):
                env = getattr(channel, key, None)
                if env and not os.environ.get(env):
                    raise _problem(
                        f"environment variable {env} is not set (it holds this channel's secret)",
                        "channels", name, key,
                    )  # fmt: skip
        return self


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    severities: frozenset[str]
    rules: frozenset[str]
    teams: frozenset[str] | None
    segments: frozenset[str] | None
    notify: tuple[str, ...]
    via: tuple[str, ...]
    urgent: bool


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    email: str | None
    chat: str | None
    timezone: str


@dataclass(frozen=True)
class NotifyConfig:
    """The validated routing file; ``channels`` keep their pydantic models (settings only)."""

    routes: tuple[Route, ...]
    channels: dict[str, Any]
    crm_link: str = "{lead_id}"
    people_file: Path | None = None
    working_hours: Calendar = field(default_factory=Calendar)
    team_hours: dict[str, Calendar] = field(default_factory=dict)
    rate_limit_messages: int = 5
    rate_limit_per_ms: int = 3_600_000
    strike_breaches: int = 3
    strike_within_ms: int = 30 * 86_400_000
    strike_via: tuple[str, ...] = ()
    retry_attempts: int = 6
    retry_first_delay_ms: int = 1000
    retry_max_delay_ms: int = 300_000
    on_call: Contact | None = None
    teams: dict[str, Contact] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)

    def hours_for(self, team: str | None, timezone: str) -> Calendar:
        """Working hours of a recipient: their team's, else the default, in their zone."""
        base = self.team_hours.get(team or "", self.working_hours)
        if base.hours is None:
            return Calendar("24x7", timezone)
        return Calendar(base.name, timezone, base.hours)


def load_notifications(path: Path) -> NotifyConfig:
    """The routing file at ``path``; raises :class:`yamlfile.ConfigError` on any problem."""
    document = yamlfile.load(path)
    if document.data is None:
        raise document.error((), "the file is empty: it needs channels and routes")
    try:
        model = _Notifications.model_validate(document.data)
    except ValidationError as exc:
        raise _located(document, exc) from None
    return _build(model, path)


def _hours(name: str, hours: Mapping[Any, Any] | None) -> Calendar:
    if hours is None:
        return Calendar(name)
    return Calendar(name, "UTC", {WEEKDAYS.index(d): r for d, r in hours.items() if r})


def _contact(name: str, c: _Contact) -> Contact:
    return Contact(c.name or name, c.email, c.chat, c.timezone)


def _build(m: _Notifications, path: Path) -> NotifyConfig:
    routes = tuple(
        Route(
            r.name,
            frozenset(r.when.severity),
            frozenset(r.when.rule),
            frozenset(r.when.team) if r.when.team is not None else None,
            frozenset(r.when.segment) if r.when.segment is not None else None,
            tuple(r.notify),
            tuple(r.via),
            r.urgent,
        )
        for r in m.routes
    )
    templates = {k: v for k, v in m.templates.model_dump().items() if v is not None}
    return NotifyConfig(
        routes=routes,
        channels=dict(m.channels),
        crm_link=m.crm_link,
        people_file=(path.parent / m.people) if m.people else None,
        working_hours=_hours("working-hours", m.working_hours),
        team_hours={t: _hours(f"team-{t}", h) for t, h in m.team_hours.items()},
        rate_limit_messages=m.rate_limit.messages,
        rate_limit_per_ms=m.rate_limit.per,
        strike_breaches=m.strikes.breaches,
        strike_within_ms=m.strikes.within,
        strike_via=tuple(m.strikes.via),
        retry_attempts=m.retry.attempts,
        retry_first_delay_ms=m.retry.first_delay,
        retry_max_delay_ms=m.retry.max_delay,
        on_call=_contact("on-call", m.on_call) if m.on_call else None,
        teams={name: _contact(name, c) for name, c in m.teams.items()},
        templates=templates,
    )
