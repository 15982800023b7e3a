"""Marketing's month-to-date MQL count, kept in a changelogged store so restarts keep it.

The rows live in the engine's :class:`~stream_sla.sla.engine.PartitionState`, keyed
``month|source|partition`` in the changelog, each written to its lead partition's
changelog partition: each partition's worker owns its own rows, so a rebalance moves a
partition's counts with it. The gauges sum the rows this worker owns for the
current month; Prometheus sums the workers. The goal line (goal x day / days in
the month) is computed at scrape time from the policy and the clock.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import ClassVar
from zoneinfo import ZoneInfo

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream_sla.sla import funnel
from stream_sla.sla.policy import MarketingGoals

ALL = "all"


class MqlTally(Collector):
    CATALOG: ClassVar[tuple[tuple[str, str, tuple[str, ...], str], ...]] = (
        (
            "stream_sla_mqls_month_to_date",
            "gauge",
            ("source",),
            "MQLs (leads created) this calendar month, by source (marketing time zone).",
        ),
        (
            "stream_sla_mql_value_month_to_date",
            "gauge",
            ("source",),
            "Persona-weighted MQL value this month, by source.",
        ),
        (
            "stream_sla_mql_goal_month",
            "gauge",
            ("source",),
            "Monthly MQL goal (source=all: overall).",
        ),
        (
            "stream_sla_mql_goal_to_date",
            "gauge",
            ("source",),
            "The goal line: monthly goal x day of month / days in month.",
        ),
    )

    def __init__(
        self,
        rows: Callable[[], Iterable[tuple[str, str, int, float]]],
        goals: MarketingGoals,
        clock: Callable[[], int],
    ) -> None:
        """``rows`` yields (month, source, count, value) of the partitions this worker owns:
        the engine keeps them (:meth:`stream_sla.sla.engine.SlaEngine.mql_rows`)."""
        self.rows = rows
        self.goals = goals
        self.clock = clock
        self._zone = ZoneInfo(goals.timezone)

    def month_to_date(self) -> dict[str, tuple[int, float]]:
        month = self._month(self.clock())
        totals: dict[str, tuple[int, float]] = {}
        for row_month, source, count, value in self.rows():
            if row_month == month:
                c, v = totals.get(source, (0, 0.0))
                totals[source] = (c + count, v + value)
        return totals

    def _month(self, epoch_ms: int) -> str:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=self._zone).strftime("%Y-%m")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        delivered, value, month_goal, to_date = (
            GaugeMetricFamily(name, meaning, labels=list(labels))
            for name, _, labels, meaning in self.CATALOG
        )
        for source, (count, weighted) in sorted(self.month_to_date().items()):
            delivered.add_metric([source], count)
            value.add_metric([source], weighted)
        yield delivered
        yield value
        goals = [(ALL, self.goals.monthly_mqls)] if self.goals.monthly_mqls else []
        goals += list(self.goals.by_source)
        if not goals:
            return
        now = datetime.fromtimestamp(self.clock() / 1000, tz=self._zone)
        days = calendar.monthrange(now.year, now.month)[1]
        for source, goal in goals:
            month_goal.add_metric([source], goal)
            to_date.add_metric([source], funnel.goal_to_date(goal, now.day, days))
        yield month_goal
        yield to_date
