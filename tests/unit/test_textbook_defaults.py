"""The built-in policy is the textbook agreement, and breach ids are a published contract.

Independent expectations: the figures come from the source documents (first touch within
1 hour, warned at 75%; 3 attempts in 14 days, 5 in 28, 7 in 56, warned 2 days before a rung;
disposition within 48 hours, warned at 75%), and the ids are literal UUIDs (UUIDv5 in the
project's namespace of ``lead|rule|severity|hand-off ms``, computed once by hand), so a change
to the id scheme, which consumers de-duplicate by, fails here.
"""

from __future__ import annotations

from stream_sla.sla.effects import SlaViolation
from stream_sla.sla.events import HandedToSales
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import Policy

T0 = 1_793_628_000_000  # 2026-11-02T14:00:00Z
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def test_the_default_policy_is_the_textbook_agreement() -> None:
    [segment] = Policy().segments
    assert segment.first_touch is not None
    assert segment.attempts is not None
    assert segment.disposition is not None
    assert segment.first_touch.within_ms == 60 * MIN
    assert segment.first_touch.warn.offset(segment.first_touch.within_ms) == 45 * MIN
    assert [(r.attempts, r.within_ms) for r in segment.attempts.ladder] == [
        (3, 14 * DAY),
        (5, 28 * DAY),
        (7, 56 * DAY),
    ]
    assert segment.attempts.warn.offset(14 * DAY) == 12 * DAY
    assert segment.disposition.within_ms == 48 * HOUR
    assert segment.disposition.warn.offset(48 * HOUR) == 36 * HOUR
    assert Policy().marketing.monthly_mqls == 3_900


def test_an_untouched_lead_gets_the_textbook_warnings_and_breaches_with_pinned_ids() -> None:
    state = LeadState("L-1")
    state.add(HandedToSales("h1", "L-1", T0, "ana", "smb-east"))
    fired: list[tuple[int, str, str, str]] = []
    while (at := state.next_deadline(Policy())) is not None:
        for e in state.take_due(Policy(), at):
            assert isinstance(e, SlaViolation)
            fired.append(((at - T0) // MIN, e.rule.value, e.severity.value, e.id))
    assert fired == [
        (45, "first_touch", "warning", "6350620d-e0ef-590a-9aa0-f8aa2e305530"),
        (60, "first_touch", "breach", "f087242a-caa1-5113-8a92-e2704820a09d"),
        (36 * 60, "disposition", "warning", "3e3e05a5-9398-5065-9a7f-c10b49884ac2"),
        (48 * 60, "disposition", "breach", "defe6ace-33a3-5790-a168-d88fb0105889"),
        (12 * 24 * 60, "attempts", "warning", "92f6b1fd-56fd-5306-a564-50955ee5bbbd"),
        (14 * 24 * 60, "attempts", "breach", "87c73c99-73d5-5437-822e-42a8c551f4f4"),
    ]
