"""The calls pipeline: telephony events to call KPIs per rep, paced against targets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stream_app.families.calls.family import CallsFamily
from stream_app.families.calls.grafana import boards
from stream_app.families.calls.pacing import Pacing
from stream_app.families.calls.records import kpi_key, kpi_record
from stream_app.spine.collector import StateCollector
from stream_app.spine.pipeline import Out, Output, PipelineSpec

if TYPE_CHECKING:
    from stream_app.settings import Settings
    from stream_app.spine.store import Value

__all__ = ["NAMES", "boards", "pipelines"]

NAMES = ("calls",)


def pipelines(s: Settings) -> list[PipelineSpec]:
    family = CallsFamily(s.short_call_seconds)
    tz = s.business_timezone

    def window_records(value: Value, final: bool, now_ms: int) -> list[Out]:
        record = kpi_record(family, value, tz=tz, final=final, now_ms=now_ms)
        return [("kpi", kpi_key(family.name, value), record)]

    return [
        PipelineSpec(
            name="calls",
            app_id=s.app_id,
            source=s.calls_topic,
            port=s.metrics_port,
            outputs={"kpi": Output(s.kpi_calls_topic), "pacing": Output(s.kpi_pacing_topic)},
            family=family,
            dedupe_hours=s.dedupe_retention_hours,
            collector=StateCollector.of,
            window_records=window_records,
            extras=lambda ctx: [Pacing(ctx)],
        )
    ]
