"""What a lead has already published, as typed keys, and their encoding in the changelog row.

A lead's ``emitted`` set is what makes each warning, breach, measure and settlement leave
at most once per hand-off cycle across restarts, so it is persisted with the lead's facts.
Each kind of key is a small NamedTuple: hashed and compared in C on the hot path (the
``_done`` check runs several times per event), and no bigger than the strings it replaces.
The kinds never compare equal to one another: their lengths or the types at the same
position differ (a :class:`Severity` is never an ``int``), which a test pins.

This module is the one place that knows the keys' wire form: FORMAT 3 writes them grouped
by kind, each key a short array of integers (:func:`encode`: ``[1,[],[],[[0,1,1793620800000]]]``
is the MQL counted and the first-touch breach of that cycle); FORMAT 2 wrote
strings (``"first_touch/breach/1793620800000"``), which :func:`from_format_2` still reads so
a changelog of that release is taken over as it is.
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
_RULES: tuple[Rule, ...] = (Rule.FIRST_TOUCH, Rule.ATTEMPTS, Rule.DISPOSITION)
_SEVERITIES: tuple[Severity, ...] = (Severity.WARNING, Severity.BREACH, Severity.REROUTE)
_RULE_CODE = {rule: code for code, rule in enumerate(_RULES)}
_SEVERITY_CODE = {severity: code for code, severity in enumerate(_SEVERITIES)}
_new = tuple.__new__
"""Builds a NamedTuple from a ready tuple in C: the generated ``__new__`` is a Python call per
key, and decoding runs for every lead a batch or a deadline touches."""


def encode(keys: Iterable[EmittedKey]) -> list[Any]:
    """FORMAT 3: ``[mql, measured, settled, sent, skipped, retracted]``, one list per kind
    (``mql`` 0 or 1), each key an integer or a short array of integers (rules and severities by
    their code above), each list sorted so equal sets encode equally, and trailing empty lists
    left out (most leads have no skipped warning and no retraction). Grouped by kind, a key
    carries no tag and decoding needs no dispatch."""
    mql = 0
    measured: list[int] = []
    settled: list[tuple[int, int]] = []
    sent: list[tuple[int, int, int]] = []
    skipped: list[tuple[int, int, int, int]] = []
    retracted: list[tuple[int, int, int]] = []
    for key in keys:
        if isinstance(key, Sent):
            sent.append((_RULE_CODE[key[0]], _SEVERITY_CODE[key[1]], key[2]))
        elif isinstance(key, Settled):
            settled.append((_RULE_CODE[key[0]], key[1]))
        elif isinstance(key, Measured):
            measured.append(key[0])
        elif isinstance(key, Skipped):
            skipped.append((_RULE_CODE[key[0]], _SEVERITY_CODE[key[1]], key[2], key[3]))
        elif isinstance(key, Retracted):
            retracted.append((_RULE_CODE[key[0]], key[1], key[2]))
        else:
            mql = 1
    groups: list[Any] = [mql, measured, settled, sent, skipped, retracted]
    while len(groups) > 1 and not groups[-1]:
        groups.pop()
    for group in groups[1:]:
        group.sort()
    return groups


def decode(value: Any) -> set[EmittedKey]:
    """The keys of a FORMAT 3 row; a malformed value raises ValueError naming it. Plain loops:
    faster here than comprehensions or generators (about 5 us for a lead's 7 keys)."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"emitted keys {value!r} are not what FORMAT 3 writes")
    rules, severities = _RULES, _SEVERITIES
    keys: set[EmittedKey] = set()
    add = keys.add
    try:
        padded = value + [()] * (6 - len(value))  # trailing empty groups are left out
        mql, measured, settled, sent, skipped, retracted = padded
        for t in measured:
            add(_new(Measured, (t,)))
        for r, t in settled:
            add(_new(Settled, (rules[r], t)))
        for r, s, t in sent:
            add(_new(Sent, (rules[r], severities[s], t)))
        for r, s, t, d in skipped:
            add(_new(Skipped, (rules[r], severities[s], t, d)))
        for r, t, g in retracted:
            add(_new(Retracted, (rules[r], t, g)))
    except (IndexError, TypeError, ValueError) as error:
        raise ValueError(f"emitted keys {value!r} are not what FORMAT 3 writes") from error
    if mql:
        add(MQL_COUNTED)
    return keys


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
