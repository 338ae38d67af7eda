"""`/metrics?name[]=`: a scrape asking for some series gets exactly those, the same as in the
whole scrape, and the collectors skip building what it did not ask for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from bench.throughput import touch_records
from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.families.crm.demo import CrmScenarioConfig, crm_scenario
from stream_app.families.email.demo import EmailScenarioConfig, email_scenario
from stream_app.kafka.ingest import decide
from stream_app.registry import spec_for
from stream_app.settings import Settings
from stream_app.spine.clock import FakeClock, SystemClock
from stream_app.spine.collector import Only, StateCollector
from stream_app.spine.engine import Engine
from stream_app.spine.labels import LabelGuard
from stream_app.spine.pipeline import Context, PipelineSpec
from stream_app.spine.store import DictStore
from stream_app.spine.windows import parse_windows
from tests.helpers.support import parse_metrics

CAPS = dict.fromkeys(
    ("rep", "team", "campaign", "variant", "segment", "field", "currency", "channel"), 50
)


def engine_for(s: Settings, spec: PipelineSpec, clock: FakeClock) -> Engine[Any]:
    return Engine(
        spec.family,
        DictStore(),
        clock,
        specs=s.window_specs if spec.windows is None else parse_windows(spec.windows),
        tz=s.business_timezone,
        grace_ms=s.grace_ms if spec.grace_seconds is None else int(spec.grace_seconds * 1000),
        window_retention_ms=int(s.window_retention_hours * 3_600_000),
        dedupe_retention_ms=int(spec.dedupe_hours * 3_600_000),
    )


def feed(
    s: Settings, engine: Engine[Any], records: Sequence[tuple[bytes | None, bytes]], now_ms: int
) -> list[tuple[str, bytes, bytes]]:
    emits = []
    for offset, (key, value) in enumerate(records):
        plan = decide(
            engine, s, key=key, value=value, partition=0, offset=offset, now_ms=now_ms
        ).plan
        engine.commit(plan)
        emits += plan.emits
    emits += engine.end_batch()
    engine.flush()
    return emits


def registry_of(s: Settings, spec: PipelineSpec, engine: Engine[Any], clock: FakeClock) -> Any:
    async def produce(topic: str, key: bytes, value: bytes | None) -> Any:
        raise AssertionError("a scrape produces nothing")

    ctx = Context(
        settings=s,
        engine=engine,
        clock=clock,
        guard=LabelGuard(CAPS),
        prefix="isales",
        source=spec.source,
        owned=lambda: {0},
        highwater=lambda p: engine.next_offset(p),
        produce=produce,
        outputs=spec.outputs,
    )
    registry = CollectorRegistry()
    # As the service registers them: the pipeline's extras (calls: pacing), then its own.
    for extra in spec.extras(ctx):
        for collector in extra.collectors():
            registry.register(collector)
    registry.register(spec.collector(ctx))
    return registry, ctx.guard


FIRST_STAGE = {"crm": "crm-attribution", "reach": "engagement"}
"""Two-stage pipelines: the stage whose output is the pipeline's source."""


def state_of(pipeline: str) -> tuple[Settings, PipelineSpec, Engine[Any], FakeClock]:
    """A pipeline's engine after a slice of its demo scenario (the CRM KPI stage after what
    the attribution stage sent it, reach after the engagement stage's credits)."""
    s = Settings()
    if pipeline == "calls":
        records = scenario(ScenarioConfig(seed=7, calls=300, malformed=5))
    elif pipeline == "email":
        records = email_scenario(EmailScenarioConfig(seed=7))[:3_000]
    elif pipeline in ("engagement", "reach"):
        records = touch_records(2_000, seed=7)
    else:
        records = crm_scenario(CrmScenarioConfig(seed=7, handoffs=300))
    now_ms = SystemClock().now_ms()  # the scenarios' events are in the past of today
    clock = FakeClock(now_ms)
    stage = FIRST_STAGE.get(pipeline, pipeline)
    spec = spec_for(s, stage)
    engine = engine_for(s, spec, clock)
    emits = feed(s, engine, [(r.key, r.value) for r in records], now_ms)
    if stage != pipeline:
        kpi = spec_for(s, pipeline)
        topics = {role: out.topic for role, out in spec.outputs.items()}
        sent = [(key, value) for role, key, value in emits if topics[role] == kpi.source]
        assert sent, f"{stage} sent {pipeline} nothing"
        spec, engine = kpi, engine_for(s, kpi, clock)
        feed(s, engine, sent, now_ms)
    return s, spec, engine, clock


# The engagement stage exports only the pipeline series; its KPIs are the reach stage's.
@pytest.mark.parametrize("pipeline", ["calls", "email", "crm", "reach"])
def test_each_series_asked_for_alone_is_the_same_as_in_the_whole_scrape(pipeline: str) -> None:
    s, spec, engine, clock = state_of(pipeline)
    registry, guard = registry_of(s, spec, engine, clock)
    guard.new_scrape()
    full = parse_metrics(generate_latest(registry).decode())
    family_series = [name for name in full if name.startswith(f"isales_{spec.family.name}_")]
    assert len(family_series) >= 5 and "isales_events_applied_total" in full
    for name in full:
        guard.new_scrape()
        some = parse_metrics(generate_latest(Only(registry, {name})).decode())
        assert some == {name: full[name]}, name
    guard.new_scrape()
    two = sorted(full)[:2]
    assert parse_metrics(generate_latest(Only(registry, set(two))).decode()) == {
        name: full[name] for name in two
    }


def test_a_scrape_for_pipeline_series_builds_no_kpi_series(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a progress poll or the console asks for is read without building a rep's KPIs
    (thousands of lines under load, ~25 ms of the worker's event loop)."""
    s, spec, engine, clock = state_of("calls")
    registry, guard = registry_of(s, spec, engine, clock)
    guard.new_scrape()
    full = parse_metrics(generate_latest(registry).decode())

    def refuse(*args: Any) -> Any:
        raise AssertionError("built a KPI series nobody asked for")

    monkeypatch.setattr(StateCollector, "family_series", refuse)
    asked = {"isales_events_applied_total", "isales_consumer_lag_messages"}
    some = parse_metrics(generate_latest(Only(registry, asked)).decode())
    assert some == {name: full[name] for name in asked}
    assert some["isales_events_applied_total"]
    with pytest.raises(AssertionError, match="nobody asked"):
        generate_latest(Only(registry, {"isales_calls_dials_total"}))
