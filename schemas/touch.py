"""The engagement family's internal topics (README, "Relationship and reach").

`isales.touches`, keyed by `lead_id`: every source's events as touches of a lead, with the
original event time, written by the calls, e-mail, CRM-attribution and web stages.
`isales.reach`, keyed by `group` (`rep:<rep_id>` or `seg:<segment>`): what the engagement stage
credits to a rep or a segment, versioned so the newest state of each credit stands; a group's
credits of one batch come as one record of parts (`stream_app.spine.parts`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.common import EpochMs, EventId, Timestamp

TouchType = Literal[
    # web and marketing events
    "page_view",
    "pricing_page_view",
    "content_download",
    "form_submit",
    "webinar_registered",
    "webinar_attended",
    "ad_click",
    "meeting_booked",
    "chat",
    # calls, e-mail and CRM as touches
    "call_dial",
    "call_connect",
    "call_machine",
    "email_delivered",
    "email_open_human",
    "email_open_machine",
    "email_click",
    "email_reply",
    "crm_handoff",
]
TOUCH_TYPES: frozenset[str] = frozenset(get_args(TouchType))

CrmMarker = Literal["crm_lead", "crm_accepted", "crm_rejected", "crm_won", "crm_lost"]
"""CRM records on the touches topic that are no touch: a lead the CRM knows (its segment), and
the decisions on an opportunity handed over for the lead."""

LeadId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TouchRecord(BaseModel):
    """One touch of one lead (or a CRM marker), as the touchpoint stages write it."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="TouchRecord")

    event_id: EventId = Field(description="Unique per source event and touch: the dedupe key.")
    touch_id: EventId = Field(
        description="What makes it one touch (a call's dial, a message's first human open): the "
        "several events of one touch share it, and the earliest stands."
    )
    occurred_at: Timestamp
    lead_id: LeadId = Field(description="State only, never a label.")
    type: TouchType | CrmMarker
    channel: str
    segment: str | None = None
    rep_id: str | None = None
    team_id: str | None = None
    opportunity_id: str | None = None


class ReachKind(StrEnum):
    touch = "touch"
    """A touch credited to the rep who made or owns it."""
    handoff = "handoff"
    """An opportunity handed over, with the lead's score and band at that moment and its fate."""
    lead = "lead"
    """A lead's status in its segment (targeted, touched, handoffs, wins, score)."""
    impressions = "impressions"
    """Ad impressions of a campaign in a segment (counts, never per person)."""


class ReachRecord(BaseModel):
    """A credit on `isales.reach`. `id` names what is credited; `v` orders its versions (the
    engagement stage's change count of the lead), so the newest stands whatever the order."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="ReachRecord")

    id: str = Field(description="The credited thing: a touch id, handoff:<opp>, a lead id.")
    v: int = Field(ge=0)
    kind: ReachKind
    group: Annotated[str, StringConstraints(pattern=r"^(rep|seg):.+")]
    occurred_at: EpochMs
    moved: bool = Field(
        default=False, description="The credit now belongs to another group: count it nowhere here."
    )
    team_id: str | None = None
    channel: str | None = None
    touch_type: str | None = None
    band: str | None = None
    score: float | None = None
    score_at: EpochMs | None = None
    accepted: bool = False
    rejected: bool = False
    won: bool = False
    lost: bool = False
    touched: bool = False
    handoffs: int = Field(default=0, ge=0, description="On lead: opportunities handed over.")
    accepted_n: int = Field(default=0, ge=0, description="On lead: of them accepted.")
    won_n: int = Field(default=0, ge=0, description="On lead: of them won.")
    touches: dict[str, int] = Field(default_factory=dict)
    campaign_id: str | None = None
    count: int = 0
