"""The topic catalogue, read from ``topics/`` (one file per topic): names, keys, partitions, config.

The code never repeats a topic name or partition count; it asks the catalogue.
A ``prefix`` (from settings) isolates tests and tenants on a shared broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stream_sla import yamlfile
from stream_sla.sla.events import EventKind

CRM = "crm"


def default_topics_dir() -> Path:
    """The repo's ``topics/`` in a checkout; the copy packaged into the wheel otherwise."""
    package = Path(__file__).resolve().parent
    for candidate in (package.parent / "topics", package / "_topics"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no topics/ folder next to the stream_sla package")


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    event: EventKind | None = None
    internal: bool = False
    value_schema: dict[str, Any] = field(default_factory=dict)


class TopicCatalog:
    def __init__(self, specs: list[TopicSpec], prefix: str = "") -> None:
        self.prefix = prefix
        self._by_base = {spec.name: spec for spec in specs}

    @classmethod
    def load(cls, folder: Path | None = None, prefix: str = "") -> TopicCatalog:
        folder = folder or default_topics_dir()
        specs = [_read(path) for path in sorted(folder.glob("*.yaml"))]
        if not specs:
            raise yamlfile.ConfigError(folder, None, "", "no topic files (*.yaml) found")
        return cls(specs, prefix)

    def spec(self, base_name: str) -> TopicSpec:
        return self._by_base[base_name]

    def name(self, base_name: str) -> str:
        """The real topic name on the broker (prefix applied)."""
        return self.prefix + self._by_base[base_name].name

    def all(self) -> list[TopicSpec]:
        return list(self._by_base.values())

    def crm(self) -> dict[EventKind, TopicSpec]:
        return {spec.event: spec for spec in self._by_base.values() if spec.event is not None}

    @property
    def breaches(self) -> str:
        return self.name("sla.breaches")

    @property
    def warnings(self) -> str:
        return self.name("sla.warnings")

    @property
    def dead_letter(self) -> str:
        return self.name("sla.dead-letter")

    @property
    def lead_state(self) -> str:
        return self.name("sla.lead-state")

    @property
    def mql_tally(self) -> str:
        return self.name("sla.mql-tally")

    def max_message_bytes(self, base_name: str, default: int = 1_048_588) -> int:
        """The topic's ``max.message.bytes`` from topics/ (the broker's default if unset)."""
        return int(self._by_base[base_name].config.get("max.message.bytes", default))

    def lead_partitions(self) -> int:
        """Partitions shared by every lead-keyed topic (co-partitioning is checked here)."""
        keyed = [s for s in self._by_base.values() if s.event is not None or s.internal]
        counts = {s.name: s.partitions for s in keyed}
        if len(set(counts.values())) != 1:
            raise yamlfile.ConfigError(
                "topics/", None, "partitions", f"lead-keyed topics must be co-partitioned: {counts}"
            )
        return keyed[0].partitions


def _read(path: Path) -> TopicSpec:
    doc = yamlfile.load(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), "expected a mapping with name, partitions, config, value_schema")
    for required in ("name", "partitions"):
        if required not in data:
            raise doc.error((), f"{required} is required")
    if not isinstance(data["partitions"], int) or data["partitions"] < 1:
        raise doc.error(("partitions",), f"{data['partitions']!r} is not a positive integer")
    event = data.get("event")
    try:
        kind = EventKind(event) if event is not None else None
    except ValueError:
        allowed = ", ".join(k.value for k in EventKind)
        raise doc.error(("event",), f"{event!r} is not one of {allowed}") from None
    return TopicSpec(
        name=str(data["name"]),
        partitions=data["partitions"],
        config={str(k): str(v) for k, v in (data.get("config") or {}).items()},
        event=kind,
        internal=bool(data.get("internal", False)),
        value_schema=data.get("value_schema") or {},
    )
