"""`make bench`: stream-sla's speed and memory on a real local broker, as ratios to baselines
measured in the same run on the same topics.

Figures (see README "Benchmarks"):
- throughput of one worker end to end (decode, state, changelog, breaches) against a plain
  aiokafka loop that only reads and orjson-decodes the same records (the Python ceiling) and
  against Kafka's own ConsumerPerformance tool from the same jars (the JVM ceiling);
- breach-detection delay (deadline -> breach record on the topic) with many open leads;
- end-to-end latency, event produced -> its effect visible on /metrics;
- worker memory (RSS growth) per open lead at 100k and 1M leads; recovery after kill -9 and of
  1M leads from the changelog; two workers vs one;
- the CRM gateway's webhook rate and latency against the same web server without Kafka
  (bench/gateway.py, also runnable alone).

Prints one table and writes bench/results/latest.json. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import gateway as gateway_bench
from bench.core import replay_rate, sweep_rate
from stream_sla.simulation import SimRecord, SimulationPlan, simulate
from stream_sla.sla.events import EventKind
from stream_sla.sla.timestamps import MS_PER_HOUR, format_ms
from tests.integration.harness import Harness, WorkerProcess, free_port, now_ms, wait_for

ROOT = Path(__file__).resolve().parents[1]
KAFKA = ROOT / "deploy" / "local" / "kafka.sh"
RESULTS = ROOT / "bench" / "results"
CACHE = Path(os.environ.get("STREAM_SLA_CACHE", Path.home() / ".cache" / "stream-sla"))
T = TypeVar("T")
KAFKA_LIBS = CACHE / f"kafka-{os.environ.get('KAFKA_VERSION', '4.0.2')}" / "libs"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the broker ------------------------------------------------------------------------------


class Broker:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_RUN_DIR": str(workdir / "broker"),
            "KAFKA_HEAP": "-Xms512m -Xmx1g",
        }
        self.bootstrap = f"127.0.0.1:{self.port}"

    def __enter__(self) -> Broker:
        done = subprocess.run(["bash", str(KAFKA), "start"], env=self.env, capture_output=True)
        if done.returncode:
            raise SystemExit(done.stdout.decode() + done.stderr.decode())
        return self

    def pid(self) -> int:
        return int((Path(self.env["KAFKA_RUN_DIR"]) / "kafka.pid").read_text())

    def __exit__(self, *_: object) -> None:
        subprocess.run(["bash", str(KAFKA), "stop", "--purge"], env=self.env, capture_output=True)


async def with_broker(
    name: str, bootstrap: str | None, measure: Callable[[str, Path], Awaitable[T]]
) -> T:
    """``measure(bootstrap, workdir)`` in a fresh ``var/<name>``, on a running broker
    (``bootstrap``) or on one started there for it (the one-row benches' ``--bootstrap``)."""
    workdir = ROOT / "var" / name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    if bootstrap:
        return await measure(bootstrap, workdir)
    with Broker(workdir) as broker:
        return await measure(broker.bootstrap, workdir)


# -- load --------------------------------------------------------------------------------------


def backlog(leads: int, seed: int) -> list[SimRecord]:
    """A backfill: leads of the last hours, every event already in the past (as after an outage)."""
    span_ms = 10 * MS_PER_HOUR
    plan = SimulationPlan(
        leads=leads,
        start_ms=now_ms() - span_ms,
        leads_per_second=leads / (span_ms / 1000 / 2),
        first_touch_target_ms=MS_PER_HOUR,
        seed=seed,
        prefix=f"B{seed}",
    )
    cutoff = now_ms()
    return [r for r in simulate(plan) if r.at < cutoff]


async def produce(h: Harness, records: list[tuple[EventKind, bytes, bytes]]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=h.bootstrap, acks=1, linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    try:
        names = {kind: h.catalog.name(spec.name) for kind, spec in h.catalog.crm().items()}
        for kind, key, value in records:
            await producer.send(names[kind], key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


def crm_topics(h: Harness) -> list[str]:
    return [h.catalog.name(spec.name) for spec in h.catalog.crm().values()]


# -- baselines --------------------------------------------------------------------------------


async def plain_aiokafka(h: Harness, total: int) -> float:
    """Events/s of a consumer that only reads and decodes: the ceiling for Python on Kafka."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=h.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in crm_topics(h)
            for p in (consumer.partitions_for_topic(topic) or set())
        ]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(t, p)
                for t in crm_topics(h)
                for p in consumer.partitions_for_topic(t) or set()
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.perf_counter()
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batch.values():
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        return total / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def jvm_consumer(h: Harness, counts: dict[str, int]) -> float:
    """Events/s of Kafka's ConsumerPerformance over the same topics (fetch time only)."""
    fetched, seconds = 0, 0.0
    for topic, count in counts.items():
        out = subprocess.run(
            [
                "java", "-Xmx512m", "-cp", f"{KAFKA_LIBS}/*",
                "org.apache.kafka.tools.ConsumerPerformance",
                "--bootstrap-server", h.bootstrap, "--topic", topic,
                "--messages", str(count), "--timeout", "60000",
                "--group", f"bench-perf-{topic}", "--hide-header",
            ],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        line = [ln for ln in out.stdout.splitlines() if ln.count(",") >= 9][-1]
        columns = [c.strip() for c in line.split(",")]
        fetched += int(columns[4])
        seconds += int(columns[7]) / 1000
    return fetched / seconds


# -- the worker -------------------------------------------------------------------------------


def consumed(worker: WorkerProcess, h: Harness) -> float:
    try:
        m = worker.metrics()
    except OSError:  # not listening yet
        return 0
    return sum(m.get("stream_sla_events_consumed_total", topic=t) or 0 for t in crm_topics(h))


async def until_consumed(
    workers: list[WorkerProcess], h: Harness, total: int, timeout_s: float
) -> tuple[float, float]:
    """(first, last) monotonic times at which the workers together had consumed >0 and all."""
    first = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = sum(consumed(w, h) for w in workers)
        now = time.monotonic()
        if first is None and done > 0:
            first = now
        if done >= total:
            return first or now, now
        await asyncio.sleep(0.5)  # a scrape costs the worker CPU: do not poll it hard
    raise SystemExit(f"workers consumed {done} of {total} in {timeout_s}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuWindow:
    """The cores the workers and the broker used over a throughput window: on a machine of
    ``os.cpu_count()`` cores, their sum says whether the machine, not the design, set the
    rate (two workers cannot double one that already shares the cores with the broker)."""

    def __init__(self, workers: list[WorkerProcess], broker_pid: int) -> None:
        self.pids = [w.process.pid for w in workers]
        self.broker_pid = broker_pid
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        return (
            time.monotonic(),
            sum(cpu_seconds(pid) for pid in self.pids),
            cpu_seconds(self.broker_pid),
        )

    def cores(self) -> dict[str, float]:
        end = self._sample()
        wall = end[0] - self.start[0]
        return {
            "workers_cores": round((end[1] - self.start[1]) / wall, 2),
            "broker_cores": round((end[2] - self.start[2]) / wall, 2),
            "machine_cores": os.cpu_count() or 1,
        }


def rss_bytes(worker: WorkerProcess) -> int:
    status = Path(f"/proc/{worker.process.pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match[1]) * 1024 if match else 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the run ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = ROOT / "var" / "bench"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    results: dict[str, Any] = {
        "leads": args.leads,
        "open_leads": args.open_leads,
        "recovery_leads": args.recovery_leads,
    }
    worker_settings = {"session_timeout_seconds": 6, "closed_lead_retention": "30d"}
    with Broker(workdir) as broker:
        log(f"broker on {broker.bootstrap}")
        h = Harness(broker.bootstrap, workdir)
        await h.create_topics()

        records = backlog(args.leads, seed=1)
        total = len(records)
        sizes = [len(r.value) for r in records]
        results["events"] = total
        results["mean_event_bytes"] = round(statistics.mean(sizes))
        log(f"{total:,} events ({results['mean_event_bytes']} bytes on average)")
        results["core"] = {**replay_rate(records, workdir), **sweep_rate(args.open_leads)}
        log(f"without Kafka: {results['core']}")
        produce_s = await produce(h, [(r.kind, r.key, r.value) for r in records])
        log(f"pre-produced in {produce_s:.1f}s")

        # the worker starts on a full backlog, so the producer does not share the CPU with it
        one = h.start_worker("w1", **worker_settings)
        one.wait_ready()
        idle_rss = rss_bytes(one)
        window = CpuWindow([one], broker.pid())
        first, last = await until_consumed([one], h, total, timeout_s=600)
        one_cpu = window.cores()
        worker_rate = total / (last - first)
        log(f"one worker: {worker_rate:,.0f} events/s, cores used {one_cpu}")

        python_rate = await plain_aiokafka(h, total)
        log(f"plain aiokafka: {python_rate:,.0f} events/s")
        faust_rate = faust_null(h, total)
        log(f"Faust agent that only decodes: {faust_rate:,.0f} events/s")
        counts: dict[str, int] = {}
        for r in records:
            topic = h.catalog.name(h.catalog.crm()[r.kind].name)
            counts[topic] = counts.get(topic, 0) + 1
        jvm_rate = jvm_consumer(h, counts)
        log(f"Kafka ConsumerPerformance: {jvm_rate:,.0f} events/s")
        results["throughput"] = {
            "worker_events_per_s": round(worker_rate),
            "plain_aiokafka_events_per_s": round(python_rate),
            "faust_null_events_per_s": round(faust_rate),
            "jvm_consumer_events_per_s": round(jvm_rate),
            "worker_vs_plain_aiokafka": round(worker_rate / python_rate, 3),
            "worker_vs_faust_null": round(worker_rate / faust_rate, 3),
            "worker_vs_jvm": round(worker_rate / jvm_rate, 4),
            "cpu": one_cpu,
        }

        # breach detection with many open leads: deadlines fall after ingestion has finished
        lead_s = max(30.0, args.open_leads / max(worker_rate, 1) * 1.5 + 10)
        base = now_ms() - MS_PER_HOUR + int(lead_s * 1000)
        handoffs = []
        for n in range(args.open_leads):
            lead = f"O-{n:07d}"
            at = base + (n % 20_000)  # deadlines spread over 20 s
            body = {
                "event_id": f"{lead}-h", "lead_id": lead, "occurred_at": format_ms(at),
                "owner": f"rep-{n % 40}", "team": f"team-{n % 4}",
            }  # fmt: skip
            handoffs.append((EventKind.HANDED_TO_SALES, lead.encode(), orjson.dumps(body)))
        await produce(h, handoffs)
        await until_consumed([one], h, total + len(handoffs), timeout_s=600)
        open_rss = rss_bytes(one)
        delays = await breach_delays(h, args.open_leads, timeout_s=lead_s + 120)
        results["breach_detection"] = {
            "open_leads": args.open_leads,
            "breaches": len(delays),
            "p50_ms": round(percentile(delays, 0.5)),
            "p99_ms": round(percentile(delays, 0.99)),
        }
        log(f"breach delay p50 {results['breach_detection']['p50_ms']} ms, "
            f"p99 {results['breach_detection']['p99_ms']} ms")  # fmt: skip

        latencies = await metrics_latency(h, one, samples=50)
        results["event_to_metrics"] = {
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
        }
        log(f"event -> /metrics p50 {results['event_to_metrics']['p50_ms']} ms")

        # The backfill's last transactions and the breaches' sweeps have settled by now (the
        # worker gives its heap's free pages back when idle): what the open leads hold.
        settled_rss = rss_bytes(one)
        state_leads = int(one.metrics().get("stream_sla_state_leads") or 1)
        results["memory"] = {
            "state_leads": state_leads,
            "worker_rss_mb": round(settled_rss / 2**20, 1),
            "idle_rss_mb": round(idle_rss / 2**20, 1),
            "rss_bytes_per_lead": round((settled_rss - idle_rss) / state_leads),
            "rss_bytes_per_lead_at_once": round((open_rss - idle_rss) / state_leads),
        }

        one.stop(signal.SIGKILL)
        restarted = h.start_worker("w1", **worker_settings)
        results["recovery"] = {
            "leads_after_kill_9": state_leads,
            "ready_after_kill_9_s": round(restarted.wait_ready(300), 1),
        }
        restarted.stop()
        log(f"recovery after kill -9: {results['recovery']}")

        # a million leads in the changelog: the state a large CRM builds up, written directly
        (workdir / "million").mkdir()
        big = Harness(broker.bootstrap, workdir / "million")
        await big.create_topics()
        state_bytes = await produce_states(big, args.recovery_leads)
        cold = big.start_worker("w-million", **worker_settings)
        ready_s = cold.wait_ready(600)
        million_rss = rss_bytes(cold)
        recovered = int(cold.metrics().get("stream_sla_state_leads") or 0)
        results["recovery"].update(
            {
                "changelog_leads": args.recovery_leads,
                "recovered_leads": recovered,
                "ready_from_changelog_s": round(ready_s, 1),
                "state_bytes_per_lead": round(state_bytes / args.recovery_leads),
            }
        )
        results["memory"].update(
            {
                "million_rss_mb": round(million_rss / 2**20, 1),
                "million_rss_bytes_per_lead": round((million_rss - idle_rss) / max(recovered, 1)),
            }
        )
        cold.stop()
        big.stop_all()
        log(f"{recovered:,} leads ready in {ready_s:.1f}s, RSS {million_rss / 2**20:.0f} MB")

        # scale-out: the same backlog on fresh topics, two workers against one
        (workdir / "scale").mkdir()
        two_h = Harness(broker.bootstrap, workdir / "scale")
        await two_h.create_topics()
        await produce(two_h, [(r.kind, r.key, r.value) for r in records])
        pair = [
            two_h.start_worker("a", **worker_settings),
            two_h.start_worker("b", **worker_settings),
        ]
        # The first to join takes all six partitions and reads until the second joins: the
        # window starts once both are ready (the group has settled), on what is left to read.
        for worker in pair:
            worker.wait_ready()
        stable_at = time.monotonic()
        read_before = sum(consumed(w, two_h) for w in pair)
        window = CpuWindow(pair, broker.pid())
        _, last = await until_consumed(pair, two_h, total, timeout_s=600)
        pair_cpu = window.cores()
        pair_rate = (total - read_before) / (last - stable_at)
        log(f"two workers: the group settled after {read_before:,.0f} of {total:,} events")
        results["scale_out"] = {
            "two_workers_events_per_s": round(pair_rate),
            "two_vs_one": round(pair_rate / worker_rate, 2),
            "cpu": pair_cpu,
        }
        log(f"two workers: {pair_rate:,.0f} events/s, cores used {pair_cpu}")
        two_h.stop_all()
        h.stop_all()

        results["gateway"] = await gateway_bench.measure(broker.bootstrap, workdir / "gateway")
        log(f"gateway: {results['gateway']['gateway_requests_per_s']:,} webhook requests/s")
    return results


def faust_null(h: Harness, total: int) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "bench.faust_null", h.bootstrap, str(total), *crm_topics(h)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    match = re.search(r"RATE (\d+)", out.stdout + out.stderr)
    if not match:
        raise SystemExit(f"faust_null failed: {out.stdout[-2000:]}{out.stderr[-2000:]}")
    return float(match[1])


async def produce_states(h: Harness, leads: int) -> int:
    """Open leads' states straight into the changelog, as a worker writes them; returns bytes."""
    from stream_sla.sla.lead import Handoff, LeadState, LeadSummary, Profile
    from stream_sla.sla.snapshot import dump_state

    producer = AIOKafkaProducer(
        bootstrap_servers=h.bootstrap, acks=1, linger_ms=50, max_batch_size=1024 * 1024
    )
    await producer.start()
    written = 0
    far = now_ms() + 30 * 86_400_000
    try:
        for n in range(leads):
            lead = f"R-{n:08d}"
            at = far - 31 * 86_400_000 + n
            state = LeadState(
                lead,
                profile=Profile(at, f"{lead}-c", "webinar", "smb", "t2", "emea", "champion"),
                handoffs=[Handoff(at + 60_000, f"{lead}-h", f"rep-{n % 40}", f"team-{n % 4}")],
            )
            summary = LeadSummary(f"team-{n % 4}", True, False, 0, False, False)
            value = dump_state(state, far, summary)
            written += len(value)
            await producer.send(h.catalog.lead_state, key=lead.encode(), value=value)
        await producer.flush()
    finally:
        await producer.stop()
    return written


async def breach_delays(h: Harness, expected: int, timeout_s: float) -> list[float]:
    consumer = AIOKafkaConsumer(
        h.catalog.breaches, bootstrap_servers=h.bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    delays: list[float] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(delays) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    value = orjson.loads(record.value)
                    if value["lead_id"].startswith("O-") and value["rule"] == "first_touch":
                        due = _parse_ms(value["deadline_at"])
                        delays.append(record.timestamp - due)
    finally:
        await consumer.stop()
    return delays


def _parse_ms(text: str) -> int:
    from stream_sla.sla.events import parse_timestamp

    return parse_timestamp(text)


def mqls_seen(worker: WorkerProcess) -> float:
    samples = worker.metrics()  # every source: "latency" is no known source, so a hash bucket
    return sum(v for (name, _), v in samples.values.items() if name == "stream_sla_mqls_total")


async def metrics_latency(h: Harness, worker: WorkerProcess, samples: int) -> list[float]:
    producer = AIOKafkaProducer(bootstrap_servers=h.bootstrap, acks=1)
    await producer.start()
    topic = h.catalog.name("crm.lead-created")
    latencies = []
    try:
        for n in range(samples):
            before = mqls_seen(worker)
            lead = f"LAT-{n}"
            body = {
                "event_id": lead,
                "lead_id": lead,
                "occurred_at": format_ms(now_ms()),
                "source": "latency",
            }
            started = time.perf_counter()
            await producer.send_and_wait(topic, key=lead.encode(), value=orjson.dumps(body))
            await wait_for(lambda seen=before: mqls_seen(worker) > seen, timeout=30, interval=0.002)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await producer.stop()
    return latencies


def table(results: dict[str, Any]) -> str:
    t, b, e, m, r, s = (
        results[k]
        for k in (
            "throughput",
            "breach_detection",
            "event_to_metrics",
            "memory",
            "recovery",
            "scale_out",
        )
    )
    rows = [
        ("events in the backlog", f"{results['events']:,} ({results['mean_event_bytes']} B avg)", ""),
        ("one worker, end to end", f"{t['worker_events_per_s']:,} ev/s", "target >= 20,000"),
        ("plain aiokafka read+decode", f"{t['plain_aiokafka_events_per_s']:,} ev/s", "Python ceiling"),
        ("Faust agent, take+decode only", f"{t['faust_null_events_per_s']:,} ev/s", "Faust ceiling"),
        ("Kafka ConsumerPerformance", f"{t['jvm_consumer_events_per_s']:,} ev/s", "JVM ceiling"),
        ("worker / plain aiokafka", f"{t['worker_vs_plain_aiokafka']:.3f}", "target >= 0.25"),
        ("worker / Faust agent", f"{t['worker_vs_faust_null']:.3f}", ""),
        ("worker / JVM consumer", f"{t['worker_vs_jvm']:.4f}", ""),
        (f"breach delay p50 / p99 ({b['open_leads']:,} open)", f"{b['p50_ms']} / {b['p99_ms']} ms", "p99 target <= 1000 ms"),
        ("event -> /metrics p50 / p99", f"{e['p50_ms']} / {e['p99_ms']} ms", ""),
        (f"RSS growth per lead, settled ({m['state_leads']:,} leads)", f"{m['rss_bytes_per_lead']:,} B (RSS {m['worker_rss_mb']} MB)", "target <= 1024 B"),
        ("  read as the backfill was counted", f"{m.get('rss_bytes_per_lead_at_once', 0):,} B", "transactions in flight"),
        (f"RSS growth per lead ({r['recovered_leads']:,} leads)", f"{m['million_rss_bytes_per_lead']:,} B (RSS {m['million_rss_mb']} MB)", "target <= 1024 B"),
        ("state per lead in the changelog", f"{r['state_bytes_per_lead']:,} B", ""),
        (f"ready after kill -9 ({r['leads_after_kill_9']:,} leads)", f"{r['ready_after_kill_9_s']} s", ""),
        (f"ready from the changelog ({r['changelog_leads']:,} leads)", f"{r['ready_from_changelog_s']} s", "target <= 15 s at 1M"),
        ("two workers / one", f"{s['two_vs_one']:.2f} ({s['two_workers_events_per_s']:,} ev/s)", "target >= 1.6"),
    ]  # fmt: skip
    for name, cpu in (("one worker", t.get("cpu")), ("two workers", s.get("cpu"))):
        if cpu:
            used = cpu["workers_cores"] + cpu["broker_cores"]
            rows.append((f"  cores used, {name}", f"workers {cpu['workers_cores']} + broker {cpu['broker_cores']} = {used:.2f} of {cpu['machine_cores']}", "the machine's share"))  # fmt: skip
    if "core" in results:
        c = results["core"]
        rows += [
            (f"replay of a file, no Kafka ({c.get('core_build', 'pure Python')} core)", f"{c['replay_events_per_s']:,} ev/s", "target >= 100,000"),
        ]  # fmt: skip
        if "pure_replay_events_per_s" in c:
            pure = c["pure_replay_events_per_s"]
            rows.append(("replay, pure-Python core (same run)", f"{pure:,} ev/s (compiled / pure {c['replay_events_per_s'] / pure:.2f})", ""))  # fmt: skip
        rows += [
            (f"deadline sweep ({c['sweep_breaches']:,} breaches due)", f"{c['sweep_breaches_per_s']:,} breaches/s", "target >= 20,000"),
            ("worker / Faust agent (exactly-once on)", f"{t['worker_vs_faust_null']:.2f}", "target >= 3"),
        ]  # fmt: skip
    rows += gateway_bench.rows(results["gateway"]) if "gateway" in results else []
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value:<36} {note}" for name, value, note in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--leads", type=int, default=40_000, help="leads in the backlog (~4.5 events each)"
    )
    parser.add_argument("--open-leads", type=int, default=100_000)
    parser.add_argument(
        "--recovery-leads", type=int, default=1_000_000, help="leads in the changelog to recover"
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    print(f"\nwritten to {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    sys.exit(main())
