"""A local HTTP server standing in for Slack, Teams, a webhook receiver and three CRM APIs.

Each handler checks the request against the vendor's documented shape (method, path,
auth header, JSON fields) and answers as the vendor does; a request that does not fit
is answered 400 and recorded in ``problems`` (a test asserts there are none). ``fail``
queues answers (429 with Retry-After, 503, a vendor's throttling body) to exercise
backoff. The documentation page each handler follows is named on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

Check = Callable[[web.Request, Any], Awaitable[list[str]]]


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    vendor: str
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class VendorServer:
    def __init__(self, hook_secret: str = "hook-secret") -> None:
        self.hook_secret = hook_secret
        self.received: list[Received] = []
        self.problems: list[str] = []
        self.failures: dict[str, list[Answer]] = defaultdict(list)
        self.hook_keys: set[str] = set()
        self.salesforce_tasks: dict[str, dict[str, Any]] = {}
        self.delay = 0.0
        self.runner: web.AppRunner | None = None
        self.port = 0

    def fail(self, vendor: str, *answers: Answer) -> None:
        self.failures[vendor].extend(answers)

    def of(self, vendor: str) -> list[Received]:
        return [r for r in self.received if r.vendor == vendor]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/slack/webhook", self._slack_webhook)
        app.router.add_post("/slack/api/chat.postMessage", self._slack_post_message)
        app.router.add_post("/teams/webhook", self._teams)
        app.router.add_post("/hook", self._hook)
        app.router.add_post("/hubspot/crm/v3/objects/tasks", self._hubspot)
        app.router.add_patch(
            "/salesforce/services/data/{version}/sobjects/Task/{field}/{key}", self._salesforce
        )
        app.router.add_post("/pipedrive/api/v2/activities", self._pipedrive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _common(
        self, vendor: str, request: web.Request, problems: list[str], body: Any
    ) -> web.Response | None:
        self.received.append(
            Received(
                vendor, request.method, request.path, dict(request.headers), body, time.monotonic()
            )
        )
        if request.content_type != "application/json":
            problems.append(f"Content-Type {request.content_type}, not application/json")
        if problems:
            self.problems += [f"{vendor}: {p}" for p in problems]
            return web.json_response({"problems": problems}, status=400)
        if self.failures[vendor]:
            a = self.failures[vendor].pop(0)
            return web.Response(status=a.status, body=a.body, headers=a.headers)
        if self.delay:
            await asyncio.sleep(self.delay)
        return None

    async def _json(self, request: web.Request, problems: list[str]) -> Any:
        try:
            return orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            problems.append("body is not JSON")
            return None

    # https://api.slack.com/messaging/webhooks: POST JSON with "text" (and optional
    # "blocks"); answers 200 "ok" as text; 429 with Retry-After when rate limited.
    async def _slack_webhook(self, request: web.Request) -> web.Response:
        problems: list[str] = []
        body = await self._json(request, problems)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            problems.append("text (string) is required")
        elif "blocks" in body:
            problems += _slack_blocks(body["blocks"])
        answer = await self._common("slack_webhook", request, problems, body)
        return answer or web.Response(text="ok")

    # https://api.slack.com/methods/chat.postMessage: POST https://slack.com/api/chat.postMessage,
    # Authorization: Bearer xoxb-..., JSON channel + text/blocks; errors are 200 {"ok": false}.
    async def _slack_post_message(self, request: web.Request) -> web.Response:
        problems: list[str] = []
        body = await self._json(request, problems)
        if not request.headers.get("Authorization", "").startswith("Bearer xoxb-"):
            problems.append("Authorization: Bearer xoxb-... (a bot token) is required")
        if not isinstance(body, dict) or not body.get("channel"):
            problems.append("channel is required")
        elif not isinstance(body.get("text"), str):
            problems.append("text is required (the notification fallback)")
        else:
            problems += _slack_blocks(body.get("blocks", []))
        answer = await self._common("slack_bot", request, problems, body)
        if answer is not None:
            return answer
        ts = f"{time.time():.6f}"
        return web.json_response({"ok": True, "channel": body["channel"], "ts": ts})

    # https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook:
    # POST {"type": "message", "attachments": [{"contentType":
    # "application/vnd.microsoft.card.adaptive", "content": {AdaptiveCard}}]}; answers "1".
    async def _teams(self, request: web.Request) -> web.Response:
        problems: list[str] = []
        body = await self._json(request, problems)
        try:
            assert body["type"] == "message", "type must be message"
            [attachment] = body["attachments"]
            assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive", (
                "contentType must be application/vnd.microsoft.card.adaptive"
            )
            card = attachment["content"]
            assert card["type"] == "AdaptiveCard", "content.type must be AdaptiveCard"
            assert re.fullmatch(r"1\.[0-6]", card["version"]), "version 1.0 to 1.6"
            assert all(b["type"] == "TextBlock" for b in card["body"]), "TextBlock bodies"
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"not a Teams Adaptive Card message: {exc}")
        answer = await self._common("teams", request, problems, body)
        return answer or web.Response(text="1")

    # The generic webhook (our own contract, stream_sla/notify/webhook.py): HMAC-SHA256 of
    # "timestamp.body" in X-Stream-SLA-Signature, Idempotency-Key; duplicates are dropped.
    async def _hook(self, request: web.Request) -> web.Response:
        problems: list[str] = []
        raw = await request.read()
        stamp = request.headers.get("X-Stream-SLA-Timestamp", "")
        mac = hmac.new(self.hook_secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256)
        if not hmac.compare_digest(
            request.headers.get("X-Stream-SLA-Signature", ""), "sha256=" + mac.hexdigest()
        ):
            problems.append("bad X-Stream-SLA-Signature")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            problems.append("X-Stream-SLA-Timestamp missing or older than 5 minutes")
        key = request.headers.get("Idempotency-Key")
        if not key:
            problems.append("Idempotency-Key is required")
        body = orjson.loads(raw) if raw else None
        answer = await self._common("webhook", request, problems, body)
        if answer is not None:
            return answer
        duplicate = key in self.hook_keys
        self.hook_keys.add(str(key))
        return web.json_response({"duplicate": duplicate}, status=200 if duplicate else 201)

    # https://developers.hubspot.com/docs/api/crm/tasks: POST /crm/v3/objects/tasks, Bearer
    # token, properties with hs_timestamp (required), hs_task_subject, hs_task_status
    # (NOT_STARTED|COMPLETED), hs_task_priority (LOW|MEDIUM|HIGH), hs_task_type
    # (EMAIL|CALL|TODO), hubspot_owner_id; associations [{to: {id}, types: [{
    # associationCategory: HUBSPOT_DEFINED, associationTypeId: 204}]}]. Answers 201.
    async def _hubspot(self, request: web.Request) -> web.Response:
        problems: list[str] = []
        body = await self._json(request, problems)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            problems.append("Authorization: Bearer <private app token> is required")
        props = body.get("properties", {}) if isinstance(body, dict) else {}
        if not props.get("hs_timestamp"):
            problems.append("properties.hs_timestamp is required")
        if props.get("hs_task_status") not in ("NOT_STARTED", "COMPLETED"):
            problems.append("hs_task_status: NOT_STARTED or COMPLETED")
        if props.get("hs_task_priority") not in ("LOW", "MEDIUM", "HIGH"):
            problems.append("hs_task_priority: LOW, MEDIUM or HIGH")
        if props.get("hs_task_type") not in ("EMAIL", "CALL", "TODO"):
            problems.append("hs_task_type: EMAIL, CALL or TODO")
        if not str(props.get("hubspot_owner_id", "")).isdigit():
            problems.append("hubspot_owner_id: a numeric owner id")
        for a in body.get("associations", []) if isinstance(body, dict) else []:
            types = a.get("types", [{}])
            if not a.get("to", {}).get("id") or types[0].get("associationCategory") not in (
                "HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED",
            ):  # fmt: skip
                problems.append(f"association {a} lacks to.id or a category")
        answer = await self._common("hubspot", request, problems, body)
        if answer is not None:
            return answer
        return web.json_response(
            {"id": str(len(self.of("hubspot"))), "properties": props, "archived": False},
            status=201,
        )

    # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm:
    # PATCH /services/data/vXX.X/sobjects/Task/<External ID field>/<value>, Bearer token;
    # the body must not carry Id or the external id field; 201 created, 200 updated.
    async def _salesforce(self, request: web.Request) -> web.Response:
        problems: list[str] = []
        body = await self._json(request, problems)
        field_name = request.match_info["field"]
        if not re.fullmatch(r"v\d+\.\d", request.match_info["version"]):
            problems.append("version must look like v61.0")
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            problems.append("Authorization: Bearer <session or OAuth token> is required")
        if not isinstance(body, dict) or "Id" in body or field_name in body:
            problems.append("the body must not carry Id or the external id field")
        else:
            for required in ("Subject", "OwnerId", "Status"):
                if not body.get(required):
                    problems.append(f"{required} is required")
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(body.get("ActivityDate", ""))):
                problems.append("ActivityDate must be YYYY-MM-DD")
            if body.get("Priority") not in ("High", "Normal", "Low"):
                problems.append("Priority: High, Normal or Low")
        answer = await self._common("salesforce", request, problems, body)
        if answer is not None:
            return answer
        key = request.match_info["key"]
        created = key not in self.salesforce_tasks
        task_id = self.salesforce_tasks.get(key, {}).get("Id") or "00T" + uuid.uuid4().hex[:15]
        self.salesforce_tasks[key] = {**body, "Id": task_id}
        return web.json_response(
            {"id": task_id, "success": True, "errors": [], "created": created},
            status=201 if created else 200,
        )

    # https://developers.pipedrive.com/docs/api/v1/Activities#addActivity (v2: POST
    # /api/v2/activities): x-api-token header, subject and type, owner_id an integer,
    # due_date YYYY-MM-DD, due_time HH:MM (UTC), lead_id a UUID. Answers {"success": true, "data"}.
    async def _pipedrive(self, request: web.Request) -> web.Response:
        problems: list[str] = []
        body = await self._json(request, problems)
        if not request.headers.get("x-api-token"):
            problems.append("x-api-token header is required")
        if not isinstance(body, dict) or not body.get("subject") or not body.get("type"):
            problems.append("subject and type are required")
        else:
            if not isinstance(body.get("owner_id"), int):
                problems.append("owner_id must be an integer")
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(body.get("due_date", ""))):
                problems.append("due_date must be YYYY-MM-DD")
            if not re.fullmatch(r"\d{2}:\d{2}", str(body.get("due_time", ""))):
                problems.append("due_time must be HH:MM")
            if "lead_id" in body and not re.fullmatch(r"[0-9a-f-]{36}", str(body["lead_id"])):
                problems.append("lead_id must be a UUID")
        answer = await self._common("pipedrive", request, problems, body)
        if answer is not None:
            return answer
        return web.json_response(
            {"success": True, "data": {"id": len(self.of("pipedrive")), **body}}
        )


def _slack_blocks(blocks: Any) -> list[str]:
    """https://api.slack.com/reference/block-kit/blocks: a list of at most 50 blocks; a
    section's text is a text object of at most 3000 characters; block_id at most 255."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return ["blocks must be a list of at most 50"]
    problems = []
    for block in blocks:
        if block.get("type") == "section":
            text = block.get("text", {})
            if text.get("type") not in ("mrkdwn", "plain_text") or len(text.get("text", "")) > 3000:
                problems.append("section text: mrkdwn/plain_text, at most 3000 characters")
        if len(block.get("block_id", "")) > 255:
            problems.append("block_id at most 255 characters")
    return problems
