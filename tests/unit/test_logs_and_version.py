"""JSON logs a pipeline can parse, and ``stream-sla --version``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from importlib.metadata import version

import pytest
from mode.utils.logging import setup_logging

from stream_sla.logs import JsonFormatter, logging_config


def test_json_formatter_writes_one_object_with_context_fields_and_the_traceback_inside() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logging.LogRecord(
            "stream_sla.x", logging.ERROR, __file__, 1, "refused %s", ("L-1",), sys.exc_info()
        )
    record.lead_id, record.topic, record.partition, record.offset = "L-1", "crm.x", 3, 42
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "refused L-1" and entry["level"] == "error"
    assert (entry["lead_id"], entry["topic"], entry["partition"], entry["offset"]) == (
        "L-1",
        "crm.x",
        3,
        42,
    )
    assert "ValueError: bad\\nvalue" in json.dumps(entry["exception"])


def test_the_worker_logging_setup_writes_json_lines_when_asked(
    capfd: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(loglevel="info", logging_config=logging_config("json", "info"))
        logging.getLogger("stream_sla.test").info("hello", extra={"topic": "crm.a"})
        err = capfd.readouterr().err.strip().splitlines()
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert json.loads(err[-1])["topic"] == "crm.a"
    assert logging_config("text", "info") is None  # Faust's own coloured text


def test_version_prints_the_installed_package_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stream_sla.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"stream-sla {version('stream-sla')}"
