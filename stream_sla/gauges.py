"""Live per-team (and per-rep) gauges of open leads, kept incrementally, read at scrape time.

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


_REP_FIELDS = {"open": 0, "at_risk": 4, "breached": 5}
"""The per-rep gauges: which rep's open leads are at risk or breached (a rep's own queue)."""
_REP_HELP = {
    "open": ("stream_sla_rep_open_leads", "Leads in an open hand-off cycle, by owning rep."),
    "at_risk": (
        "stream_sla_rep_leads_at_risk",
        "Open leads that got a pre-breach warning in this cycle, by owning rep.",
    ),
    "breached": (
        "stream_sla_rep_leads_breached",
        "Open leads with a breach in this cycle, by owning rep.",
    ),
}


_Entry = tuple[int, str, tuple[int, ...], str]
"""A lead's gauge entry: (partition, team label, contribution, rep label)."""
_ENTRIES_LIMIT = 65_536


class OpenLeads(Collector):
    CATALOG: ClassVar[tuple[tuple[str, str, tuple[str, ...], str], ...]] = tuple(
        (name, "gauge", ("team",), meaning) for name, meaning in _HELP.values()
    ) + tuple((name, "gauge", ("team", "rep"), meaning) for name, meaning in _REP_HELP.values())

    def __init__(
        self,
        team_label: Callable[[str | None], str] = str,
        rep_label: Callable[[str | None], str] = lambda rep: rep or "unknown",
    ) -> None:
        """``team_label`` and ``rep_label`` bound the labels (see stream_sla.labels): the gauges,
        and the status page's team table built from them, have as many rows as they have values."""
        self._team_label = team_label
        self._rep_label = rep_label
        self._leads: dict[str, _Entry] = {}
        self._entries: dict[tuple[int, LeadSummary], _Entry] = {}
        """Each distinct (partition, summary)'s entry, built once and shared by its leads: a
        lead costs one slot in ``_leads``, not a 4-tuple and a 6-tuple of its own (1M leads
        restored share a few hundred entries)."""
        self._teams: dict[str, list[int]] = defaultdict(lambda: [0] * len(_FIELDS))
        self._reps: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(_FIELDS))

    def __len__(self) -> int:
        return len(self._leads)

    def update(self, lead_id: str, partition: int, summary: LeadSummary | None) -> None:
        self.update_many(((lead_id, partition, summary),))

    def update_many(self, updates: Iterable[tuple[str, int, LeadSummary | None]]) -> None:
        """Each lead's new contribution (None: gone), the totals moved once per distinct entry:
        a restore of 1M leads adds a few hundred entries' counts, not 1M contributions."""
        leads = self._leads
        deltas: dict[_Entry, int] = {}
        for lead_id, partition, summary in updates:
            old = leads.pop(lead_id, None)
            if old is not None:
                deltas[old] = deltas.get(old, 0) - 1
            if summary is not None:
                entry = self._entries.get((partition, summary))
                if entry is None:
                    entry = self._entry(partition, summary)
                leads[lead_id] = entry
                deltas[entry] = deltas.get(entry, 0) + 1
        for (_, team, contribution, rep), count in deltas.items():
            if count:
                self._add(team, rep, contribution, count)

    def _entry(self, partition: int, summary: LeadSummary) -> _Entry:
        if len(self._entries) >= _ENTRIES_LIMIT:  # attempts and reps make it bounded, but large
            self._entries.clear()
        entry = (
            partition,
            self._team_label(summary.team),
            _contribution(summary),
            self._rep_label(summary.owner),
        )
        self._entries[partition, summary] = entry
        return entry

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        dropped = set(partitions)
        self.update_many(
            [
                (lead_id, entry[0], None)
                for lead_id, entry in self._leads.items()
                if entry[0] in dropped
            ]
        )

    def team_totals(self) -> dict[str, dict[str, int]]:
        return {
            team: dict(zip(_FIELDS, values, strict=True)) for team, values in self._teams.items()
        }

    def rep_totals(self) -> dict[tuple[str, str], dict[str, int]]:
        return {
            key: {field: values[i] for field, i in _REP_FIELDS.items()}
            for key, values in self._reps.items()
        }

    def _add(self, team: str, rep: str, contribution: tuple[int, ...], leads: int) -> None:
        """``leads`` times the contribution (negative: removed)."""
        for totals in (self._teams[team], self._reps[team, rep]):
            for i, value in enumerate(contribution):
                totals[i] += leads * value

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            field: GaugeMetricFamily(name, meaning, labels=["team"])
            for field, (name, meaning) in _HELP.items()
        }
        for team, values in sorted(self._teams.items()):
            for field, value in zip(_FIELDS, values, strict=True):
                families[field].add_metric([team], value)
        yield from families.values()
        reps = {
            field: GaugeMetricFamily(name, meaning, labels=["team", "rep"])
            for field, (name, meaning) in _REP_HELP.items()
        }
        for (team, rep), values in sorted(self._reps.items()):
            if values[0] == 0:
                continue  # a rep with no open lead left: no series (bounded by open leads)
            for field, i in _REP_FIELDS.items():
                reps[field].add_metric([team, rep], values[i])
        yield from reps.values()
