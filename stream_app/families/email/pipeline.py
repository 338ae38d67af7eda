"""The email pipeline: email-platform events to send cohorts, activity windows and the A/B."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stream_app.families.email.family import EmailFamily
from stream_app.families.email.grafana import boards
from stream_app.families.email.metrics import EmailCollector
from stream_app.families.email.records import ab_records, cohort_records, window_records
from stream_app.spine.pipeline import Context, Out, Output, PipelineSpec

if TYPE_CHECKING:
    from stream_app.settings import Settings
    from stream_app.spine.store import Value

__all__ = ["NAMES", "boards", "pipelines"]

NAMES = ("email",)


def pipelines(s: Settings) -> list[PipelineSpec]:
    tz = s.business_timezone

    def windows(value: Value, final: bool, now_ms: int) -> list[Out]:
        records = window_records(value, tz=tz, final=final, now_ms=now_ms)
        return [("kpi", key, record) for key, record in records]

    def totals(value: Value, now_ms: int) -> list[Out]:
        campaign, counts = value["g"], value["c"]
        out: list[Out] = [("kpi", k, v) for k, v in cohort_records(campaign, counts, now_ms)]
        ab = ab_records(campaign, counts, alpha=s.ab_alpha, min_n=s.ab_min_delivered, now_ms=now_ms)
        return out + [("ab", k, v) for k, v in ab]

    def collector(ctx: Context) -> EmailCollector:
        return EmailCollector.of(
            ctx,
            alpha=s.ab_alpha,
            min_n=s.ab_min_delivered,
            idle_ms=int(s.email_campaign_idle_hours * 3_600_000),
        )

    return [
        PipelineSpec(
            name="email",
            app_id=f"{s.app_id}-email",
            source=s.email_topic,
            port=s.email_metrics_port,
            outputs={"kpi": Output(s.kpi_email_topic), "ab": Output(s.kpi_email_ab_topic)},
            family=EmailFamily(tz),
            dedupe_hours=s.email_message_retention_hours,
            collector=collector,
            window_records=windows,
            totals_records=totals,
        )
    ]
