"""People directory: owner id -> person, teams, manager chains; errors name file, line and fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stream_sla.people import PeopleDirectory, Person, load_people
from stream_sla.yamlfile import ConfigError

YAML = """\
timezone: America/New_York
people:
  - id: 100
    name: Grace Hopper
    team: sales-leadership
    email: grace@example.com
    chat: "@grace"
  - id: "200"
    name: Ada Byron
    team: enterprise-east
    manager: "100"
    timezone: Europe/London
  - id: "300"
    name: Alan Turing
    team: enterprise-east
    manager: "200"
    chat: U0123ABCD
"""

CSV = """\
User ID,First Name,Last Name,Email,Primary Team,Manager ID,Time Zone,Slack ID,Last Login
100,Grace,Hopper,grace@example.com,sales-leadership,,America/New_York,@grace,2026-11-01
200,Ada,Byron,ada@example.com,enterprise-east,100,Europe/London,,2026-11-02
300,Alan,Turing,,enterprise-east,200,,U0123ABCD,
"""


def written(tmp_path: Path, text: str, name: str = "people.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_yaml_directory_answers_lookups_by_owner_id(tmp_path: Path) -> None:
    people = load_people(written(tmp_path, YAML))
    assert people.get("300") == Person(
        "300", "Alan Turing", "enterprise-east", "200", None, "U0123ABCD", "America/New_York"
    )
    assert people.get("100").owner_id == "100"  # type: ignore[union-attr]  # numeric id -> text
    assert people.get("999") is None
    assert people.team_of("200") == "enterprise-east"
    assert people.team_of("999") is None
    assert people.get("200").timezone == "Europe/London"  # type: ignore[union-attr]


def test_manager_chain_walks_up_to_the_top(tmp_path: Path) -> None:
    people = load_people(written(tmp_path, YAML))
    assert [p.owner_id for p in people.manager_chain("300")] == ["200", "100"]
    assert people.manager_chain("100") == ()
    assert people.manager_chain("unknown") == ()


def test_known_reps_and_teams_are_sorted_and_stable(tmp_path: Path) -> None:
    people = load_people(written(tmp_path, YAML))
    assert people.owner_ids() == ("100", "200", "300")
    assert people.teams() == ("enterprise-east", "sales-leadership")
    assert [p.name for p in people.members("enterprise-east")] == ["Ada Byron", "Alan Turing"]
    assert len(people) == 3 and "200" in people and "x" not in people


def test_a_crm_user_export_csv_gives_the_same_directory(tmp_path: Path) -> None:
    from_csv = load_people(written(tmp_path, CSV, "users.csv"))
    from_yaml = load_people(written(tmp_path, YAML))
    assert from_csv.people()[1:] != () and [p.name for p in from_csv.people()] == [
        p.name for p in from_yaml.people()
    ]
    assert from_csv.get("300") == Person(
        "300", "Alan Turing", "enterprise-east", "200", None, "U0123ABCD", "UTC"
    )
    assert [p.owner_id for p in from_csv.manager_chain("300")] == ["200", "100"]


def test_csv_with_a_byte_order_mark_and_a_name_column(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("\ufeffOwner_Id,Name,Team\n7,Rep Seven,smb\n", encoding="utf-8")
    assert load_people(path).get("7") == Person("7", "Rep Seven", "smb")


BROKEN_YAML = [
    ("people: []\n", 1, "people", "expected a list of people"),
    ("folks: []\n", 1, "", "expected a mapping with a `people:` list"),
    ("people: [{id: 1, name: A, team: t}]\nextra: 1\n", 2, "extra", "unknown key"),
    ("timezone: Mars/Base\npeople: [{id: 1, name: A, team: t}]\n", 1, "timezone", "IANA"),
    ("people:\n  - id: 1\n    name: A\n", 2, "people[0].team", "required: the team"),
    ("people:\n  - name: A\n    team: t\n", 2, "people[0].id", "required: the CRM's owner id"),
    (
        "people:\n  - id: 1\n    name: A\n    team: t\n    tema: x\n",
        5,
        "people[0].tema",
        "unknown field",
    ),
    (
        "people:\n  - id: 1\n    name: A\n    team: t\n    email: not-an-address\n",
        5,
        "people[0].email",
        "not an email address",
    ),
    (
        "people:\n  - id: 1\n    name: A\n    team: t\n    timezone: EST5\n",
        5,
        "people[0].timezone",
        "not an IANA time zone",
    ),
    (
        "people:\n  - {id: 1, name: A, team: t}\n  - {id: 1, name: B, team: t}\n",
        3,
        "people[1].id",
        "already listed (entry 1)",
    ),
    (
        "people:\n  - {id: 1, name: A, team: t}\n  - id: 2\n    name: B\n    team: t\n"
        "    manager: 9\n",
        6,
        "people[1].manager",
        "'9' is not an id in this file",
    ),
    (
        "people:\n  - {id: 1, name: A, team: t, manager: 2}\n"
        "  - {id: 2, name: B, team: t, manager: 1}\n",
        2,
        "people[0].manager",
        "comes back to itself",
    ),
    ("people:\n  - {id: [1], name: A, team: t}\n", 2, "people[0].id", "is not text"),
    ("people:\n  - just a name\n", 2, "people[0]", "expected a person"),
    ("people: [\n", 2, "", "not valid YAML"),
]


@pytest.mark.parametrize(
    ("text", "line", "where", "problem"),
    BROKEN_YAML,
    ids=[
        "empty-list",
        "no-people-key",
        "unknown-top-key",
        "bad-default-zone",
        "missing-team",
        "missing-id",
        "typo-field",
        "bad-email",
        "bad-zone",
        "duplicate-id",
        "unknown-manager",
        "manager-loop",
        "id-not-text",
        "entry-not-mapping",
        "broken-yaml",
    ],
)
def test_a_broken_yaml_directory_names_file_line_field_and_fix(
    tmp_path: Path, text: str, line: int, where: str, problem: str
) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_people(path)
    error = caught.value
    assert (error.file, error.line, error.where) == (str(path), line, where)
    assert problem in error.problem
    assert str(error).startswith(f"{path}:{line}: ")


BROKEN_CSV = [
    ("", 1, "", "the file is empty"),
    ("name,team\nA,t\n", 1, "header", "no id column"),
    ("id,name\n1,A\n", 1, "header", "no team column"),
    ("id,team\n1,t\n", 1, "header", "no name column"),
    ("id,name,team\n", 2, "", "no people below the header"),
    ("id,name,team\n1,A,t\n2,,t\n", 3, "name", "required"),
    ("id,name,team,email\n1,A,t,x@y\n", 2, "email", "not an email address"),
    ("id,name,team\n1,A,t\n\n1,B,t\n", 4, "id", "already listed"),
    ("id,name,team,manager\n1,A,t,\n2,B,t,3\n", 3, "manager", "'3' is not an id"),
    ("id,name,team,time zone\n1,A,t,Nowhere/City\n", 2, "timezone", "IANA"),
]


@pytest.mark.parametrize(
    ("text", "line", "where", "problem"),
    BROKEN_CSV,
    ids=[
        "empty",
        "no-id",
        "no-team",
        "no-name",
        "no-rows",
        "blank-name",
        "bad-email",
        "duplicate-after-blank-line",
        "unknown-manager",
        "bad-zone",
    ],
)
def test_a_broken_csv_export_names_file_line_column_and_fix(
    tmp_path: Path, text: str, line: int, where: str, problem: str
) -> None:
    path = tmp_path / "users.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_people(path)
    assert (caught.value.line, caught.value.where) == (line, where)
    assert problem in caught.value.problem


def test_other_file_kinds_are_refused_with_the_accepted_suffixes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.yaml, \.yml or \.csv"):
        load_people(tmp_path / "people.json")


def test_a_directory_built_in_code_refuses_a_manager_loop() -> None:
    with pytest.raises(ValueError, match="loops"):
        PeopleDirectory([Person("1", "A", "t", manager="2"), Person("2", "B", "t", manager="1")])
    with pytest.raises(ValueError, match="twice"):
        PeopleDirectory([Person("1", "A", "t"), Person("1", "B", "t")])
