"""WebAuth: which Authorization headers open / and /metrics."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from stream_sla.config import load_settings
from stream_sla.stream.web_auth import WebAuth
from stream_sla.yamlfile import ConfigError


def test_without_credentials_configured_everything_is_allowed() -> None:
    assert WebAuth().allows(None)


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, False),
        ("", False),
        ("Bearer t0ken", True),
        ("bearer t0ken", True),
        ("Bearer t0ken2", False),
        ("Basic " + base64.b64encode(b"ops:pw").decode(), True),
        ("Basic " + base64.b64encode(b"ops:nope").decode(), False),
        ("Basic ???", False),
        ("Digest t0ken", False),
    ],
    ids=["none", "empty", "bearer", "lowercase", "wrong-token", "basic", "wrong-basic", "junk",
         "other-scheme"],
)  # fmt: skip
def test_a_token_or_basic_credentials_open_the_pages(header: str | None, allowed: bool) -> None:
    auth = WebAuth(SecretStr("t0ken"), "ops", SecretStr("pw"))
    assert auth.allows(header) is allowed


def test_basic_auth_needs_user_and_password_together() -> None:
    with pytest.raises(ConfigError, match="set both or neither"):
        load_settings(environ={}, web_auth_user="ops")
