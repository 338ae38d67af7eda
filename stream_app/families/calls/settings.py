"""The calls family's settings (ISALES_* environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings

from stream_app.settings_base import CONFIG


class CallsSettings(BaseSettings):
    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.families.calls.pipeline"

    calls_topic: str = "telephony.calls"
    kpi_calls_topic: str = "kpi.calls"
    kpi_pacing_topic: str = "kpi.pacing"
    metrics_port: int = Field(
        default=9108, ge=1, le=65535, description="The calls worker's /metrics port."
    )
    dedupe_retention_hours: float = Field(default=25.0, gt=0)
    short_call_seconds: float = Field(default=30.0, gt=0)

    # Targets and pacing
    targets_file: Path | None = Field(
        default=None, description="YAML targets and business calendar; reloaded on change/SIGHUP."
    )
    targets_check_interval_seconds: float = Field(default=2.0, gt=0)
    pacing_publish_interval_seconds: float = Field(default=60.0, gt=0)
