"""The CRM family's settings (ISALES_* environment variables)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from stream_app.settings_base import CONFIG, split_list
from stream_app.spine.windows import parse_windows


class CrmSettings(BaseSettings):
    """The two CRM pipelines: `crm-attribution` credits each opportunity's decisions and
    outcomes to the inside-sales rep who handed it over, and `crm` counts handoffs, their
    discovery quality, and wins per rep, in windows of their own."""

    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.families.crm.pipeline"

    crm_topic: str = Field(
        default="crm.events",
        description="Input topic of CRM events (handoffs, decisions, outcomes, lead events), "
        "keyed by opportunity_id or lead_id; the HubSpot normaliser writes to it too.",
    )
    crm_attributed_topic: str = Field(
        default="isales.crm.attributed",
        description="Internal topic from crm-attribution to crm: decisions and outcomes joined "
        "to the rep who handed the opportunity over.",
    )
    kpi_handoffs_topic: str = Field(
        default="kpi.handoffs",
        description="Output topic of the handoff KPIs: crm_handoffs window records and "
        "crm_cohort records.",
    )
    kpi_outcomes_topic: str = Field(
        default="kpi.outcomes",
        description="Output topic of the outcome KPIs: crm_outcomes window records and "
        "crm_attribution records.",
    )
    crm_attribution_metrics_port: int = Field(
        default=9110,
        ge=1,
        le=65535,
        description="The crm-attribution worker's port for /metrics, /healthz and /readyz.",
    )
    crm_metrics_port: int = Field(
        default=9111,
        ge=1,
        le=65535,
        description="The crm worker's port for /metrics, /healthz and /readyz.",
    )
    crm_attribution_retention_hours: float = Field(
        default=24 * 180,
        gt=0,
        description="How long, in hours of event time, an opportunity's handoff (rep, team, "
        "segment, discovery) is kept to credit its decisions and outcomes, and held outcomes "
        "wait for it; also the CRM dedupe horizon. Default 4320 h, 180 days.",
    )
    crm_grace_seconds: float = Field(
        default=180 * 86_400,
        ge=0,
        description="Grace of the CRM KPI windows, in seconds (default 180 days, the "
        "attribution horizon). Decisions and wins come days to months after the handoff, and "
        "the repartition between the two CRM stages interleaves them by timing: a grace this "
        "long keeps every window exact whatever the order.",
    )
    crm_windows: Annotated[
        tuple[str, ...],
        NoDecode,
        Field(
            description="Window sizes of the CRM KPIs, comma-separated: `<n>s`, `<n>m`, `<n>h` "
            "or `1d` (the business day); each must divide 24 h."
        ),
    ] = ("1h", "1d")
    crm_segment_by: Annotated[
        tuple[str, ...],
        NoDecode,
        Field(
            description="Attributes of the handoff that make its segment label, comma-separated "
            "(joined with `:` in the label, e.g. `saas:smb`): any of `industry`, `size_band`, "
            "`region`, `source`; empty: one segment, `all`."
        ),
    ] = ("industry", "size_band")
    crm_required_fields: Annotated[
        tuple[str, ...],
        NoDecode,
        Field(
            description="Discovery fields a complete handoff has answered or marked not "
            "applicable, comma-separated."
        ),
    ] = (
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
