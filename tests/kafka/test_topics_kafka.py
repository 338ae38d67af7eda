"""Topics on a real broker: those the demo produces to are writable once `wait_for_leaders` says
so; `stream-app topics` creates every topic with the retention of what it holds and, of topics
that already existed, reports those whose retention differs from the settings without changing
them (docs/operations/personal-data.md)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from stream_app.kafka.client_config import aiokafka_options
from stream_app.kafka.topics import ensure_topics, topic_specs, wait_for_leaders
from stream_app.settings import Settings
from tests.helpers.scenarios import settings_for
from tests.helpers.support import isolated_env

pytestmark = pytest.mark.kafka
DAY_MS = 86_400_000


async def create_wait_and_produce(s: Settings) -> None:
    await ensure_topics(s)
    assert await wait_for_leaders(s)
    producer = AIOKafkaProducer(**aiokafka_options(s), acks="all")
    await producer.start()
    try:
        sends = [  # keyed: some of the topics are compacted
            await producer.send(t.name, key=b"k", value=b"x", partition=p)
            for t in topic_specs(s)
            for p in range(t.num_partitions)
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def test_every_partition_takes_a_produce_without_a_retry_once_leaders_are_waited_for(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Fresh topics each round: the window in which KRaft's metadata names a leader that does
    # not yet serve the partition is short, and only freshly created topics have it.
    caplog.set_level(logging.WARNING, logger="aiokafka")
    for _ in range(3):
        asyncio.run(create_wait_and_produce(settings_for(isolated_env(kafka_bootstrap))))
    retries = [r.getMessage() for r in caplog.records if "NotLeaderForPartition" in r.getMessage()]
    assert not retries, retries[:3]


def retention(bootstrap: str, topics: list[str]) -> dict[str, int]:
    async def run() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            out = {}
            resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
            for result in await admin.describe_configs(resources):
                for _err, _msg, _type, name, entries in result.resources:
                    out[name] = int(next(e[1] for e in entries if e[0] == "retention.ms"))
            return out
        finally:
            await admin.close()

    return asyncio.run(run())


def test_existing_topics_are_reported_not_changed(kafka_bootstrap: str) -> None:
    env = isolated_env(kafka_bootstrap)
    s = settings_for(env)
    assert asyncio.run(ensure_topics(s)) == []  # all created now: nothing to report
    topics = [s.dlq_topic, s.vendor_twilio_topic, s.calls_topic, s.kpi_calls_topic]
    assert retention(kafka_bootstrap, topics) == {
        s.dlq_topic: 14 * DAY_MS,
        s.vendor_twilio_topic: 7 * DAY_MS,
        s.calls_topic: 30 * DAY_MS,
        s.kpi_calls_topic: 30 * DAY_MS,
    }
    shorter = settings_for({**env, "ISALES_DLQ_RETENTION_DAYS": "2"})
    drift = asyncio.run(ensure_topics(shorter))
    assert sorted(drift) == sorted(
        [(t, str(14 * DAY_MS), str(2 * DAY_MS)) for t in (s.dlq_topic, s.late_topic)]
    )
    assert retention(kafka_bootstrap, [s.dlq_topic])[s.dlq_topic] == 14 * DAY_MS
