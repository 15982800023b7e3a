"""Sending messages: render, send with retries, count, and dead-letter what could not go.

Each message is sent on its own task, so a channel that keeps failing (and backing off)
never holds up another channel's messages; :meth:`Dispatcher.send_all` returns when every
message is delivered, refused, or dead-lettered after the configured attempts. That is
the at-least-once point: the Faust agent acknowledges a record only after it returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from stream_sla.notify.channels import Channel
from stream_sla.notify.config import NotifyConfig
from stream_sla.notify.delivery import Attempted, Outcome, Rejected, RetryPolicy, attempt
from stream_sla.notify.message import Rendered, render
from stream_sla.notify.metrics import NotifierMetrics
from stream_sla.notify.model import Message

log = logging.getLogger(__name__)

DeadLetter = Callable[[Message, Attempted], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        config: NotifyConfig,
        channels: dict[str, Channel],
        metrics: NotifierMetrics,
        dead_letter: DeadLetter,
        owner_name: Callable[[str], str | None] = lambda _: None,
        clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.channels = channels
        self.metrics = metrics
        self.dead_letter = dead_letter
        self.owner_name = owner_name
        self.clock = clock
        self.policy = policy or RetryPolicy(
            config.retry_attempts,
            config.retry_first_delay_ms / 1000,
            config.retry_max_delay_ms / 1000,
        )
        self.in_flight = 0

    async def send_all(self, messages: list[Message]) -> list[Attempted]:
        if not messages:
            return []
        return list(await asyncio.gather(*(self.send(m) for m in messages)))

    async def send(self, message: Message, rendered: Rendered | None = None) -> Attempted:
        channel = self.channels[message.channel]
        kind = channel.kind
        self.in_flight += 1
        self.metrics.queue_depth.set(self.in_flight)
        try:
            if rendered is None:
                rendered = render(
                    message, self.clock(), self.config.crm_link, self.config.templates,
                    self.owner_name,
                )  # fmt: skip
            text = rendered

            async def once() -> None:
                await channel.send(message, text)

            def retried(reason: str) -> None:
                self.metrics.notifications.labels(kind, Outcome.RETRIED.value).inc()
                log.info("retrying %s to %s: %s", message.channel, message.recipient.key, reason)

            try:
                result = await attempt(once, self.policy, on_retry=retried)
            except Rejected as exc:  # raised while building the request, before any attempt
                result = Attempted(Outcome.REJECTED, 0, exc.reason)
            result = replace(result, subject=text.subject)
        finally:
            self.in_flight -= 1
            self.metrics.queue_depth.set(self.in_flight)
        self.metrics.notifications.labels(kind, result.outcome.value).inc(len(message.deliveries))
        if result.outcome is Outcome.DELIVERED:
            self.metrics.latency.labels(kind).observe(result.seconds)
        else:
            log.warning(
                "%s to %s %s after %d attempt(s): %s",
                message.channel, message.recipient.key, result.outcome, result.attempts,
                result.reason,
            )  # fmt: skip
            await self.dead_letter(message, result)
        return result
