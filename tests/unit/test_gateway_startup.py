"""A bad mappings file, people directory or gateway setting stops `stream-sla gateway` at once
with file, line and problem (exit 2), before it touches Kafka."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stream_sla.gateway.app import GatewayMetrics
from stream_sla.gateway.settings import reference_table


def gateway(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stream_sla.cli", "gateway"],
        env={**os.environ, "STREAM_SLA_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "text", "setting", "message"),
    [
        (
            "crm-mappings.yaml",
            "hubspot:\n  statuses:\n    hs_lead_status: {UNQUALIFIED: nope}\n",
            "STREAM_SLA_GATEWAY_MAPPINGS_FILE",
            ":3: hubspot.statuses.hs_lead_status.UNQUALIFIED: 'nope' is not one of",
        ),
        (
            "people.csv",
            "id,name,team,manager\n1,A,t,\n2,B,t,9\n",
            "STREAM_SLA_GATEWAY_PEOPLE_FILE",
            ":3: manager: '9' is not an id in this file",
        ),
    ],
    ids=["mappings", "people"],
)
def test_gateway_refuses_to_start_with_a_broken_file(
    tmp_path: Path, name: str, text: str, setting: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = gateway({setting: str(path)})
    assert result.returncode == 2, result.stderr
    assert f"{path}{message}" in result.stderr


def test_gateway_refuses_a_bad_setting_naming_the_variable() -> None:
    result = gateway({"STREAM_SLA_GATEWAY_PORT": "not-a-port"})
    assert result.returncode == 2
    assert "$STREAM_SLA_GATEWAY_PORT" in result.stderr


def test_gateway_metric_names_follow_the_project_conventions() -> None:
    for family in GatewayMetrics().registry.collect():
        assert family.name.startswith("stream_sla_gateway_"), family.name
        assert family.type == "counter" and family.documentation.endswith(".")


def test_readme_gateway_settings_table_is_the_generated_one() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert reference_table() in readme.read_text()
