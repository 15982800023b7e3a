"""Held reminders survive a restart: an append-only JSON Lines file in the data directory.

A reminder held for working hours or a digest has been consumed from Kafka (its offset
will be committed), so the journal is what keeps it: a ``hold`` line is written and
fsynced before the record is acknowledged, a ``done`` line when it is sent or dropped.
On start the file is read, compacted to what is still held, and those are held again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from stream_sla.notify.model import Delivery, Notice, Recipient


def delivery_key(d: Delivery) -> str:
    return f"{d.notice.id}|{d.recipient.key}|{d.channel}"


def to_json(d: Delivery) -> dict[str, Any]:
    return {
        "route": d.route,
        "channel": d.channel,
        "recipient": asdict(d.recipient),
        "notice": asdict(d.notice),
        "urgent": d.urgent,
        "escalation": d.escalation,
    }


def from_json(data: dict[str, Any]) -> Delivery:
    return Delivery(
        data["route"],
        data["channel"],
        Recipient(**data["recipient"]),
        Notice(**data["notice"]),
        data["urgent"],
        data["escalation"],
    )


class HeldJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def load(self) -> list[Delivery]:
        """What was held and not yet sent or dropped; compacts the file to just that."""
        held: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a line torn by a crash mid-write: it was never acknowledged
                if entry["op"] == "hold":
                    held[entry["key"]] = entry["delivery"]
                else:
                    for key in entry["keys"]:
                        held.pop(key, None)
        deliveries = [from_json(d) for d in held.values()]
        self._rewrite(deliveries)
        return deliveries

    def hold(self, deliveries: Iterable[Delivery]) -> None:
        lines = [
            orjson.dumps({"op": "hold", "key": delivery_key(d), "delivery": to_json(d)})
            for d in deliveries
        ]
        self._append(lines)

    def done(self, deliveries: Iterable[Delivery]) -> None:
        keys = [delivery_key(d) for d in deliveries]
        if keys:
            self._append([orjson.dumps({"op": "done", "keys": keys})])

    def _append(self, lines: list[bytes]) -> None:
        if not lines:
            return
        with self.path.open("ab") as f:
            f.write(b"".join(line + b"\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())

    def _rewrite(self, deliveries: list[Delivery]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(
            b"".join(
                orjson.dumps({"op": "hold", "key": delivery_key(d), "delivery": to_json(d)}) + b"\n"
                for d in deliveries
            )
        )
        os.replace(tmp, self.path)
