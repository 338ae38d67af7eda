"""The normaliser pipelines: one per vendor topic (`normalise-twilio`, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stream_app.adapters.normaliser import REJECTED, NormaliserFamily
from stream_app.metrics import StateCollector
from stream_app.pipeline import Output, PipelineSpec

if TYPE_CHECKING:
    from stream_app.settings import Settings

__all__ = ["NAMES", "boards", "pipelines"]

NAMES = ("normalise-twilio", "normalise-aircall", "normalise-sendgrid")


def pipelines(s: Settings) -> list[PipelineSpec]:
    # Canonical topics are other pipelines' sources: every record kept for the retention.
    outputs = {
        "calls": Output(s.calls_topic, compacted=False),
        "email": Output(s.email_topic, compacted=False),
        REJECTED: Output(s.dlq_topic, compacted=False),
    }
    vendors = (
        ("twilio", s.vendor_twilio_topic, s.vendor_twilio_metrics_port),
        ("aircall", s.vendor_aircall_topic, s.vendor_aircall_metrics_port),
        ("sendgrid", s.vendor_sendgrid_topic, s.vendor_sendgrid_metrics_port),
    )
    return [
        PipelineSpec(
            name=f"normalise-{vendor}",
            app_id=f"{s.app_id}-normalise-{vendor}",
            source=topic,
            port=port,
            outputs=outputs,
            family=NormaliserFamily(),
            dedupe_hours=s.vendor_dedupe_hours,
            collector=StateCollector.of,
        )
        for vendor, topic, port in vendors
    ]


def boards() -> list[dict[str, Any]]:
    return []
