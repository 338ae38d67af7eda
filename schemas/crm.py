"""CRM pipeline events (topic `crm.events`).

Message key: `opportunity_id` for events of an opportunity (handoff, accepted, rejected, won,
lost), `lead_id` for lead events (lead_created, lead_assigned). Outcomes arrive days later, in
any order, duplicated, possibly before the handoff they belong to.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from schemas.common import EventId, LabelId, Timestamp

OpaqueId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class CrmEventType(StrEnum):
    lead_created = "lead_created"
    lead_assigned = "lead_assigned"
    handoff = "handoff"
    opportunity_accepted = "opportunity_accepted"
    opportunity_rejected = "opportunity_rejected"
    deal_won = "deal_won"
    deal_lost = "deal_lost"


OPPORTUNITY_EVENTS = frozenset(
    {
        CrmEventType.handoff,
        CrmEventType.opportunity_accepted,
        CrmEventType.opportunity_rejected,
        CrmEventType.deal_won,
        CrmEventType.deal_lost,
    }
)
OUTCOMES = frozenset({CrmEventType.deal_won, CrmEventType.deal_lost})


class FieldStatus(StrEnum):
    answered = "answered"
    asked_declined = "asked_declined"
    """Asked; the prospect would not say."""
    asked_unknown = "asked_unknown"
    """Asked; the prospect did not know."""
    not_asked = "not_asked"
    not_applicable = "not_applicable"


class DiscoveryField(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: FieldStatus
    value: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="The answer; kept out of metrics and KPI records."
    )


class Segment(BaseModel):
    """Lead segment attributes (bounded label values)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    industry: LabelId | None = None
    size_band: LabelId | None = None
    region: LabelId | None = None
    source: LabelId | None = None


class CrmEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", title="CrmEvent")

    event_id: EventId = Field(description="Stable id of this event; the dedupe key.")
    occurred_at: Timestamp = Field(description="When it happened in the CRM (event time).")
    type: CrmEventType
    lead_id: OpaqueId | None = Field(default=None, description="State only, never a label.")
    opportunity_id: OpaqueId | None = Field(default=None, description="State only, never a label.")
    segment: Segment | None = Field(
        default=None,
        description="On lead_created, and on handoff as the lead's snapshot at conversion: "
        "the segment the opportunity is attributed to.",
    )
    rep_id: LabelId | None = Field(
        default=None, description="The inside-sales rep (lead_assigned, handoff)."
    )
    team_id: LabelId | None = None
    field_rep_id: LabelId | None = Field(
        default=None, description="On handoff: the receiving field-sales rep."
    )
    discovery: dict[LabelId, DiscoveryField] | None = Field(
        default=None, description="On handoff: discovery field name -> status (and value)."
    )
    reason: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="On opportunity_rejected / deal_lost: why."
    )
    amount: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2)
    currency: Currency | None = None
    close_at: Timestamp | None = Field(
        default=None, description="On deal_won / deal_lost: the close time (buckets wins)."
    )

    @model_validator(mode="after")
    def _complete(self) -> CrmEvent:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise PydanticCustomError("crm_missing", "{what}", {"what": what})

        kind = self.type
        if kind in OPPORTUNITY_EVENTS:
            need(self.opportunity_id is not None, f"{kind.value} needs opportunity_id")
        else:
            need(self.lead_id is not None, f"{kind.value} needs lead_id")
        if kind is CrmEventType.handoff:
            need(self.lead_id is not None, "handoff needs lead_id")
            need(self.rep_id is not None and self.team_id is not None, "handoff needs rep and team")
            need(self.discovery is not None, "handoff needs discovery")
        if kind is CrmEventType.lead_assigned:
            need(self.rep_id is not None, "lead_assigned needs rep_id")
        if kind is CrmEventType.deal_won:
            need(self.amount is not None and self.currency is not None, "deal_won needs amount")
        return self

    @property
    def key(self) -> str:
        """The message key the producer must use."""
        if self.type in OPPORTUNITY_EVENTS:
            assert self.opportunity_id is not None
            return self.opportunity_id
        assert self.lead_id is not None
        return self.lead_id


class AttributedKind(StrEnum):
    handoff = "handoff"
    accepted = "accepted"
    rejected = "rejected"
    won = "won"
    lost = "lost"
    unattributed = "unattributed"
    """An outcome held without its handoff (sent to the `_unattributed` key)."""
    claimed = "claimed"
    """Its handoff arrived: the held outcome is no longer unattributed."""


UNATTRIBUTED = "_unattributed"


class AttributedEvent(BaseModel):
    """Internal topic `isales.crm.attributed`, keyed by rep_id (or `_unattributed`): CRM
    events joined to the handoff's rep, team and segment, with their original event time."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="AttributedCrmEvent")

    event_id: EventId = Field(description="The source event's id (claims: 'claim:' + it).")
    occurred_at: Timestamp = Field(description="The source event's time (close_at for deals).")
    kind: AttributedKind
    opportunity_id: OpaqueId
    rep_id: str = Field(description="A rep id, or `_unattributed`.")
    team_id: str = ""
    segment: str = ""
    handoff_at: Timestamp | None = None
    fields: dict[str, FieldStatus] = Field(default_factory=dict)
    amount_cents: int | None = None
    currency: str | None = None
    outcome: AttributedKind | None = Field(default=None, description="On unattributed: won/lost.")
    claims: str | None = Field(default=None, description="On claimed: the outcome's event id.")
