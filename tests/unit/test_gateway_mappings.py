"""CRM mappings files: the shipped example loads; every mistake names file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_sla.gateway.mappings import Attempt, Mappings, load_mappings
from stream_sla.people import load_people
from stream_sla.sla.events import Channel, LeadStatus, Outcome
from stream_sla.yamlfile import ConfigError

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "gateway"


def test_the_shipped_example_loads_and_says_what_the_defaults_say() -> None:
    example, defaults = load_mappings(DEPLOY / "crm-mappings.yaml"), Mappings()
    assert example.hubspot.statuses == defaults.hubspot.statuses
    assert example.hubspot.dispositions == defaults.hubspot.dispositions
    assert example.pipedrive == defaults.pipedrive
    assert example.salesforce.dispositions["Left Voicemail"] is Outcome.VOICEMAIL
    assert len(load_people(DEPLOY / "people.example.csv")) == 3


def test_a_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "default_team: inbound\n"
        "hubspot:\n  statuses:\n    hs_lead_status: {CONNECTED: accepted}\n"
        "pipedrive:\n  attempts:\n    linkedin: {channel: social, outcome: sent}\n"
    )
    mappings = load_mappings(path)
    assert mappings.default_team == "inbound"
    assert mappings.hubspot.statuses == {"hs_lead_status": {"CONNECTED": LeadStatus.ACCEPTED}}
    assert mappings.pipedrive.attempts == {"linkedin": Attempt(Channel.SOCIAL, Outcome.SENT)}
    assert mappings.salesforce == Mappings().salesforce
    assert load_mappings(None) == Mappings()


@pytest.mark.parametrize(
    ("text", "line", "where", "problem"),
    [
        ("hubspot: [1]\n", 1, "hubspot", "expected a mapping"),
        ("zoho: {}\n", 1, "zoho", "unknown key; use one of default_team, hubspot"),
        ("hubspot:\n  owner_prop: x\n", 2, "hubspot.owner_prop", "unknown key"),
        (
            "hubspot:\n  statuses:\n    hs_lead_status: {UNQUALIFIED: nope}\n",
            3,
            "hubspot.statuses.hs_lead_status.UNQUALIFIED",
            "'nope' is not one of accepted, qualified",
        ),
        (
            "hubspot:\n  statuses:\n    hs_lead_status: qualified\n",
            3,
            "hubspot.statuses.hs_lead_status",
            "expected {vendor value: status}",
        ),
        (
            "salesforce:\n  dispositions:\n    Busy: busy\n",
            3,
            "salesforce.dispositions.Busy",
            "'busy' is not one of no_answer",
        ),
        (
            "pipedrive:\n  attempts:\n    call: call\n",
            3,
            "pipedrive.attempts.call",
            "expected {channel: call, outcome: no_answer}",
        ),
        (
            "pipedrive:\n  attempts:\n    call:\n      channel: phone\n      outcome: sent\n",
            4,
            "pipedrive.attempts.call.channel",
            "'phone' is not one of call, email",
        ),
        ("default_team: 3\n", 1, "default_team", "3 is not text"),
        ("- a\n", 1, "", "expected a mapping with hubspot"),
    ],
    ids=[
        "section-not-mapping",
        "unknown-vendor",
        "typo-key",
        "unknown-status",
        "status-not-mapping",
        "unknown-outcome",
        "attempt-not-mapping",
        "unknown-channel",
        "team-not-text",
        "file-not-mapping",
    ],
)
def test_a_broken_mappings_file_names_file_line_path_and_fix(
    tmp_path: Path, text: str, line: int, where: str, problem: str
) -> None:
    path = tmp_path / "crm-mappings.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_mappings(path)
    assert (caught.value.file, caught.value.line, caught.value.where) == (str(path), line, where)
    assert problem in caught.value.problem
