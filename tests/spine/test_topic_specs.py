"""The topics the service creates and their configs (README, "Topics"): a canonical source
keeps the broker's defaults even when a normaliser writes it; repartitions keep a week; KPI
topics are compacted."""

from __future__ import annotations

from stream_app.kafka.topics import INTERNAL_RETENTION_MS, topic_specs
from stream_app.settings import Settings


def test_sources_written_by_normalisers_keep_broker_defaults() -> None:
    s = Settings()
    configs = {t.name: t.topic_configs for t in topic_specs(s)}
    for source in (s.calls_topic, s.email_topic, s.crm_topic, s.vendor_hubspot_topic):
        assert configs[source] == {}, source
    week = {"retention.ms": str(INTERNAL_RETENTION_MS)}
    assert configs[s.vendor_hubspot_objects_topic] == week
    assert configs[s.crm_attributed_topic] == week
    assert configs[s.kpi_calls_topic]["cleanup.policy"] == "compact,delete"
