"""Policy files: the shipped ones load, and every mistake names file, line, path and fix."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from stream_sla import policy_file
from stream_sla.policy_file import load_policy
from stream_sla.sla.calendar import ALWAYS_OPEN
from stream_sla.sla.policy import NO_WARNING, Policy, Segment, WarnAt
from stream_sla.sla.timestamps import MS_PER_MINUTE
from stream_sla.yamlfile import ConfigError

POLICIES = Path(__file__).resolve().parents[2] / "policies"
NY = ZoneInfo("America/New_York")


def ny_ms(year: int, month: int, day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=NY).timestamp() * 1000)


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("name", ["default.yaml", "example.yaml"], ids=["default", "example"])
def test_the_shipped_policies_load(name: str) -> None:
    assert load_policy(POLICIES / name).segments


def test_the_default_file_is_the_built_in_textbook_policy() -> None:
    policy, built_in = load_policy(POLICIES / "default.yaml"), Policy()
    assert policy.version == built_in.version
    assert policy.segments == built_in.segments
    assert (policy.reassignment, policy.lateness) == (built_in.reassignment, built_in.lateness)
    assert policy.calendars == built_in.calendars
    assert policy.marketing.monthly_mqls == 3_900
    assert [policy.marketing.weight(p) for p in ("ceo", "director", "manager")] == [100, 50, 40]


@pytest.mark.parametrize(
    ("lead", "segment"),
    [
        ({"tier": "enterprise", "region": "na"}, "enterprise"),
        ({"tier": "strategic", "region": "na", "source": "event"}, "enterprise"),
        (
            {"tier": "enterprise", "region": "emea", "segment": "enterprise"},
            "enterprise-follow-the-sun",
        ),
        ({"segment": "smb", "source": "web_form"}, "inbound-smb"),
        ({"segment": "smb", "source": "event"}, "default"),
        ({}, "default"),
    ],
    ids=["enterprise-na", "strategic-na", "enterprise-emea", "inbound-smb", "outbound-smb", "bare"],
)
def test_the_example_routes_leads_to_the_first_matching_segment(
    lead: dict[str, str | None], segment: str
) -> None:
    assert load_policy(POLICIES / "example.yaml").segment_for(lead).name == segment


@pytest.mark.parametrize(
    ("handed_off", "due"),
    [
        (ny_ms(2026, 11, 20, 17, 30), ny_ms(2026, 11, 23, 9, 30)),
        (ny_ms(2026, 11, 18, 11, 30), ny_ms(2026, 11, 18, 13, 30)),
        (ny_ms(2026, 11, 25, 17, 30), ny_ms(2026, 11, 27, 9, 30)),
        (ny_ms(2026, 11, 10, 9, 0), ny_ms(2026, 11, 10, 11, 0)),
        (ny_ms(2026, 11, 21, 12, 0), ny_ms(2026, 11, 23, 10, 0)),
    ],
    ids=[
        "friday-evening-to-monday",
        "wednesday-lunch-break",
        "thanksgiving",
        "crm-outage-pause",
        "saturday-to-monday",
    ],
)
def test_the_enterprise_first_touch_counts_new_york_business_hours(
    handed_off: int, due: int
) -> None:
    rule = load_policy(POLICIES / "example.yaml").segment_for(
        {"tier": "enterprise", "region": "na"}
    )
    assert rule.first_touch is not None
    assert rule.first_touch.calendar.deadline(handed_off, rule.first_touch.within_ms) == due


def test_rules_naming_one_calendar_share_one_calendar_object() -> None:
    policy = load_policy(POLICIES / "example.yaml")
    enterprise = policy.segments[0]
    assert enterprise.first_touch is not None and enterprise.disposition is not None
    assert enterprise.first_touch.calendar is policy.calendars["ny-business"]
    assert enterprise.disposition.calendar is policy.calendars["ny-business"]
    assert policy.segments[1].disposition is not None
    assert policy.segments[1].disposition.calendar is ALWAYS_OPEN


def test_the_format_in_the_module_docstring_loads(tmp_path: Path) -> None:
    assert policy_file.__doc__ is not None
    example = policy_file.__doc__.split("::\n", 1)[1].split("\n\n", 1)[0]
    policy = load_policy(written(tmp_path, example))
    assert [segment.name for segment in policy.segments] == ["enterprise", "default"]


def test_what_a_file_leaves_out_takes_the_dataclass_defaults(tmp_path: Path) -> None:
    policy = load_policy(written(tmp_path, 'version: "1"\nsegments: [{name: default}]\n'))
    assert policy.segments == (Segment("default"),)
    assert (policy.reassignment, policy.lateness) == (Policy().reassignment, Policy().lateness)
    assert policy.marketing.monthly_mqls is None


def test_rules_can_be_switched_off_and_warn_at_a_fraction_or_before_the_deadline(
    tmp_path: Path,
) -> None:
    policy = load_policy(
        written(
            tmp_path,
            """\
            version: "1"
            segments:
              - name: default
                first_touch: {within: 30m, warn_at: off}
                attempts: off
                disposition: {warn_before: 4h}
            """,
        )
    )
    (segment,) = policy.segments
    assert segment.first_touch is not None and segment.disposition is not None
    assert (segment.first_touch.within_ms, segment.first_touch.warn) == (30 * 60_000, NO_WARNING)
    assert segment.attempts is None
    assert segment.disposition.warn == WarnAt(fraction=None, before_ms=4 * 60 * MS_PER_MINUTE)


def test_a_calendar_without_hours_is_open_around_the_clock_except_on_its_holidays(
    tmp_path: Path,
) -> None:
    policy = load_policy(
        written(
            tmp_path,
            """\
            version: "1"
            calendars:
              support: {timezone: America/New_York, holidays: [2026-12-25]}
              late-desk:
                timezone: America/New_York
                hours: {thu: "18:00-24:00"}
            segments:
              - name: default
                first_touch: {within: 1h, calendar: support}
            """,
        )
    )
    support, late_desk = policy.calendars["support"], policy.calendars["late-desk"]
    christmas_eve = ny_ms(2026, 12, 24, 23, 30)
    assert support.deadline(christmas_eve, 60 * MS_PER_MINUTE) == ny_ms(2026, 12, 26, 0, 30)
    thursday = ny_ms(2026, 12, 3, 23, 30)
    assert late_desk.deadline(thursday, 60 * MS_PER_MINUTE) == ny_ms(2026, 12, 10, 18, 30)


BROKEN = [
    (
        "bad-duration",
        """\
        version: "1"
        segments:
          - name: default
            first_touch: {within: 90x}
        """,
        "policy.yaml:4: segments[0].first_touch.within",
        "'90x' is not a duration (use e.g. 90s, 45m, 1h30m, 2d)",
    ),
    (
        "duration-without-unit",
        """\
        version: "1"
        segments:
          - name: default
            disposition:
              within: 60
        """,
        "policy.yaml:5: segments[0].disposition.within",
        "60 has no unit (write e.g. 60s, 60m, 60h or 60d)",
    ),
    (
        "zero-duration",
        """\
        version: "1"
        segments:
          - name: default
            first_touch: {within: 0s}
        """,
        "policy.yaml:4: segments[0].first_touch.within",
        "must be longer than 0",
    ),
    (
        "unknown-key-in-a-segment",
        """\
        version: "1"
        segments:
          - name: default
            first_tuch: {within: 1h}
        """,
        "policy.yaml:4: segments[0].first_tuch",
        "unknown key 'first_tuch' (known: name, match, first_touch, attempts, disposition)",
    ),
    (
        "unknown-key-in-a-rule",
        """\
        version: "1"
        segments:
          - name: default
            attempts:
              ladder: [{attempts: 3, within: 14d}]
              spacing: 1h
        """,
        "policy.yaml:6: segments[0].attempts.spacing",
        "unknown key 'spacing' (known: calendar, warn_at, warn_before, compliance_target,"
        " pause_on, owner_away, grace, ladder, min_spacing, touches)",
    ),
    (
        "unknown-top-level-key",
        """\
        version: "1"
        segment:
          - name: default
        """,
        "policy.yaml:3: segment",
        "unknown key 'segment' (known: version, reassignment, lateness, calendars, segments,"
        " marketing, calling_hours)",
    ),
    (
        "unknown-calendar",
        """\
        version: "1"
        calendars:
          ny: {timezone: America/New_York}
        segments:
          - name: default
            first_touch: {within: 1h}
            disposition: {within: 48h, calendar: office}
        """,
        "policy.yaml:7: segments[0].disposition.calendar",
        "unknown calendar 'office' (known: ny)",
    ),
    (
        "bad-time-zone",
        """\
        version: "1"
        calendars:
          office:
            timezone: Mars/Olympus
        segments:
          - name: default
        """,
        "policy.yaml:4: calendars.office.timezone",
        "'Mars/Olympus' is not an IANA time zone (e.g. America/New_York, UTC)",
    ),
    (
        "time-zone-folder",
        """\
        version: "1"
        marketing:
          timezone: America
        segments:
          - name: default
        """,
        "policy.yaml:3: marketing.timezone",
        "'America' is not an IANA time zone",
    ),
    (
        "bad-hours-string",
        """\
        version: "1"
        calendars:
          office:
            timezone: UTC
            hours:
              mon: ["09:00-18:00"]
              tue: ["9-18"]
        segments:
          - name: default
        """,
        "policy.yaml:7: calendars.office.hours.tue[0]",
        "'9-18' is not an opening range like '09:00-18:00'",
    ),
    (
        "hours-closing-before-opening",
        """\
        version: "1"
        calendars:
          office:
            timezone: UTC
            hours: {mon: "18:00-09:00"}
        segments:
          - name: default
        """,
        "policy.yaml:5: calendars.office.hours.mon[0]",
        "'18:00-09:00' is not an opening range",
    ),
    (
        "overlapping-hours",
        """\
        version: "1"
        calendars:
          office:
            timezone: UTC
            hours:
              wed: ["13:00-18:00", "09:00-13:30"]
        segments:
          - name: default
        """,
        "policy.yaml:6: calendars.office.hours.wed",
        "opening ranges overlap around 13:00",
    ),
    (
        "unknown-weekday",
        """\
        version: "1"
        calendars:
          office:
            timezone: UTC
            hours:
              monday: ["09:00-18:00"]
        segments:
          - name: default
        """,
        "policy.yaml:6: calendars.office.hours.monday",
        "Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
    ),
    (
        "calendar-never-open",
        """\
        version: "1"
        calendars:
          office:
            timezone: UTC
            hours: {sat: []}
        segments:
          - name: default
        """,
        "policy.yaml:5: calendars.office.hours",
        "never open",
    ),
    (
        "pause-ending-before-it-starts",
        """\
        version: "1"
        calendars:
          office:
            timezone: UTC
            pauses:
              - from: 2026-11-10T15:00:00Z
                to: 2026-11-10T12:00:00Z
        segments:
          - name: default
        """,
        "policy.yaml:7: calendars.office.pauses[0].to",
        "must be after 'from'",
    ),
    (
        "pause-without-offset",
        """\
        version: "1"
        calendars:
          office:
            timezone: UTC
            pauses:
              - {from: "2026-11-10T12:00:00", to: "2026-11-10T15:00:00Z"}
        segments:
          - name: default
        """,
        "policy.yaml:6: calendars.office.pauses[0].from",
        "'2026-11-10T12:00:00' is not a date-time with offset like 2026-11-10T12:00:00Z",
    ),
    (
        "bad-holiday",
        """\
        version: "1"
        calendars:
          office:
            timezone: UTC
            holidays: [2026-11-26, 25/12/2026]
        segments:
          - name: default
        """,
        "policy.yaml:5: calendars.office.holidays[1]",
        "'25/12/2026' is not a date like 2026-12-25",
    ),
    (
        "warn-at-out-of-range",
        """\
        version: "1"
        segments:
          - name: default
            first_touch: {within: 1h, warn_at: 1.5}
        """,
        "policy.yaml:4: segments[0].first_touch.warn_at",
        "1.5 is not a fraction between 0 and 1 (e.g. 0.75) or off",
    ),
    (
        "both-warn-at-and-warn-before",
        """\
        version: "1"
        segments:
          - name: default
            first_touch: {within: 1h, warn_at: 0.5, warn_before: 10m}
        """,
        "policy.yaml:4: segments[0].first_touch",
        "give warn_at (a fraction of the target) or warn_before, not both",
    ),
    (
        "warning-after-the-deadline",
        """\
        version: "1"
        segments:
          - name: default
            disposition:
              warn_before: 3d
        """,
        "policy.yaml:5: segments[0].disposition.warn_before",
        "must be shorter than the target (2d)",
    ),
    (
        "compliance-target-above-one",
        """\
        version: "1"
        segments:
          - name: default
            first_touch: {compliance_target: 90}
        """,
        "policy.yaml:4: segments[0].first_touch.compliance_target",
        "90 is not a share of leads in (0, 1] (e.g. 0.9 for 90%)",
    ),
    (
        "missing-version",
        """\
        segments:
          - name: default
        """,
        "policy.yaml:1: version",
        'required: the version of these targets, e.g. version: "2026-11"',
    ),
    (
        "unquoted-number-as-version",
        """\
        version: 2026.10
        segments:
          - name: default
        """,
        "policy.yaml:1: version",
        '2026.1 is not text: put it in quotes ("2026.1")',
    ),
    (
        "default-segment-not-last",
        """\
        version: "1"
        segments:
          - name: default
          - name: enterprise
            match: {tier: enterprise}
        """,
        "policy.yaml:3: segments[0]",
        "segment 'default' has no match: only the last segment",
    ),
    (
        "match-on-the-last-segment",
        """\
        version: "1"
        segments:
          - name: enterprise
            match: {tier: enterprise}
        """,
        "policy.yaml:4: segments[0].match",
        "the last segment ('enterprise') is the default for every other lead",
    ),
    (
        "no-segments",
        """\
        version: "1"
        segments: []
        """,
        "policy.yaml:2: segments",
        "give at least one segment",
    ),
    (
        "ladder-attempts-not-increasing",
        """\
        version: "1"
        segments:
          - name: default
            attempts:
              ladder:
                - {attempts: 3, within: 14d}
                - {attempts: 3, within: 28d}
        """,
        "policy.yaml:7: segments[0].attempts.ladder[1]",
        "each rung needs more attempts within a longer time than the one before",
    ),
    (
        "ladder-time-not-increasing",
        """\
        version: "1"
        segments:
          - name: default
            attempts:
              ladder: [{attempts: 3, within: 14d}, {attempts: 5, within: 7d}]
        """,
        "policy.yaml:5: segments[0].attempts.ladder[1]",
        "each rung needs more attempts within a longer time",
    ),
    (
        "duplicate-segment-names",
        """\
        version: "1"
        segments:
          - name: smb
            match: {segment: smb}
          - name: smb
            match: {segment: mid_market}
          - name: default
        """,
        "policy.yaml:5: segments[1].name",
        "'smb' is already the name of segments[0]",
    ),
    (
        "match-on-an-unknown-field",
        """\
        version: "1"
        segments:
          - name: loyal
            match: {tenure: long}
          - name: default
        """,
        "policy.yaml:4: segments[0].match.tenure",
        "cannot match on 'tenure' (use source, segment, tier, region, persona, team)",
    ),
    (
        "match-value-read-as-a-boolean",
        """\
        version: "1"
        segments:
          - name: norway
            match:
              region: [se, no]
          - name: default
        """,
        "policy.yaml:5: segments[0].match.region[1]",
        "False is an unquoted yes/no/on/off: put the text in quotes",
    ),
    (
        "rule-neither-mapping-nor-off",
        """\
        version: "1"
        segments:
          - name: default
            attempts: 6
        """,
        "policy.yaml:4: segments[0].attempts",
        "6: expected the rule's settings as a mapping, or off",
    ),
    (
        "segment-not-a-mapping",
        """\
        version: "1"
        segments:
          - default
        """,
        "policy.yaml:3: segments[0]",
        "expected a mapping of name, match, first_touch, attempts, disposition; got 'default'",
    ),
    (
        "unknown-reassignment",
        """\
        version: "1"
        reassignment: reset
        segments:
          - name: default
        """,
        "policy.yaml:2: reassignment",
        "'reset': Input should be 'keep' or 'restart'",
    ),
    (
        "negative-goal",
        """\
        version: "1"
        segments:
          - name: default
        marketing:
          by_source: {web_form: -5}
        """,
        "policy.yaml:5: marketing.by_source.web_form",
        "-5: Input should be greater than 0",
    ),
    (
        "invalid-yaml",
        """\
        version: "1"
        segments: [
        """,
        "policy.yaml:3",
        "not valid YAML",
    ),
    (
        "not-a-mapping",
        """\
        - version: "1"
        """,
        "policy.yaml:1",
        "expected a mapping of version, reassignment, lateness, calendars, segments, marketing,"
        " calling_hours",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "problem"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_a_broken_policy_names_file_line_path_and_problem(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_policy(written(tmp_path, text))
    message = str(raised.value).replace(f"{tmp_path}/", "")
    assert message.startswith(f"{where}: "), message
    assert problem in message, message


def test_an_empty_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the file is empty: a policy needs version and segments"):
        load_policy(written(tmp_path, "# nothing yet\n"))


def test_a_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "nowhere.yaml")
