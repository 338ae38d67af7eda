"""Telephony call lifecycle events (topic `telephony.calls`, keyed by `rep_id`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from schemas.common import EventId, LabelId, Timestamp


class Direction(StrEnum):
    outbound = "outbound"
    inbound = "inbound"


class CallStatus(StrEnum):
    initiated = "initiated"
    ringing = "ringing"
    answered = "answered"
    completed = "completed"
    no_answer = "no_answer"
    busy = "busy"
    failed = "failed"
    canceled = "canceled"


class AnsweredBy(StrEnum):
    human = "human"
    machine = "machine"
    unknown = "unknown"


class CallEvent(BaseModel):
    """One lifecycle event of one call. A call emits several; each may be duplicated or late."""

    model_config = ConfigDict(frozen=True, extra="ignore", title="TelephonyCallEvent")

    event_id: EventId = Field(description="Stable id of this event; the dedupe key.")
    occurred_at: Timestamp = Field(description="When the event happened (event time).")
    call_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The call this event belongs to. Used for state only, never as a label."
    )
    rep_id: LabelId = Field(description="The inside-sales rep who placed or took the call.")
    team_id: LabelId = Field(description="The rep's team.")
    direction: Direction
    status: CallStatus
    started_at: Timestamp = Field(
        description="When the call was placed. Every lifecycle event repeats it: it buckets dials."
    )
    answered_by: AnsweredBy | None = Field(
        default=None, description="Answering-machine detection or the rep's disposition."
    )
    answered_at: Timestamp | None = Field(default=None, description="When the call was answered.")
    ended_at: Timestamp | None = Field(default=None, description="When the call hung up.")
    talk_seconds: float | None = Field(
        default=None,
        ge=0,
        le=86_400,
        description="Seconds from answer to hang-up. Derived as ended_at - answered_at if absent.",
    )
    disposition: Annotated[str, StringConstraints(max_length=64)] | None = None
    lead_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="The CRM-synced contact the call was with, when known: the call's calls count "
        "as touches of that lead (engagement). State only, never a label.",
    )

    @model_validator(mode="after")
    def _timestamps_in_order(self) -> CallEvent:
        # Once an event: plain comparisons, no helper closure built per call.
        started, answered, ended = self.started_at, self.answered_at, self.ended_at
        if answered is not None and answered < started:
            raise PydanticCustomError("timestamp_order", "answered_at is before started_at")
        if ended is not None:
            if ended < started:
                raise PydanticCustomError("timestamp_order", "ended_at is before started_at")
            if answered is not None and ended < answered:
                raise PydanticCustomError("timestamp_order", "ended_at is before answered_at")
        return self
