"""The Faust ceiling: one agent over the same topics that takes batches exactly as the worker
does and only decodes each value. Run by bench/run.py as its own process; prints events/s.

``python -m bench.faust_null BOOTSTRAP EXPECTED TOPIC...``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import faust
import orjson


def main() -> None:
    bootstrap, expected, topics = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    app = faust.App(
        f"bench-faust-null-{os.getpid()}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="faust-null-"),
        web_enabled=False,
        autodiscover=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=8000,
        broker_max_poll_records=2000,
        consumer_max_fetch_size=4 * 1024 * 1024,
    )
    source = app.topic(
        *topics, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    seen = 0
    started = 0.0

    @app.agent(source, concurrency=1)
    async def null(stream: faust.StreamT[bytes]) -> None:
        nonlocal seen, started
        async for events in stream.take_events(2000, within=0.01):  # type: ignore[attr-defined]
            if not started:
                started = time.perf_counter()
            for event in events:
                orjson.loads(event.message.value)
            seen += len(events)
            if seen >= expected:
                rate = (seen - len(events)) / max(time.perf_counter() - started, 1e-9)
                print(f"RATE {rate:.0f}", flush=True)
                os._exit(0)

    from faust.worker import Worker

    Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
