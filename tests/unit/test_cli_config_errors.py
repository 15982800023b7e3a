"""A bad policy or setting stops start-up at once, naming file, line and problem (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stream_sla.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_worker_refuses_to_start_with_a_broken_policy(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('version: "1"\nsegments:\n  - name: default\n    first_touch: {within: 1x}\n')
    result = run("worker", env={"STREAM_SLA_POLICY_FILE": str(policy)})
    assert result.returncode == 2
    assert f"{policy}:4: segments[0].first_touch.within: '1x' is not a duration" in result.stderr


def test_worker_refuses_to_start_with_a_broken_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("web_port: 6066\ntick_interval_seconds: -1\n")
    result = run("worker", "--config", str(settings), env={})
    assert result.returncode == 2
    assert f"{settings}:2: tick_interval_seconds: -1" in result.stderr
