"""Every source's events as touches of a lead (README, "Relationship and reach"): the pure
normaliser the touchpoint taps run before repartitioning by lead. A touch's id derives from
what makes it one touch (a call's dial, a message's first human open), so the several events of
one call or message, and their duplicates, give one touch each.

The taps: the calls, e-mail and CRM-attribution stages (and the web stage) send each applied
event's touches to `isales.touches`, keyed by lead, through the spine's emit path, so a touch is
acknowledged before its source event's state is written and a replay re-sends the same records
(same event ids), which the engagement stage's dedupe absorbs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from schemas.common import to_ms
from schemas.crm import CrmEvent, CrmEventType
from schemas.email import EmailEvent, EmailEventType
from schemas.telephony import AnsweredBy, CallEvent, Direction
from schemas.web import WebEvent, WebEventType
from stream_app.families.crm.attribution import segment_label
from stream_app.families.engagement.score import Touch
from stream_app.spine.family_protocol import DerivedSpec, Emit, Facts, Family, MetricSpec, State

TOUCHES = "touches"  # emit role of the touches topic
REACH = "reach"  # emit role of the reach topic
E = TypeVar("E", bound=BaseModel)


@dataclass(slots=True)  # one or two per tapped event: a frozen __init__ is 3x slower
class LeadTouch:
    lead_id: str
    touch: Touch
    channel: str
    """Bounded: call, email, crm, or the web event's own channel label."""
    segment: str | None = None
    rep_id: str | None = None


_OUTBOUND, _HUMAN, _MACHINE = Direction.outbound, AnsweredBy.human, AnsweredBy.machine
"""Read once: on Python 3.11 a member read from its enum class is a Python-level call."""


def from_call(event: CallEvent) -> list[LeadTouch]:
    """A dial per outbound call (at started_at) and, once answered, a connect or a machine
    answer (at answered_at); an inbound call a person took is a connect. No lead, no touch."""
    if event.lead_id is None:
        return []
    lead, call, rep = event.lead_id, event.call_id, event.rep_id
    out = []
    if event.direction is _OUTBOUND:
        dial = Touch(f"call:{call}:dial", to_ms(event.started_at), "call_dial")
        out.append(LeadTouch(lead, dial, "call", rep_id=rep))
    answered = event.answered_by
    if answered is _HUMAN or answered is _MACHINE:
        at = to_ms(event.answered_at or event.occurred_at)
        kind = "call_connect" if answered is _HUMAN else "call_machine"
        out.append(LeadTouch(lead, Touch(f"call:{call}:{kind}", at, kind), "call", rep_id=rep))
    return out


_EMAIL_TOUCH = {
    (EmailEventType.delivered, False): "email_delivered",
    (EmailEventType.delivered, True): "email_delivered",
    (EmailEventType.open, False): "email_open_human",
    (EmailEventType.open, True): "email_open_machine",
    (EmailEventType.click, False): "email_click",
    (EmailEventType.click, True): "email_open_machine",
}
"""(event type, flagged as a machine's) -> the touch it is; other types are none."""


def from_email(event: EmailEvent) -> list[LeadTouch]:
    """A message's delivery, its first human open, its first machine open, its first click; a
    click the platform flags as a machine's (a link scanner) is a machine open."""
    kind = _EMAIL_TOUCH.get((event.type, bool(event.machine_open)))
    if kind is None:
        return []
    touch = Touch(f"email:{event.message_id}:{kind}", to_ms(event.occurred_at), kind)
    return [LeadTouch(event.lead_id, touch, "email", event.segment, rep_id=event.owner_rep_id)]


def from_web(event: WebEvent) -> list[LeadTouch]:
    """A web or marketing event of a lead; ad impressions are no one's touch."""
    if event.type is WebEventType.ad_impressions or event.lead_id is None:
        return []
    touch = Touch(f"web:{event.event_id}", to_ms(event.occurred_at), event.type.value)
    return [LeadTouch(event.lead_id, touch, event.channel, event.segment)]


def touch_record(
    lt: LeadTouch,
    source_event_id: str,
    *,
    team_id: str | None = None,
    opportunity_id: str | None = None,
) -> Emit:
    """The record on `isales.touches`: keyed by lead; its event id is unique per source event
    and touch (a dial of each event of a call), its touch id what makes it one touch."""
    body = {
        "event_id": f"{lt.touch.event_id}@{source_event_id}",
        "touch_id": lt.touch.event_id,
        "occurred_at": lt.touch.at_ms,
        "lead_id": lt.lead_id,
        "type": lt.touch.type,
        "channel": lt.channel,
        "segment": lt.segment,
        "rep_id": lt.rep_id,
        "team_id": team_id,
        "opportunity_id": opportunity_id,
    }
    return (TOUCHES, lt.lead_id.encode(), orjson.dumps(body))


def call_touches(old: State | None, new: State, event: CallEvent) -> list[Emit]:
    if event.lead_id is None:  # a call without a CRM contact: no comprehension built for it
        return []
    return [touch_record(t, event.event_id, team_id=event.team_id) for t in from_call(event)]


def email_touches(old: State | None, new: State, event: EmailEvent) -> list[Emit]:
    # At most one touch an event: no comprehension (a function object and a frame) for it.
    touches = from_email(event)
    if not touches:
        return []
    return [touch_record(touches[0], event.event_id, team_id=event.owner_team_id)]


def web_touches(old: State | None, new: State, event: WebEvent) -> list[Emit]:
    rep = event.owner_rep_id
    return [
        touch_record(LeadTouch(t.lead_id, t.touch, t.channel, t.segment, rep), event.event_id)
        for t in from_web(event)
    ]


_DECISION_MARKERS = {
    "accepted": "crm_accepted",
    "rejected": "crm_rejected",
    "won": "crm_won",
    "lost": "crm_lost",
}


def crm_touches(
    segment_by: tuple[str, ...],
) -> Callable[[State | None, State, CrmEvent], list[Emit]]:
    """The attribution stage's tap (keyed by opportunity, or by lead for lead events): a lead
    the CRM creates or assigns (its segment, its owner), an opportunity's first handoff (a
    touch, with its rep), then each decision once the handoff is known, held ones when it
    arrives. The lead is the handoff's: decisions name only the opportunity."""

    def tap(old: State | None, new: State, event: CrmEvent) -> list[Emit]:
        if event.type in (CrmEventType.lead_created, CrmEventType.lead_assigned):
            assert event.lead_id is not None  # the schema requires it on lead events
            seg = segment_label(event, segment_by) if event.segment is not None else None
            touch = Touch(f"crm:{event.event_id}", to_ms(event.occurred_at), "crm_lead")
            lt = LeadTouch(event.lead_id, touch, "crm", seg, event.rep_id)
            return [touch_record(lt, event.event_id, team_id=event.team_id)]
        handoff: Mapping[str, Any] | None = new.get("h")
        if handoff is None or handoff.get("lead") is None:
            return []
        lead_id, opportunity = handoff["lead"], event.opportunity_id
        seg, rep = handoff.get("seg"), handoff.get("rep")
        out: list[Emit] = []
        held: list[Mapping[str, Any]] = []
        if (old or {}).get("h") is None:
            touch = Touch(f"crm:{handoff['eid']}", handoff["at"], "crm_handoff")
            lt = LeadTouch(lead_id, touch, "crm", seg, rep)
            team = handoff.get("team")
            out.append(touch_record(lt, handoff["eid"], team_id=team, opportunity_id=opportunity))
            held = list((old or {}).get("held", []))
        elif event.type is not CrmEventType.handoff and new.get("held"):
            held = [new["held"][-1]]
        for decision in held:
            marker = _DECISION_MARKERS[decision["kind"]]
            touch = Touch(f"crm:{decision['eid']}", decision["at"], marker)
            lt = LeadTouch(lead_id, touch, "crm", seg, rep)
            out.append(touch_record(lt, decision["eid"], opportunity_id=opportunity))
        return out

    return tap


class Tapped(Generic[E]):
    """A family whose applied events also send their touches: the family itself, unchanged,
    plus `tap(old, new, event)`'s records after its own emits.

    The inner family's methods are its own bound methods here, not methods that call them:
    the engine calls a dozen family methods an event, and a delegating frame each was ~3% of
    the e-mail worker's instructions."""

    def __init__(
        self, inner: Family[E], tap: Callable[[State | None, State, E], list[Emit]]
    ) -> None:
        self.inner = inner
        self.tap = tap
        self.name: str = inner.name
        self.key_field: str = inner.key_field
        self.model: type[E] = inner.model
        self.metrics: tuple[MetricSpec, ...] = inner.metrics
        self.derived: tuple[DerivedSpec, ...] = inner.derived
        self.partition_key: Callable[[E], str] = inner.partition_key
        self.group: Callable[[E], str] = inner.group
        self.event_id: Callable[[E], str] = inner.event_id
        self.entity: Callable[[E], str] = inner.entity
        self.occurred_ms: Callable[[E], int] = inner.occurred_ms
        self.entity_time: Callable[[E], int] = inner.entity_time
        self.check_time: Callable[[E], list[int]] = inner.check_time
        self.merge: Callable[[State | None, E], State] = inner.merge
        self.facts: Callable[[State], Facts] = inner.facts
        self.labels: Callable[[State], Mapping[str, str]] = inner.labels
        self.windowed: Callable[[str], bool] = inner.windowed
        # Asked of every record (decide()); through __getattr__ a family without it raised
        # and caught an AttributeError each time.
        self.max_payload_bytes: int | None = getattr(inner, "max_payload_bytes", None)

    def __getattr__(self, name: str) -> Any:
        # A family's own extras (the calls family's short-call threshold, ...).
        return getattr(self.inner, name)

    def emit(self, old: State | None, new: State, event: E) -> list[Emit]:
        own, tapped = self.inner.emit(old, new, event), self.tap(old, new, event)
        return own + tapped if own else tapped
