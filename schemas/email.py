"""Email platform events (topic `email.events`, keyed by `campaign_id`).

One campaign's events share a partition, so a message's state, the campaign's cohorts and its
A/B comparison are all exact on one worker. Vendors (SendGrid, HubSpot, Mandrill, ...) map their
webhooks onto this; an adapter derives `event_id` from what the vendor guarantees unique.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from schemas.common import EventId, LabelId, Timestamp

HostName = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=253, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$"
    ),
]


class EmailEventType(StrEnum):
    sent = "sent"
    delivered = "delivered"
    open = "open"
    click = "click"
    bounce = "bounce"
    deferred = "deferred"
    dropped = "dropped"
    unsubscribe = "unsubscribe"
    spam_report = "spam_report"


class BounceType(StrEnum):
    hard = "hard"
    soft = "soft"


class EmailEvent(BaseModel):
    """One event of one message. Any event may be duplicated, late, or arrive before the events
    that logically precede it (an open before its delivery, a click with no open)."""

    model_config = ConfigDict(frozen=True, extra="ignore", title="EmailEvent")

    event_id: EventId = Field(description="Stable id of this event; the dedupe key.")
    occurred_at: Timestamp = Field(description="When the event happened (event time).")
    type: EmailEventType
    message_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The message (one send to one lead). State only, never a label."
    )
    campaign_id: LabelId
    variant: LabelId = Field(description="A/B variant of the campaign, e.g. A, B, C.")
    subject_id: LabelId = Field(description="Subject line id or short label (not the text).")
    segment: LabelId = Field(description="Target segment the lead was sent to.")
    lead_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The lead. Used for state only, never exported as a label."
    )
    owner_rep_id: LabelId | None = None
    owner_team_id: LabelId | None = None
    sent_at: Timestamp = Field(
        description="When the message was sent. Every event repeats it: it names the send cohort."
    )
    machine_open: bool | None = Field(
        default=None,
        description="On open (and click): the platform flags a machine/privacy-proxy open.",
    )
    url_host: HostName | None = Field(
        default=None, description="On click: the link's host only, never the full URL."
    )
    bounce_type: BounceType | None = Field(default=None, description="On bounce: hard or soft.")

    @model_validator(mode="after")
    def _consistent(self) -> EmailEvent:
        if self.occurred_at < self.sent_at:
            raise PydanticCustomError("timestamp_order", "occurred_at is before sent_at")
        if self.type is EmailEventType.bounce and self.bounce_type is None:
            raise PydanticCustomError("missing_bounce_type", "a bounce needs bounce_type")
        return self
