"""Durations as people write them in policy and config files: ``90s``, ``45m``, ``1h``, ``2d``."""

from __future__ import annotations

import re

from stream_sla.sla.timestamps import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND

_UNITS = {
    "ms": 1,
    "s": MS_PER_SECOND,
    "m": MS_PER_MINUTE,
    "h": MS_PER_HOUR,
    "d": MS_PER_DAY,
    "w": 7 * MS_PER_DAY,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration_ms(text: str) -> int:
    """``1h30m`` -> 5400000; raises ValueError naming what would be valid."""
    compact = text.replace(" ", "")
    position = 0
    total = 0.0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not compact or position != len(compact):
        raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 45m, 1h30m, 2d)")
    return int(total)


def format_duration_ms(value: int) -> str:
    """The largest exact unit up to days: 604800000 -> ``7d``, 5400000 -> ``90m``."""
    for unit in ("d", "h", "m", "s"):
        if value and value % _UNITS[unit] == 0:
            return f"{value // _UNITS[unit]}{unit}"
    return f"{value}ms"
