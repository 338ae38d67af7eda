"""Topics the demo produces to are writable once `wait_for_leaders` says so."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaProducer

from stream_app.kafka.client_config import aiokafka_options
from stream_app.kafka.topics import ensure_topics, topic_specs, wait_for_leaders
from stream_app.settings import Settings
from tests.helpers.scenarios import settings_for
from tests.helpers.support import isolated_env

pytestmark = pytest.mark.kafka


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
