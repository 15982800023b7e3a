"""The committed dashboards are what grafana/generate.py makes, and their queries are sound."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_VARIABLES = {"$team", "$source", "$segment", "$__rate_interval", "$__range"}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "grafana" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_json_is_what_the_generator_makes(tmp_path: Path) -> None:
    gen = generator()
    gen.main(tmp_path)
    for made in sorted(tmp_path.glob("*.json")):
        committed = ROOT / "grafana" / "dashboards" / made.name
        assert committed.read_text() == made.read_text(), f"run grafana/generate.py ({made.name})"
    assert {p.name for p in tmp_path.glob("*.json")} == {
        "sales-sla.json",
        "marketing-sla.json",
        "pipeline-health.json",
    }


def test_every_query_uses_known_metrics_and_variables() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "stream-sla.rules.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    queries = list(generator().panel_queries())
    assert len(queries) >= 30
    for uid, title, expr in queries:
        assert expr.strip(), (uid, title)
        assert set(re.findall(r"\$\w+", expr)) <= ALLOWED_VARIABLES, (uid, title, expr)
        selected = re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\{|\[)", expr)
        recorded_refs = re.findall(r"\b[a-z_]+:[a-z0-9_:]+\b", expr)
        for name in selected + recorded_refs:
            known = name.startswith("stream_sla_") or name in recorded or name == "up"
            assert known, f"{uid} / {title}: unknown metric {name}"
