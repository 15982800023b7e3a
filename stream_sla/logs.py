"""Log output for people (text, Faust's default) or for a log pipeline (JSON, one object a line).

Log collectors (Loki, Elasticsearch, Cloud Logging) parse one JSON object per line without
a multi-line pattern; a traceback stays inside its object. Context a message is about is
passed with ``extra={"lead_id": ..., "topic": ..., "partition": ..., "offset": ...}`` and
becomes fields of its own, so a query can filter on it instead of parsing the message.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]

CONTEXT_FIELDS = ("lead_id", "topic", "partition", "offset", "partitions", "reason")
"""Attributes a log call may pass in ``extra`` that become fields of the JSON object."""


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", [context fields], ["exception"]}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def logging_config(log_format: LogFormat, level: str) -> dict[str, Any] | None:
    """A ``logging.config`` dict merged into Faust's (None keeps Faust's coloured text)."""
    if log_format == "text":
        return None
    return {
        "merge": True,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "level": level.upper(),
                "stream": "ext://sys.stderr",
            }
        },
    }
