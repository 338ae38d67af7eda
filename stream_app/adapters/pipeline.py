"""The normaliser pipelines: one per vendor topic (`normalise-twilio`, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stream_app.adapters.hubspot import OBJECTS
from stream_app.adapters.hubspot_objects import CRM, HubSpotObjectsFamily
from stream_app.adapters.normaliser import REJECTED, NormaliserFamily
from stream_app.adapters.people import DirectoryFile
from stream_app.spine.clock import SystemClock
from stream_app.spine.collector import StateCollector
from stream_app.spine.pipeline import Output, PipelineSpec

if TYPE_CHECKING:
    from stream_app.settings import Settings

__all__ = ["NAMES", "boards", "pipelines"]

NAMES = (
    "normalise-twilio",
    "normalise-aircall",
    "normalise-sendgrid",
    "normalise-hubspot",
    "hubspot-objects",
)


def pipelines(s: Settings) -> list[PipelineSpec]:
    # One directory per process, read again when its file changes.
    people = (
        DirectoryFile(s.people_file, SystemClock().now_ms) if s.people_file is not None else None
    )
    # Canonical topics are the KPI pipelines' sources, written by other producers too.
    outputs = {
        "calls": Output(s.calls_topic, compacted=False, shared=True),
        "email": Output(s.email_topic, compacted=False, shared=True),
        REJECTED: Output(s.dlq_topic, compacted=False),
        OBJECTS: Output(s.vendor_hubspot_objects_topic, compacted=False),
    }
    vendors = (
        ("twilio", s.vendor_twilio_topic, s.vendor_twilio_metrics_port),
        ("aircall", s.vendor_aircall_topic, s.vendor_aircall_metrics_port),
        ("sendgrid", s.vendor_sendgrid_topic, s.vendor_sendgrid_metrics_port),
        ("hubspot", s.vendor_hubspot_topic, s.vendor_hubspot_metrics_port),
    )
    normalisers = [
        PipelineSpec(
            name=f"normalise-{vendor}",
            app_id=f"{s.app_id}-normalise-{vendor}",
            source=topic,
            port=port,
            outputs=outputs,
            family=NormaliserFamily(people),
            dedupe_hours=s.vendor_dedupe_hours,
            collector=StateCollector.of,
        )
        for vendor, topic, port in vendors
    ]
    # HubSpot's stateful half: a deal's stage, owner, amount and contact come in separate
    # events; this stage keeps them per deal and emits the CRM events they imply.
    objects = PipelineSpec(
        name="hubspot-objects",
        app_id=f"{s.app_id}-hubspot-objects",
        source=s.vendor_hubspot_objects_topic,
        port=s.hubspot_objects_metrics_port,
        outputs={CRM: Output(s.crm_topic, compacted=False, shared=True)},
        family=HubSpotObjectsFamily(
            owners=s.hubspot_owners,
            handoff_stages=s.hubspot_handoff_stages,
            accepted_stages=s.hubspot_accepted_stages,
            won_stages=s.hubspot_won_stages,
            lost_stages=s.hubspot_lost_stages,
            discovery=s.hubspot_discovery,
            currency=s.hubspot_currency,
            owner_grace_ms=int(s.hubspot_owner_grace_seconds * 1000),
            people=people,
        ),
        dedupe_hours=s.hubspot_retention_hours,
        collector=StateCollector.of,
        grace_seconds=s.hubspot_retention_hours * 3600,
    )
    return [*normalisers, objects]


def boards() -> list[dict[str, Any]]:
    return []
