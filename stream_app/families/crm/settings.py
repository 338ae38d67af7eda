"""The CRM family's settings (ISALES_* environment variables)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from stream_app.settings_base import CONFIG, split_list
from stream_app.spine.windows import parse_windows


class CrmSettings(BaseSettings):
    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.families.crm.pipeline"

    crm_topic: str = "crm.events"
    crm_attributed_topic: str = "isales.crm.attributed"
    kpi_handoffs_topic: str = "kpi.handoffs"
    kpi_outcomes_topic: str = "kpi.outcomes"
    crm_attribution_metrics_port: int = Field(
        default=9110, ge=1, le=65535, description="The CRM attribution worker's /metrics port."
    )
    crm_metrics_port: int = Field(
        default=9111, ge=1, le=65535, description="The CRM KPI worker's /metrics port."
    )
    crm_attribution_retention_hours: float = Field(
        default=24 * 180, gt=0, description="Opportunity -> rep attribution and held outcomes."
    )
    crm_grace_seconds: float = Field(
        default=180 * 86_400,
        ge=0,
        description="Grace of the CRM KPI windows. Decisions and wins come days to months "
        "after the handoff, and the repartition between the two CRM stages interleaves them "
        "in an order that depends on timing: a grace as long as the attribution horizon "
        "keeps every window exact whatever that order.",
    )
    crm_windows: Annotated[tuple[str, ...], NoDecode] = ("1h", "1d")
    crm_segment_by: Annotated[tuple[str, ...], NoDecode] = ("industry", "size_band")
    crm_required_fields: Annotated[tuple[str, ...], NoDecode] = (
        "budget",
        "authority",
        "need",
        "timeline",
    )

    @field_validator("crm_segment_by", "crm_required_fields", "crm_windows", mode="before")
    @classmethod
    def _split_crm_lists(cls, value: object) -> object:
        return split_list(value)

    @field_validator("crm_windows")
    @classmethod
    def _check_crm_windows(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one window size is needed")
        parse_windows(value)
        return value

    @field_validator("crm_segment_by")
    @classmethod
    def _check_segment_by(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = {"industry", "size_band", "region", "source"}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown segment attributes {sorted(unknown)}; use {sorted(known)}")
        return value
