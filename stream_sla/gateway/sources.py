"""The translator of each CRM source, by the name ``--from`` and the raw topics use."""

from __future__ import annotations

from collections.abc import Callable

from stream_sla.gateway import hubspot, pipedrive, salesforce
from stream_sla.gateway.canonical import Translation
from stream_sla.gateway.mappings import Mappings
from stream_sla.people import PeopleDirectory

Translator = Callable[[bytes, Mappings, PeopleDirectory], Translation]

TRANSLATORS: dict[str, Translator] = {
    "hubspot": hubspot.translate,
    "pipedrive": pipedrive.translate,
    "salesforce": salesforce.translate,
}
