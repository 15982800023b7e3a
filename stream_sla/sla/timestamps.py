"""Epoch milliseconds <-> RFC 3339: the only two time forms the project uses."""

from __future__ import annotations

from datetime import UTC, datetime

MS_PER_SECOND = 1000
MS_PER_MINUTE = 60 * MS_PER_SECOND
MS_PER_HOUR = 60 * MS_PER_MINUTE
MS_PER_DAY = 24 * MS_PER_HOUR


def format_ms(epoch_ms: int) -> str:
    """UTC, millisecond precision, ``Z`` suffix: sortable as text and parseable everywhere."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_datetime(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
