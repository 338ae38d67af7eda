"""The topics the service creates and their configs (docs: reference/topics, operations/
personal-data): every topic has an explicit retention from the settings, by what it holds; a
canonical source keeps the source retention even when a normaliser writes it; KPI topics are
compacted."""

from __future__ import annotations

from stream_app.kafka.topics import topic_specs
from stream_app.settings import Settings

DAY_MS = 86_400_000


def test_every_topic_has_the_retention_of_what_it_holds_at_the_documented_defaults() -> None:
    s = Settings()
    configs = {t.name: t.topic_configs for t in topic_specs(s)}
    assert all("retention.ms" in config for config in configs.values()), configs
    days = {name: int(config["retention.ms"]) / DAY_MS for name, config in configs.items()}
    # Webhooks as received: 7 days. Canonical events, also those a normaliser writes: 30.
    for vendor in ("vendor.twilio", "vendor.aircall", "vendor.sendgrid", "vendor.hubspot"):
        assert days[vendor] == 7, vendor
    for source in ("telephony.calls", "email.events", "crm.events", "web.events"):
        assert days[source] == 30, source
    # Between stages: 7 days. Copies of refused or late input: 14. KPIs: 30, compacted.
    for internal in ("isales.touches", "isales.reach", "isales.crm.attributed"):
        assert days[internal] == 7, internal
    assert days["vendor.hubspot.objects"] == 7
    assert days["isales.dlq"] == days["isales.late"] == 14
    assert days["kpi.calls"] == days["kpi.engagement"] == 30
    assert configs["kpi.calls"]["cleanup.policy"] == "compact,delete"
    assert "cleanup.policy" not in configs["isales.touches"]
    assert "cleanup.policy" not in configs["isales.dlq"]


def test_retention_follows_its_settings() -> None:
    s = Settings(
        vendor_retention_days=2,
        source_retention_days=90,
        internal_retention_days=1,
        dlq_retention_days=3.5,
        kpi_topic_retention_hours=12,
    )
    configs = {t.name: t.topic_configs for t in topic_specs(s)}
    assert configs["vendor.sendgrid"]["retention.ms"] == str(2 * DAY_MS)
    assert configs["crm.events"]["retention.ms"] == str(90 * DAY_MS)
    assert configs["isales.reach"]["retention.ms"] == str(DAY_MS)
    assert configs["isales.late"]["retention.ms"] == str(int(3.5 * DAY_MS))
    assert configs["kpi.segments"]["retention.ms"] == str(12 * 3_600_000)
