"""What a CRM's values mean to the SLA: statuses, call outcomes, which activities count.

Every CRM is configured differently (HubSpot lead statuses are per portal, Salesforce
``Status`` picklists per org, call dispositions are ids or free text), so the
translators read these answers from a file RevOps edits, ``crm-mappings.yaml``.
Whatever a file leaves out keeps the defaults below, which fit a CRM as it ships::

    default_team: unassigned         # team of an owner missing from the people directory
    hubspot:
      owner_property: hubspot_owner_id
      source_property: hs_analytics_source
      default_source: unknown        # lead-created needs a source; a webhook may carry none
      statuses:                      # property -> {vendor value: canonical status}
        hs_lead_status: {UNQUALIFIED: disqualified, OPEN_DEAL: qualified}
        lifecyclestage: {salesqualifiedlead: qualified, opportunity: qualified, customer: won}
      dispositions:                  # hs_call_disposition id -> outcome
        f240bbac-87c9-4f6e-bf70-924b57d47db7: connected
      attempts:                      # activity types that count, and their outcome when
        call: {channel: call, outcome: no_answer}    # the payload says none
        email: {channel: email, outcome: sent}
        meeting: {channel: meeting, outcome: connected}
    pipedrive:
      source_field: source_name
      statuses: {archived: disqualified}             # a lead archived
      attempts: {call: {channel: call, outcome: no_answer}, ...}
    salesforce:
      source_field: LeadSource
      statuses: {"Closed - Converted": qualified, "Closed - Not Converted": disqualified}
      dispositions: {"Left Voicemail": voicemail}     # Task.CallDisposition (free text)
      attempts: {Call: {channel: call, outcome: no_answer}, Email: {channel: email, outcome: sent}}

Canonical statuses are accepted, qualified, disqualified, recycled, won, lost;
channels call, email, sms, social, meeting; outcomes no_answer, voicemail, sent,
replied, connected, bad_contact. A vendor value not listed is not a disposition
(e.g. HubSpot ``IN_PROGRESS``) and produces no event. Mistakes raise
:class:`~stream_sla.yamlfile.ConfigError` with file, line, path and what to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from stream_sla import yamlfile
from stream_sla.sla.events import Channel, LeadStatus, Outcome

__all__ = ["Attempt", "HubSpotMappings", "Mappings", "load_mappings"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """An activity type that counts as a contact attempt; ``outcome`` when none is known."""

    channel: Channel
    outcome: Outcome


_DEFAULT_ATTEMPTS = {
    "call": Attempt(Channel.CALL, Outcome.NO_ANSWER),
    "email": Attempt(Channel.EMAIL, Outcome.SENT),
    "meeting": Attempt(Channel.MEETING, Outcome.CONNECTED),
}

# HubSpot's default call dispositions (the ids every portal ships with; custom ones are added
# in the file). Source: HubSpot "Calls" engagement API, hs_call_disposition.
_HUBSPOT_DISPOSITIONS = {
    "f240bbac-87c9-4f6e-bf70-924b57d47db7": Outcome.CONNECTED,
    "a4c4c377-d246-4b32-a13b-75a56a4cd0ff": Outcome.VOICEMAIL,  # left live message
    "b2cf5968-551e-4856-9783-52b3da59a7d0": Outcome.VOICEMAIL,  # left voicemail
    "73a0d17f-1163-4015-bdd5-ec830791da20": Outcome.NO_ANSWER,
    "9d9162e7-6cf3-4944-bf63-4dff82258764": Outcome.NO_ANSWER,  # busy
    "17b47fee-58de-441e-a44c-c6300d46f273": Outcome.BAD_CONTACT,  # wrong number
}


@dataclass(frozen=True, slots=True)
class HubSpotMappings:
    owner_property: str = "hubspot_owner_id"
    source_property: str = "hs_analytics_source"
    default_source: str = "unknown"
    statuses: Mapping[str, Mapping[str, LeadStatus]] = field(
        default_factory=lambda: {
            "hs_lead_status": {
                "UNQUALIFIED": LeadStatus.DISQUALIFIED,
                "OPEN_DEAL": LeadStatus.QUALIFIED,
                "BAD_TIMING": LeadStatus.RECYCLED,
            },
            "lifecyclestage": {
                "salesqualifiedlead": LeadStatus.QUALIFIED,
                "opportunity": LeadStatus.QUALIFIED,
                "customer": LeadStatus.WON,
            },
        }
    )
    dispositions: Mapping[str, Outcome] = field(default_factory=lambda: dict(_HUBSPOT_DISPOSITIONS))
    attempts: Mapping[str, Attempt] = field(default_factory=lambda: dict(_DEFAULT_ATTEMPTS))


@dataclass(frozen=True, slots=True)
class PipedriveMappings:
    source_field: str = "source_name"
    default_source: str = "unknown"
    statuses: Mapping[str, LeadStatus] = field(
        default_factory=lambda: {"archived": LeadStatus.DISQUALIFIED}
    )
    attempts: Mapping[str, Attempt] = field(default_factory=lambda: dict(_DEFAULT_ATTEMPTS))


@dataclass(frozen=True, slots=True)
class SalesforceMappings:
    source_field: str = "LeadSource"
    default_source: str = "unknown"
    statuses: Mapping[str, LeadStatus] = field(
        default_factory=lambda: {
            "Closed - Converted": LeadStatus.QUALIFIED,
            "Closed - Not Converted": LeadStatus.DISQUALIFIED,
        }
    )
    dispositions: Mapping[str, Outcome] = field(default_factory=dict)
    attempts: Mapping[str, Attempt] = field(
        default_factory=lambda: {
            "Call": Attempt(Channel.CALL, Outcome.NO_ANSWER),
            "Email": Attempt(Channel.EMAIL, Outcome.SENT),
        }
    )


@dataclass(frozen=True, slots=True)
class Mappings:
    default_team: str = "unassigned"
    hubspot: HubSpotMappings = field(default_factory=HubSpotMappings)
    pipedrive: PipedriveMappings = field(default_factory=PipedriveMappings)
    salesforce: SalesforceMappings = field(default_factory=SalesforceMappings)


def load_mappings(path: Path | None) -> Mappings:
    """The mappings in ``path`` over the defaults (``None``: the defaults alone)."""
    if path is None:
        return Mappings()
    document = yamlfile.load(path)
    return _Reader(document).mappings()


E = TypeVar("E", Channel, LeadStatus, Outcome)

_SECTIONS = {
    "hubspot": ("owner_property", "source_property", "default_source", "statuses", "dispositions",
                "attempts"),
    "pipedrive": ("source_field", "default_source", "statuses", "attempts"),
    "salesforce": ("source_field", "default_source", "statuses", "dispositions", "attempts"),
}  # fmt: skip


class _Reader:
    """Walks the document; every check raises at the line of the value it is about."""

    def __init__(self, document: yamlfile.YamlDocument) -> None:
        self.document = document

    def fail(self, at: tuple[str | int, ...], problem: str) -> yamlfile.ConfigError:
        return self.document.error(at, problem)

    def mappings(self) -> Mappings:
        data = self.document.data
        if data is None:
            return Mappings()
        if not isinstance(data, dict):
            raise self.fail((), "expected a mapping with hubspot, pipedrive, salesforce sections")
        self.keys(data, (), ("default_team", *_SECTIONS))
        result = Mappings()
        team = self.text(data, ("default_team",), result.default_team)
        hubspot = self.section(data, "hubspot")
        pipedrive = self.section(data, "pipedrive")
        salesforce = self.section(data, "salesforce")
        h, p, s = result.hubspot, result.pipedrive, result.salesforce
        return Mappings(
            default_team=team,
            hubspot=HubSpotMappings(
                owner_property=self.text(hubspot, ("hubspot", "owner_property"), h.owner_property),
                source_property=self.text(
                    hubspot, ("hubspot", "source_property"), h.source_property
                ),
                default_source=self.text(hubspot, ("hubspot", "default_source"), h.default_source),
                statuses=self.nested_statuses(hubspot, h.statuses),
                dispositions=self.choices(hubspot, "hubspot", "dispositions", Outcome)
                or h.dispositions,
                attempts=self.attempts(hubspot, "hubspot") or h.attempts,
            ),
            pipedrive=PipedriveMappings(
                source_field=self.text(pipedrive, ("pipedrive", "source_field"), p.source_field),
                default_source=self.text(
                    pipedrive, ("pipedrive", "default_source"), p.default_source
                ),
                statuses=self.choices(pipedrive, "pipedrive", "statuses", LeadStatus) or p.statuses,
                attempts=self.attempts(pipedrive, "pipedrive") or p.attempts,
            ),
            salesforce=SalesforceMappings(
                source_field=self.text(salesforce, ("salesforce", "source_field"), s.source_field),
                default_source=self.text(
                    salesforce, ("salesforce", "default_source"), s.default_source
                ),
                statuses=self.choices(salesforce, "salesforce", "statuses", LeadStatus)
                or s.statuses,
                dispositions=self.choices(salesforce, "salesforce", "dispositions", Outcome)
                or s.dispositions,
                attempts=self.attempts(salesforce, "salesforce") or s.attempts,
            ),
        )

    def keys(self, data: dict[Any, Any], at: tuple[str | int, ...], known: tuple[str, ...]) -> None:
        for key in data:
            if key not in known:
                raise self.fail((*at, str(key)), f"unknown key; use one of {', '.join(known)}")

    def section(self, data: dict[Any, Any], name: str) -> dict[Any, Any]:
        value = data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail((name,), f"expected a mapping of {name} settings")
        self.keys(value, (name,), _SECTIONS[name])
        return value

    def text(self, data: dict[Any, Any], at: tuple[str, ...], default: str) -> str:
        value = data.get(at[-1])
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(at, f"{value!r} is not text; write e.g. {at[-1]}: {default}")
        return value

    def mapping(self, data: dict[Any, Any], at: tuple[str, ...]) -> dict[Any, Any]:
        value = data.get(at[-1])
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(at, "expected a mapping of vendor value: our value")
        return value

    def choice(self, value: Any, at: tuple[str | int, ...], kind: type[E]) -> E:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise self.fail(at, f"{value!r} is not one of {allowed}") from None

    def choices(self, data: dict[Any, Any], section: str, name: str, kind: type[E]) -> dict[str, E]:
        at: tuple[str, ...] = (section, name)
        return {
            str(vendor): self.choice(ours, (*at, vendor), kind)
            for vendor, ours in self.mapping(data, at).items()
        }

    def nested_statuses(
        self, data: dict[Any, Any], default: Mapping[str, Mapping[str, LeadStatus]]
    ) -> Mapping[str, Mapping[str, LeadStatus]]:
        at = ("hubspot", "statuses")
        properties = self.mapping(data, at)
        result: dict[str, dict[str, LeadStatus]] = {}
        for prop, values in properties.items():
            if not isinstance(values, dict):
                raise self.fail(
                    (*at, prop), f"expected {{vendor value: status}} for the property {prop}"
                )
            result[str(prop)] = {
                str(v): self.choice(ours, (*at, prop, v), LeadStatus) for v, ours in values.items()
            }
        return result or default

    def attempts(self, data: dict[Any, Any], section: str) -> dict[str, Attempt]:
        at = (section, "attempts")
        result: dict[str, Attempt] = {}
        for kind, spec in self.mapping(data, at).items():
            where = (*at, str(kind))
            if not isinstance(spec, dict) or set(spec) != {"channel", "outcome"}:
                raise self.fail(
                    where, "expected {channel: call, outcome: no_answer} (both keys, nothing else)"
                )
            result[str(kind)] = Attempt(
                self.choice(spec["channel"], (*where, "channel"), Channel),
                self.choice(spec["outcome"], (*where, "outcome"), Outcome),
            )
        return result
