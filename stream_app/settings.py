"""The service's one settings object. Environment variables (prefix ISALES_) are the contract."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from schemas.common import DEFAULT_TIMESTAMP_YEARS, time_range_ms
from stream_app.adapters.settings import VendorSettings
from stream_app.families.calls.settings import CallsSettings
from stream_app.families.crm.settings import CrmSettings
from stream_app.families.email.settings import EmailSettings
from stream_app.families.engagement.settings import EngagementSettings
from stream_app.gateway.settings import GatewaySettings
from stream_app.settings_base import CONFIG, split_list
from stream_app.spine.windows import WindowSpec, parse_window_spec, parse_windows


def default_data_dir() -> Path:
    """Outside the source tree: the user's state folder (XDG_STATE_HOME)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "isales-kpi"


DLQ_HEADROOM_BYTES = 16_384
"""Provenance headers and record-batch framing on top of a DLQ copy's key and value."""


class SpineSettings(BaseSettings):
    """What every pipeline shares: Kafka, windows and state, input hygiene, the web port's
    host and auth, label caps, faults and logs. A family's own settings are a mixin in its
    package; `Settings` below is all of them."""

    model_config = CONFIG

    # Kafka connection
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("ISALES_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
        description="Comma-separated host:port list.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    session_timeout_seconds: float = Field(default=30.0, gt=0)

    # Topics
    app_id: str = "isales-kpi"
    dlq_topic: str = "isales.dlq"
    late_topic: str = "isales.late"
    partitions: int = Field(default=4, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    kpi_topic_retention_hours: float = Field(default=24 * 30, gt=0)

    # Local state and group membership
    store: Literal["rocksdb", "memory"] = Field(
        default="rocksdb",
        description="rocksdb: a local copy of the state, so a restart reads only the changelog's "
        "tail; memory: every start replays the whole changelog.",
    )
    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description="Local state folders (one per worker); losing them only costs restart time.",
    )
    worker_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="A stable name per replica: names its state folder and makes it a static "
        "group member (group.instance.id), which rejoins after a crash without a rebalance.",
    )

    # Windows and state
    windows: Annotated[tuple[str, ...], NoDecode] = ("1m", "15m", "1h", "1d")
    grace_seconds: float = Field(default=300.0, ge=0)
    business_timezone: str = "UTC"
    window_retention_hours: float = Field(default=48.0, gt=0)
    idle_timeout_seconds: float = Field(default=30.0, gt=0)
    live_lag_seconds: float = Field(
        default=900.0,
        gt=0,
        description="A partition whose newest event arrived within this of its event time is "
        "live: only then does the idle timeout close its windows by the wall clock.",
    )
    kpi_update_interval_seconds: float = Field(default=1.0, gt=0)
    sweep_interval_seconds: float = Field(default=60.0, gt=0)
    batch_max_events: int = Field(
        default=2000,
        ge=1,
        description="Records per fetch, which is the batch handled and flushed to the "
        "changelog at once (Kafka's max.poll.records).",
    )
    consumer_max_fetch_bytes: int = Field(
        default=8_388_608,
        ge=1_048_576,
        description="Most bytes a fetch returns per partition (Kafka's "
        "max.partition.fetch.bytes): what the consumer has buffered while a batch is applied.",
    )

    # Input hygiene
    max_payload_bytes: int = Field(default=65_536, gt=0)
    max_future_skew_seconds: float = Field(default=300.0, ge=0)
    dlq_max_record_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description="DLQ copies above this are cut to it (headers say so and give the sizes).",
    )
    producer_max_request_bytes: int = Field(
        default=2_097_152, ge=1024, description="Producer's max.request.size."
    )
    producer_max_batch_bytes: int = Field(
        default=524_288,
        ge=16_384,
        description="Producer's batch.size per partition. A batch's changelog writes go out "
        "in one request per partition instead of waiting on a round trip every 16 KiB "
        "(Kafka's default); below the broker's message.max.bytes (1 MiB by default).",
    )
    timestamp_min_year: int = Field(
        default=DEFAULT_TIMESTAMP_YEARS[0], ge=1971, description="Older timestamps are refused."
    )
    timestamp_max_year: int = Field(
        default=DEFAULT_TIMESTAMP_YEARS[1], le=9000, description="Later timestamps are refused."
    )

    # Metrics endpoint and label hygiene
    metrics_host: str = "127.0.0.1"
    metrics_auth_token: SecretStr | None = Field(
        default=None, description="If set, /metrics wants 'Authorization: Bearer <token>'."
    )
    metrics_basic_auth_user: str | None = Field(
        default=None, description="With the password: /metrics wants HTTP basic credentials."
    )
    metrics_basic_auth_password: SecretStr | None = None
    label_cap_rep: int = Field(default=500, ge=1)
    label_cap_team: int = Field(default=50, ge=1)
    label_cap_campaign: int = Field(default=200, ge=1)
    label_cap_variant: int = Field(default=10, ge=1)
    label_cap_segment: int = Field(default=50, ge=1)
    label_cap_field: int = Field(default=30, ge=1)
    label_cap_currency: int = Field(default=20, ge=1)
    label_cap_channel: int = Field(default=20, ge=1)

    log_level: str = "info"
    outage_log_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="'Kafka still unreachable' (and repeats) at most this often.",
    )
    stall_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="/readyz: not ready once a partition with records waiting is stuck this long.",
    )
    cluster_check_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often the worker checks the topic holds its data.",
    )
    shutdown_timeout_seconds: float = Field(
        default=15.0, gt=0, description="After SIGTERM/SIGINT the process ends within this."
    )

    @field_validator("windows", mode="before")
    @classmethod
    def _split_windows(cls, value: object) -> object:
        return split_list(value)

    @field_validator("windows")
    @classmethod
    def _check_windows(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one window size is needed")
        for name in value:
            parse_window_spec(name)
        return value

    @field_validator("business_timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def window_specs(self) -> tuple[WindowSpec, ...]:
        return parse_windows(self.windows)

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]

    @model_validator(mode="after")
    def _check_limits(self) -> SpineSettings:
        if self.timestamp_min_year > self.timestamp_max_year:
            raise ValueError("ISALES_TIMESTAMP_MIN_YEAR is after ISALES_TIMESTAMP_MAX_YEAR")
        if (self.metrics_basic_auth_user is None) != (self.metrics_basic_auth_password is None):
            raise ValueError(
                "ISALES_METRICS_BASIC_AUTH_USER and _PASSWORD are set together or not at all"
            )
        if self.producer_max_request_bytes < self.dlq_max_record_bytes + DLQ_HEADROOM_BYTES:
            raise ValueError(
                "ISALES_PRODUCER_MAX_REQUEST_BYTES must exceed ISALES_DLQ_MAX_RECORD_BYTES by "
                f"{DLQ_HEADROOM_BYTES} (headers and batch overhead)"
            )
        if self.producer_max_batch_bytes > self.producer_max_request_bytes:
            raise ValueError(
                "ISALES_PRODUCER_MAX_BATCH_BYTES must not exceed ISALES_PRODUCER_MAX_REQUEST_BYTES"
            )
        return self

    @cached_property
    def time_range_ms(self) -> tuple[int, int]:
        # Read for every record decoded; settings do not change once loaded.
        return time_range_ms(self.timestamp_min_year, self.timestamp_max_year)

    @property
    def grace_ms(self) -> int:
        return int(self.grace_seconds * 1000)


class Settings(
    CallsSettings,
    EmailSettings,
    CrmSettings,
    EngagementSettings,
    VendorSettings,
    GatewaySettings,
    SpineSettings,
):
    """The service's one settings object: the spine's and every family's. Adding a family's
    settings mixin here registers its pipelines (see `stream_app.registry`)."""

    model_config = CONFIG
