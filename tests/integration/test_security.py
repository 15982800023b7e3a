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


def test_topics_create_over_sasl_works_with_the_right_password_and_not_a_wrong_one(
    own_broker: OwnBroker, tmp_path: Path
) -> None:
    harness = Harness(own_broker.bootstrap, tmp_path)

    def topics_create(password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stream_sla.cli", "topics", "create"],
            env=harness.env(
                kafka_bootstrap_servers=own_broker.sasl_bootstrap,
                kafka_security_protocol="SASL_PLAINTEXT",
                kafka_sasl_username=SASL_USER,
                kafka_sasl_password=password,
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )

    wrong = "not-the-password-123"
    refused = topics_create(wrong)
    assert refused.returncode == 1
    assert "Kafka refused or could not be reached" in refused.stderr
    assert wrong not in refused.stdout + refused.stderr

    created = topics_create(SASL_PASSWORD)
    assert created.returncode == 0, created.stdout + created.stderr
    for spec in harness.catalog.all():
        assert f"created {harness.prefix}{spec.name}" in created.stdout
    assert SASL_PASSWORD not in created.stdout + created.stderr
