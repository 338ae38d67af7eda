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
from stream_app.importer.settings import ImportSettings
from stream_app.settings_base import CONFIG, split_list
from stream_app.spine.windows import WindowSpec, parse_window_spec, parse_windows


def default_data_dir() -> Path:
    """Outside the source tree: the user's state folder (XDG_STATE_HOME)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "isales-kpi"


DLQ_HEADROOM_BYTES = 16_384
"""Provenance headers and record-batch framing on top of a DLQ copy's key and value."""


PROCESS_PORT_STRIDE = 100
"""Member i of `worker --processes N` listens on its pipeline's metrics port + 100 x i: the
pipelines' default ports are consecutive, so + i would land on the next pipeline's."""
MAX_PROCESSES = 64


class SpineSettings(BaseSettings):
    """What every pipeline shares: the Kafka connection, the dead-letter and late topics,
    local state, windows, input hygiene, the host and credentials of the workers' /metrics,
    label caps, outages and logs. A family's own settings are a mixin in its package;
    `Settings` is all of them."""

    model_config = CONFIG

    # Kafka connection
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("ISALES_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
        description="The Kafka brokers, as a comma-separated host:port list (the compose stack's "
        "broker is 127.0.0.1:29092 from the host). If both names are set, "
        "ISALES_KAFKA_BOOTSTRAP_SERVERS wins.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How every client talks to Kafka: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT "
        "(SASL login, no TLS) or SASL_SSL (SASL login over TLS).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN",
        description="The SASL mechanism, used only with SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_sasl_username: str | None = Field(
        default=None, description="The SASL user name (with SASL_PLAINTEXT or SASL_SSL)."
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None,
        description="The SASL password (with SASL_PLAINTEXT or SASL_SSL). A secret: never "
        "printed or logged.",
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="CA bundle (PEM file) that verifies the brokers' certificates, with SSL or "
        "SASL_SSL. Unset: the system's trusted CAs.",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None,
        description="Client certificate (PEM file) for mutual TLS, with SSL or SASL_SSL. Unset: "
        "no client certificate.",
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None,
        description="Private key (PEM file) of the client certificate. Unset: the key is in "
        "ISALES_KAFKA_SSL_CERTFILE.",
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None,
        description="Password of an encrypted client key file. A secret: never printed or logged.",
    )
    session_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Consumer group session timeout, in seconds: how long a killed member's "
        "partitions wait before the group hands them to the others (a replica with "
        "ISALES_WORKER_ID that restarts sooner takes them back without a rebalance).",
    )

    # Topics
    app_id: str = Field(
        default="isales-kpi",
        description="Application id: the consumer group of the calls pipeline (every other "
        "pipeline appends a suffix, e.g. isales-kpi-email) and the prefix of the state "
        "changelog topics. A new id counts from scratch.",
    )
    dlq_topic: str = Field(
        default="isales.dlq",
        description="Dead-letter topic: a copy of each refused input record with its reason "
        "(`dlq.reason.class`, `dlq.reason`) and source partition and offset in headers.",
    )
    late_topic: str = Field(
        default="isales.late",
        description="Late topic: a copy of each event too late to change a closed window, or "
        "past the dedupe horizon, with the reason in its `late.reason` header.",
    )
    erasure_topic: str = Field(
        default="isales.erasures",
        description="The erasure list (`stream-app erase`): one record per lead erased on "
        "request, keyed by the hash of its id (never the id). Every stage keyed by lead reads "
        "it from the start whatever its app id, so neither a restart nor a replay brings the "
        "lead back.",
    )
    erasure_audit_topic: str = Field(
        default="isales.erasure.audit",
        description="The erasure audit trail: one record per erased lead from `stream-app "
        "erase` (hashed id, time, what was erased, what only retention removes, and when), "
        "and each stage's confirmation.",
    )
    partitions: int = Field(
        default=4,
        ge=1,
        description="Partitions of the topics the service creates (`stream-app topics`), and so "
        "the most workers a pipeline can spread over.",
    )
    replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replicas of each topic the service creates; 3 on a production cluster.",
    )
    kpi_topic_retention_hours: float = Field(
        default=24 * 30,
        gt=0,
        description="How long the KPI topics keep records, in hours (their retention.ms; they "
        "are compact,delete). Default 720 h, 30 days.",
    )
    erasure_retention_days: float = Field(
        default=90,
        gt=0,
        description="How long the erasure list keeps a lead, in days: at least as long as any "
        "topic a replay reads it back from (the source, vendor and between-stages "
        "retentions), checked at start. Default 90.",
    )
    erasure_audit_retention_days: float = Field(
        default=3 * 365,
        gt=0,
        description="How long the erasure audit trail is kept, in days (it holds hashed ids "
        "only). Default 1095, three years.",
    )
    vendor_retention_days: float = Field(
        default=7,
        gt=0,
        description="How long the vendor topics (vendor.*: webhooks as the gateway received "
        "them, after field minimisation) keep records, in days: time for the normalisers to "
        "catch up after an outage, and to look at a vendor's payload. Default 7.",
    )
    source_retention_days: float = Field(
        default=30,
        gt=0,
        description="How long the canonical event topics (telephony.calls, email.events, "
        "crm.events, web.events) keep records, in days: how far back `stream-app replay` can "
        "rebuild the KPIs from them. Default 30.",
    )
    internal_retention_days: float = Field(
        default=7,
        gt=0,
        description="How long the topics between stages (isales.touches, isales.reach, "
        "isales.crm.attributed, vendor.hubspot.objects) keep records, in days: time for a "
        "stopped stage to catch up. Default 7.",
    )
    dlq_retention_days: float = Field(
        default=14,
        gt=0,
        description="How long the dead-letter and late topics keep records, in days: they "
        "hold copies of input records as received, so of anything the input holds; time to "
        "look at a bad record after a holiday, not longer. Default 14.",
    )

    # Local state and group membership
    store: Literal["rocksdb", "memory"] = Field(
        default="rocksdb",
        description="Where a worker keeps its state. `rocksdb`: a local copy under "
        "ISALES_DATA_DIR, so a restart reads only the changelog's tail; `memory`: every start "
        "replays the whole changelog.",
    )
    rocksdb_write_buffer_mb: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="RocksDB memtable size per partition's store, in MB (two are kept). State "
        "is served from memory; RocksDB is the restart copy, so its buffers only need to absorb "
        "writes: RocksDB's own default (64 MB x 3 per partition) tripled a worker's peak RSS "
        "while it caught up.",
    )
    rocksdb_block_cache_mb: int = Field(
        default=32,
        ge=1,
        le=4096,
        description="RocksDB block cache per partition's store, in MB: only a restart reads "
        "the store (RocksDB's default is 2 GB).",
    )
    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description="Folder of the local state copies (one subfolder per application id and "
        "replica), never the source tree; losing it only costs restart time.",
    )
    worker_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="A stable name per replica (a StatefulSet pod name, calls-0; up to 64 "
        "letters, digits, '_', '.', '-'): names its state folder and makes it a static group "
        "member (group.instance.id), which rejoins after a crash without a rebalance.",
    )

    port_offset: int = Field(
        default=0,
        ge=0,
        le=(MAX_PROCESSES - 1) * PROCESS_PORT_STRIDE,
        description="Added to the pipeline's metrics port. `worker --processes N` gives its "
        f"member i the offset {PROCESS_PORT_STRIDE} x i (and the worker id `<id>-<i>`), so the "
        "members of every pipeline on one host listen beside each other (the default ports "
        "are 9108-9114).",
    )

    # Windows and state
    windows: Annotated[
        tuple[str, ...],
        NoDecode,
        Field(
            description="KPI window sizes, comma-separated: `<n>s`, `<n>m`, `<n>h` or `1d` "
            "(the business day); each must divide 24 h so windows align to local midnight."
        ),
    ] = ("1m", "15m", "1h", "1d")
    grace_seconds: float = Field(
        default=300.0,
        ge=0,
        description="Seconds a window stays open after its end for late events: it is final "
        "once the watermark passes end + grace. Longer: fewer late events, later final KPIs.",
    )
    business_timezone: str = Field(
        default="UTC",
        description="IANA time zone name (e.g. `Asia/Tokyo`) of the business day: windows "
        "align to its local midnight and `1d` is its calendar day (23 or 25 h on DST days).",
    )
    window_retention_hours: float = Field(
        default=48.0,
        gt=0,
        description="Hours a closed window stays in the worker's state after it closes; it "
        "stays on the KPI topic for ISALES_KPI_TOPIC_RETENTION_HOURS.",
    )
    idle_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A live partition, caught up and quiet for this many seconds, closes its "
        "windows by the wall clock (minus this timeout), so the last hour of the day closes "
        "that day.",
    )
    live_lag_seconds: float = Field(
        default=900.0,
        gt=0,
        description="A partition whose newest event arrived within this many seconds of its "
        "event time is live: only then does the idle timeout close its windows by the wall "
        "clock.",
    )
    kpi_update_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between the worker's ticks: a changed window's KPI record is sent "
        "at most this often, and due windows are closed.",
    )
    sweep_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between retention sweeps, which delete closed windows past "
        "ISALES_WINDOW_RETENTION_HOURS and entities past the dedupe horizon from the state.",
    )
    batch_max_events: int = Field(
        default=2000,
        ge=1,
        description="Records per fetch (Kafka's max.poll.records): the batch handled and "
        "flushed to the changelog at once.",
    )
    consumer_max_fetch_bytes: int = Field(
        default=8_388_608,
        ge=1_048_576,
        description="Most bytes a fetch returns per partition (Kafka's "
        "max.partition.fetch.bytes; at least 1 MiB): what the consumer has buffered while a "
        "batch is applied. A smaller value starves the worker of records in a backlog.",
    )

    # Input hygiene
    max_payload_bytes: int = Field(
        default=65_536,
        gt=0,
        description="Largest input record value accepted, in bytes; a larger one is "
        "dead-lettered as oversize before it is parsed.",
    )
    max_future_skew_seconds: float = Field(
        default=300.0,
        ge=0,
        description="An event with a timestamp more than this many seconds ahead of the "
        "worker's clock is dead-lettered as future_timestamp.",
    )
    dlq_max_record_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description="DLQ and late copies larger than this many bytes are cut to it (headers "
        "`dlq.truncated` and `dlq.original_*_bytes` give the sizes).",
    )
    producer_max_request_bytes: int = Field(
        default=2_097_152,
        ge=1024,
        description="The producer's max.request.size, in bytes; must exceed "
        "ISALES_DLQ_MAX_RECORD_BYTES by at least 16 KiB (16384) for the headers.",
    )
    producer_max_batch_bytes: int = Field(
        default=524_288,
        ge=16_384,
        description="The producer's batch.size per partition, in bytes, at most "
        "ISALES_PRODUCER_MAX_REQUEST_BYTES and below the broker's message.max.bytes (1 MiB by "
        "default): a batch's changelog writes go out in one request per partition instead of a "
        "round trip per 16 KiB (Kafka's default).",
    )
    timestamp_min_year: int = Field(
        default=DEFAULT_TIMESTAMP_YEARS[0],
        ge=1971,
        description="Timestamps before 1 January of this year are dead-lettered as invalid_value.",
    )
    timestamp_max_year: int = Field(
        default=DEFAULT_TIMESTAMP_YEARS[1],
        le=9000,
        description="Timestamps after 31 December of this year are dead-lettered as "
        "invalid_value; not before ISALES_TIMESTAMP_MIN_YEAR.",
    )

    # Metrics endpoint and label hygiene
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address every worker's /metrics, /healthz and /readyz listen on; `0.0.0.0` "
        "in containers, with the port kept off the internet (only Prometheus let in).",
    )
    metrics_auth_token: SecretStr | None = Field(
        default=None,
        description="If set, /metrics wants `Authorization: Bearer <token>`. A secret: never "
        "printed or logged.",
    )
    metrics_basic_auth_user: str | None = Field(
        default=None,
        description="With ISALES_METRICS_BASIC_AUTH_PASSWORD (both or neither): /metrics wants "
        "HTTP basic credentials.",
    )
    metrics_basic_auth_password: SecretStr | None = Field(
        default=None,
        description="The password of /metrics' HTTP basic credentials, set together with "
        "ISALES_METRICS_BASIC_AUTH_USER. A secret: never printed or logged.",
    )
    label_cap_rep: int = Field(
        default=500,
        ge=1,
        description="Most rep label values a worker shows on /metrics (the first seen by event "
        "time); the rest fold into `other`, counted in `isales_label_overflow_total`.",
    )
    label_cap_team: int = Field(
        default=50, ge=1, description="Most team label values on /metrics; the rest are `other`."
    )
    label_cap_campaign: int = Field(
        default=200,
        ge=1,
        description="Most e-mail campaign label values on /metrics; the rest are `other`.",
    )
    label_cap_variant: int = Field(
        default=10,
        ge=1,
        description="Most A/B variant label values on /metrics; the rest are `other`.",
    )
    label_cap_segment: int = Field(
        default=50,
        ge=1,
        description="Most segment label values (e-mail, CRM and engagement segments) on "
        "/metrics; the rest are `other`.",
    )
    label_cap_field: int = Field(
        default=30,
        ge=1,
        description="Most CRM discovery field names on /metrics; the rest are `other`.",
    )
    label_cap_currency: int = Field(
        default=20,
        ge=1,
        description="Most currency label values (won amounts) on /metrics; the rest are `other`.",
    )
    label_cap_channel: int = Field(
        default=20,
        ge=1,
        description="Most touch channel label values (engagement) on /metrics; the rest are "
        "`other`.",
    )

    log_level: str = Field(
        default="info",
        description="The worker's log level: debug, info, warning, error or critical.",
    )
    outage_log_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="During a broker outage, 'Kafka still unreachable' (and any other repeated "
        "warning, with a count) is logged at most once per this many seconds.",
    )
    stall_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="/readyz answers 503 once a partition with records waiting has not moved "
        "for this many seconds (listed under 'stalled').",
    )
    cluster_check_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds between checks that the source topic still holds what the state "
        "counted; a wiped or re-created topic stops the worker with a clear message.",
    )
    shutdown_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="After SIGTERM or SIGINT the process ends within this many seconds; past "
        "it, it exits anyway (state and offsets are crash-safe).",
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
        replayable = max(
            self.source_retention_days, self.vendor_retention_days, self.internal_retention_days
        )
        if self.erasure_retention_days < replayable:
            raise ValueError(
                "ISALES_ERASURE_RETENTION_DAYS must be at least the source, vendor and internal "
                f"topics' retention ({replayable:g} days): a replay would bring an erased lead "
                "back"
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
    ImportSettings,
    SpineSettings,
):
    """The service's one settings object: the spine's and every family's. Adding a family's
    settings mixin here registers its pipelines (see `stream_app.registry`)."""

    model_config = CONFIG
