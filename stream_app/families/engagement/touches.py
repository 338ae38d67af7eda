"""Every source's events as touches of a lead (README, "Relationship and reach"): the pure
normaliser the touchpoint stage will run before repartitioning by lead. A touch's id derives from
what makes it one touch (a call's dial, a message's first human open), so the several events of
one call or message, and their duplicates, give one touch each."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.common import to_ms
from schemas.crm import CrmEvent, CrmEventType
from schemas.email import EmailEvent, EmailEventType
from schemas.telephony import AnsweredBy, CallEvent, Direction
from schemas.web import WebEvent, WebEventType
from stream_app.families.engagement.score import Touch


@dataclass(frozen=True, slots=True)
class LeadTouch:
    lead_id: str
    touch: Touch
    channel: str
    """Bounded: call, email, crm, or the web event's own channel label."""
    segment: str | None = None
    rep_id: str | None = None


def from_call(event: CallEvent) -> list[LeadTouch]:
    """A dial per outbound call (at started_at) and, once answered, a connect or a machine
    answer (at answered_at); an inbound call a person took is a connect. No lead, no touch."""
    if event.lead_id is None:
        return []
    lead, call, rep = event.lead_id, event.call_id, event.rep_id
    out = []
    if event.direction is Direction.outbound:
        dial = Touch(f"call:{call}:dial", to_ms(event.started_at), "call_dial")
        out.append(LeadTouch(lead, dial, "call", rep_id=rep))
    answered = event.answered_by
    if answered in (AnsweredBy.human, AnsweredBy.machine):
        at = to_ms(event.answered_at or event.occurred_at)
        kind = "call_connect" if answered is AnsweredBy.human else "call_machine"
        out.append(LeadTouch(lead, Touch(f"call:{call}:{kind}", at, kind), "call", rep_id=rep))
    return out


def from_email(event: EmailEvent) -> list[LeadTouch]:
    """A message's delivery, its first human open, its first machine open, its first click; a
    click the platform flags as a machine's (a link scanner) is a machine open."""
    machine = bool(event.machine_open)
    kinds = {
        EmailEventType.delivered: "email_delivered",
        EmailEventType.open: "email_open_machine" if machine else "email_open_human",
        EmailEventType.click: "email_open_machine" if machine else "email_click",
    }
    kind = kinds.get(event.type)
    if kind is None:
        return []
    touch = Touch(f"email:{event.message_id}:{kind}", to_ms(event.occurred_at), kind)
    return [LeadTouch(event.lead_id, touch, "email", event.segment, rep_id=event.owner_rep_id)]


def from_crm(event: CrmEvent) -> list[LeadTouch]:
    """A handoff is a touch (weight 0 by default: the score at handoff is measured, not fed)."""
    if event.type is not CrmEventType.handoff or event.lead_id is None:
        return []
    touch = Touch(f"crm:{event.event_id}", to_ms(event.occurred_at), "crm_handoff")
    return [LeadTouch(event.lead_id, touch, "crm", rep_id=event.rep_id)]


def from_web(event: WebEvent) -> list[LeadTouch]:
    """A web or marketing event of a lead; ad impressions are no one's touch."""
    if event.type is WebEventType.ad_impressions or event.lead_id is None:
        return []
    touch = Touch(f"web:{event.event_id}", to_ms(event.occurred_at), event.type.value)
    return [LeadTouch(event.lead_id, touch, event.channel, event.segment)]
