"""Effect ids are RFC 4122 version-5 UUIDs of the effect's identity: the same ids as every
release before wrote (a replay and the live worker must agree with past breach records)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from stream_sla.sla.effects import _ID_NAMESPACE, Rule, Severity, effect_id, retraction_id


@given(
    lead_id=st.text(max_size=60),
    rule=st.sampled_from(list(Rule)),
    severity=st.sampled_from(list(Severity)),
    started_at=st.integers(0, 2**62),
    generation=st.integers(0, 5),
)
def test_ids_are_uuid5_of_the_effects_identity(
    lead_id: str, rule: Rule, severity: Severity, started_at: int, generation: int
) -> None:
    expected = str(uuid.uuid5(_ID_NAMESPACE, f"{lead_id}|{rule}|{severity}|{started_at}"))
    assert effect_id(lead_id, rule, severity, started_at) == expected
    retracted = str(uuid.uuid5(_ID_NAMESPACE, f"{expected}|retracted|{generation}"))
    assert retraction_id(expected, generation) == retracted


def test_a_known_breach_id_is_unchanged() -> None:
    """Pinned from the release before the id was computed without the UUID object."""
    assert effect_id("L-1", Rule.FIRST_TOUCH, Severity.BREACH, 0) == (
        "f8177178-50e7-588b-9eae-31d56b530ffd"
    )
