"""Raw vendor payloads -> the replay's input, through the gateway's own translators.

``stream-sla replay --from hubspot|pipedrive|salesforce FILE`` reads one raw payload a line
(a HubSpot webhook body, a Pipedrive webhook body, a Salesforce CDC record: what the
crm.raw.* topics hold, e.g. dumped with kafka-console-consumer) and hands the replay the
canonical events the live gateway would have published, so a policy can be backtested on
what a CRM sent. Payloads the translators dead-letter are counted by reason, as the
replay counts bad canonical lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from stream_sla.gateway.mappings import Mappings
from stream_sla.gateway.sources import TRANSLATORS
from stream_sla.people import PeopleDirectory


def canonical_lines(
    lines: Iterable[bytes],
    source: str,
    mappings: Mappings,
    people: PeopleDirectory,
    rejected: dict[str, int],
) -> Iterator[bytes]:
    """``{"topic": "crm.<kind>", "value": {...}}`` lines, the replay's Kafka-dump format."""
    translate = TRANSLATORS[source]
    for line in lines:
        payload = line.strip()
        if not payload:
            continue
        result = translate(payload, mappings, people)
        for dead in result.dead:
            rejected[dead.reason.value] = rejected.get(dead.reason.value, 0) + 1
        for event in result.events:
            yield b'{"topic":"crm.' + event.kind.value.encode() + b'","value":' + event.value + b"}"
