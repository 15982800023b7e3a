"""Policy files: the shipped ones load, and every mistake names file, line, path and fix."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from stream_sla.policy_file import load_policy
from stream_sla.sla.policy import Policy
from stream_sla.yamlfile import ConfigError

POLICIES = Path(__file__).resolve().parents[2] / "policies"
NY = ZoneInfo("America/New_York")
VALID_TAIL = """
  - name: default
    first_touch: {within: 1h}
"""


def ny_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=NY).timestamp() * 1000)  # type: ignore[misc]


def test_the_default_file_is_the_built_in_policy() -> None:
    policy = load_policy(POLICIES / "default.yaml")
    assert policy.segments == Policy().segments
    assert policy.marketing.monthly_mqls == 3_900


def test_the_example_matches_enterprise_leads_and_counts_business_hours_in_new_york() -> None:
    policy = load_policy(POLICIES / "example.yaml")
    segment = policy.segment_for({"segment": "enterprise", "source": "web_form"})
    assert segment.name == "enterprise"
    assert segment.first_touch is not None
    friday_1730 = ny_ms(2026, 11, 20, 17, 30)
    due = segment.first_touch.calendar.deadline(friday_1730, segment.first_touch.within_ms)
    assert due == ny_ms(2026, 11, 23, 9, 30)
    assert policy.segment_for({"segment": "smb", "source": "event"}).name == "default"
    assert policy.segment_for({"segment": "smb", "source": "event"}).attempts is None
    assert policy.marketing.weight("ceo") == 100
    assert policy.marketing.weight("intern") == 10


def broken(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_policy(path)
    return str(error.value).replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'version: "1"\nsegments:\n  - name: default\n    first_touch: {within: 90x}\n',
            "policy.yaml:4: segments[0].first_touch.within: '90x' is not a duration",
        ),
        (
            'version: "1"\nsegments:\n  - name: default\n    first_tuch: {within: 1h}\n',
            "policy.yaml:4: segments[0].first_tuch: unknown key 'first_tuch'",
        ),
        (
            'version: "1"\nsegments:\n  - name: default\n'
            "    first_touch: {within: 1h, calendar: office}\n",
            "policy.yaml:4: segments[0].first_touch.calendar: unknown calendar 'office'",
        ),
        (
            'version: "1"\ncalendars:\n  office:\n    timezone: Mars/Olympus\n'
            "segments:\n  - name: default\n",
            "policy.yaml:4: calendars.office.timezone: 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            'version: "1"\ncalendars:\n  office:\n    timezone: UTC\n    hours:\n'
            '      mon: ["18:00-09:00"]\nsegments:\n  - name: default\n',
            "policy.yaml:6: calendars.office.hours.mon[0]: '18:00-09:00' is not an opening range",
        ),
        (
            'version: "1"\nsegments:\n  - name: default\n'
            "    first_touch: {within: 1h, warn_at: 1.5}\n",
            "policy.yaml:4: segments[0].first_touch.warn_at: 1.5 is not a fraction",
        ),
        (
            'version: "1"\nsegments:\n  - name: default\n'
            "    first_touch: {within: 1h, warn_at: 0.5, warn_before: 10m}\n",
            "policy.yaml:4: segments[0].first_touch: give warn_at or warn_before, not both",
        ),
        ("segments:\n  - name: default\n", "policy.yaml:1: version: 'version' is required"),
        (
            'version: "1"\nsegments:\n  - name: smb\n    first_touch: {within: 1h}' + VALID_TAIL,
            "policy.yaml:3: segments[0]: segment 'smb' has no match",
        ),
        (
            'version: "1"\nsegments:\n  - name: default\n    match: {tier: smb}\n',
            "policy.yaml:4: segments[0].match: the last segment is the default",
        ),
        (
            'version: "1"\nsegments:\n  - name: default\n    attempts:\n      ladder:\n'
            "        - {attempts: 3, within: 14d}\n        - {attempts: 2, within: 28d}\n",
            "policy.yaml:7: segments[0].attempts.ladder[1]: each rung needs more attempts",
        ),
        (
            'version: "1"\nsegments:\n  - name: x\n    match: {tenure: long}' + VALID_TAIL,
            "policy.yaml:4: segments[0].match: cannot match on 'tenure'",
        ),
        ('version: "1"\nsegments: [\n', "policy.yaml:3: not valid YAML"),
        (
            'version: "1"\nsegments:\n  - name: default\n    first_touch: {within: 60}\n',
            "policy.yaml:4: segments[0].first_touch.within: 60 has no unit",
        ),
    ],
    ids=[
        "bad-duration",
        "typo-in-a-key",
        "unknown-calendar",
        "bad-time-zone",
        "bad-opening-hours",
        "warn-at-out-of-range",
        "warn-at-and-warn-before",
        "missing-version",
        "default-segment-not-last",
        "match-on-the-last-segment",
        "ladder-not-increasing",
        "match-on-an-unknown-field",
        "broken-yaml",
        "duration-without-unit",
    ],
)
def test_a_broken_policy_names_file_line_path_and_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in broken(tmp_path, text)
