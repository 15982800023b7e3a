"""What a lead has already published, as typed keys, and their encoding in the changelog row.

A lead's ``emitted`` set is what makes each warning, breach, measure and settlement leave
at most once per hand-off cycle across restarts, so it is persisted with the lead's facts.
Each kind of key is a small NamedTuple: hashed and compared in C on the hot path (the
``_done`` check runs several times per event), and no bigger than the strings it replaces.
The kinds never compare equal to one another: their lengths or the types at the same
position differ (a :class:`Severity` is never an ``int``), which a test pins.

This module is the one place that knows the keys' wire form: FORMAT 3 writes each key as a
short JSON array led by a kind code (``[1, 0, 1, 1793620800000]`` is the first-touch breach
of that cycle); FORMAT 2 wrote strings (``"first_touch/breach/1793620800000"``), which
:func:`from_format_2` still reads so a changelog of that release is taken over as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from stream_sla.sla.effects import Rule, Severity


class MqlCounted(NamedTuple):
    """The lead's MQL went to the tally (once per lead)."""


class Sent(NamedTuple):
    """A warning or breach of a rule went out for the cycle that started at ``cycle_start``."""

    rule: Rule
    severity: Severity
    cycle_start: int


class Skipped(NamedTuple):
    """A warning fell due when it no longer helped (kept, or its deadline passed): not sent.

    Keyed by its checkpoint's ``due_at`` too: each rung of the attempts ladder has its own."""

    rule: Rule
    severity: Severity
    cycle_start: int
    due_at: int


class Measured(NamedTuple):
    """The cycle's first touch was measured (speed to lead; first touch only)."""

    cycle_start: int


class Settled(NamedTuple):
    """The rule was met, or became moot, for the cycle: counted once."""

    rule: Rule
    cycle_start: int


class Retracted(NamedTuple):
    """The cycle's breach was retracted; ``generation`` counts retractions of that one breach
    (a breach can be deserved again and retracted again), so each retraction has its own id."""

    rule: Rule
    cycle_start: int
    generation: int


EmittedKey = MqlCounted | Sent | Skipped | Measured | Settled | Retracted
MQL_COUNTED = MqlCounted()

# Wire codes. Append only: a changelog row outlives the release that wrote it.
_MQL, _SENT, _SKIPPED, _MEASURED, _SETTLED, _RETRACTED = range(6)
_RULES: tuple[Rule, ...] = (Rule.FIRST_TOUCH, Rule.ATTEMPTS, Rule.DISPOSITION)
_SEVERITIES: tuple[Severity, ...] = (Severity.WARNING, Severity.BREACH, Severity.REROUTE)
_RULE_CODE = {rule: code for code, rule in enumerate(_RULES)}
_SEVERITY_CODE = {severity: code for code, severity in enumerate(_SEVERITIES)}


def encode(keys: Iterable[EmittedKey]) -> list[list[int]]:
    """FORMAT 3: one short array of integers per key, sorted so equal sets encode equally."""
    return sorted(_encode_one(key) for key in keys)


def _encode_one(key: EmittedKey) -> list[int]:
    if isinstance(key, Sent):
        return [_SENT, _RULE_CODE[key.rule], _SEVERITY_CODE[key.severity], key.cycle_start]
    if isinstance(key, Settled):
        return [_SETTLED, _RULE_CODE[key.rule], key.cycle_start]
    if isinstance(key, Measured):
        return [_MEASURED, key.cycle_start]
    if isinstance(key, Skipped):
        rule, severity = _RULE_CODE[key.rule], _SEVERITY_CODE[key.severity]
        return [_SKIPPED, rule, severity, key.cycle_start, key.due_at]
    if isinstance(key, Retracted):
        return [_RETRACTED, _RULE_CODE[key.rule], key.cycle_start, key.generation]
    return [_MQL]


def decode(items: Iterable[Any]) -> set[EmittedKey]:
    """The keys of a FORMAT 3 row; a malformed item raises ValueError naming it."""
    keys: set[EmittedKey] = set()
    for item in items:
        try:
            keys.add(_decode_one(item))
        except (IndexError, TypeError, ValueError) as error:
            raise ValueError(f"emitted key {item!r} is not one FORMAT 3 knows") from error
    return keys


def _decode_one(item: list[int]) -> EmittedKey:
    kind = item[0]
    if kind == _SENT:
        _, rule, severity, start = item
        return Sent(_RULES[rule], _SEVERITIES[severity], start)
    if kind == _SETTLED:
        _, rule, start = item
        return Settled(_RULES[rule], start)
    if kind == _MEASURED:
        _, start = item
        return Measured(start)
    if kind == _SKIPPED:
        _, rule, severity, start, due_at = item
        return Skipped(_RULES[rule], _SEVERITIES[severity], start, due_at)
    if kind == _RETRACTED:
        _, rule, start, generation = item
        return Retracted(_RULES[rule], start, generation)
    if kind == _MQL and len(item) == 1:
        return MQL_COUNTED
    raise ValueError(kind)


def from_format_2(keys: Iterable[str]) -> set[EmittedKey]:
    """The keys of a FORMAT 2 row: ``mql``, ``<rule>/<severity>/<start>``,
    ``<rule>/<severity>-skipped/<start>/<due_at>``, ``first_touch/measured/<start>``,
    ``<rule>/settled/<start>``, ``<rule>/retracted/<start>/<generation>``."""
    converted: set[EmittedKey] = set()
    for key in keys:
        try:
            converted.add(_from_string(key))
        except ValueError as error:
            raise ValueError(f"emitted key {key!r} is not one FORMAT 2 wrote") from error
    return converted


def _from_string(key: str) -> EmittedKey:
    if key == "mql":
        return MQL_COUNTED
    rule, kind, start, *rest = key.split("/")
    if kind == "settled" and not rest:
        return Settled(Rule(rule), int(start))
    if kind == "measured" and not rest and rule == Rule.FIRST_TOUCH:
        return Measured(int(start))
    if kind == "retracted" and len(rest) == 1:
        return Retracted(Rule(rule), int(start), int(rest[0]))
    if kind.endswith("-skipped") and len(rest) == 1:
        return Skipped(
            Rule(rule), Severity(kind.removesuffix("-skipped")), int(start), int(rest[0])
        )
    if not rest:
        return Sent(Rule(rule), Severity(kind), int(start))
    raise ValueError(key)
