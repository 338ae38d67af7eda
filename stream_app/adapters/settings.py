"""The vendor normalisers' settings (ISALES_* environment variables)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from stream_app.adapters.hubspot_objects import Owner
from stream_app.settings_base import CONFIG, split_list

HUBSPOT_OPEN_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
)
"""The open stages of HubSpot's default sales pipeline: a deal in any of them is handed over."""


class VendorSettings(BaseSettings):
    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.adapters.pipeline"

    vendor_twilio_topic: str = "vendor.twilio"
    vendor_aircall_topic: str = "vendor.aircall"
    vendor_sendgrid_topic: str = "vendor.sendgrid"
    vendor_hubspot_topic: str = "vendor.hubspot"
    vendor_hubspot_objects_topic: str = Field(
        default="vendor.hubspot.objects",
        description="HubSpot subscription events, one record per event keyed by its object.",
    )
    vendor_twilio_metrics_port: int = Field(default=9115, ge=1, le=65535)
    vendor_aircall_metrics_port: int = Field(default=9116, ge=1, le=65535)
    vendor_sendgrid_metrics_port: int = Field(default=9117, ge=1, le=65535)
    vendor_hubspot_metrics_port: int = Field(default=9118, ge=1, le=65535)
    hubspot_objects_metrics_port: int = Field(default=9119, ge=1, le=65535)
    vendor_dedupe_hours: float = Field(
        default=24.0, gt=0, description="Gateway request ids remembered (vendors retry for a day)."
    )
    hubspot_retention_hours: float = Field(
        default=24 * 180,
        gt=0,
        description="How long a deal's properties are kept: deals close weeks to months after "
        "the handoff.",
    )
    hubspot_owners: dict[str, Owner] = Field(
        default_factory=dict,
        description='HubSpot owner id -> rep and team, as JSON: {"52550153": {"rep": "rep-ana", '
        '"team": "team-east"}}. Owner ids are never labels; an unmapped owner is '
        "hubspot-unmapped.",
    )
    hubspot_owner_grace_seconds: float = Field(
        default=0.0,
        ge=0,
        description="An owner change this long after a deal enters a handoff stage still counts "
        "as its owner at the handoff (a workflow that assigns the owner just after creation). 0: "
        "an SDR who hands over and reassigns to field sales at once keeps the credit.",
    )
    hubspot_handoff_stages: Annotated[tuple[str, ...], NoDecode] = HUBSPOT_OPEN_STAGES
    hubspot_accepted_stages: Annotated[tuple[str, ...], NoDecode] = ("qualifiedtobuy",)
    hubspot_won_stages: Annotated[tuple[str, ...], NoDecode] = ("closedwon",)
    hubspot_lost_stages: Annotated[tuple[str, ...], NoDecode] = ("closedlost",)
    hubspot_discovery: dict[str, str] = Field(
        default_factory=lambda: {
            "budget": "isales_budget",
            "authority": "isales_authority",
            "need": "isales_need",
            "timeline": "isales_timeline",
        },
        description="Discovery field -> the deal property that holds it (JSON).",
    )
    hubspot_currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="The portal's company currency: a deal without deal_currency_code has it.",
    )

    @field_validator(
        "hubspot_handoff_stages",
        "hubspot_accepted_stages",
        "hubspot_won_stages",
        "hubspot_lost_stages",
        mode="before",
    )
    @classmethod
    def _split_stages(cls, value: object) -> object:
        return split_list(value)
