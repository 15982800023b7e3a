"""Delivery latency (p50/p99) and messages/s per channel kind, against the local servers.

Not a benchmark of the vendors: of our side (render, request, answer) on this machine, with
the local vendor server and aiosmtpd (STARTTLS + AUTH per message) on the same cores. It
prints one row per channel kind and checks that every message arrived in its shape.
Run alone: ``pytest tests/notify/test_delivery_figures.py -s``.
"""

from __future__ import annotations

import statistics
import time

from stream_sla.notify.delivery import Outcome
from stream_sla.notify.model import Message
from stream_sla.notify.routing import route

from .fixtures import PEOPLE, notice
from .rig import Rig

COUNTS = {"mail": 100}
DEFAULT_COUNT = 300


async def test_delivery_latency_and_rate_per_channel_kind(rig: Rig) -> None:
    dispatcher, vendors = rig.dispatcher, rig.vendors
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
            assert all((r.outcome, r.attempts) == (Outcome.DELIVERED, 1) for r in results)
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
    assert vendors.problems == [] and rig.dead == []
    print("\n                     one at a time    a burst of N at once")
    print("channel kind         p50 ms  p99 ms   N     p50 ms  p99 ms  messages/s")
    for kind, count, p50, p99, bp50, bp99, rate in rows:
        print(
            f"{kind:<20} {p50:>6.1f} {p99:>7.1f} {count:>5} {bp50:>8.1f} {bp99:>7.1f} {rate:>9.0f}"
        )
    assert len(rows) == 8
