"""Web authentication on a real worker: / and /metrics need the credential, probes stay open."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request

from .gateway_process import start_gateway
from .harness import Harness

TOKEN = "metrics-token-for-the-test-only"
USER, PASSWORD = "ops", "basic-password-for-the-test-only"


def status_of(
    url: str, authorization: str | None = None, post: bytes | None = None
) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=post, method="GET" if post is None else "POST")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_status_page_and_metrics_need_the_token_or_basic_auth_and_probes_do_not(
    harness: Harness,
) -> None:
    worker = harness.start_worker(
        "w1", web_auth_token=TOKEN, web_auth_user=USER, web_auth_password=PASSWORD
    )
    worker.wait_ready()
    for path in ("/", "/metrics"):
        url = worker.url(path)
        status, headers = status_of(url)
        assert status == 401
        assert 'Basic realm="stream-sla"' in headers["WWW-Authenticate"]
        assert status_of(url, f"Bearer {TOKEN}")[0] == 200
        assert status_of(url, basic(USER, PASSWORD))[0] == 200
        assert status_of(url, "Bearer not-the-token")[0] == 401
        assert status_of(url, basic(USER, "wrong"))[0] == 401
        assert status_of(url, "Basic !!!not-base64")[0] == 401
    for probe in ("/live", "/ready"):
        assert status_of(worker.url(probe))[0] == 200
    log = worker.log_tail(10_000)
    assert TOKEN not in log and PASSWORD not in log


async def test_the_gateway_guards_its_metrics_like_the_worker_and_leaves_probes_and_hooks_open(
    harness: Harness,
) -> None:
    """The gateway serves rep and team names in /metrics too: the same credential applies.
    Webhooks keep their vendor's own check (signature, basic auth), not ours."""
    gateway = start_gateway(
        harness, settings={"web_auth_token": TOKEN}, hubspot_client_secret="hubspot-secret"
    )
    gateway.wait_ready()
    assert status_of(gateway.url("/metrics"))[0] == 401
    assert status_of(gateway.url("/metrics"), f"Bearer {TOKEN}")[0] == 200
    assert status_of(gateway.url("/metrics"), "Bearer not-the-token")[0] == 401
    for probe in ("/live", "/ready"):
        assert status_of(gateway.url(probe))[0] == 200
    answer, headers = status_of(gateway.url("/hooks/hubspot"), post=b"[]")
    assert answer == 401  # the HubSpot signature check answered, not our bearer token
    assert "WWW-Authenticate" not in headers
