"""The routing file: a complete one loads; every mistake names file, line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_sla.notify.config import load_notifications
from stream_sla.yamlfile import ConfigError

from .fixtures import ROUTING, write


def test_complete_routing_file_loads(tmp_path: Path) -> None:
    config = load_notifications(write(tmp_path, ROUTING))
    assert [r.name for r in config.routes] == ["remind-rep", "escalate", "team-room", "page"]
    assert config.rate_limit_messages == 2 and config.rate_limit_per_ms == 3_600_000
    assert config.strike_breaches == 3 and config.strike_within_ms == 30 * 86_400_000
    assert config.routes[3].urgent and config.routes[2].teams == frozenset({"smb-east"})
    assert config.channels["mail"].starttls is False


def test_readme_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's complete example is a file that loads, not prose."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Reminders and escalations", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    secrets = "SMTP_PASSWORD SLACK_BOT_TOKEN TEAMS_WEBHOOK_URL HOOK_SECRET HUBSPOT_TOKEN"
    for env in (*secrets.split(), "SALESFORCE_TOKEN", "PIPEDRIVE_TOKEN", "SLACK_WEBHOOK_URL"):
        monkeypatch.setenv(env, "set")
    (tmp_path / "people.yaml").write_text("people: [{id: '1', name: A, team: t}]\n")
    config = load_notifications(write(tmp_path, example))
    kinds = {c.type for c in config.channels.values()}
    assert len(kinds) == 8 and len(config.routes) == 5  # every channel kind, every kind of who
    assert config.routes[4].severities == frozenset({"reroute"})
    assert {w for r in config.routes for w in r.notify} == {"owner", "manager", "team", "on_call"}


def test_readme_metrics_table_is_the_catalog() -> None:
    from stream_sla.notify.metrics import reference_table

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert reference_table() in readme


BROKEN = [
    (
        "unknown-key",
        ROUTING.replace("rate_limit:", "rate_limits:"),
        r"notifications.yaml:\d+: rate_limits: unknown key 'rate_limits'",
    ),
    (
        "unknown-channel",
        ROUTING.replace("via: [mail, crm]", "via: [mail, sms]"),
        r"notifications.yaml:22: routes\[0\].via\[1\]: "
        r"unknown channel 'sms' \(known: mail, hook, crm\)",
    ),
    (
        "bad-severity",
        ROUTING.replace("when: {severity: warning}", "when: {severity: warn}"),
        r"notifications.yaml:20: routes\[0\].when.severity\[0\]: "
        r"'warn' is not one of warning, breach",
    ),
    (
        "bad-who",
        ROUTING.replace("notify: [owner, manager]", "notify: [owner, boss]"),
        r"notifications.yaml:25: routes\[1\].notify\[1\]: "
        r"'boss' is not one of owner, manager, team, on_call",
    ),
    (
        "bad-duration",
        ROUTING.replace("per: 1h", "per: 1hour"),
        r"notifications.yaml:8: rate_limit.per: '1hour' is not a duration \(use e.g. 90s",
    ),
    (
        "unset-secret",
        ROUTING.replace("TEST_HOOK_SECRET", "NOT_SET_ANYWHERE"),
        r"notifications.yaml:16: channels.hook.secret_env: "
        r"environment variable NOT_SET_ANYWHERE is not set",
    ),
    (
        "crm-task-to-manager",
        ROUTING.replace(
            "notify: [owner, manager]\n    via: [mail]", "notify: [owner, manager]\n    via: [crm]"
        ),
        r"notifications.yaml:26: routes\[1\].via\[0\]: "
        r"'crm' creates a CRM task for the lead's owner",
    ),
    (
        "unknown-channel-type",
        ROUTING.replace("type: webhook", "type: pager"),
        r"notifications.yaml:16: channels.hook(.type)?: "
        r".*(does not match any of the expected tags|pager)",
    ),
    (
        "template-field",
        ROUTING + "templates: {subject: 'Call {lead} now'}\n",
        r"notifications.yaml:\d+: templates.subject: "
        r"'Call \{lead\} now': 'lead' is not a field here",
    ),
    (
        "crm-link-field",
        ROUTING.replace("{lead_id}", "{lead}"),
        r"notifications.yaml:1: crm_link: .*use \{lead_id\}",
    ),
    (
        "bad-hours",
        ROUTING.replace('mon: "09:00-18:00"', 'mon: "9 to 6"'),
        r"notifications.yaml:3: working_hours.mon",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_mistake_is_refused_with_file_line_and_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_notifications(write(tmp_path, text))


def test_empty_file_says_what_it_needs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty: it needs channels and routes"):
        load_notifications(write(tmp_path, ""))
