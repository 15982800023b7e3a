"""Session-wide real services, and the rule that a skipped integration test fails the run.

The broker, in order of preference: ``KAFKA_BOOTSTRAP_SERVERS`` if set; a
testcontainers Kafka where a Docker engine answers; otherwise the project's own
``deploy/local/kafka.sh`` starts Apache Kafka from its jars on a test port.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Speed is a benchmark goal, never a test's: on a shared CI machine the first example of a
# property (imports, schema loading) can take longer than Hypothesis's 200 ms default deadline,
# which fails the run as "flaky" for no fault of the code.
settings.register_profile("stream-sla", deadline=None)
settings.load_profile("stream-sla")

ROOT = Path(__file__).resolve().parents[1]
KAFKA_SCRIPT = ROOT / "deploy" / "local" / "kafka.sh"
TEST_KAFKA_PORT = os.environ.get("STREAM_SLA_TEST_KAFKA_PORT", "39092")
TEST_CONTROLLER_PORT = os.environ.get("STREAM_SLA_TEST_CONTROLLER_PORT", "39093")
REQUIRE_INTEGRATION = os.environ.get("STREAM_SLA_REQUIRE_INTEGRATION") == "1"

_skipped_integration: list[str] = []


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    env = {
        **os.environ,
        "KAFKA_PORT": TEST_KAFKA_PORT,
        "KAFKA_CONTROLLER_PORT": TEST_CONTROLLER_PORT,
    }
    running = subprocess.run(["bash", str(KAFKA_SCRIPT), "status"], env=env, capture_output=True)
    if running.returncode != 0:
        # Not running: start on empty data. The run directory outlives a session (it sits in
        # ~/.cache), and every test makes topics of its own prefix: after a few dozen sessions
        # on one machine the broker held ~750 MB of old topics and ran out of file handles
        # ("Too many open files") in the middle of a run.
        subprocess.run(["bash", str(KAFKA_SCRIPT), "purge"], env=env, capture_output=True)
    started = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "start"], env=env, capture_output=True, text=True
    )
    if started.returncode != 0:
        pytest.fail(
            f"could not start Kafka with {KAFKA_SCRIPT}:\n{started.stdout}\n{started.stderr}"
        )
    try:
        _first_group_join(f"127.0.0.1:{TEST_KAFKA_PORT}")
        yield f"127.0.0.1:{TEST_KAFKA_PORT}"
    finally:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], env=env, capture_output=True)


def _first_group_join(bootstrap: str) -> None:
    """Join a consumer group once, and commit, before any test starts a worker.

    A fresh broker creates ``__consumer_offsets`` (50 partitions) on the first group join.
    Under load the first test's worker raced it: its join waited on "coordinator dead"
    answers and was then assigned nothing ("No partition metadata"), which Faust's consumer
    only repairs at its next metadata refresh, minutes later. Production starts workers after
    the topics job, on a broker long past its first group; the suite should too.
    """
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    topic = "stream-sla-test-first-group"

    async def join() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 1, 1)])
        except TopicAlreadyExistsError:
            pass
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"first group")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=topic,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            await asyncio.wait_for(consumer.getone(), timeout=90)
            await consumer.commit()
        finally:
            await consumer.stop()

    asyncio.run(join())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if (report.skipped and "/integration/" in report.nodeid.replace("\\", "/")) or (
        report.skipped and report.nodeid.startswith("tests/integration")
    ):
        _skipped_integration.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_INTEGRATION and _skipped_integration:
        print(
            "\nstream-sla: integration tests were skipped, which fails this run:\n  "
            + "\n  ".join(_skipped_integration)
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
