"""Routing files, people and notices shared by the notifier tests (no I/O of their own)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from stream_sla.notify.model import Notice
from stream_sla.people import PeopleDirectory, Person
from stream_sla.sla.timestamps import format_ms

# Mon 2026-11-02 15:00 UTC = 10:00 in New York (EST), 15:00 in London (GMT).
MONDAY_10_NY = 1_793_631_600_000
HOUR = 3_600_000
MINUTE = 60_000
DAY = 24 * HOUR

PEOPLE = PeopleDirectory(
    [
        Person("100", "Grace Hopper", "smb-east", None, "grace@example.com", "U0GRACE",
               "America/New_York"),
        Person("200", "Ana Silva", "smb-east", "100", "ana@example.com", "U0ANA",
               "America/New_York"),
        Person("300", "Ben Okafor", "emea", "100", "ben@example.com", None, "Europe/London"),
    ]
)  # fmt: skip


def notice(
    lead: str = "L-1",
    severity: str = "warning",
    rule: str = "first_touch",
    owner: str | None = "200",
    team: str | None = "smb-east",
    deadline_at: int = MONDAY_10_NY + 15 * MINUTE,
    **extra: Any,
) -> Notice:
    record = {
        "id": f"{lead}-{rule}-{severity}",
        "severity": severity,
        "rule": rule,
        "lead_id": lead,
        "handed_at": format_ms(deadline_at - HOUR),
        "deadline_at": format_ms(deadline_at),
        "detected_at": format_ms(deadline_at - (15 * MINUTE if severity == "warning" else 0)),
        "target_seconds": 3600,
        "owner": owner,
        "team": team,
        "source": "web_form",
        "segment": "smb",
        "policy_segment": "default",
        "policy_version": "test-1",
        **extra,
    }
    return Notice.from_record(record)


ROUTING = """\
crm_link: "https://crm.example.com/leads/{lead_id}"
working_hours:
  mon: "09:00-18:00"
  tue: "09:00-18:00"
  wed: "09:00-18:00"
  thu: "09:00-18:00"
  fri: "09:00-18:00"
rate_limit: {messages: 2, per: 1h}
strikes: {breaches: 3, within: 30d, via: [mail]}
retry: {attempts: 4, first_delay: 1s, max_delay: 1m}
teams:
  smb-east: {name: SMB East, chat: "#smb-east", timezone: America/New_York}
on_call: {name: RevOps on-call, email: oncall@example.com, timezone: UTC}
channels:
  mail: {type: smtp, host: 127.0.0.1, port: 2525, starttls: false, sender: sla@example.com}
  hook: {type: webhook, url: "http://127.0.0.1:1/hook", secret_env: TEST_HOOK_SECRET}
  crm: {type: hubspot_task, token_env: TEST_HUBSPOT_TOKEN, api_url: "http://127.0.0.1:1"}
routes:
  - name: remind-rep
    when: {severity: warning}
    notify: [owner]
    via: [mail, crm]
  - name: escalate
    when: {severity: breach}
    notify: [owner, manager]
    via: [mail]
  - name: team-room
    when: {severity: breach, team: smb-east}
    notify: [team]
    via: [hook]
  - name: page
    when: {severity: breach, rule: first_touch}
    notify: [on_call]
    via: [mail]
    urgent: true
"""


def write(tmp_path: Path, text: str, name: str = "notifications.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path
