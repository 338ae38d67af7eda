"""The engagement pipelines: web events to touches; every touch of a lead to its score and
credits (engagement); credits to counts per rep and segment (reach). And the taps: the calls,
e-mail and CRM-attribution pipelines send their events' touches to the touches topic."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stream_app.families.engagement.config import EngagementConfig, load
from stream_app.families.engagement.grafana import boards
from stream_app.families.engagement.lead import ENGAGEMENT, LeadFamily
from stream_app.families.engagement.metrics import SEGMENTS, ReachCollector, SegmentIndex
from stream_app.families.engagement.reach import ReachFamily
from stream_app.families.engagement.touches import (
    REACH,
    TOUCHES,
    Tapped,
    call_touches,
    crm_touches,
    email_touches,
)
from stream_app.families.engagement.web import WebFamily
from stream_app.spine.collector import StateCollector
from stream_app.spine.pipeline import Context, Extra, Output, PipelineSpec

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from stream_app.settings import Settings

__all__ = ["NAMES", "augment", "boards", "pipelines"]

NAMES = ("web", "engagement", "reach")


@cache
def _config(path: Path | None) -> EngagementConfig:
    return EngagementConfig() if path is None else load(path)


def config(s: Settings) -> EngagementConfig:
    return _config(s.engagement_file)


def pipelines(s: Settings) -> list[PipelineSpec]:
    hours = s.engagement_retention_hours
    touches = Output(s.touches_topic, compacted=False)
    reach = Output(s.reach_topic, compacted=False, bundled=True)
    indexes: dict[int, SegmentIndex] = {}

    def index(ctx: Context) -> SegmentIndex:
        # The extra and the collector of one worker share it (both are built from its ctx).
        key = id(ctx.engine)
        if key not in indexes:
            indexes[key] = SegmentIndex(ctx, config(s), s.engagement_refresh_seconds)
        return indexes[key]

    lead = LeadFamily(lambda: config(s))

    def lead_collector(ctx: Context) -> Collector:
        lead.config  # noqa: B018 - a bad engagement file stops the worker at start, not later
        return StateCollector.of(ctx)

    def reach_collector(ctx: Context) -> Collector:
        return ReachCollector.of(ctx, config=config(s), index=index(ctx))

    def reach_extras(ctx: Context) -> list[Extra]:
        return [index(ctx)]

    return [
        PipelineSpec(
            name="web",
            app_id=f"{s.app_id}-web",
            source=s.web_topic,
            port=s.web_metrics_port,
            outputs={TOUCHES: touches, REACH: reach},
            family=WebFamily(),
            # Marketing platforms export history late and in bulk: the lead's touches are
            # kept as long as the engagement stage keeps them (the state is only the ids).
            dedupe_hours=hours,
            collector=StateCollector.of,
        ),
        PipelineSpec(
            name="engagement",
            app_id=f"{s.app_id}-engagement",
            source=s.touches_topic,
            port=s.engagement_metrics_port,
            outputs={ENGAGEMENT: Output(s.kpi_engagement_topic), REACH: reach},
            family=lead,
            dedupe_hours=hours,
            collector=lead_collector,
        ),
        PipelineSpec(
            name="reach",
            app_id=f"{s.app_id}-reach",
            source=s.reach_topic,
            port=s.reach_metrics_port,
            outputs={SEGMENTS: Output(s.kpi_segments_topic)},
            family=ReachFamily(),
            dedupe_hours=hours,
            collector=reach_collector,
            extras=reach_extras,
            grace_seconds=s.reach_grace_seconds,
            windows=s.reach_windows,
        ),
    ]


def augment(s: Settings, specs: list[PipelineSpec]) -> list[PipelineSpec]:
    """Tap the calls, e-mail and CRM-attribution pipelines: each applied event's touches go to
    the touches topic (the other families know nothing of it)."""
    taps: dict[str, Any] = {
        "calls": call_touches,
        "email": email_touches,
        "crm-attribution": crm_touches(s.crm_segment_by),
    }
    touches = Output(s.touches_topic, compacted=False)
    out = []
    for spec in specs:
        tap = taps.get(spec.name)
        if tap is not None:
            spec = replace(
                spec,
                family=Tapped(spec.family, tap),
                outputs={**spec.outputs, TOUCHES: touches},
            )
        out.append(spec)
    return out
