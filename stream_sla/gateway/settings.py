"""The gateway's own settings (``STREAM_SLA_GATEWAY_*``); Kafka, topics and security come from
the worker's :class:`~stream_sla.config.Settings`, so one environment serves both processes."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from stream_sla import yamlfile

ENV_PREFIX = "STREAM_SLA_GATEWAY_"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    port: int = Field(6067, ge=1, le=65535, description="Port of /hooks/*, /metrics, /ready.")
    public_url: str | None = Field(
        None,
        description="Base URL the CRM calls (e.g. https://sla.example.com) when a proxy sits in"
        " front: HubSpot signs the URL it called. Default: the request's own URL.",
    )
    hubspot_client_secret: SecretStr | None = Field(
        None, description="The HubSpot app's client secret; without it /hooks/hubspot is off."
    )
    pipedrive_username: str | None = Field(
        None, description="HTTP basic auth user set on the Pipedrive webhook (http_auth_user)."
    )
    pipedrive_password: SecretStr | None = Field(
        None, description="HTTP basic auth password; without both /hooks/pipedrive is off."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Larger webhook bodies are answered 413."
    )
    ack_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="How long a request waits for Kafka; then 503 (CRM retries)."
    )
    salesforce_topic: str | None = Field(
        None,
        description="Topic the Salesforce CDC connector writes (default: crm.raw.salesforce"
        " with the topic prefix).",
    )
    mappings_file: Path | None = Field(
        None, description="CRM mappings YAML (deploy/gateway/crm-mappings.yaml); default: built-in."
    )
    people_file: Path | None = Field(
        None, description="People directory, YAML or CSV user export (owner id -> team, ...)."
    )


def load_gateway_settings() -> GatewaySettings:
    try:
        return GatewaySettings(**{})  # values come from the environment
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ENV_PREFIX + str(first["loc"][0]).upper() if first["loc"] else ENV_PREFIX
        raise yamlfile.ConfigError(f"${name}", None, "", first["msg"]) from None


def reference_table() -> str:
    """The README's gateway settings table, generated so the two cannot drift apart."""
    rows = ["| gateway setting | default | meaning |", "|---|---|---|"]
    for name, info in GatewaySettings.model_fields.items():
        default = "" if info.default is None else f"`{info.default}`"
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {default} | {info.description} |")
    return "\n".join(rows)
