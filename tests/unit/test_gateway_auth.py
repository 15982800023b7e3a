"""HubSpot v3 signatures and Pipedrive basic auth, as the vendors document them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from stream_sla.gateway.auth import basic_auth_ok, hubspot_problem, hubspot_signature

SECRET, URI, BODY = "app-secret", "https://sla.example.com/hooks/hubspot", b'[{"eventId":1}]'
NOW = 1_764_583_200_000


def test_the_signature_is_base64_hmac_sha256_of_method_uri_body_timestamp() -> None:
    expected = base64.b64encode(
        hmac.new(
            SECRET.encode(), b"POST" + URI.encode() + BODY + str(NOW).encode(), hashlib.sha256
        ).digest()
    ).decode()
    assert hubspot_signature(SECRET, "POST", URI, BODY, str(NOW)) == expected


def test_a_fresh_correctly_signed_request_is_accepted() -> None:
    signature = hubspot_signature(SECRET, "POST", URI, BODY, str(NOW - 1000))
    assert hubspot_problem(SECRET, "POST", URI, BODY, str(NOW - 1000), signature, NOW) is None


@pytest.mark.parametrize(
    ("received", "problem"),
    [
        ({"body": BODY + b" "}, "does not match"),
        ({"uri": URI + "?x=1"}, "does not match"),
        ({"secret": "other"}, "does not match"),
        ({"timestamp": str(NOW - 5 * 60 * 1000 - 1)}, "more than 5 minutes old"),
        ({"timestamp": "yesterday"}, "not epoch milliseconds"),
        ({"signature": ""}, "are required"),
    ],
    ids=["body", "uri", "secret", "stale", "timestamp-not-number", "no-signature"],
)
def test_a_changed_or_stale_request_is_refused(received: dict[str, Any], problem: str) -> None:
    sent: dict[str, Any] = {"secret": SECRET, "uri": URI, "body": BODY, "timestamp": str(NOW)}
    sent["signature"] = hubspot_signature(SECRET, "POST", URI, BODY, str(NOW))
    got = {**sent, **received}
    found = hubspot_problem(
        got["secret"], "POST", got["uri"], got["body"], got["timestamp"], got["signature"], NOW
    )
    assert found is not None and problem in found


def test_basic_auth_compares_user_and_password() -> None:
    good = "Basic " + base64.b64encode(b"pipedrive:pw").decode()
    assert basic_auth_ok(good, "pipedrive", "pw")
    assert not basic_auth_ok(good, "pipedrive", "other")
    assert not basic_auth_ok(None, "pipedrive", "pw")
    assert not basic_auth_ok("Basic !!!", "pipedrive", "pw")
    assert not basic_auth_ok("Bearer x", "pipedrive", "pw")
