"""Real workers as real processes against the real broker, each test on its own topics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from prometheus_client.parser import text_string_to_metric_families

from stream_sla.admin import create_topics
from stream_sla.sla.events import EventKind
from stream_sla.sla.timestamps import format_ms
from stream_sla.topics import TopicCatalog


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Samples:
    """A /metrics scrape, read with Prometheus' own text parser; label order does not matter."""

    values: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, body: str) -> Samples:
        return cls(
            {
                (sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(body)
                for sample in family.samples
            }
        )

    def get(self, name: str, **labels: str) -> float | None:
        return self.values.get((name, frozenset(labels.items())))

    def __repr__(self) -> str:
        return "\n".join(
            f"{name}{dict(labels)} {value}" for (name, labels), value in self.values.items()
        )


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    web_port: int
    log_path: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Seconds until /ready said 200; fails with the worker's log tail otherwise."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/ready")[0] == 200:
                    return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.log_tail()}")

    def metrics(self) -> Samples:
        status, body = self.get("/metrics")
        assert status == 200, body
        return Samples.parse(body)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


@dataclass
class Harness:
    """One isolated tenant on the broker: its own topic prefix, consumer group and state dir."""

    bootstrap: str
    workdir: Path
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    workers: list[WorkerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.catalog = TopicCatalog.load(prefix=self.prefix)
        self.app_id = f"{self.prefix}stream-sla"

    async def create_topics(self) -> None:
        await create_topics(self.bootstrap, self.catalog)

    def env(self, **settings: Any) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_SLA_")}
        env.update(
            {
                "STREAM_SLA_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "STREAM_SLA_TOPIC_PREFIX": self.prefix,
                "STREAM_SLA_APP_ID": self.app_id,
            }
        )
        env.update({f"STREAM_SLA_{k.upper()}": str(v) for k, v in settings.items()})
        return env

    def start_worker(self, name: str = "w1", **settings: Any) -> WorkerProcess:
        web_port = free_port()
        settings.setdefault("data_dir", self.workdir / f"state-{name}")
        log_path = self.workdir / f"worker-{name}.log"
        log = log_path.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "stream_sla.cli", "worker", "--loglevel", "info"],
            env=self.env(web_port=web_port, **settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        worker = WorkerProcess(process, web_port, log_path)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop(signal.SIGKILL if worker.process.poll() is None else signal.SIGTERM, 5)

    async def produce(
        self,
        records: list[tuple[EventKind | str, str | bytes | None, bytes]],
        batched: bool = False,
    ) -> None:
        """Publish (topic kind or base name, key, value) records, keyed for co-partitioning;
        one by one, each acknowledged, unless ``batched``."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            for kind, key, value in records:
                topic = (
                    self.catalog.name(self.catalog.crm()[kind].name)
                    if isinstance(kind, EventKind)
                    else self.catalog.name(kind)
                )
                raw_key = key.encode() if isinstance(key, str) else key
                if batched:
                    await producer.send(topic, key=raw_key, value=value)
                else:
                    await producer.send_and_wait(topic, key=raw_key, value=value)
            await producer.flush()
        finally:
            await producer.stop()

    async def consume(
        self,
        base_name: str,
        until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
        timeout: float,  # noqa: ASYNC109 - a read deadline, not a cancellation scope
        settle: float = 0.0,
        isolation_level: str = "read_uncommitted",
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Read a topic from the start until ``until(records)`` holds (or time runs out),
        then keep reading ``settle`` seconds more so an unexpected extra record is seen."""
        consumer = AIOKafkaConsumer(
            self.catalog.name(base_name),
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            isolation_level=isolation_level,
        )
        await consumer.start()
        records: list[ConsumerRecord[bytes, bytes]] = []
        try:
            deadline = time.monotonic() + timeout
            settle_until: float | None = None
            while time.monotonic() < deadline:
                if settle_until is None and until(records):
                    settle_until = time.monotonic() + settle
                if settle_until is not None and time.monotonic() >= settle_until:
                    break
                batch = await consumer.getmany(timeout_ms=200)
                for partition_records in batch.values():
                    records.extend(partition_records)
        finally:
            await consumer.stop()
        return records


def crm_event(
    kind: EventKind, lead_id: str, event_id: str, at: int, **fields: Any
) -> tuple[EventKind, str, bytes]:
    body = {"event_id": event_id, "lead_id": lead_id, "occurred_at": format_ms(at), **fields}
    return kind, lead_id, orjson.dumps(body)


def values(records: list[ConsumerRecord[bytes, bytes]]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records if r.value is not None]


async def wait_for(
    predicate: Callable[[], bool],
    timeout: float,  # noqa: ASYNC109
    interval: float = 0.2,
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


def effective_breach_ids(records: list[ConsumerRecord[bytes, bytes]]) -> set[str]:
    """Breach ids in effect on sla.breaches: the newest record per id decides (a breach, or a
    retraction naming it), as the README tells consumers."""
    in_effect: dict[str, bool] = {}
    for value in values(records):
        if "retracts" in value:
            in_effect[value["retracts"]] = False
        elif value.get("severity") == "breach":
            in_effect[value["id"]] = True
    return {breach_id for breach_id, live in in_effect.items() if live}
