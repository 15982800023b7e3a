"""The operations pages every process kind serves: ``/metrics``, ``/live``, ``/ready`` and its
own pages that show data, behind the same optional credential.

The gateway and the notifier show names too (recipients, the notifications sent, rep names in
metrics), so issue 10's rule holds for them as for the worker: pages that show data take
``web_auth_token`` and/or ``web_auth_user`` + ``web_auth_password`` (see
:mod:`stream_sla.stream.web_auth`); the probes stay open for the kubelet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from stream_sla.config import Settings
from stream_sla.stream.web_auth import WebAuth

Page = Callable[[Any, Any], Awaitable[Any]]
"""A page body: ``(web, request) -> response``, called once the credential was checked."""


def add_ops_pages(
    app: faust.App,
    settings: Settings,
    registry: CollectorRegistry,
    ready: Callable[[], bool] | None = None,
    pages: Mapping[str, Page] | None = None,
) -> None:
    """Register the protected ``pages`` (``/`` first: Faust adds an index page of its own
    later, and a second handler on ``/`` fails at start-up), ``/metrics``, and the probes."""
    auth = WebAuth(settings.web_auth_token, settings.web_auth_user, settings.web_auth_password)

    def protect(body: Page) -> Page:
        async def page(web: Any, request: Any) -> Any:
            if not auth.allows(request.headers.get("Authorization")):
                return web.json({"error": "unauthorized"}, status=401, headers=auth.challenge())
            return await body(web, request)

        return page

    async def metrics(web: Any, request: Any) -> Any:
        body = generate_latest(registry)
        return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    protected = dict(pages or {})
    protected["/metrics"] = metrics
    for path in sorted(protected, key=lambda p: p != "/"):
        app.page(path, name=f"ops{path}")(protect(protected[path]))

    async def live(web: Any, request: Any) -> Any:
        return web.json({"live": True})

    app.page("/live", name="ops/live")(live)
    if ready is not None:
        is_ready = ready

        async def ready_page(web: Any, request: Any) -> Any:
            answer = is_ready()
            return web.json({"ready": answer}, status=200 if answer else 503)

        app.page("/ready", name="ops/ready")(ready_page)
