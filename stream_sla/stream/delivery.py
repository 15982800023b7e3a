"""Getting records onto the broker, or stopping: never an input offset committed past a refusal.

aiokafka reports a refused record (too large, not authorised, topic gone) only through its
delivery future, and the producer's ``flush`` before Faust's offset commit waits for those
futures without looking at their result. A record nobody awaits is lost silently while the
input that caused it is committed. So every record the worker produces (breaches, warnings,
dead letters, changelog rows, tallies) goes through :meth:`Delivery.deliver`, which awaits
each delivery before it returns, and the caller acknowledges its input only after that.

When Kafka refuses, the parcels that failed are sent again with a doubling backoff (the
progress of every partition stops meanwhile: the caller holds the worker's lock); when the
budget ``retry_seconds`` is spent, :meth:`Delivery.deliver` calls ``give_up``, which in the
worker logs and ends the process with :data:`EXIT_PRODUCE_REFUSED` *without* acknowledging
the batch. Nothing of it is committed, so the orchestrator's restart reads it again.

:meth:`Delivery.send` and :meth:`Delivery.settle` split the same work, so the worker can
apply the next batch while the broker acknowledges this one (the events are acknowledged to
Faust only once settled). A changelog parcel retried then must not put an older state back
over a newer one: it carries ``refresh``, which rebuilds it from the store's current values.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

log = logging.getLogger(__name__)

EXIT_PRODUCE_REFUSED = 75
"""EX_TEMPFAIL: Kafka kept refusing a record; restart me (nothing of the batch was committed)."""

Header = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class Parcel:
    """Records sent and retried together: one record, or a changelog partition's rows (which
    go as one producer batch to an explicit partition)."""

    topic: str
    records: Sequence[tuple[bytes | None, bytes | None, Sequence[Header]]]
    partition: int | None = None
    refresh: Callable[[], Parcel] | None = None
    """For a retry: the same keys with their current values (changelog rows)."""

    @classmethod
    def one(
        cls, topic: str, key: bytes | None, value: bytes, headers: Sequence[Header] = ()
    ) -> Parcel:
        return cls(topic, [(key, value, headers)])


@dataclass(slots=True)
class Delivery:
    producer: Callable[[], AIOKafkaProducer]
    refused: Counter
    """stream_sla_produce_failures_total{topic, error}."""
    retry_seconds: float = 30.0
    give_up: Callable[[str], NoReturn] | None = None
    first_backoff: float = 0.25
    max_backoff: float = 5.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)

    async def deliver(self, parcels: Sequence[Parcel]) -> None:
        """Return once the broker has every record; retry refusals; give up past the budget."""
        await self.settle(await self.send(parcels))

    async def send(self, parcels: Sequence[Parcel]) -> Sent:
        """Hand the records to the producer; :meth:`settle` waits for the broker's answers."""
        sent = Sent(time.monotonic())
        producer = self.producer()
        for parcel in parcels:
            try:
                sent.futures.append((parcel, await _send(producer, parcel)))
            except Exception as exc:  # refused before it left (e.g. larger than max_request_size)
                sent.failed.append((parcel, exc))
        return sent

    async def settle(self, sent: Sent) -> None:
        """Wait until the broker has every record sent; retry refusals; give up past the budget."""
        failed = list(sent.failed) + await _refused(sent.futures)
        backoff = self.first_backoff
        attempt = 1
        while failed:
            elapsed = time.monotonic() - sent.started
            for parcel, error in failed:
                self.refused.labels(parcel.topic, type(error).__name__).inc(len(parcel.records))
            parcel, error = failed[0]
            what = (
                f"Kafka refused {sum(len(p.records) for p, _ in failed)} record(s) of"
                f" {len(failed)} parcel(s), e.g. to {parcel.topic}: {type(error).__name__}: {error}"
            )
            if elapsed + backoff > self.retry_seconds:
                message = (
                    f"{what}; gave up after {attempt} attempt(s) in {elapsed:.1f}s: stopping"
                    " without committing the input that produced them (a restart reads it again)"
                )
                log.critical(message)
                if self.give_up is None:
                    raise ProduceRefused(message) from error
                self.give_up(message)
            log.error(
                "%s; partition progress stopped, attempt %d, retrying in %.2fs",
                what,
                attempt,
                backoff,
            )
            await self.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)
            attempt += 1
            retry = await self.send([p.refresh() if p.refresh else p for p, _ in failed])
            failed = list(retry.failed) + await _refused(retry.futures)


@dataclass(slots=True)
class Sent:
    """Records handed to the producer, with their delivery futures, not yet acknowledged."""

    started: float
    futures: list[tuple[Parcel, list[asyncio.Future[Any]]]] = field(default_factory=list)
    failed: list[tuple[Parcel, BaseException]] = field(default_factory=list)


async def _refused(
    futures: list[tuple[Parcel, list[asyncio.Future[Any]]]],
) -> list[tuple[Parcel, BaseException]]:
    failed: list[tuple[Parcel, BaseException]] = []
    for parcel, pending in futures:
        results = await asyncio.gather(*pending, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            failed.append((parcel, errors[0]))
    return failed


class ProduceRefused(RuntimeError):
    """Kafka kept refusing a record past the retry budget (when no ``give_up`` is set)."""


async def _send(producer: AIOKafkaProducer, parcel: Parcel) -> list[asyncio.Future[Any]]:
    if parcel.partition is None:
        return [
            await producer.send(parcel.topic, value=value, key=key, headers=list(headers))
            for key, value, headers in parcel.records
        ]
    futures: list[asyncio.Future[Any]] = []
    batch = producer.create_batch()
    for key, value, headers in parcel.records:
        while batch.append(key=key, value=value, timestamp=None, headers=list(headers)) is None:
            futures.append(
                await producer.send_batch(batch, parcel.topic, partition=parcel.partition)
            )
            batch = producer.create_batch()
    if batch.record_count():
        futures.append(await producer.send_batch(batch, parcel.topic, partition=parcel.partition))
    return futures
