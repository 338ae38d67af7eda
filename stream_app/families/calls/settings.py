"""The calls family's settings (ISALES_* environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings

from stream_app.settings_base import CONFIG


class CallsSettings(BaseSettings):
    """The calls pipeline (`stream-app worker`, the default pipeline): telephony call events
    in, call KPIs per rep and window out, and pacing against the targets file."""

    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.families.calls.pipeline"

    calls_topic: str = Field(
        default="telephony.calls",
        description="Input topic of telephony call lifecycle events, keyed by rep_id.",
    )
    kpi_calls_topic: str = Field(
        default="kpi.calls",
        description="Output topic of the call KPIs per rep and window (compacted).",
    )
    kpi_pacing_topic: str = Field(
        default="kpi.pacing",
        description="Output topic of each rep's pace against target per KPI and period "
        "(compacted), published every ISALES_PACING_PUBLISH_INTERVAL_SECONDS.",
    )
    metrics_port: int = Field(
        default=9108,
        ge=1,
        le=65535,
        description="The calls worker's port for /metrics, /healthz and /readyz.",
    )
    dedupe_retention_hours: float = Field(
        default=25.0,
        gt=0,
        description="Dedupe horizon of calls, in hours from a call's started_at: its state is "
        "kept until the watermark is this far past, and a later event of the call counts "
        "nowhere. 25 h covers the vendors' 24 h retries.",
    )
    short_call_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A connect with less talk time than this many seconds is a short call.",
    )

    # Targets and pacing
    targets_file: Path | None = Field(
        default=None,
        description="YAML file of targets and the business calendar (example: "
        "deploy/targets.yml, which `stream-app up` uses unless this is set); reloaded on change "
        "or SIGHUP. Unset: no pacing, and the default calendar (Mon-Fri 09:00-18:00).",
    )
    targets_check_interval_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often the targets file is checked for changes, in seconds.",
    )
    pacing_publish_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often each rep's pace is published to ISALES_KPI_PACING_TOPIC, in "
        "seconds.",
    )
