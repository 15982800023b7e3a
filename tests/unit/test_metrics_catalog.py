"""The metrics catalog in the README is the one the code declares; names follow conventions."""

from __future__ import annotations

import re
from pathlib import Path

from stream_sla.metrics import Metrics, catalog, reference_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_metrics_table_is_the_generated_one() -> None:
    assert reference_table() in README.read_text()


def test_metric_names_follow_prometheus_conventions() -> None:
    for name, kind, labels, meaning in catalog(Metrics()):
        assert re.fullmatch(r"stream_sla_[a-z0-9_]+", name), name
        assert name.endswith("_total") == (kind == "counter"), name
        if kind in ("histogram", "summary"):
            assert name.endswith("_seconds"), name
        assert meaning.endswith("."), name
        assert "le" not in labels and "quantile" not in labels
