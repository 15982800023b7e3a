"""Delivery latency (p50/p99) and messages/s per channel kind, against the local servers.

Not a benchmark of the vendors: of our side (render, request, answer) on this machine, with
the local vendor server and aiosmtpd (STARTTLS + AUTH per message) on the same cores. It
prints one row per channel kind and checks that every message arrived in its shape.
Run alone: ``pytest tests/notify/test_delivery_figures.py -s``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from stream_sla.notify.channels import build_channels
from stream_sla.notify.config import load_notifications
from stream_sla.notify.delivery import Attempted, Outcome, RetryPolicy
from stream_sla.notify.dispatch import Dispatcher
from stream_sla.notify.metrics import NotifierMetrics
from stream_sla.notify.model import Message
from stream_sla.notify.routing import route

from ..integration.harness import free_port
from .fixtures import MONDAY_10_NY, PEOPLE, notice, write
from .mailbox import start_mail_server
from .test_channels import ALL_CHANNELS
from .vendors import VendorServer

COUNTS = {"mail": 100}
DEFAULT_COUNT = 300


@pytest.fixture
async def setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Dispatcher, VendorServer, object]]:
    vendors = VendorServer()
    await vendors.start()
    monkeypatch.setenv("TEST_SLACK_URL", vendors.url("/slack/webhook"))
    monkeypatch.setenv("TEST_TEAMS_URL", vendors.url("/teams/webhook"))
    controller, mailbox, cert = start_mail_server(tmp_path, free_port())
    text = ALL_CHANNELS.format(smtp_port=controller.port, cafile=cert, http=vendors.url(""))
    config = load_notifications(write(tmp_path, text))

    async def dead_letter(message: Message, result: Attempted) -> None:
        raise AssertionError(f"{message.channel}: {result}")

    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(
            config, build_channels(config.channels, session), NotifierMetrics(), dead_letter,
            clock=lambda: MONDAY_10_NY, policy=RetryPolicy(attempts=1),
        )  # fmt: skip
        yield dispatcher, vendors, mailbox
    controller.stop()
    await vendors.stop()


async def test_delivery_latency_and_rate_per_channel_kind(
    setup: tuple[Dispatcher, VendorServer, object],
) -> None:
    dispatcher, vendors, _ = setup
    rows = []
    for severity in ("warning", "breach"):
        for channel in dict.fromkeys(
            d.channel
            for d in route(notice(severity=severity), dispatcher.config, PEOPLE).deliveries
        ):
            count = COUNTS.get(channel, DEFAULT_COUNT)
            messages = []
            for i in range(count):
                routed = route(notice(lead=f"{100000 + i}", severity=severity),
                               dispatcher.config, PEOPLE)  # fmt: skip
                d = next(d for d in routed.deliveries if d.channel == channel)
                messages.append(Message(d.channel, d.recipient, (d,)))
            alone = [await dispatcher.send(m) for m in messages[: count // 5]]
            single = sorted(r.seconds for r in alone)
            started = time.perf_counter()
            results = await dispatcher.send_all(messages)
            elapsed = time.perf_counter() - started
            assert all(r.outcome is Outcome.DELIVERED for r in results)
            seconds = sorted(r.seconds for r in results)
            rows.append(
                (
                    dispatcher.channels[channel].kind,
                    count,
                    statistics.median(single) * 1000,
                    single[int(0.99 * (len(single) - 1))] * 1000,
                    statistics.median(seconds) * 1000,
                    seconds[int(0.99 * (len(seconds) - 1))] * 1000,
                    count / elapsed,
                )
            )
    assert vendors.problems == []
    print("\n                     one at a time    a burst of N at once")
    print("channel kind         p50 ms  p99 ms   N     p50 ms  p99 ms  messages/s")
    for kind, count, p50, p99, bp50, bp99, rate in rows:
        print(
            f"{kind:<20} {p50:>6.1f} {p99:>7.1f} {count:>5} {bp50:>8.1f} {bp99:>7.1f} {rate:>9.0f}"
        )
    assert len(rows) == 8
