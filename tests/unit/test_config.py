"""Configuration: bad values stop start-up naming file, line and fix; the README table is true."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_sla.config import load_settings, reference_table
from stream_sla.yamlfile import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "app_id: demo\nfirst_touch_within: 90x\n",
            "settings.yaml:2: first_touch_within: '90x': Value error, '90x' is not a duration",
        ),
        ("web_port: 70000\n", "settings.yaml:1: web_port: 70000: Input should be less than"),
        ("web_prot: 6066\n", "settings.yaml:1: web_prot: 6066: unknown setting (known: app_id"),
        ("app_id: [unclosed\n", "settings.yaml:2: not valid YAML"),
        (
            "kafka_security_protocol: SASL_SSL\n",
            "needs kafka_sasl_username and kafka_sasl_password",
        ),
    ],
    ids=["bad-duration", "port-out-of-range", "typo-in-a-name", "broken-yaml", "sasl-without-user"],
)
def test_bad_settings_file_names_file_line_and_problem(
    tmp_path: Path, text: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("settings.yaml").write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(Path("settings.yaml"), environ={})
    assert message in str(error.value)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("web_port: 7000\nfirst_touch_within: 45m\n")
    monkeypatch.setenv("STREAM_SLA_WEB_PORT", "7100")
    settings = load_settings(path)
    assert (settings.web_port, settings.first_touch_within) == (7100, 45 * 60_000)


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_SLA_WEB_PORT", "sixty")
    with pytest.raises(ConfigError, match=r"\$STREAM_SLA_WEB_PORT: 'sixty'"):
        load_settings(None)


def test_readme_configuration_table_is_the_generated_one() -> None:
    assert reference_table() in README.read_text()
