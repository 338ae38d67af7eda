"""The engagement family's settings (ISALES_* environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from stream_app.settings_base import CONFIG, split_list
from stream_app.spine.windows import parse_windows


class EngagementSettings(BaseSettings):
    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.families.engagement.pipeline"

    web_topic: str = "web.events"
    touches_topic: str = "isales.touches"
    reach_topic: str = "isales.reach"
    kpi_engagement_topic: str = "kpi.engagement"
    kpi_segments_topic: str = "kpi.segments"
    engagement_file: Path | None = Field(
        default=None,
        description="YAML weights, half-life, bands and target-fit rule (deploy/engagement.yml); "
        "none: the documented defaults.",
    )
    web_metrics_port: int = Field(default=9112, ge=1, le=65535)
    engagement_metrics_port: int = Field(default=9113, ge=1, le=65535)
    reach_metrics_port: int = Field(default=9114, ge=1, le=65535)
    engagement_retention_hours: float = Field(
        default=24 * 180,
        gt=0,
        description="How long a lead's touches are kept after its newest one (and each credit "
        "for dedupe): a lead quiet for longer starts again as a new lead.",
    )
    reach_grace_seconds: float = Field(
        default=2 * 86_400,
        ge=0,
        description="Grace of the reach windows. Touches reach this stage through the source "
        "stages at their own pace, so a slow one's touches land behind a fast one's.",
    )
    reach_windows: Annotated[tuple[str, ...], NoDecode] = ("1h", "1d")
    engagement_refresh_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often leads per band (now) are recounted and kpi.segments published.",
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
