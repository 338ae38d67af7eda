"""The CRM pipelines: attribution (CRM events joined to the handing-over rep, repartitioned by
rep), then handoff and outcome KPIs per rep."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stream_app.families.crm.attribution import ATTRIBUTED, OUTCOMES_TOPIC, AttributionFamily
from stream_app.families.crm.family import CrmFamily
from stream_app.families.crm.grafana import boards
from stream_app.families.crm.metrics import CrmCollector
from stream_app.families.crm.records import cohort_records, window_records
from stream_app.spine.collector import StateCollector
from stream_app.spine.pipeline import Out, Output, PipelineSpec

if TYPE_CHECKING:
    from stream_app.settings import Settings
    from stream_app.spine.store import Value

__all__ = ["NAMES", "boards", "pipelines"]

NAMES = ("crm-attribution", "crm")


def pipelines(s: Settings) -> list[PipelineSpec]:
    tz = s.business_timezone
    outcomes = Output(s.kpi_outcomes_topic)

    def windows(value: Value, final: bool, now_ms: int) -> list[Out]:
        return window_records(value, tz=tz, final=final, now_ms=now_ms)

    def cohorts(value: Value, now_ms: int) -> list[Out]:
        return [("handoffs", k, v) for k, v in cohort_records(value, now_ms)]

    attribution = PipelineSpec(
        name="crm-attribution",
        app_id=f"{s.app_id}-crm-attribution",
        source=s.crm_topic,
        port=s.crm_attribution_metrics_port,
        # The repartition is internal: every record kept for its retention, not compacted.
        outputs={
            ATTRIBUTED: Output(s.crm_attributed_topic, compacted=False, bundled=True),
            OUTCOMES_TOPIC: outcomes,
        },
        family=AttributionFamily(s.crm_segment_by),
        dedupe_hours=s.crm_attribution_retention_hours,
        collector=StateCollector.of,
    )
    kpis = PipelineSpec(
        name="crm",
        app_id=f"{s.app_id}-crm",
        source=s.crm_attributed_topic,
        port=s.crm_metrics_port,
        outputs={"handoffs": Output(s.kpi_handoffs_topic), "outcomes": outcomes},
        family=CrmFamily(tz, s.crm_required_fields),
        dedupe_hours=s.crm_attribution_retention_hours,
        collector=CrmCollector.of,
        window_records=windows,
        totals_records=cohorts,
        grace_seconds=s.crm_grace_seconds,
        windows=s.crm_windows,
    )
    return [attribution, kpis]
