"""Small policy files for the tests of one rule option."""

from __future__ import annotations

from pathlib import Path


def one_segment(tmp_path: Path, *rules: str) -> Path:
    """A policy file of one default segment with the given rule lines (line 4 onwards)."""
    path = tmp_path / "policy.yaml"
    lines = ['version: "1"', "segments:", "  - name: default", *(f"    {r}" for r in rules)]
    path.write_text("\n".join(lines) + "\n")
    return path
