"""Create the catalogue's topics on a broker, idempotently, and say what differs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from stream_sla.topics import TopicCatalog


@dataclass(frozen=True, slots=True)
class TopicsReport:
    created: list[str]
    existing: list[str]
    mismatched: list[str]


async def create_topics(
    bootstrap_servers: str | dict[str, Any], catalog: TopicCatalog, replication_factor: int = 1
) -> TopicsReport:
    """``bootstrap_servers`` is a host list, or aiokafka client options (TLS, SASL)."""
    options = (
        bootstrap_servers
        if isinstance(bootstrap_servers, dict)
        else {"bootstrap_servers": bootstrap_servers}
    )
    admin = AIOKafkaAdminClient(client_id="stream-sla-admin", **options)
    await admin.start()
    try:
        present = set(await admin.list_topics())
        wanted = {catalog.prefix + spec.name: spec for spec in catalog.all()}
        missing = [
            NewTopic(
                name=name,
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs=spec.config,
            )
            for name, spec in wanted.items()
            if name not in present
        ]
        created: list[str] = []
        for topic in missing:  # one by one: a concurrent creator must not fail the rest
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        existing = sorted(set(wanted) - set(created))
        mismatched: list[str] = []
        if existing:
            for description in await admin.describe_topics(existing):
                name = description["topic"]
                partitions = len(description.get("partitions", []))
                if partitions != wanted[name].partitions:
                    mismatched.append(
                        f"{name}: {partitions} partitions on the broker,"
                        f" {wanted[name].partitions} in topics/"
                    )
        return TopicsReport(sorted(created), existing, mismatched)
    finally:
        await admin.close()
