"""Live per-team gauges of open leads, kept incrementally and read by Prometheus at scrape time.

Each lead contributes one :class:`LeadSummary`; an update subtracts the lead's old
contribution and adds the new one, so a scrape costs one pass over the teams,
not over the leads. Contributions are dropped with their partition on revocation
(the new owner rebuilds them from the table).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream_sla.sla.lead import LeadSummary

_FIELDS = (
    "open",
    "awaiting_first_touch",
    "unconnected",
    "unconnected_attempts",
    "at_risk",
    "breached",
)


def _contribution(summary: LeadSummary) -> tuple[int, ...]:
    unconnected = not summary.connected
    return (
        1,
        int(summary.awaiting_first_touch),
        int(unconnected),
        summary.attempts if unconnected else 0,
        int(summary.at_risk),
        int(summary.breached),
    )


_HELP = {
    "open": ("stream_sla_open_leads", "Leads in an open hand-off cycle, by team."),
    "awaiting_first_touch": (
        "stream_sla_leads_awaiting_first_touch",
        "Open leads with no contact attempt yet, by team.",
    ),
    "unconnected": ("stream_sla_unconnected_leads", "Open leads not yet connected, by team."),
    "unconnected_attempts": (
        "stream_sla_unconnected_lead_attempts",
        "Attempts made on open, unconnected leads, by team"
        " (divide by stream_sla_unconnected_leads for the average; the ideal is 6).",
    ),
    "at_risk": (
        "stream_sla_leads_at_risk",
        "Open leads that got a pre-breach warning in this cycle, by team.",
    ),
    "breached": ("stream_sla_leads_breached", "Open leads with a breach in this cycle, by team."),
}


class OpenLeads(Collector):
    CATALOG: ClassVar[tuple[tuple[str, str, tuple[str, ...], str], ...]] = tuple(
        (name, "gauge", ("team",), meaning) for name, meaning in _HELP.values()
    )

    def __init__(self, team_label: Callable[[str | None], str] = str) -> None:
        """``team_label`` bounds the team label (see stream_sla.labels): the gauges, and the
        status page's team table built from them, have as many rows as it has values."""
        self._team_label = team_label
        self._leads: dict[str, tuple[int, str, tuple[int, ...]]] = {}
        self._teams: dict[str, list[int]] = defaultdict(lambda: [0] * len(_FIELDS))

    def __len__(self) -> int:
        return len(self._leads)

    def update(self, lead_id: str, partition: int, summary: LeadSummary | None) -> None:
        old = self._leads.pop(lead_id, None)
        if old is not None:
            self._add(old[1], old[2], -1)
        if summary is not None:
            contribution = _contribution(summary)
            team = self._team_label(summary.team)
            self._leads[lead_id] = (partition, team, contribution)
            self._add(team, contribution, 1)

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        dropped = set(partitions)
        for lead_id, (partition, _, _) in list(self._leads.items()):
            if partition in dropped:
                self.update(lead_id, partition, None)

    def team_totals(self) -> dict[str, dict[str, int]]:
        return {
            team: dict(zip(_FIELDS, values, strict=True)) for team, values in self._teams.items()
        }

    def _add(self, team: str, contribution: tuple[int, ...], sign: int) -> None:
        totals = self._teams[team]
        for i, value in enumerate(contribution):
            totals[i] += sign * value

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            field: GaugeMetricFamily(name, meaning, labels=["team"])
            for field, (name, meaning) in _HELP.items()
        }
        for team, values in sorted(self._teams.items()):
            for field, value in zip(_FIELDS, values, strict=True):
                families[field].add_metric([team], value)
        yield from families.values()
