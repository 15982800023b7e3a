"""The notifier's Prometheus metrics, declared once (a registry per notifier, as the worker's)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Seconds from the first attempt to the channel's acceptance (retries included)."""

CATALOG = (
    ("stream_sla_notifications_total", "counter", ("channel", "outcome"),
     "Notices by channel kind and outcome (delivered, retried per attempt, rejected,"
     " dead_lettered, discarded: met or closed while held)."),
    ("stream_sla_notification_delivery_seconds", "histogram", ("channel",),
     "From the first attempt to the channel accepting a message, retries included."),
    ("stream_sla_notifications_queued", "gauge", (),
     "Messages being sent now, retries and backoff included (the delivery queue)."),
    ("stream_sla_notifications_held", "gauge", (),
     "Reminders held for working hours or a digest."),
    ("stream_sla_strikes_total", "counter", ("team", "rep"),
     "Strikes: every N-th breach of one rep within a strike window, by team and rep."),
    ("stream_sla_stale_warnings_total", "counter", (),
     "Warnings read after their deadline (a lagging or restarted notifier): not sent."),
    ("stream_sla_unreachable_recipients_total", "counter", ("who",),
     "Route recipients the people directory could not resolve (owner, manager, team, on_call)."),
)  # fmt: skip


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        doc = {name: text for name, _, _, text in CATALOG}
        self.notifications = Counter(
            "stream_sla_notifications", doc["stream_sla_notifications_total"],
            ("channel", "outcome"), registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "stream_sla_notification_delivery_seconds",
            doc["stream_sla_notification_delivery_seconds"], ("channel",),
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "stream_sla_notifications_queued", doc["stream_sla_notifications_queued"], registry=r
        )
        self.held = Gauge(
            "stream_sla_notifications_held", doc["stream_sla_notifications_held"], registry=r
        )
        self.strikes = Counter(
            "stream_sla_strikes", doc["stream_sla_strikes_total"], ("team", "rep"), registry=r
        )
        self.stale = Counter(
            "stream_sla_stale_warnings", doc["stream_sla_stale_warnings_total"], registry=r
        )
        self.unreachable = Counter(
            "stream_sla_unreachable_recipients", doc["stream_sla_unreachable_recipients_total"],
            ("who",), registry=r,
        )  # fmt: skip


def reference_table() -> str:
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for name, kind, labels, text in CATALOG:
        rows.append(f"| `{name}` | {kind} | {', '.join(labels) or '-'} | {text} |")
    return "\n".join(rows)
