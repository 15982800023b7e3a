"""The HTML report opened in a real headless browser (Debian's chromium): every chart drawn,
no console error, nothing fetched, and a screenshot kept as a test artifact."""

from __future__ import annotations

import gzip
import html
import json
import os
import re
import shutil
from datetime import date
from pathlib import Path

import orjson

from stream_sla import cli
from stream_sla.simulation import HistoryPlan, history

from .test_status_page import chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("STREAM_SLA_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))
CHARTS = {
    "mql-waterfall",
    "first-touch-day",
    "first-touch-week",
    "first-touch-share",
    "attempts-unconnected",
    "compliance-team",
    "compliance-rep",
    "leaderboard",
    "compliance-month",
    "speed-to-lead",
}

# Runs before the page's own Content-Security-Policy (so the policy does not block it):
# records script errors, failed loads, CSP violations and console.error, then, once the page
# has loaded, measures every chart's <svg> and how many of its shapes have a size.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => __errors.push(String(e.message || (e.target &&
  (e.target.src || e.target.href)) || "error")), true);
document.addEventListener("securitypolicyviolation", e => __errors.push("CSP " + e.blockedURI));
const consoleError = console.error;
console.error = (...a) => { __errors.push(a.join(" ")); consoleError(...a); };
window.addEventListener("load", () => {
  const charts = [...document.querySelectorAll("figure.chart")].map(f => {
    const svg = f.querySelector("svg");
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const drawn = svg ? [...svg.querySelectorAll("path, rect, line, text, use, polyline")]
      .filter(s => { const b = s.getBBox(); return b.width > 0 || b.height > 0; }).length : 0;
    return {name: f.dataset.chart, width: box.width, height: box.height, drawn: drawn};
  });
  document.body.dataset.probe = JSON.stringify({errors: __errors, charts: charts});
});
</script>"""


def test_html_report_renders_every_chart_in_chromium_without_errors_or_network(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.jsonl.gz"
    rows = history(HistoryPlan(leads=400, start=date(2026, 8, 3), days=90, seed=18))
    events.write_bytes(gzip.compress(b"".join(orjson.dumps(e) + b"\n" for e in rows)))
    page = tmp_path / "report.html"
    assert cli.main(["report", str(events), "--html", str(page), "--quota", "60000"]) == 0

    source = page.read_text(encoding="utf-8")
    assert "<script" not in source, "the report itself runs no JavaScript"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", source), "nothing remote"
    assert "@media print" in source

    probed = tmp_path / "probed.html"
    probed.write_text(source.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", probed.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert found, "the probe ran after load"
    probe = json.loads(html.unescape(found.group(1)))
    assert probe["errors"] == []
    charts = {c["name"]: c for c in probe["charts"]}
    assert set(charts) == CHARTS
    for name, chart in charts.items():
        assert chart["width"] > 300 and chart["height"] > 100, name
        assert chart["drawn"] > 20, f"{name}: only {chart['drawn']} shapes drawn"

    screenshot = tmp_path / "report.png"
    shot = chromium(
        tmp_path, f"--screenshot={screenshot}", "--window-size=1200,2400", page.as_uri()
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACTS / "report.png")

    # "Save as PDF": the print stylesheet starts each section on a page of its own
    pdf = tmp_path / "report.pdf"
    printed = chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    assert printed.returncode == 0, printed.stderr[-2000:]
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    sections = source.count("<section")
    assert pages >= sections, f"{pages} pages for {sections} sections"
