"""The engagement family's settings (ISALES_* environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from stream_app.settings_base import CONFIG, split_list
from stream_app.spine.windows import parse_windows


class EngagementSettings(BaseSettings):
    """Relationship and reach: the `web` pipeline turns web and marketing events into touches
    (the calls, e-mail and CRM-attribution pipelines add theirs), `engagement` scores each
    lead from its touches, and `reach` counts leads reached and engaged per rep and segment."""

    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.families.engagement.pipeline"

    web_topic: str = Field(
        default="web.events",
        description="Input topic of web and marketing events.",
    )
    touches_topic: str = Field(
        default="isales.touches",
        description="Internal topic of touches from every source (calls, e-mail, CRM, web), "
        "keyed by lead_id, read by the engagement pipeline.",
    )
    reach_topic: str = Field(
        default="isales.reach",
        description="Internal topic into the reach pipeline: versioned credits from the "
        "engagement pipeline and ad impressions from the web pipeline.",
    )
    kpi_engagement_topic: str = Field(
        default="kpi.engagement",
        description="Output topic: one record per lead (score, band, touches, handoffs).",
    )
    kpi_segments_topic: str = Field(
        default="kpi.segments",
        description="Output topic: reach per segment and the score calibration table "
        "(compacted), republished on change at most every ISALES_ENGAGEMENT_REFRESH_SECONDS.",
    )
    engagement_file: Path | None = Field(
        default=None,
        description="YAML file of the touch weights, half-life, bands and target-fit rule "
        "(example: deploy/engagement.yml, which `stream-app up` uses unless this is set); an "
        "invalid file stops the worker at start. Unset: the documented defaults.",
    )
    web_metrics_port: int = Field(
        default=9112,
        ge=1,
        le=65535,
        description="The web worker's port for /metrics, /healthz and /readyz.",
    )
    engagement_metrics_port: int = Field(
        default=9113,
        ge=1,
        le=65535,
        description="The engagement worker's port for /metrics, /healthz and /readyz.",
    )
    reach_metrics_port: int = Field(
        default=9114,
        ge=1,
        le=65535,
        description="The reach worker's port for /metrics, /healthz and /readyz.",
    )
    engagement_retention_hours: float = Field(
        default=24 * 180,
        gt=0,
        description="How long, in hours, a lead's touches are kept after its newest one (and "
        "the web and reach dedupe horizon): a lead quiet for longer starts again as a new "
        "lead. Default 4320 h, 180 days.",
    )
    reach_grace_seconds: float = Field(
        default=2 * 86_400,
        ge=0,
        description="Grace of the reach windows, in seconds (default 172800, 2 days). Touches "
        "reach this stage through the source stages at their own pace, so a slow one's "
        "touches land behind a fast one's.",
    )
    reach_windows: Annotated[
        tuple[str, ...],
        NoDecode,
        Field(
            description="Window sizes of the reach KPIs, comma-separated: `<n>s`, `<n>m`, `<n>h` "
            "or `1d` (the business day); each must divide 24 h."
        ),
    ] = ("1h", "1d")
    engagement_refresh_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often, in seconds, leads per band (now) are recounted and "
        "kpi.segments is republished if it changed.",
    )

    @field_validator("reach_windows", mode="before")
    @classmethod
    def _split_reach_windows(cls, value: object) -> object:
        return split_list(value)

    @field_validator("reach_windows")
    @classmethod
    def _check_reach_windows(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one window size is needed")
        parse_windows(value)
        return value
