"""`stream-sla gateway` as a real process on a harness's tenant (tests and bench/gateway.py)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from .harness import Harness, WorkerProcess, free_port


def start_gateway(
    harness: Harness, name: str = "gw", settings: dict[str, Any] | None = None, **gateway: Any
) -> WorkerProcess:
    """Gateway settings are given without their prefix: ``hubspot_client_secret=...``; the
    shared ones (``web_auth_token``, ...) in ``settings``."""
    port = free_port()
    env = harness.env(
        data_dir=harness.workdir / f"state-{name}" / "worker",
        session_timeout_seconds=6,
        **(settings or {}),
    )
    env["STREAM_SLA_GATEWAY_PORT"] = str(port)
    env.update({f"STREAM_SLA_GATEWAY_{k.upper()}": str(v) for k, v in gateway.items()})
    log_path = harness.workdir / f"gateway-{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "stream_sla.cli", "gateway", "--loglevel", "warning"],
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    started = WorkerProcess(process, port, log_path)
    harness.workers.append(started)
    return started
