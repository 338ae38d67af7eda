"""Raw vendor webhooks on their vendor topics (`vendor.twilio`, `vendor.aircall`,
`vendor.sendgrid`, `vendor.hubspot`), as the gateway writes them: the body exactly as received,
the callback URL's query, and when it arrived. The normaliser stage turns them into canonical
events."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.common import EventId, Timestamp

Vendor = Literal["twilio", "aircall", "sendgrid", "hubspot"]


class VendorEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", title="VendorEnvelope")

    request_id: EventId = Field(description="The gateway's id of the HTTP request.")
    vendor: Vendor
    received_at: Timestamp
    query: Annotated[str, StringConstraints(max_length=4096)] = ""
    body: str = Field(description="The request body as received (UTF-8).")
