"""SASL/PLAIN on a real broker: the worker authenticates, and the password shows up nowhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stream_sla.sla.events import EventKind

from .conftest import SASL_PASSWORD, SASL_USER, OwnBroker
from .harness import Harness, crm_event, now_ms, values


async def test_worker_over_sasl_plain_emits_breaches_and_never_prints_the_password(
    own_broker: OwnBroker, tmp_path: Path
) -> None:
    harness = Harness(own_broker.bootstrap, tmp_path)
    await harness.create_topics()
    sasl = {
        "kafka_bootstrap_servers": own_broker.sasl_bootstrap,
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": "PLAIN",
        "kafka_sasl_username": SASL_USER,
        "kafka_sasl_password": SASL_PASSWORD,
    }
    try:
        worker = harness.start_worker("w1", first_touch_within="2s", **sasl)
        worker.wait_ready()
        t0 = now_ms()
        await harness.produce(
            [crm_event(EventKind.HANDED_TO_SALES, "L-1", "h-1", t0, owner="ana", team="east")]
        )
        [breach] = await harness.consume("sla.breaches", until=lambda r: len(r) >= 1, timeout=20)
        assert values([breach])[0]["lead_id"] == "L-1"
        _, metrics_page = worker.get("/metrics")
        shown = subprocess.run(  # noqa: ASYNC221 - a one-shot CLI call, the loop has nothing to do
            [sys.executable, "-m", "stream_sla.cli", "config", "show"],
            env=harness.env(**sasl),
            capture_output=True,
            text=True,
        )
        assert shown.returncode == 0, shown.stderr
        assert "kafka_sasl_password = **********" in shown.stdout
        for text in (worker.log_tail(10_000), metrics_page, shown.stdout):
            assert SASL_PASSWORD not in text
    finally:
        harness.stop_all()


def test_a_wrong_password_fails_clearly_without_echoing_it(
    own_broker: OwnBroker, tmp_path: Path
) -> None:
    harness = Harness(own_broker.bootstrap, tmp_path)
    wrong = "not-the-password-123"
    result = subprocess.run(
        [sys.executable, "-m", "stream_sla.cli", "topics", "create"],
        env=harness.env(
            kafka_bootstrap_servers=own_broker.sasl_bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username=SASL_USER,
            kafka_sasl_password=wrong,
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Kafka refused or could not be reached" in result.stderr
    assert wrong not in result.stdout + result.stderr
