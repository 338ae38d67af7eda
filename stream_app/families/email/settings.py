"""The email family's settings (ISALES_* environment variables)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings

from stream_app.settings_base import CONFIG


class EmailSettings(BaseSettings):
    """The e-mail pipeline (`stream-app worker --pipeline email`): e-mail platform events in,
    send cohorts, activity and the A/B comparison per campaign out."""

    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.families.email.pipeline"

    email_topic: str = Field(
        default="email.events",
        description="Input topic of e-mail platform events, keyed by campaign_id.",
    )
    kpi_email_topic: str = Field(
        default="kpi.email",
        description="Output topic of the e-mail KPIs: email_cohort and email_activity records.",
    )
    kpi_email_ab_topic: str = Field(
        default="kpi.email_ab",
        description="Output topic of the A/B comparison per campaign, KPI and variant.",
    )
    email_metrics_port: int = Field(
        default=9109,
        ge=1,
        le=65535,
        description="The email worker's port for /metrics, /healthz and /readyz.",
    )
    email_message_retention_hours: float = Field(
        default=24 * 30,
        gt=0,
        description="Per-message state (and dedupe) horizon, in hours from the message's "
        "sent_at: later events of the message count nowhere. Default 720 h, 30 days.",
    )
    email_campaign_idle_hours: float = Field(
        default=24 * 7,
        gt=0,
        description="A campaign with no event for this many hours of event time leaves "
        "/metrics and the board; its records stay on the KPI topics. Default 168 h, 7 days.",
    )
    ab_alpha: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Significance level of the A/B leader: a variant leads once it beats the "
        "runner-up with p below this (between 0 and 1; not corrected for repeated looks).",
    )
    ab_min_delivered: int = Field(
        default=1000,
        ge=1,
        description="Delivered messages both the best variant and the runner-up need before "
        "a leader is named.",
    )
