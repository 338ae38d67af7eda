"""Create the service's topics with the configs it relies on (compacted KPI topics)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from stream_app import registry
from stream_app.kafka.client_config import aiokafka_options
from stream_app.settings import DLQ_HEADROOM_BYTES, Settings

log = logging.getLogger(__name__)

INTERNAL_RETENTION_MS = 7 * 86_400_000
"""DLQ, late and repartition topics keep a week: time to look at a bad record, or for a
stopped stage to catch up, without keeping them forever."""


def topic_specs(s: Settings) -> list[NewTopic]:
    """Every topic of every registered pipeline: sources, KPI topics (compacted: the newest
    record per key stands; delete ages out old windows), internal topics, DLQ and late."""
    kpi_config = {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(int(s.kpi_topic_retention_hours * 3_600_000)),
    }
    internal = {"retention.ms": str(INTERNAL_RETENTION_MS)}
    # A DLQ or late copy is the source record (up to the broker's ~1 MB, or cut to
    # ISALES_DLQ_MAX_RECORD_BYTES) plus provenance headers: make room for exactly that.
    side = {**internal, "max.message.bytes": str(s.dlq_max_record_bytes + DLQ_HEADROOM_BYTES)}
    configs: dict[str, dict[str, str]] = {}
    for spec in registry.pipelines(s):
        for output in spec.outputs.values():
            if output.shared:
                configs.setdefault(output.topic, {})
            else:
                configs[output.topic] = kpi_config if output.compacted else internal
    for spec in registry.pipelines(s):
        configs.setdefault(spec.source, {})
    configs[s.dlq_topic] = configs[s.late_topic] = side
    n, rf = s.partitions, s.replication_factor
    return [NewTopic(name, n, rf, topic_configs=config) for name, config in configs.items()]


async def ensure_topics(s: Settings) -> None:
    admin = AIOKafkaAdminClient(**aiokafka_options(s))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topic_specs(s) if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker won the race
                await admin.create_topics(missing)
            log.info("created topics %s", [t.name for t in missing])
    finally:
        await admin.close()


async def wait_for_leaders(s: Settings, timeout_s: float = 60.0) -> bool:
    """Whether every partition of the service's topics is served by its leader, waiting up to
    `timeout_s`. Right after a broker starts or a topic is created, a produce to a partition
    that is not yet served is refused (NotLeaderForPartition) and retried with a warning per
    batch: the demo waits here first instead."""
    names = [t.name for t in topic_specs(s)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    admin = AIOKafkaAdminClient(**aiokafka_options(s))
    await admin.start()
    try:
        while True:
            described = await admin.describe_topics(names)
            if all(
                t["error_code"] == 0
                and t["partitions"]
                and all(p["leader"] >= 0 and p["error_code"] == 0 for p in t["partitions"])
                for t in described
            ):
                break
            if loop.time() > deadline:
                log.warning("topics still without a leader after %.0f s", timeout_s)
                return False
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
    ]
    return await _wait_until_served(s, partitions, deadline)


async def _wait_until_served(
    s: Settings, partitions: list[TopicPartition], deadline: float
) -> bool:
    # In KRaft the metadata names a leader before that broker's replica manager has the
    # partition online (the metadata image is published first): for that window a produce
    # gets NotLeaderForPartition. ListOffsets goes through the same leader check, so a
    # partition whose end offset its leader answers is one a produce will land on.
    loop = asyncio.get_running_loop()
    consumer = AIOKafkaConsumer(**aiokafka_options(s), enable_auto_commit=False)
    await consumer.start()
    try:
        while True:
            left = deadline - loop.time()
            try:
                await asyncio.wait_for(consumer.end_offsets(partitions), timeout=max(left, 0.1))
                return True
            except (TimeoutError, KafkaError):
                if loop.time() > deadline:
                    log.warning("partitions still not served by a leader")
                    return False
                await asyncio.sleep(0.2)
    finally:
        await consumer.stop()
