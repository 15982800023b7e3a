"""The only place the worker reaches into Faust's private attributes, one function each.

Faust (faust-streaming 0.11) gives no public way to the aiokafka producer and consumer it
wraps, nor to the offsets it last committed; the worker needs them for batched delivery
(:class:`~stream_sla.stream.delivery.Delivery` sends whole batches with aiokafka's
``create_batch``/``send_batch``), for ``last_poll_timestamp`` (public in aiokafka, added by
aio-libs/aiokafka#526) and for the lag gauge. No faust-streaming issue asks for these yet
(searched the tracker for access to the underlying producer, consumer and committed
offsets); issue 13 replaces the Faust data path with our own aiokafka consumer and producer,
which makes this module go away. Each function fails loudly (AttributeError) if a Faust
upgrade moves the attribute, and ``tests/integration`` exercises all three.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.types import TP


def aiokafka_producer(app: Any) -> AIOKafkaProducer:
    """The started aiokafka producer under ``app.producer`` (Faust: ``_ensure_producer``)."""
    producer: AIOKafkaProducer = app.producer._ensure_producer()
    return producer


def aiokafka_consumer(app: Any) -> AIOKafkaConsumer:
    """The aiokafka consumer in Faust's consumer thread (Faust: ``_thread._ensure_consumer``)."""
    consumer: AIOKafkaConsumer = app.consumer._thread._ensure_consumer()
    return consumer


def committed_offset(app: Any, tp: TP) -> int | None:
    """The offset Faust last committed for ``tp`` (Faust keeps it in ``_committed_offset``;
    aiokafka's public ``committed()`` is a broker round trip per call)."""
    committed: int | None = app.consumer._committed_offset.get(tp)
    return committed
