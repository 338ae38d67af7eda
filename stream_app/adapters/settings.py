"""The vendor normalisers' settings (ISALES_* environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Self

from pydantic import Field, field_validator, model_validator
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
    """The vendor normalisers: one pipeline per vendor (`normalise-twilio`, `-aircall`,
    `-sendgrid`, `-hubspot`) turns the raw webhooks the gateway wrote into the canonical call,
    e-mail and CRM events, and `hubspot-objects` keeps each HubSpot deal's history to derive
    its handoff, decisions and outcome."""

    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.adapters.pipeline"

    vendor_twilio_topic: str = Field(
        default="vendor.twilio",
        description="Raw Twilio webhooks, one record per request, from the gateway to the "
        "normalise-twilio pipeline.",
    )
    vendor_aircall_topic: str = Field(
        default="vendor.aircall",
        description="Raw Aircall webhooks, one record per request, from the gateway to the "
        "normalise-aircall pipeline.",
    )
    vendor_sendgrid_topic: str = Field(
        default="vendor.sendgrid",
        description="Raw SendGrid webhooks, one record per request, from the gateway to the "
        "normalise-sendgrid pipeline.",
    )
    vendor_hubspot_topic: str = Field(
        default="vendor.hubspot",
        description="Raw HubSpot webhooks, one record per request, from the gateway to the "
        "normalise-hubspot pipeline.",
    )
    vendor_hubspot_objects_topic: str = Field(
        default="vendor.hubspot.objects",
        description="Internal topic of HubSpot subscription events, one record per event keyed "
        "by its deal or contact, from normalise-hubspot to hubspot-objects.",
    )
    vendor_twilio_metrics_port: int = Field(
        default=9115,
        ge=1,
        le=65535,
        description="The normalise-twilio worker's port for /metrics, /healthz and /readyz.",
    )
    vendor_aircall_metrics_port: int = Field(
        default=9116,
        ge=1,
        le=65535,
        description="The normalise-aircall worker's port for /metrics, /healthz and /readyz.",
    )
    vendor_sendgrid_metrics_port: int = Field(
        default=9117,
        ge=1,
        le=65535,
        description="The normalise-sendgrid worker's port for /metrics, /healthz and /readyz.",
    )
    vendor_hubspot_metrics_port: int = Field(
        default=9118,
        ge=1,
        le=65535,
        description="The normalise-hubspot worker's port for /metrics, /healthz and /readyz.",
    )
    hubspot_objects_metrics_port: int = Field(
        default=9119,
        ge=1,
        le=65535,
        description="The hubspot-objects worker's port for /metrics, /healthz and /readyz.",
    )
    vendor_dedupe_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long, in hours, each vendor normaliser keeps a raw webhook's request "
        "id, from the gateway's receipt: a raw record received longer ago than this (by its "
        "partition's watermark) is dropped as expired. Vendor retries are new requests, "
        "deduplicated downstream by the canonical events' own ids.",
    )
    hubspot_retention_hours: float = Field(
        default=24 * 180,
        gt=0,
        description="How long, in hours, hubspot-objects keeps a deal's history: deals close "
        "weeks to months after the handoff. Default 4320 h, 180 days.",
    )
    people_file: Path | None = Field(
        default=None,
        description="The people directory (YAML; `deploy/people.yml` is an example): each rep "
        "once, with a display name, a team and their Aircall user ids, Twilio callback "
        "`rep_id`s, HubSpot owner ids and SendGrid `owner_rep_id`s, so one person is one `rep` "
        "label across vendors. Read again when it changes; an identity it does not list is "
        "`unmapped-<vendor>`. Unset: each vendor's own ids (`aircall-<user id>`, the callback's "
        "`rep_id`, ISALES_HUBSPOT_OWNERS).",
    )
    hubspot_owners: dict[str, Owner] = Field(
        default_factory=dict,
        description='HubSpot owner id -> rep and team, as JSON: `{"52550153": {"rep": '
        '"rep-ana", "team": "team-east"}}`. Owner ids never become labels; an owner not in the '
        "map is `hubspot-unmapped`. Superseded by ISALES_PEOPLE_FILE (its `hubspot` ids): set "
        "one or the other.",
    )
    hubspot_owner_grace_seconds: float = Field(
        default=0.0,
        ge=0,
        description="An owner change up to this many seconds after a deal enters a handoff "
        "stage still counts as its owner at the handoff (a workflow that assigns the owner "
        "just after creation). 0: an SDR who hands over and reassigns to field sales at once "
        "keeps the credit.",
    )
    hubspot_handoff_stages: Annotated[
        tuple[str, ...],
        NoDecode,
        Field(
            description="HubSpot deal stage ids, comma-separated: a deal's first entry into "
            "one is its handoff, credited to its owner at that moment. Default: the open "
            "stages of HubSpot's default sales pipeline."
        ),
    ] = HUBSPOT_OPEN_STAGES
    hubspot_accepted_stages: Annotated[
        tuple[str, ...],
        NoDecode,
        Field(
            description="HubSpot deal stage ids, comma-separated: a deal's first entry into "
            "one is the opportunity's acceptance."
        ),
    ] = ("qualifiedtobuy",)
    hubspot_won_stages: Annotated[
        tuple[str, ...],
        NoDecode,
        Field(
            description="HubSpot deal stage ids, comma-separated: the newest change into one "
            "is a win, with the deal's newest amount and currency."
        ),
    ] = ("closedwon",)
    hubspot_lost_stages: Annotated[
        tuple[str, ...],
        NoDecode,
        Field(
            description="HubSpot deal stage ids, comma-separated: the newest change into one "
            "is a loss."
        ),
    ] = ("closedlost",)
    hubspot_discovery: dict[str, str] = Field(
        default_factory=lambda: {
            "budget": "isales_budget",
            "authority": "isales_authority",
            "need": "isales_need",
            "timeline": "isales_timeline",
        },
        description="Discovery field -> the deal property that holds it, as JSON. A property "
        "empty at the handoff is `not_asked`; `unknown`, `declined` and `n/a` are "
        "`asked_unknown`, `asked_declined` and `not_applicable`; anything else is `answered` "
        "(the value itself is not sent).",
    )
    hubspot_currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="The portal's company currency (ISO 4217 code, e.g. USD): a deal without "
        "deal_currency_code has it.",
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

    @model_validator(mode="after")
    def _one_owner_map(self) -> Self:
        if self.people_file is not None and self.hubspot_owners:
            raise ValueError(
                "ISALES_HUBSPOT_OWNERS and ISALES_PEOPLE_FILE are both set: move the owners to "
                "the people file (each rep's `hubspot:` ids) and unset ISALES_HUBSPOT_OWNERS"
            )
        return self
