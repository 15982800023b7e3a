"""Every setting of the worker, declared once: environment (``STREAM_SLA_*``) over a YAML file
over defaults that work on a laptop. ``stream-sla config reference`` prints the table in the README.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from stream_sla import yamlfile
from stream_sla.sla.availability import Availability
from stream_sla.sla.durations import format_duration_ms, parse_duration_ms
from stream_sla.sla.policy import Policy

ENV_PREFIX = "STREAM_SLA_"
CONFIG_FILE_ENV = "STREAM_SLA_CONFIG"


def _duration(value: Any) -> Any:
    return parse_duration_ms(value) if isinstance(value, str) else value


DurationMs = Annotated[int, BeforeValidator(_duration), Field(gt=0)]


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka brokers, comma separated host:port."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to reach the brokers."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism (with SASL_PLAINTEXT or SASL_SSL)."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password (never logged; shown as ********** by config show)."
    )
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA bundle to verify the brokers (SSL, SASL_SSL); default: system CAs."
    )
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate (mutual TLS).")
    kafka_ssl_keyfile: Path | None = Field(None, description="Client certificate's key.")
    app_id: str = Field(
        "stream-sla", description="Consumer group and prefix of the state changelog topics."
    )
    topic_prefix: str = Field(
        "", description="Prepended to every topic name in topics/ (isolates tests and tenants)."
    )
    topic_replication_factor: int = Field(
        1, ge=1, description="Replication factor for topics created by `stream-sla topics create`."
    )
    data_dir: Path = Field(
        Path("var/worker"),
        description="Faust's working directory (lead state lives in memory and its changelog).",
    )
    web_host: str = Field("127.0.0.1", description="Address of the /metrics and health server.")
    web_port: int = Field(6066, ge=1, le=65535, description="Port of /metrics, /ready, /live.")
    web_auth_token: SecretStr | None = Field(
        None,
        description="If set, / and /metrics need `Authorization: Bearer <token>` (probes /live"
        " and /ready stay open). Never logged.",
    )
    web_auth_user: str | None = Field(
        None, description="With web_auth_password: HTTP basic auth for / and /metrics."
    )
    web_auth_password: SecretStr | None = Field(
        None, description="Password of web_auth_user (never logged)."
    )
    policy_file: Path | None = Field(
        None,
        description="SLA policy YAML (see policies/example.yaml); default: the built-in"
        " textbook policy (first touch 1h, attempts 3/5/7 in 14/28/56d, disposition 48h).",
    )
    people_file: Path | None = Field(
        None,
        description="People directory (YAML or CRM user-export CSV): owners' working hours,"
        " for policy rules with owner_away; default: none (owners work around the clock,"
        " only absences from crm.owner-availability take them away).",
    )
    first_touch_within: DurationMs | None = Field(
        None,
        description="Overrides every segment's first-touch target (e.g. 30s for a demo).",
    )
    first_touch_warn_at: float = Field(
        0.75, gt=0, lt=1, description="Warning fraction used with first_touch_within."
    )
    policy_version: str = Field(
        "default-1", description="Version of the built-in policy (a policy file has its own)."
    )
    session_timeout_seconds: float = Field(
        30.0,
        ge=3,
        description="Kafka consumer session timeout: how soon a crashed worker's partitions"
        " move to the others.",
    )
    group_instance_id: str = Field(
        "",
        description="Static group membership: a stable name per worker (the pod name of a"
        " StatefulSet). A worker restarted under the same name, even after kill -9, takes its"
        " partitions back at once instead of waiting out the dead session (session_timeout).",
    )
    producer_linger_ms: int = Field(
        5, ge=0, le=1000, description="How long the producer gathers records into a batch."
    )
    batch_max_events: int = Field(
        5000,
        ge=1,
        le=100_000,
        description="Most CRM events the worker applies as one batch (one transaction per input"
        " partition and batch); 5000 read a backfill fastest (python -m bench.batch_size).",
    )
    batch_within_seconds: float = Field(
        0.01,
        gt=0,
        le=5,
        description="How long a batch waits to fill; bounds the latency it adds to an event.",
    )
    exactly_once: bool = Field(
        True,
        description="One Kafka transaction per input partition and batch holds its breaches,"
        " warnings, dead letters, changelog rows and input offsets (downstream reads with"
        " isolation_level=read_committed). Off: at-least-once, for brokers without"
        " transactions.",
    )
    produce_retry_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="How long the worker retries a record Kafka refuses (with backoff, progress"
        " stopped) before it exits 75 with nothing of the batch committed.",
    )
    closed_lead_retention: DurationMs = Field(
        7 * 86_400_000, description="Keep a closed lead's state this long (e.g. 7d), then evict."
    )
    idle_lead_retention: DurationMs = Field(
        90 * 86_400_000, description="Evict a lead with no event for this long (e.g. 90d)."
    )
    known_reps: CommaList = Field(
        (),
        description="Reps named in metric labels (comma separated, or a YAML list); any other"
        " rep is counted in a stable hash bucket other-00 .. other-NN, alike on every worker.",
    )
    known_teams: CommaList = Field(
        (),
        description="Teams named in metric labels besides those the policy matches on;"
        " others go to hash buckets.",
    )
    label_buckets: int = Field(
        4,
        ge=1,
        le=64,
        description="Hash buckets per CRM label (team, rep, source, segment) for values the"
        " policy or the known_* lists do not name: bounds /metrics whatever the CRM sends.",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Worker logs: text for people, json for a log pipeline (one object a line,"
        " with lead_id / topic / partition / offset fields where a message has them).",
    )
    tick_interval_seconds: float = Field(
        0.1,
        gt=0,
        le=10,
        description="How often due deadlines are looked for (a breach waits up to this long).",
    )
    topics_dir: Path | None = Field(
        None, description="Folder of topic definitions (default: the repo's topics/)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs"
                " kafka_sasl_username and kafka_sasl_password"
            )
        return self

    @model_validator(mode="after")
    def _basic_auth_needs_both(self) -> Self:
        if bool(self.web_auth_user) != bool(self.web_auth_password):
            raise ValueError("web_auth_user and web_auth_password go together: set both or neither")
        return self

    def policy(self) -> Policy:
        """The policy file if one is set, else the built-in one; then env overrides."""
        if self.policy_file is not None:
            from stream_sla.policy_file import load_policy

            policy = load_policy(self.policy_file)
        else:
            policy = Policy(version=self.policy_version)
        if self.first_touch_within is not None:
            policy = policy.with_first_touch(self.first_touch_within, self.first_touch_warn_at)
        return policy

    def availability(self) -> Availability:
        """Owners' working hours from the people file (absences arrive on their topic)."""
        if self.people_file is None:
            return Availability()
        from stream_sla.people import load_people

        return Availability(load_people(self.people_file).working_hours())


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from env, an optional YAML file and explicit overrides; errors say where."""
    env = os.environ if environ is None else environ
    if config_file is None and env.get(CONFIG_FILE_ENV):
        config_file = Path(env[CONFIG_FILE_ENV])
    document = yamlfile.load(config_file) if config_file else None
    values: dict[str, Any] = {}
    if document is not None:
        if document.data is not None and not isinstance(document.data, dict):
            raise document.error((), "expected a mapping of setting: value")
        values.update(document.data or {})
    values.update(overrides)
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise _located(exc, document, env) from None


def _located(
    exc: ValidationError, document: yamlfile.YamlDocument | None, env: Mapping[str, str]
) -> yamlfile.ConfigError:
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    field = str(loc[0]) if loc else ""
    problem = first["msg"]
    if first["type"] == "extra_forbidden":
        problem = f"unknown setting (known: {', '.join(sorted(Settings.model_fields))})"
    env_name = ENV_PREFIX + field.upper()
    if env_name in env:
        return yamlfile.ConfigError(f"${env_name}", None, "", f"{env[env_name]!r}: {problem}")
    if document is not None:
        return document.error(loc, f"{first.get('input')!r}: {problem}")
    return yamlfile.ConfigError("<settings>", None, yamlfile.dotted(loc), problem)


def reference_table() -> str:
    """Markdown table of every setting, its variable, default and meaning (for the README)."""
    rows = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = "" if info.default is None else info.default
        if any(isinstance(m, BeforeValidator) for m in info.metadata) and isinstance(default, int):
            default = format_duration_ms(default)
        rows.append(
            f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | `{default}` | {info.description} |"
        )
    return "\n".join(rows)
