"""Backoff: exponential with full jitter, Retry-After honoured, bounded; bugs never stall."""

from __future__ import annotations

import random

from stream_sla.notify.delivery import Outcome, Retryable, RetryPolicy, attempt, retry_after_seconds


async def test_waits_grow_exponentially_with_full_jitter_and_are_capped() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def down() -> None:
        raise Retryable("HTTP 503")

    policy = RetryPolicy(attempts=8, first_delay=1.0, max_delay=10.0)
    result = await attempt(down, policy, rng=random.Random(7), sleep=sleep)
    assert (result.outcome, result.attempts, result.reason) == (
        Outcome.DEAD_LETTERED,
        8,
        "HTTP 503",
    )
    caps = [min(10.0, 2.0**n) for n in range(7)]
    assert len(waits) == 7 and all(0 <= w <= cap for w, cap in zip(waits, caps, strict=True))
    assert len(set(waits)) == 7  # jittered, not in lock-step


async def test_retry_after_is_waited_exactly_but_never_beyond_the_cap() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    answers = iter([Retryable("429", 3.0), Retryable("429", 900.0), None])

    async def limited() -> None:
        answer = next(answers)
        if answer is not None:
            raise answer

    result = await attempt(limited, RetryPolicy(5, 1.0, 60.0), sleep=sleep)
    assert result.outcome is Outcome.DELIVERED and waits == [3.0, 60.0]


async def test_a_bug_in_a_channel_is_retried_then_dead_lettered_not_raised() -> None:
    async def broken() -> None:
        raise KeyError("oops")

    async def sleep(_: float) -> None:
        return None

    result = await attempt(broken, RetryPolicy(3, 0.0, 0.0), sleep=sleep)
    assert result.outcome is Outcome.DEAD_LETTERED and "KeyError" in result.reason


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
