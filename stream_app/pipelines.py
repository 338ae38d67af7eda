"""The service's pipelines: one source topic each, one process each (`worker --pipeline`).

Each has its own consumer group and changelog, so it scales and fails on its own; the spine
(engine, offsets, dedupe, windows, DLQ) is the same for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from stream_app.families.calls import CallsFamily
from stream_app.families.crm import AttributionFamily, CrmFamily
from stream_app.families.email import EmailFamily
from stream_app.family import Family
from stream_app.settings import Settings

Pipeline = Literal["calls", "email", "crm-attribution", "crm"]
PIPELINES: tuple[Pipeline, ...] = ("calls", "email", "crm-attribution", "crm")


@dataclass(frozen=True)
class PipelineSpec:
    name: Pipeline
    app_id: str
    source: str
    port: int
    topics: dict[str, str]
    """Output topics by role: kpi, ab, handoffs, outcomes, attributed."""
    family: Family[Any]
    dedupe_hours: float


def spec_for(s: Settings, name: Pipeline) -> PipelineSpec:
    tz = s.business_timezone
    if name == "calls":
        return PipelineSpec(
            name,
            s.app_id,
            s.calls_topic,
            s.metrics_port,
            {"kpi": s.kpi_calls_topic},
            CallsFamily(s.short_call_seconds),
            s.dedupe_retention_hours,
        )
    if name == "email":
        return PipelineSpec(
            name,
            f"{s.app_id}-email",
            s.email_topic,
            s.email_metrics_port,
            {"kpi": s.kpi_email_topic, "ab": s.kpi_email_ab_topic},
            EmailFamily(tz),
            s.email_message_retention_hours,
        )
    if name == "crm-attribution":
        return PipelineSpec(
            name,
            f"{s.app_id}-crm-attribution",
            s.crm_topic,
            s.crm_attribution_metrics_port,
            {"attributed": s.crm_attributed_topic, "outcomes": s.kpi_outcomes_topic},
            AttributionFamily(s.crm_segment_by),
            s.crm_attribution_retention_hours,
        )
    return PipelineSpec(
        name,
        f"{s.app_id}-crm",
        s.crm_attributed_topic,
        s.crm_metrics_port,
        {"handoffs": s.kpi_handoffs_topic, "outcomes": s.kpi_outcomes_topic},
        CrmFamily(tz, s.crm_required_fields),
        s.crm_attribution_retention_hours,
    )
