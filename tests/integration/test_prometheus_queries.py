"""A real Prometheus scrapes a real worker: every recording rule and dashboard query has data.

The worker runs on the real broker with a simulated CRM stream (short first-touch
target so breaches, warnings and met rules all happen within the test), and a
Prometheus from Debian's package scrapes it every second with the project's rules.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_sla.simulation import SimulationPlan, simulate
from stream_sla.sla.events import EventKind

from .harness import Harness, WorkerProcess, free_port, now_ms

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = [
    ROOT / "deploy" / "prometheus" / "stream-sla.rules.yml",
    ROOT / "deploy" / "prometheus" / "stream-sla.slo.rules.yml",
]
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$team": ".*",
    "$source": ".*",
    "$segment": ".*",
    "$rep": ".*",
}


class Prometheus:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port, self.process, self.log = port, process, log

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)

    def query(self, expr: str) -> list[Any]:
        answer = self.api("query", query=expr)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]  # type: ignore[no-any-return]


@pytest.fixture
def worker(harness: Harness) -> WorkerProcess:
    w = harness.start_worker("w1", first_touch_within="3s", log_format="json")
    w.wait_ready()
    return w


@pytest.fixture
def prometheus(worker: WorkerProcess, tmp_path: Path) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: `make install` (deploy/tools.sh) installs it"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [
            {
                "job_name": "stream-sla",
                "static_configs": [{"targets": [f"127.0.0.1:{worker.web_port}"]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = tmp_path / "prometheus.log"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    prom = Prometheus(port, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if prom.query('up{job="stream-sla"} == 1'):
                break
        except OSError:
            pass
        time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"Prometheus did not scrape the worker:\n{log.read_text()[-3000:]}")
    yield prom
    process.terminate()
    process.wait(10)


def recording_rules() -> list[str]:
    groups = [g for path in RULE_FILES for g in yaml.safe_load(path.read_text())["groups"]]
    return [rule["record"] for group in groups for rule in group["rules"] if "record" in rule]


def dashboard_queries() -> list[tuple[str, str, str]]:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "grafana" / "generate.py")
    assert spec and spec.loader
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    return list(generate.panel_queries())


def substitute(expr: str) -> str:
    for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
    assert not re.search(r"\$\w", expr), f"unknown Grafana variable in {expr}"
    return expr


async def test_every_recording_rule_and_dashboard_query_returns_data(
    harness: Harness, prometheus: Prometheus
) -> None:
    plan = SimulationPlan(
        leads=80, start_ms=now_ms(), leads_per_second=8, first_touch_target_ms=3_000, seed=31
    )
    records = list(simulate(plan))
    crm = [(r.kind, r.key, r.value) for r in records]
    duplicate, malformed = crm[0], (EventKind.CONTACT_ATTEMPT, b"L-x", b"{not json")
    await harness.produce([*crm, duplicate, malformed], batched=True)
    await asyncio.sleep(max(0.0, (max(r.at for r in records) - now_ms()) / 1000) + 8)

    # increase() needs two scrapes of a counter after its first increment: allow a few more
    deadline = time.monotonic() + 20
    while True:
        empty = [rule for rule in recording_rules() if not prometheus.query(rule)]
        if not empty or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert not empty, f"recording rules without data: {empty}"

    rules = prometheus.api("rules")["data"]["groups"]
    unhealthy = [r["name"] for g in rules for r in g["rules"] if r.get("health") != "ok"]
    assert not unhealthy, unhealthy

    queries = dashboard_queries()
    assert len(queries) >= 15, "the three dashboards have their panels"
    failures = []
    for dashboard, title, expr in queries:
        try:
            if not prometheus.query(substitute(expr)):
                failures.append(f"{dashboard} / {title}: no series for {expr}")
        except urllib.error.HTTPError as error:
            failures.append(f"{dashboard} / {title}: {error.read().decode()[:200]}")
    assert not failures, "\n".join(failures)


def test_a_fresh_worker_exports_zero_consumed_series_and_targets_and_logs_json(
    harness: Harness, worker: WorkerProcess
) -> None:
    """Before any CRM event: a consumed series at 0 per CRM topic (so the stall alert sees a
    worker restarted while the CRM is silent), the policy's targets, business hours open (the
    built-in policy has no calendar); and, run with log_format json, only JSON lines."""
    metrics = worker.metrics()
    for spec in harness.catalog.crm().values():
        topic = harness.catalog.name(spec.name)
        assert metrics.get("stream_sla_events_consumed_total", topic=topic) == 0.0, topic
    target = metrics.get(
        "stream_sla_rule_target_seconds", rule="first_touch", policy_segment="default"
    )
    assert target == 3.0  # the harness' first_touch_within=3s
    assert metrics.get("stream_sla_business_hours_open") == 1.0

    lines = [line for line in worker.log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # a non-JSON line fails here
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries), entries[:3]
    recovered = [e for e in entries if e["message"].startswith("recovered partitions")]
    assert recovered and isinstance(recovered[0]["partitions"], list), entries[-10:]
