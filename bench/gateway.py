"""Gateway rows of `make bench`: signed HubSpot webhooks through `stream-sla gateway`.

Measured in one run, same client, same load (signed batches of HubSpot events, a fixed
number of requests in flight):
- the gateway: verify, write the raw body with acks=all, answer 200 after the ack;
  requests/s, webhook events/s, p50/p99 request latency; and canonical events/s out of the
  translators (first request -> last canonical event on crm.handed-to-sales);
- the same web server without Kafka: aiohttp (what Faust's web views run on) with the same
  body bound and signature check, answering 200 at once: the ceiling the Kafka write is
  compared with.

Alone: ``python -m bench.gateway`` (starts its own broker); `bench/run.py` calls
:func:`measure` on its broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from stream_sla.gateway.app import read_bounded
from stream_sla.gateway.auth import hubspot_problem, hubspot_signature
from tests.integration.gateway_process import start_gateway
from tests.integration.harness import Harness, WorkerProcess, free_port, now_ms

SECRET = "bench-secret"


def start_null_server(workdir: Path) -> WorkerProcess:
    port = free_port()
    log_path = workdir / "null-server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.gateway", "--serve-null", str(port)],
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return WorkerProcess(process, port, log_path)


def serve_null(port: int) -> None:
    """The baseline: the gateway's checks on the same web framework, no Kafka write."""
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        body = await read_bounded(request.content, 1024 * 1024) or b""
        problem = hubspot_problem(
            SECRET,
            request.method,
            str(request.url),
            body,
            request.headers.get("X-HubSpot-Request-Timestamp"),
            request.headers.get("X-HubSpot-Signature-v3"),
            time.time_ns() // 1_000_000,
        )
        status = 401 if problem else 200
        return web.json_response({"stored": False}, status=status)

    async def ready(_: web.Request) -> web.Response:
        return web.json_response({"ready": True})

    app = web.Application()
    app.router.add_post("/hooks/hubspot", hook)
    app.router.add_get("/ready", ready)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def batches(requests: int, events_per_request: int, start: int) -> list[bytes]:
    """Contact creations and owner changes, each contact once, times now."""
    out = []
    contact = start
    for _ in range(requests):
        items = []
        for _ in range(events_per_request // 2):
            contact += 1
            at = now_ms()
            items.append(
                {"eventId": contact * 2, "subscriptionType": "contact.creation",
                 "objectId": contact, "occurredAt": at, "portalId": 1, "attemptNumber": 0}
            )  # fmt: skip
            items.append(
                {"eventId": contact * 2 + 1, "subscriptionType": "contact.propertyChange",
                 "objectId": contact, "occurredAt": at, "portalId": 1, "attemptNumber": 0,
                 "propertyName": "hubspot_owner_id", "propertyValue": "71001"}
            )  # fmt: skip
        out.append(orjson.dumps(items))
    return out


async def load(url: str, bodies: list[bytes], in_flight: int) -> tuple[float, list[float]]:
    """Seconds for all requests and each request's latency; every answer must be 200."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            stamp = str(now_ms())
            headers = {
                "Content-Type": "application/json",
                "X-HubSpot-Request-Timestamp": stamp,
                "X-HubSpot-Signature-v3": hubspot_signature(SECRET, "POST", url, body, stamp),
            }
            began = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status
            latencies.append(time.perf_counter() - began)

    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(in_flight)))
        return time.perf_counter() - began, latencies


def percentile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


async def measure(
    bootstrap: str,
    workdir: Path,
    requests: int = 1500,
    events_per_request: int = 10,
    in_flight: int = 16,
) -> dict[str, Any]:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    h = Harness(bootstrap, workdir)
    await h.create_topics()
    null = start_null_server(workdir)
    gateway = start_gateway(h, hubspot_client_secret=SECRET)
    try:
        null.wait_ready(30)
        gateway.wait_ready(90)
        warm = batches(50, events_per_request, 10_000_000)
        await load(null.url("/hooks/hubspot"), warm, in_flight)
        await load(gateway.url("/hooks/hubspot"), warm, in_flight)

        bodies = batches(requests, events_per_request, 0)
        null_s, null_latencies = await load(null.url("/hooks/hubspot"), bodies, in_flight)
        started = time.time()
        gateway_s, gateway_latencies = await load(gateway.url("/hooks/hubspot"), bodies, in_flight)
        expected = requests * events_per_request // 2 + len(warm) * events_per_request // 2
        handed = await h.consume(
            "crm.handed-to-sales", until=lambda rs: len(rs) >= expected, timeout=300
        )
        translated_s = max(r.timestamp for r in handed) / 1000 - started
        assert len(handed) >= expected, (len(handed), expected)
    finally:
        null.stop()
        h.stop_all()
    events = requests * events_per_request
    return {
        "requests": requests,
        "events_per_request": events_per_request,
        "in_flight": in_flight,
        "gateway_requests_per_s": round(requests / gateway_s),
        "gateway_webhook_events_per_s": round(events / gateway_s),
        "gateway_p50_ms": percentile_ms(gateway_latencies, 0.50),
        "gateway_p99_ms": percentile_ms(gateway_latencies, 0.99),
        "no_kafka_requests_per_s": round(requests / null_s),
        "no_kafka_p50_ms": percentile_ms(null_latencies, 0.50),
        "no_kafka_p99_ms": percentile_ms(null_latencies, 0.99),
        "gateway_vs_no_kafka": round(null_s / gateway_s, 3),
        "translated_events_per_s": round(events / max(translated_s, 1e-3)),
    }


def rows(g: dict[str, Any]) -> list[tuple[str, str, str]]:
    per = f"{g['events_per_request']} events/request, {g['in_flight']} in flight"
    return [
        ("gateway webhooks (acks=all)", f"{g['gateway_requests_per_s']:,} req/s, {g['gateway_webhook_events_per_s']:,} ev/s", per),
        ("gateway request p50 / p99", f"{g['gateway_p50_ms']} / {g['gateway_p99_ms']} ms", "2xx after the broker's ack"),
        ("same web server, no Kafka", f"{g['no_kafka_requests_per_s']:,} req/s", f"p50 / p99 {g['no_kafka_p50_ms']} / {g['no_kafka_p99_ms']} ms"),
        ("gateway / no Kafka", f"{g['gateway_vs_no_kafka']:.3f}", ""),
        ("webhook -> canonical events", f"{g['translated_events_per_s']:,} ev/s", "through the translator agents"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve-null", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--events-per-request", type=int, default=10)
    parser.add_argument("--in-flight", type=int, default=16)
    args = parser.parse_args()
    if args.serve_null:
        serve_null(args.serve_null)
        return
    from bench.run import ROOT, Broker, log

    workdir = ROOT / "var" / "bench-gateway"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with Broker(workdir) as broker:
        log(f"broker on {broker.bootstrap}")
        results = asyncio.run(
            measure(
                broker.bootstrap,
                workdir / "run",
                args.requests,
                args.events_per_request,
                args.in_flight,
            )
        )
    print(json.dumps(results, indent=2))
    width = max(len(r[0]) for r in rows(results))
    for name, value, note in rows(results):
        print(f"{name:<{width}}  {value:<36} {note}")


if __name__ == "__main__":
    sys.exit(main())
