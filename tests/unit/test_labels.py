"""Bounded labels: known values kept, the rest in stable hash buckets, alike on every worker."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stream_sla.labels import UNKNOWN, LabelBound, bucket_of


def test_known_values_are_kept_as_they_are() -> None:
    bound = LabelBound({"emea", "na"})
    assert bound("emea") == "emea"
    assert bound("na") == "na"


@pytest.mark.parametrize("value", [None, ""], ids=["none", "empty"])
def test_missing_values_are_unknown(value: str | None) -> None:
    assert LabelBound({"emea"})(value) == UNKNOWN


def test_a_flood_of_new_values_stays_within_the_bound() -> None:
    bound = LabelBound({"emea", "na"}, buckets=16)
    labels = {bound(f"team-{i}") for i in range(5_000)} | {bound("emea"), bound("na"), bound(None)}
    assert len(labels) <= bound.bound == 2 + 16 + 1
    assert len(labels) == bound.bound  # 5,000 values fill every bucket


def test_unknown_values_land_in_the_same_bucket_whatever_the_order() -> None:
    values = [f"rep-{i}" for i in range(200)]
    first, second = LabelBound(), LabelBound()
    forward = {v: first(v) for v in values}
    backward = {v: second(v) for v in reversed(values)}
    assert forward == backward


def test_buckets_are_the_same_in_another_process() -> None:
    """Python's own hash() is salted per process; the bucket must not be."""
    code = "from stream_sla.labels import bucket_of; print(bucket_of('Jane Roe'))"
    other = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert other == bucket_of("Jane Roe") == LabelBound()("Jane Roe")


def test_knowing_more_values_names_them() -> None:
    bound = LabelBound({"emea"}).knowing(["Jane Roe"])
    assert bound("Jane Roe") == "Jane Roe"
    assert bound.bound == 2 + 16 + 1


def test_zero_buckets_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LabelBound(buckets=0)
