"""The email family's settings (ISALES_* environment variables)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings

from stream_app.settings_base import CONFIG


class EmailSettings(BaseSettings):
    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.families.email.pipeline"

    email_topic: str = "email.events"
    kpi_email_topic: str = "kpi.email"
    kpi_email_ab_topic: str = "kpi.email_ab"
    email_metrics_port: int = Field(
        default=9109, ge=1, le=65535, description="The email worker's /metrics port."
    )
    email_message_retention_hours: float = Field(
        default=24 * 30, gt=0, description="Per-message state (and dedupe) horizon."
    )
    email_campaign_idle_hours: float = Field(
        default=24 * 7, gt=0, description="A campaign this quiet leaves /metrics (not the topics)."
    )
    ab_alpha: float = Field(default=0.05, gt=0, lt=1)
    ab_min_delivered: int = Field(default=1000, ge=1)
