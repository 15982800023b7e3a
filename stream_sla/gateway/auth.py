"""Is a webhook request really from the CRM? HubSpot signs; Pipedrive sends basic auth.

HubSpot v3 (Webhooks API, "Validate requests using the v3 request signature"):
``X-HubSpot-Signature-v3`` is base64(HMAC-SHA256(client secret, method + URI + body +
``X-HubSpot-Request-Timestamp``)), the URI exactly as HubSpot called it (scheme, host, path,
query), and a request whose timestamp is more than five minutes old is refused, so a
captured request cannot be replayed later. Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

MAX_AGE_MS = 5 * 60 * 1000


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The v3 signature HubSpot would send (tests and the demo sign with it, too)."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def hubspot_problem(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now_ms: int,
) -> str | None:
    """Why the request is refused, or None when it is HubSpot's."""
    if not signature or not timestamp:
        return "X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "X-HubSpot-Request-Timestamp is not epoch milliseconds"
    if now_ms - sent_at > MAX_AGE_MS:
        return "X-HubSpot-Request-Timestamp is more than 5 minutes old"
    expected = hubspot_signature(secret, method, uri, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "X-HubSpot-Signature-v3 does not match the request"
    return None


def basic_auth_ok(header: str | None, username: str, password: str) -> bool:
    """The ``Authorization: Basic`` header Pipedrive sends when the webhook has http_auth_*."""
    if not header or not header.startswith("Basic "):
        return False
    try:
        given = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = f"{username}:{password}".encode()
    return hmac.compare_digest(given, expected)
