"""The worker's status page, opened in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from stream_sla.sla.events import EventKind

from .harness import Harness, crm_event, now_ms, wait_for

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: `make install` (deploy/tools.sh) installs it"
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )


async def test_status_page_shows_live_gauges_and_the_latest_breach(
    harness: Harness, tmp_path: Path
) -> None:
    worker = harness.start_worker("w1", first_touch_within="2s")
    worker.wait_ready()
    t0 = now_ms()
    await harness.produce(
        [
            crm_event(EventKind.LEAD_CREATED, "L-page", "c-1", t0, source="web_form"),
            crm_event(EventKind.HANDED_TO_SALES, "L-page", "h-1", t0, owner="ana", team="smb-east"),
            crm_event(EventKind.HANDED_TO_SALES, "L-open", "h-2", t0, owner="ben", team="smb-west"),
        ]
    )
    # both leads miss their 2-second first touch (warnings come first, at 1.5 s)
    assert await wait_for(lambda: "Breached<b>2</b>" in worker.get("/")[1], timeout=20)

    dom = chromium(tmp_path, "--dump-dom", worker.url("/"))
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    assert '<p id="state">ready</p>' in page
    assert "Breached<b>2</b>" in page
    assert "MQLs this month<b>1</b>" in page
    assert "<td>breach</td><td>first_touch</td><td>L-page</td><td>ana</td>" in page

    screenshot = tmp_path / "status.png"
    shot = chromium(
        tmp_path, f"--screenshot={screenshot}", "--window-size=1200,900", worker.url("/")
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
