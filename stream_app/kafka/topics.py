"""Create the service's topics with the configs it relies on (compacted KPI topics)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from stream_app import registry
from stream_app.kafka.client_config import aiokafka_options
from stream_app.settings import DLQ_HEADROOM_BYTES, Settings

log = logging.getLogger(__name__)

TopicKind = Literal["vendor", "source", "internal", "kpi", "dead-letter", "erasure", "audit"]
DAY_MS = 86_400_000


def topic_kinds(s: Settings) -> dict[str, TopicKind]:
    """Every topic the service creates, by what it holds: webhooks as received (`vendor`),
    canonical events (`source`), records between stages (`internal`), KPIs (`kpi`,
    compacted), and copies of refused or late input (`dead-letter`). The personal-data map
    (docs/operations/personal-data.md) lists each."""
    vendor = {
        s.vendor_twilio_topic,
        s.vendor_aircall_topic,
        s.vendor_sendgrid_topic,
        s.vendor_hubspot_topic,
    }
    kinds: dict[str, TopicKind] = {}
    specs = registry.pipelines(s)
    for spec in specs:
        for output in spec.outputs.values():
            if output.shared:
                kinds.setdefault(output.topic, "source")
            else:
                kinds[output.topic] = "kpi" if output.compacted else "internal"
    for spec in specs:
        kinds.setdefault(spec.source, "vendor" if spec.source in vendor else "source")
    kinds[s.dlq_topic] = kinds[s.late_topic] = "dead-letter"
    kinds[s.erasure_topic], kinds[s.erasure_audit_topic] = "erasure", "audit"
    return kinds


def retention_ms(s: Settings, kind: TopicKind) -> int:
    days = {
        "vendor": s.vendor_retention_days,
        "source": s.source_retention_days,
        "internal": s.internal_retention_days,
        "kpi": s.kpi_topic_retention_hours / 24,
        "dead-letter": s.dlq_retention_days,
        "erasure": s.erasure_retention_days,
        "audit": s.erasure_audit_retention_days,
    }[kind]
    return int(days * DAY_MS)


def topic_specs(s: Settings) -> list[NewTopic]:
    """Every topic of every registered pipeline, each with an explicit retention from the
    settings: KPI topics compacted (the newest record per key stands; delete ages out old
    windows), the DLQ and late topics sized for a copy of a record."""
    n, rf = s.partitions, s.replication_factor
    out = []
    for name, kind in topic_kinds(s).items():
        config = {"retention.ms": str(retention_ms(s, kind))}
        if kind in ("kpi", "erasure"):
            config["cleanup.policy"] = "compact,delete"
        if kind == "dead-letter":
            # A DLQ or late copy is the source record (up to the broker's ~1 MB, or cut to
            # ISALES_DLQ_MAX_RECORD_BYTES) plus provenance headers: room for exactly that.
            config["max.message.bytes"] = str(s.dlq_max_record_bytes + DLQ_HEADROOM_BYTES)
        out.append(NewTopic(name, n, rf, topic_configs=config))
    return out


async def ensure_topics(s: Settings) -> list[tuple[str, str | None, str]]:
    """Create the missing topics; of those that existed, return (and log) each whose
    retention.ms is not the settings' as (topic, on the broker, wanted). An existing topic's
    configuration is the operator's: it is reported, never changed (Kafka's AlterConfigs
    would reset every config it is not given)."""
    admin = AIOKafkaAdminClient(**aiokafka_options(s))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        specs = topic_specs(s)
        missing = [t for t in specs if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker won the race
                await admin.create_topics(missing)
            log.info("created topics %s", [t.name for t in missing])
        kept = [t for t in specs if t.name in existing]
        drift = []
        if kept:
            resources = [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in kept]
            found: dict[str, str | None] = {}
            for result in await admin.describe_configs(resources):
                for _err, _msg, _type, name, entries in result.resources:
                    found[name] = next((e[1] for e in entries if e[0] == "retention.ms"), None)
            for t in kept:
                want = t.topic_configs["retention.ms"]
                if found.get(t.name) != want:
                    drift.append((t.name, found.get(t.name), want))
                    log.warning(
                        "topic %s keeps retention.ms=%s; the settings say %s "
                        "(docs: operations/personal-data)",
                        t.name,
                        found.get(t.name),
                        want,
                    )
        return drift
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
