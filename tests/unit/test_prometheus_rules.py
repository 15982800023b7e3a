"""Recording rules and alerts are valid and behave as their unit tests say (promtool)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make install` (deploy/tools.sh) installs it"
    return subprocess.run([tool, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120)


def test_rules_and_prometheus_config_are_valid() -> None:
    for args in (("check", "rules", "stream-sla.rules.yml"), ("check", "config", "prometheus.yml")):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say() -> None:
    result = promtool("test", "rules", "stream-sla.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    tested = (DEPLOY / "stream-sla.test.yml").read_text()
    rules = (DEPLOY / "stream-sla.rules.yml").read_text()
    alerts = [line.split(":", 1)[1].strip() for line in rules.splitlines() if "- alert:" in line]
    for alert in alerts:
        assert tested.count(f"alertname: {alert}") >= 2, f"{alert} needs a firing and a quiet test"
