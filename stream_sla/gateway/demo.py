"""A synthetic HubSpot: the simulator's leads posted to the gateway as signed webhooks.

``make demo-gateway`` runs it instead of ``stream-sla simulate``, so the whole path a real
CRM takes (signature, raw topic, translator, worker) is exercised. Each simulated event
becomes the HubSpot event a portal would send: a contact creation (with its
``hs_analytics_source``), an owner change, a call/email/meeting associated with the
contact (with its disposition), a lead status. The reps and their teams go to a people
directory (``--people-out``) the gateway reads, as a real deployment would.

    python -m stream_sla.gateway.demo --url http://127.0.0.1:6067/hooks/hubspot \\
        --secret "$STREAM_SLA_GATEWAY_HUBSPOT_CLIENT_SECRET" --leads 1000 --rate 2
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from stream_sla.gateway.auth import hubspot_signature
from stream_sla.simulation import SimRecord, SimulationPlan, simulate
from stream_sla.sla.events import EventKind

ENGAGEMENT_TYPES = {"call": "0-48", "email": "0-49", "meeting": "0-47", "sms": "", "social": ""}
DISPOSITIONS = {
    "connected": "f240bbac-87c9-4f6e-bf70-924b57d47db7",
    "voicemail": "b2cf5968-551e-4856-9783-52b3da59a7d0",
    "no_answer": "73a0d17f-1163-4015-bdd5-ec830791da20",
    "bad_contact": "17b47fee-58de-441e-a44c-c6300d46f273",
}
LEAD_STATUS = {"disqualified": "UNQUALIFIED", "qualified": "OPEN_DEAL", "recycled": "BAD_TIMING"}
PORTAL = 62515


def contact_id(lead_id: str) -> int:
    """HubSpot object ids are numbers: the simulator's ``L-0000042`` is contact 42."""
    digits = "".join(ch for ch in lead_id if ch.isdigit())
    return int(digits or "0")


def hubspot_events(record: SimRecord, ids: Iterator[int]) -> list[dict[str, Any]]:
    """The HubSpot webhook events that tell what ``record`` tells."""
    value = orjson.loads(record.value)
    contact = contact_id(value["lead_id"])
    base = {"portalId": PORTAL, "appId": 1, "occurredAt": record.at, "attemptNumber": 0}

    def change(prop: str, prop_value: str) -> dict[str, Any]:
        return {
            **base,
            "eventId": next(ids),
            "subscriptionType": "contact.propertyChange",
            "objectId": contact,
            "propertyName": prop,
            "propertyValue": prop_value,
        }

    if record.kind is EventKind.LEAD_CREATED:
        created = {
            **base,
            "eventId": next(ids),
            "subscriptionType": "contact.creation",
            "objectId": contact,
        }
        return [created, change("hs_analytics_source", value["source"])]
    if record.kind is EventKind.HANDED_TO_SALES:
        return [change("hubspot_owner_id", value["owner"])]
    if record.kind is EventKind.LEAD_STATUS_CHANGED:
        status = LEAD_STATUS.get(value["status"])
        return [change("hs_lead_status", status)] if status else []
    type_id = ENGAGEMENT_TYPES.get(value["channel"], "")
    if not type_id:
        return []
    engagement = next(ids)
    events = [
        {
            **base,
            "eventId": next(ids),
            "subscriptionType": "object.associationChange",
            "fromObjectTypeId": type_id,
            "fromObjectId": engagement,
            "toObjectTypeId": "0-1",
            "toObjectId": contact,
            "associationRemoved": False,
        }
    ]
    disposition = DISPOSITIONS.get(value["outcome"])
    if type_id == "0-48" and disposition:
        events.append(
            {
                **base,
                "eventId": next(ids),
                "subscriptionType": "object.propertyChange",
                "objectTypeId": "0-48",
                "objectId": engagement,
                "propertyName": "hs_call_disposition",
                "propertyValue": disposition,
            }
        )
    return events


def people_yaml(plan: SimulationPlan) -> str:
    lines = ["people:"]
    for team in plan.teams:
        for n in range(1, plan.reps_per_team + 1):
            owner = f"rep-{team}-{n}"
            lines.append(f"  - {{id: {owner}, name: Rep {team} {n}, team: {team}}}")
    return "\n".join(lines) + "\n"


async def post_signed(session: aiohttp.ClientSession, url: str, secret: str, body: bytes) -> int:
    stamp = str(time.time_ns() // 1_000_000)
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": stamp,
        "X-HubSpot-Signature-v3": hubspot_signature(secret, "POST", url, body, stamp),
    }
    async with session.post(url, data=body, headers=headers) as response:
        return response.status


async def run(url: str, secret: str, records: Iterable[SimRecord], realtime: bool) -> int:
    """Post batches of up to 100 events (HubSpot's batch size); retry while not 2xx."""
    ids = itertools.count(1)
    sent = 0
    async with aiohttp.ClientSession() as session:
        batch: list[dict[str, Any]] = []
        for record in records:
            if realtime and (delay := record.at / 1000 - time.time()) > 0:
                sent += await _flush(session, url, secret, batch)
                await asyncio.sleep(delay)
            batch.extend(hubspot_events(record, ids))
            if len(batch) >= 100:
                sent += await _flush(session, url, secret, batch)
        sent += await _flush(session, url, secret, batch)
    print(f"posted {sent} HubSpot webhook events", flush=True)
    return 0


async def post_fixture(url: str, secret: str, path: Path) -> int:
    """A fixture's batch, signed as HubSpot signs, with its times shifted to end now."""
    data = orjson.loads(await asyncio.to_thread(path.read_bytes))
    batch = data["body"] if isinstance(data, dict) else data
    latest = max(int(item.get("occurredAt", 0)) for item in batch)
    shift = time.time_ns() // 1_000_000 - latest
    moved = [dict(item, occurredAt=int(item["occurredAt"]) + shift) for item in batch]
    async with aiohttp.ClientSession() as session:
        status = await post_signed(session, url, secret, orjson.dumps(moved))
    print(f"{path.name}: {len(moved)} events, gateway answered {status}", flush=True)
    return 0 if status < 300 else 1


async def _flush(
    session: aiohttp.ClientSession, url: str, secret: str, batch: list[dict[str, Any]]
) -> int:
    if not batch:
        return 0
    body = orjson.dumps(batch)
    count = len(batch)
    batch.clear()
    while (status := await post_signed(session, url, secret, body)) >= 300:
        print(f"gateway answered {status}; retrying in 2s", flush=True)
        await asyncio.sleep(2)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream_sla.gateway.demo", description=__doc__)
    parser.add_argument("--url", help="the gateway's /hooks/hubspot URL")
    parser.add_argument("--secret", help="the HubSpot client secret it checks")
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2.0, help="new leads per second")
    parser.add_argument("--target-seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fast", action="store_true", help="post at once, keep event times")
    parser.add_argument("--people-out", type=Path, help="write the reps' people directory here")
    parser.add_argument(
        "--post",
        type=Path,
        help="instead: post the payloads of a fixture file (tests/fixtures/crm/hubspot-*.json)"
        " signed, its occurredAt times moved to now, and print the answers",
    )
    args = parser.parse_args(argv)
    plan = SimulationPlan(
        leads=args.leads,
        start_ms=time.time_ns() // 1_000_000,
        leads_per_second=args.rate,
        first_touch_target_ms=int(args.target_seconds * 1000),
        seed=args.seed,
    )
    if args.people_out:
        args.people_out.write_text(people_yaml(plan))
        return 0
    if not args.url or not args.secret:
        parser.error("--url and --secret are required to post")
    if args.post:
        return asyncio.run(post_fixture(args.url, args.secret, args.post))
    return asyncio.run(run(args.url, args.secret, simulate(plan), realtime=not args.fast))


if __name__ == "__main__":
    raise SystemExit(main())
