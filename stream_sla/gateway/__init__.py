"""CRM webhooks in, raw topics, translators from vendor payloads to our canonical events.

- :mod:`.mappings`: the RevOps-edited file saying which vendor values mean what.
- :mod:`.translate`: pure functions, vendor payload bytes -> canonical events or dead letters.
- :mod:`.auth`: HubSpot v3 signatures and Pipedrive basic auth.
- :mod:`.app`: the Faust app (``stream-sla gateway``): web views and translator agents.
"""
