"""Create the service's topics with the configs it relies on (compacted KPI topics)."""

from __future__ import annotations

import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from stream_app.kafka_config import aiokafka_options
from stream_app.settings import DLQ_HEADROOM_BYTES, Settings

log = logging.getLogger(__name__)


def topic_specs(s: Settings) -> list[NewTopic]:
    kpi_config = {
        # compact keeps the newest record per (rep, window, start); delete ages out old windows.
        "cleanup.policy": "compact,delete",
        "retention.ms": str(int(s.kpi_topic_retention_hours * 3_600_000)),
    }
    plain = {"retention.ms": str(7 * 86_400_000)}
    # A DLQ or late copy is the source record (up to the broker's ~1 MB, or cut to
    # ISALES_DLQ_MAX_RECORD_BYTES) plus provenance headers: make room for exactly that.
    side = {**plain, "max.message.bytes": str(s.dlq_max_record_bytes + DLQ_HEADROOM_BYTES)}
    n, rf = s.partitions, s.replication_factor
    kpi_topics = [
        s.kpi_calls_topic,
        s.kpi_email_topic,
        s.kpi_email_ab_topic,
        s.kpi_handoffs_topic,
        s.kpi_outcomes_topic,
        s.kpi_pacing_topic,
    ]
    side_topics = [s.dlq_topic, s.late_topic]
    return [
        *(NewTopic(t, n, rf) for t in (s.calls_topic, s.email_topic, s.crm_topic)),
        *(NewTopic(t, n, rf, topic_configs=kpi_config) for t in kpi_topics),
        NewTopic(s.crm_attributed_topic, n, rf, topic_configs=plain),
        *(NewTopic(t, n, rf, topic_configs=side) for t in side_topics),
    ]


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
