"""Optional authentication of the worker's web pages that show data: ``/`` and ``/metrics``.

The status page lists lead ids, owners and teams, and /metrics carries rep names: on a
network others share, they need a credential. Either a bearer token (``web_auth_token``:
what Prometheus' ``authorization`` / ``bearer_token_file`` sends) or HTTP basic auth
(``web_auth_user`` + ``web_auth_password``: what a browser asks for), or both. The probes
``/live`` and ``/ready`` stay open: a kubelet or load balancer has no credential and they
say nothing but "up" and "ready". Credentials are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from pydantic import SecretStr

REALM = "stream-sla"


class WebAuth:
    def __init__(
        self,
        token: SecretStr | None = None,
        user: str | None = None,
        password: SecretStr | None = None,
    ) -> None:
        self._token = token.get_secret_value().encode() if token else None
        self._basic = (
            f"{user}:{password.get_secret_value()}".encode() if user and password else None
        )

    @property
    def required(self) -> bool:
        return self._token is not None or self._basic is not None

    def allows(self, authorization: str | None) -> bool:
        """Whether this ``Authorization`` header value opens the protected pages."""
        if not self.required:
            return True
        if not authorization:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        given = credentials.strip().encode()
        if scheme.lower() == "bearer" and self._token is not None:
            return hmac.compare_digest(given, self._token)
        if scheme.lower() == "basic" and self._basic is not None:
            try:
                decoded = base64.b64decode(given, validate=True)
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(decoded, self._basic)
        return False

    def challenge(self) -> dict[str, str]:
        """The ``WWW-Authenticate`` header of a 401 (basic first: browsers act on it)."""
        schemes = []
        if self._basic is not None:
            schemes.append(f'Basic realm="{REALM}"')
        if self._token is not None:
            schemes.append(f'Bearer realm="{REALM}"')
        return {"WWW-Authenticate": ", ".join(schemes)}
