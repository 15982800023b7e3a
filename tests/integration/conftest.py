"""Brokers of a test's own (for faults and security), besides the session broker."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import KAFKA_SCRIPT
from .harness import Harness, free_port


@dataclass(frozen=True)
class OwnBroker:
    bootstrap: str
    sasl_bootstrap: str
    env: dict[str, str]


@pytest.fixture
async def harness(kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """An isolated tenant (topic prefix, consumer group, state dirs) on the session broker."""
    h = Harness(kafka_bootstrap, tmp_path)
    await h.create_topics()
    yield h
    h.stop_all()


SASL_USER, SASL_PASSWORD = "stream-sla", "s3cret-for-the-test-only"


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    """A local broker for one test (PLAINTEXT plus a SASL/PLAIN listener): stopping it, or
    testing credentials on it, disturbs no other test."""
    port, controller, sasl = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "KAFKA_SASL_PORT": str(sasl),
        "KAFKA_SASL_USERS": f"{SASL_USER}:{SASL_PASSWORD}",
        "KAFKA_RUN_DIR": str(tmp_path / "broker"),
    }
    started = subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], env=env, capture_output=True)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield OwnBroker(f"127.0.0.1:{port}", f"127.0.0.1:{sasl}", env)
    finally:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], env=env, capture_output=True)
