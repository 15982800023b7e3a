"""Sending with retries: exponential backoff with full jitter, honouring Retry-After.

A channel's ``send`` raises :class:`Retryable` (429, 5xx, a dropped connection, a vendor's
throttling answer) or :class:`Rejected` (the request itself is wrong: retrying cannot
help). :func:`attempt` retries the first up to the configured attempts, each wait drawn
uniformly from [0, min(max_delay, first_delay * 2**n)] ("full jitter", so a burst of
failures does not retry in lock-step), or exactly the server's Retry-After when it gave
one (bounded by ``max_delay``). The outcome says what happened; the caller dead-letters
a failure. Channels run concurrently, so one failing channel never holds up the others.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    RETRIED = "retried"
    """One failed attempt that will be retried (counted per attempt)."""
    DEAD_LETTERED = "dead_lettered"
    REJECTED = "rejected"
    """Refused by the server as wrong (4xx other than 429): dead-lettered without retries."""
    DISCARDED = "discarded"
    """Held, then dropped: the lead met the rule or closed meanwhile."""


class ChannelError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retryable(ChannelError):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Rejected(ChannelError):
    pass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    first_delay: float = 1.0
    max_delay: float = 300.0

    def delay(self, failures: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return rng.uniform(0, min(self.max_delay, self.first_delay * 2 ** (failures - 1)))


@dataclass(frozen=True, slots=True)
class Attempted:
    outcome: Outcome
    attempts: int
    reason: str = ""
    seconds: float = 0.0
    """From the first try to the final answer (the delivery latency)."""
    subject: str = ""
    """What the message said (its subject), for the notifier's page of recent sends."""


async def attempt(
    send: Callable[[], Awaitable[None]],
    policy: RetryPolicy,
    on_retry: Callable[[str], None] = lambda _: None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Attempted:
    rng = rng or random.Random()
    started = time.monotonic()
    reason = ""
    for n in range(1, policy.attempts + 1):
        try:
            await send()
        except Rejected as exc:
            return Attempted(Outcome.REJECTED, n, exc.reason, time.monotonic() - started)
        except Exception as exc:  # Retryable, or a bug in a channel: never stall the agent
            retryable = exc if isinstance(exc, Retryable) else Retryable(f"unexpected: {exc!r}")
            reason = retryable.reason
            if n == policy.attempts:
                break
            on_retry(reason)
            await sleep(policy.delay(n, retryable.retry_after, rng))
        else:
            return Attempted(Outcome.DELIVERED, n, "", time.monotonic() - started)
    return Attempted(Outcome.DEAD_LETTERED, policy.attempts, reason, time.monotonic() - started)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date (RFC 9110 10.2.3); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
