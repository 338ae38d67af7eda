"""One seeded call scenario produced to Kafka, with its ground truth."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from stream_app.demo import Produced, produce
from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.settings import Settings
from stream_app.topics import ensure_topics
from tests.truth import Truth, compute


@dataclass
class ScenarioRun:
    records: list[Produced]
    placed: list[tuple[int, int]]
    truth: Truth

    @property
    def malformed(self) -> dict[tuple[int, int], Produced]:
        return {
            at: r for r, at in zip(self.records, self.placed, strict=True) if r.kind == "malformed"
        }

    @property
    def dlq_reasons(self) -> Counter[str]:
        return Counter(r.reason_class or "" for r in self.records if r.kind == "malformed")


def settings_for(env: dict[str, str]) -> Settings:
    fields = {
        k.removeprefix("ISALES_").lower(): v for k, v in env.items() if k.startswith("ISALES_")
    }
    return Settings.model_validate(
        {**fields, "KAFKA_BOOTSTRAP_SERVERS": env["KAFKA_BOOTSTRAP_SERVERS"]}
    )


def truth_of(records: list[Produced], placed: list[tuple[int, int]], s: Settings) -> Truth:
    valid = [
        (at[0], r.value) for r, at in zip(records, placed, strict=True) if r.kind != "malformed"
    ]
    return compute(
        valid,
        tz=s.business_timezone,
        grace_ms=s.grace_ms,
        short_ms=round(s.short_call_seconds * 1000),
        sizes=s.windows,
    )


def produce_scenario(env: dict[str, str], cfg: ScenarioConfig) -> ScenarioRun:
    s = settings_for(env)
    asyncio.run(ensure_topics(s))
    records = scenario(cfg, s.max_payload_bytes)
    placed = asyncio.run(
        produce({"bootstrap_servers": s.kafka_bootstrap_servers}, s.calls_topic, records)
    )
    return ScenarioRun(records, placed, truth_of(records, placed, s))
