"""CRM payloads -> real gateway -> real worker -> sla.breaches, on the real broker.

The gateway and the worker run as processes (``stream-sla gateway``, ``stream-sla worker``);
requests are signed as HubSpot signs them and authenticated as Pipedrive does; the
Salesforce CDC connector is played by a producer writing its records to its topic. The
first-touch target is shortened to 4 seconds so the deadlines fall inside the test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from stream_sla.gateway.auth import hubspot_signature

from . import gateway_process
from .conftest import OwnBroker
from .harness import Harness, WorkerProcess, now_ms, values

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
SECRET = "hubspot-client-secret-for-tests"
PD_USER, PD_PASSWORD = "pipedrive", "pd-password-for-tests"
LIMIT = 300_000
WORKER = {"first_touch_within": "4s", "first_touch_warn_at": 0.5, "session_timeout_seconds": 6}


def start_gateway(harness: Harness, name: str = "gw", **settings: Any) -> WorkerProcess:
    return gateway_process.start_gateway(
        harness,
        name,
        hubspot_client_secret=SECRET,
        pipedrive_username=PD_USER,
        pipedrive_password=PD_PASSWORD,
        **settings,
    )


def hubspot_batch(lead: int, at: int, owner: str = "71001") -> list[dict[str, Any]]:
    """The fixture's creation and owner change for contact ``lead`` at ``at`` (ids unique)."""
    items = json.loads((FIXTURES / "hubspot-new-contact-batch.json").read_text())["body"]
    creation, owner_change = items[1], items[0]
    return [
        dict(creation, eventId=lead * 10, objectId=lead, occurredAt=at),
        dict(
            owner_change, eventId=lead * 10 + 1, objectId=lead, occurredAt=at, propertyValue=owner
        ),
    ]


async def post_hubspot(
    gateway: WorkerProcess,
    body: bytes,
    secret: str = SECRET,
    timestamp: int | None = None,
) -> tuple[int, dict[str, Any]]:
    url = gateway.url("/hooks/hubspot")
    sent_at = str(timestamp if timestamp is not None else now_ms())
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": sent_at,
        "X-HubSpot-Signature-v3": hubspot_signature(secret, "POST", url, body, sent_at),
    }
    return await post(url, body, headers)


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def breaches_for(
    harness: Harness,
    leads: set[str],
    timeout: float,  # noqa: ASYNC109 - a read deadline, not a cancellation scope
    settle: float = 0.0,
) -> list[dict[str, Any]]:
    records = await harness.consume(
        "sla.breaches",
        until=lambda rs: {v["lead_id"] for v in values(rs)} >= leads,
        timeout=timeout,
        settle=settle,
    )
    return [v for v in values(records) if v["lead_id"] in leads]


async def test_a_signed_hubspot_batch_becomes_a_breach_and_unsigned_ones_write_nothing(
    harness: Harness,
) -> None:
    worker = harness.start_worker(**WORKER)
    gateway = start_gateway(harness, max_body_bytes=LIMIT)
    worker.wait_ready()
    gateway.wait_ready()

    t0 = now_ms()
    body = orjson.dumps(hubspot_batch(9001, t0))
    assert (await post_hubspot(gateway, body, secret="not-the-secret"))[0] == 401
    stale = now_ms() - 5 * 60 * 1000 - 1000
    assert (await post_hubspot(gateway, body, timestamp=stale))[0] == 401
    too_big = orjson.dumps([{"eventId": 1, "padding": "x" * LIMIT}])
    assert (await post_hubspot(gateway, too_big))[0] == 413

    status, answer = await post_hubspot(gateway, body)
    assert status == 200 and answer["stored"], answer
    # A body just under the limit arrives in many TCP reads: stored whole, byte for byte.
    large = orjson.dumps([{**hubspot_batch(9002, t0)[1], "padding": "y" * (LIMIT - 400)}])
    status, large_answer = await post_hubspot(gateway, large)
    assert status == 200, large_answer

    (breach,) = await breaches_for(harness, {"9001"}, timeout=40)
    assert (breach["rule"], breach["severity"], breach["owner"]) == (
        "first_touch",
        "breach",
        "71001",
    )
    raw = await harness.consume("crm.raw.hubspot", until=lambda rs: len(rs) >= 2, timeout=5)
    # Only the verified requests, byte for byte (3 partitions: no order across them).
    assert sorted(r.value for r in raw) == sorted([body, large])
    headers = dict(next(r for r in raw if r.value == body).headers)
    assert headers["stream-sla.request-id"].decode() == answer["request_id"]
    assert abs(int(headers["stream-sla.received-at"]) - t0) < 30_000
    assert gateway.process.poll() is None, gateway.log_tail()


async def test_pipedrive_webhooks_and_salesforce_cdc_records_become_breaches(
    harness: Harness,
) -> None:
    worker = harness.start_worker(**WORKER)
    gateway = start_gateway(harness)
    worker.wait_ready()
    gateway.wait_ready()
    t0 = now_ms()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t0 / 1000))

    lead = json.loads((FIXTURES / "pipedrive-lead-and-call.json").read_text())["bodies"][0]
    lead_id = "6c1a0a9e-2f0b-4bde-9d5c-3b0c8f0e4a11"
    lead = dict(
        lead,
        meta=dict(lead["meta"], entity_id=lead_id, timestamp=stamp),
        data=dict(lead["data"], id=lead_id),
    )
    auth = "Basic " + base64.b64encode(f"{PD_USER}:{PD_PASSWORD}".encode()).decode()
    url = gateway.url("/hooks/pipedrive")
    body = orjson.dumps(lead)
    assert (await post(url, body, {"Authorization": "Basic eDp5"}))[0] == 401
    assert (await post(url, body, {"Authorization": auth}))[0] == 200

    records = json.loads((FIXTURES / "salesforce-cdc-lead-and-task.json").read_text())["records"]
    sf_lead = "00Q5e00000ZzZzZEAA"
    created, assigned = (
        dict(
            record,
            ChangeEventHeader=dict(
                record["ChangeEventHeader"], recordIds=[sf_lead], commitTimestamp=t0
            ),
        )
        for record in records[:2]
    )
    await harness.produce(
        [
            ("crm.raw.salesforce", None, orjson.dumps(created)),
            ("crm.raw.salesforce", None, orjson.dumps(assigned)),
            ("crm.raw.salesforce", None, b"not a change event"),
        ]
    )

    found = await breaches_for(harness, {lead_id, sf_lead}, timeout=40)
    assert {(b["lead_id"], b["rule"], b["owner"]) for b in found} == {
        (lead_id, "first_touch", "18487521"),
        (sf_lead, "first_touch", "0055e000002XyZaAAC"),
    }
    dead = await harness.consume(
        "sla.dead-letter",
        until=lambda rs: any(r.value == b"not a change event" for r in rs),
        timeout=10,
    )
    (letter,) = [r for r in dead if r.value == b"not a change event"]
    assert dict(letter.headers)["stream-sla.reason"] == b"invalid_json"


async def broker(action: str, env: dict[str, str]) -> None:
    from ..conftest import KAFKA_SCRIPT

    done = await asyncio.to_thread(
        subprocess.run, ["bash", str(KAFKA_SCRIPT), action], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_broker_down_answers_503_and_the_retry_gives_exactly_one_breach(
    own_broker: OwnBroker, tmp_path: Path
) -> None:
    harness = Harness(own_broker.bootstrap, tmp_path)
    await harness.create_topics()
    try:
        worker = harness.start_worker(**WORKER)
        gateway = start_gateway(harness, ack_timeout_seconds=2)
        worker.wait_ready()
        gateway.wait_ready()
        warm = orjson.dumps(hubspot_batch(7000, now_ms()))
        assert (await post_hubspot(gateway, warm))[0] == 200  # metadata known, as in production

        await broker("stop", own_broker.env)
        body = orjson.dumps(hubspot_batch(7001, now_ms()))
        status, answer = await post_hubspot(gateway, body)
        assert status == 503, answer

        await broker("start", own_broker.env)
        deadline = time.monotonic() + 60
        while True:  # HubSpot retries a failed request with a fresh timestamp and signature
            status, answer = await post_hubspot(gateway, body)
            if status == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        assert status == 200, (answer, gateway.log_tail())

        found = await breaches_for(harness, {"7000", "7001"}, timeout=60, settle=5)
        assert sorted(b["lead_id"] for b in found) == ["7000", "7001"], found
        assert gateway.process.poll() is None, gateway.log_tail()
    finally:
        harness.stop_all()
