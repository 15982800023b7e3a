from __future__ import annotations

import pytest

from .rig import rig  # noqa: F401 - the fixture, for every test of this folder


@pytest.fixture(autouse=True)
def _channel_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The routing files of these tests name these variables for their secrets."""
    for name, value in {
        "TEST_HOOK_SECRET": "hook-secret",
        "TEST_HUBSPOT_TOKEN": "pat-na1-test",
        "TEST_SLACK_TOKEN": "xoxb-test",
        "TEST_SLACK_URL": "http://127.0.0.1:1/slack",
        "TEST_TEAMS_URL": "http://127.0.0.1:1/teams",
        "TEST_SF_TOKEN": "00D-session",
        "TEST_PD_TOKEN": "pd-token",
        "TEST_SMTP_PASSWORD": "smtp-pass",
    }.items():
        monkeypatch.setenv(name, value)
