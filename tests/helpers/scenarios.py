"""Seeded scenarios produced to a real broker, each with its ground truth: the setup the
Kafka tests share (calls, email, CRM, and calls mixed with hostile records)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stream_app.demo.traffic import Produced, produce
from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.families.crm.demo import CrmScenarioConfig, crm_scenario
from stream_app.families.email.demo import EmailScenarioConfig, email_scenario
from stream_app.kafka.topics import ensure_topics
from stream_app.settings import Settings
from tests.helpers.hostile import Bad, mix
from tests.helpers.support import isolated_env
from tests.truth.calls import Truth, compute
from tests.truth.crm import CrmTruth
from tests.truth.crm import compute as crm_truth
from tests.truth.email import EmailTruth
from tests.truth.email import compute as email_truth
from tests.truth.engagement import ENGAGEMENT_FILE


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
        dedupe_ms=round(s.dedupe_retention_hours * 3_600_000),
    )


def produce_scenario(env: dict[str, str], cfg: ScenarioConfig) -> ScenarioRun:
    s = settings_for(env)
    asyncio.run(ensure_topics(s))
    records = scenario(cfg, s.max_payload_bytes)
    placed = asyncio.run(
        produce({"bootstrap_servers": s.kafka_bootstrap_servers}, s.calls_topic, records)
    )
    return ScenarioRun(records, placed, truth_of(records, placed, s))


@dataclass
class EmailRun:
    env: dict[str, str]
    settings: Settings
    records: list[Produced]
    placed: list[tuple[int, int]]
    truth: EmailTruth


def produce_email(env: dict[str, str], cfg: EmailScenarioConfig) -> EmailRun:
    s = settings_for(env)
    asyncio.run(ensure_topics(s))
    records = email_scenario(cfg)
    options = {"bootstrap_servers": s.kafka_bootstrap_servers}
    placed = asyncio.run(produce(options, s.email_topic, records))
    valid = [r.value for r in records if r.kind != "malformed"]
    truth = email_truth(valid, tz=s.business_timezone, sizes=s.windows)
    return EmailRun(env, s, records, placed, truth)


@dataclass
class CrmRun:
    env: dict[str, str]
    settings: Settings
    records: list[Produced]
    placed: list[tuple[int, int]]
    truth: CrmTruth


def produce_crm(env: dict[str, str], cfg: CrmScenarioConfig) -> CrmRun:
    s = settings_for(env)
    asyncio.run(ensure_topics(s))
    records = crm_scenario(cfg)
    placed = asyncio.run(
        produce({"bootstrap_servers": s.kafka_bootstrap_servers}, s.crm_topic, records)
    )
    valid = [r.value for r in records if r.kind != "malformed"]
    truth = crm_truth(
        valid, tz=s.business_timezone, sizes=s.crm_windows, segment_by=s.crm_segment_by
    )
    return CrmRun(env, s, records, placed, truth)


async def produce_records(
    bootstrap: str, topic: str, records: Sequence[Produced | Bad]
) -> list[tuple[int, int]]:
    """`demo.produce` with room for the fault suite's ~1 MB records."""
    options = {"bootstrap_servers": bootstrap, "max_request_size": 2_000_000}
    return await produce(options, topic, records)


def produce_mixed(
    env: dict[str, str], cfg: ScenarioConfig, hostile: int, seed: int
) -> tuple[ScenarioRun, dict[tuple[int, int], Bad]]:
    s = settings_for(env)
    asyncio.run(ensure_topics(s))
    good = scenario(cfg, s.max_payload_bytes)
    records: list[Produced | Bad] = [*good]
    if hostile:
        records = mix(random.Random(seed), good, hostile)
    placed = asyncio.run(produce_records(s.kafka_bootstrap_servers, s.calls_topic, records))
    bad = {at: r for r, at in zip(records, placed, strict=True) if isinstance(r, Bad)}
    kept = [r for r in records if isinstance(r, Produced)]
    kept_at = [at for r, at in zip(records, placed, strict=True) if isinstance(r, Produced)]
    return ScenarioRun(kept, kept_at, truth_of(kept, kept_at, s)), bad


def engagement_env(bootstrap: str, folder: Path) -> dict[str, str]:
    """Settings for the engagement scenario (`tests.truth.engagement`) across its stages: its
    engagement file, and graces and horizons that take its three weeks of shuffled history."""
    config = folder / "engagement.yml"
    config.write_text(ENGAGEMENT_FILE)
    return isolated_env(
        bootstrap,
        ISALES_ENGAGEMENT_FILE=str(config),
        ISALES_REACH_GRACE_SECONDS=str(365 * 86_400),
        ISALES_CRM_GRACE_SECONDS=str(365 * 86_400),
        ISALES_DEDUPE_RETENTION_HOURS=str(30 * 24),
    )
