"""The worker's per-batch work: the SLA engine, then the sinks; what to send, in an Outbox.

Synchronous on purpose: it touches only memory (the engine, the metrics) and returns an
:class:`Outbox`; the Faust wiring sends it, then the engine's changed rows. So a batch is
applied with no ``await`` in the middle (the deadline timer cannot interleave), and tests
drive it without a broker. Every decision is the engine's (:mod:`stream_sla.sla.engine`),
the same one a replay drives; this module only reads the wall clock and routes effects.

Order for restarts, kept by the caller: violations are delivered (acknowledged) before
the state that records them goes to the changelog; the input offsets are committed only
after the producer is flushed. A crash in between re-emits at worst, with the same ids.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from stream_sla.metrics import Metrics
from stream_sla.sinks import PrometheusSink, TypedSink
from stream_sla.sla.deadlines import DeadlineIndex, Due
from stream_sla.sla.effects import BreachRetracted, SlaViolation
from stream_sla.sla.engine import Outcome, Retention, SlaEngine, StateChanges
from stream_sla.sla.events import EventKind, EventRejected
from stream_sla.sla.policy import Policy
from stream_sla.stream.status import RecentViolations

__all__ = ["LeadProcessor", "Outbox", "Record", "Retention", "wall_clock_ms"]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (for synchronous work that creates no cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class Record:
    """What the processor needs of a Kafka record (Faust's Message has more)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(slots=True)
class Outbox(TypedSink):
    """What a batch or a deadline sweep wants sent; the adapter sends it."""

    violations: list[SlaViolation] = field(default_factory=list)
    retractions: list[BreachRetracted] = field(default_factory=list)
    """Breaches late data showed were not deserved; published on the breaches topic."""
    dead_letters: list[tuple[Record, EventRejected]] = field(default_factory=list)
    handlers: dict[type, Callable[[Any], None]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.handlers = {
            SlaViolation: self.violations.append,
            BreachRetracted: self.retractions.append,
        }


class LeadProcessor:
    def __init__(
        self,
        policy: Policy,
        metrics: Metrics,
        clock: Callable[[], int] = wall_clock_ms,
        retention: Retention | None = None,
    ) -> None:
        self.policy = policy
        self.metrics = metrics
        self.clock = clock
        self.engine: SlaEngine[Record] = SlaEngine(policy, retention or Retention(), metrics.source)
        self.recent = RecentViolations()
        self.prometheus = PrometheusSink(metrics)

    @property
    def index(self) -> DeadlineIndex:
        return self.engine.index

    def apply(self, records: Iterable[tuple[EventKind, Record]]) -> Outbox:
        """A batch of CRM records, in offset order per partition."""
        return self._route(self.engine.apply(records, self.clock()))

    def fire(self, due: Iterable[Due], now: int) -> Outbox:
        """Deadlines fell due (see :meth:`SlaEngine.fire`)."""
        return self._route(self.engine.fire(due, now))

    def restore(
        self, partition: int, leads: Mapping[str, bytes], tallies: Mapping[str, bytes]
    ) -> None:
        """A partition's state as recovery read it from the changelogs.

        The cyclic garbage collector is paused meanwhile: a restore builds millions of
        long-lived objects (deadline entries, gauge updates) and no cycle, and each of them
        counted towards a full collection over the whole heap; with it running, restoring
        1M leads took 10.1 s of CPU instead of 3.9 s (``python -m bench.restore``)."""
        with collector_paused():
            self._route(self.engine.restore(partition, leads, tallies))

    def drop_partitions(self, partitions: set[int]) -> None:
        self._route(self.engine.drop(partitions))

    def take_changes(self) -> StateChanges:
        return self.engine.take_changes()

    def _route(self, outcome: Outcome[Record]) -> Outbox:
        outbox = Outbox(dead_letters=outcome.dead_letters)
        sinks = (self.prometheus, outbox, self.recent)
        for effect in outcome.effects:
            for sink in sinks:
                sink.take(effect)
        self.prometheus.outcome(outcome, len(self.engine.index), len(self.engine))
        return outbox
