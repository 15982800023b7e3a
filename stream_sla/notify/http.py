"""One JSON request to a SaaS API, mapped onto :class:`Retryable` / :class:`Rejected`."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from stream_sla.notify.delivery import Rejected, Retryable, retry_after_seconds

TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: Any,
    headers: dict[str, str],
    raw: bytes | None = None,
) -> tuple[int, bytes]:
    """Send; 2xx -> (status, body). 429/5xx/connection errors are retryable, other 4xx not."""
    data = raw if raw is not None else orjson.dumps(body)
    try:
        async with session.request(
            method,
            url,
            data=data,
            headers={"Content-Type": "application/json", **headers},
            timeout=TIMEOUT,
        ) as response:
            content = await response.read()
            status = response.status
            if 200 <= status < 300:
                return status, content
            excerpt = content[:200].decode(errors="replace")
            if status == 429 or status >= 500:
                raise Retryable(
                    f"HTTP {status}: {excerpt}",
                    retry_after_seconds(response.headers.get("Retry-After")),
                )
            raise Rejected(f"HTTP {status}: {excerpt}")
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise Retryable(f"connection: {exc.__class__.__name__}: {exc}") from None


class TokenChannel:
    """A channel calling a JSON API with a token read from the environment (``token_env``)."""

    kind = ""

    def __init__(self, config: Any, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.token = config.secret("token_env")
        self.session = session
