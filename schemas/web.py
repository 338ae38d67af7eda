"""Web and marketing events (topic `web.events`, keyed by `lead_id`; ad impressions by
`campaign_id`): the touches a lead makes outside calls and e-mail.

Ad impressions are counts per campaign and segment, never per person: an ad platform does not
know who saw an ad, and this service must not pretend to.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from schemas.common import EventId, LabelId, Timestamp


class WebEventType(StrEnum):
    page_view = "page_view"
    pricing_page_view = "pricing_page_view"
    content_download = "content_download"
    form_submit = "form_submit"
    webinar_registered = "webinar_registered"
    webinar_attended = "webinar_attended"
    ad_click = "ad_click"
    meeting_booked = "meeting_booked"
    chat = "chat"
    ad_impressions = "ad_impressions"


class WebEvent(BaseModel):
    """One touch of one lead, or (type `ad_impressions`) a count of impressions of a campaign
    in a segment. Any event may be duplicated or late."""

    model_config = ConfigDict(frozen=True, extra="ignore", title="WebEvent")

    event_id: EventId = Field(description="Stable id of this event; the dedupe key.")
    occurred_at: Timestamp = Field(description="When the touch happened (event time).")
    type: WebEventType
    lead_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="The lead; required except on ad_impressions. State only, never a label.",
    )
    channel: LabelId = Field(description="Where the touch happened: web, webinar, ads, chat, ...")
    campaign_id: LabelId | None = None
    segment: LabelId | None = Field(default=None, description="The lead's target segment.")
    owner_rep_id: LabelId | None = Field(
        default=None,
        description="The lead's owner as the marketing platform knew it (the CRM-synced "
        "contact owner): the rep a web touch is credited to; none: `_unassigned`.",
    )
    count: int | None = Field(
        default=None, ge=1, le=1_000_000_000, description="On ad_impressions: how many."
    )

    @model_validator(mode="after")
    def _consistent(self) -> WebEvent:
        if self.type is WebEventType.ad_impressions:
            if self.lead_id is not None:
                raise PydanticCustomError(
                    "impressions_per_person", "ad_impressions are counts, never per lead"
                )
            if self.count is None or self.campaign_id is None or self.segment is None:
                raise PydanticCustomError(
                    "missing_field", "ad_impressions need count, campaign_id and segment"
                )
        else:
            if self.lead_id is None:
                raise PydanticCustomError("missing_field", f"{self.type.value} needs lead_id")
            if self.count is not None:
                raise PydanticCustomError("unexpected_field", "count is for ad_impressions only")
        return self
