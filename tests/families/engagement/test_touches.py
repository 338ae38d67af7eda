"""Each source's events as touches of a lead, written out by hand per the README: one touch per
call dial, per answer, per message delivery, first human open, first machine open and first
click, per handoff and per web event; none without a lead, none for ad impressions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas.common import to_ms
from schemas.crm import CrmEvent
from schemas.email import EmailEvent
from schemas.telephony import CallEvent
from schemas.web import WebEvent
from stream_app.families.crm.attribution import AttributionFamily
from stream_app.families.engagement.config import EngagementConfig
from stream_app.families.engagement.score import Touch, score
from stream_app.families.engagement.touches import (
    LeadTouch,
    crm_touches,
    email_touches,
    from_call,
    from_email,
    from_web,
)

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z
ISO0 = "2027-01-15T08:00:00+00:00"
ISO1 = "2027-01-15T08:00:20+00:00"


def call(**over: Any) -> CallEvent:
    base = {
        "event_id": "e1",
        "occurred_at": ISO0,
        "call_id": "c1",
        "rep_id": "rep-a",
        "team_id": "team-x",
        "direction": "outbound",
        "status": "initiated",
        "started_at": ISO0,
        "lead_id": "lead-1",
    }
    return CallEvent.model_validate(base | over)


def email(**over: Any) -> EmailEvent:
    base = {
        "event_id": "m1-open",
        "occurred_at": ISO1,
        "type": "open",
        "message_id": "m1",
        "campaign_id": "spring",
        "variant": "A",
        "subject_id": "s1",
        "segment": "smb",
        "lead_id": "lead-1",
        "owner_rep_id": "rep-a",
        "sent_at": ISO0,
    }
    return EmailEvent.model_validate(base | over)


def web(**over: Any) -> WebEvent:
    base = {
        "event_id": "w1",
        "occurred_at": ISO1,
        "type": "pricing_page_view",
        "lead_id": "lead-1",
        "channel": "web",
        "segment": "smb",
    }
    return WebEvent.model_validate(base | over)


def test_an_outbound_call_is_a_dial_then_a_connect() -> None:
    assert from_call(call()) == [
        LeadTouch("lead-1", Touch("call:c1:dial", T0, "call_dial"), "call", rep_id="rep-a")
    ]
    answered = call(event_id="e2", status="answered", answered_by="human", answered_at=ISO1)
    assert from_call(answered) == [
        LeadTouch("lead-1", Touch("call:c1:dial", T0, "call_dial"), "call", rep_id="rep-a"),
        LeadTouch(
            "lead-1",
            Touch("call:c1:call_connect", T0 + 20_000, "call_connect"),
            "call",
            rep_id="rep-a",
        ),
    ]


def test_a_machine_answer_an_inbound_call_and_a_call_without_a_lead() -> None:
    machine = call(answered_by="machine", answered_at=ISO1)
    assert [t.touch.type for t in from_call(machine)] == ["call_dial", "call_machine"]
    inbound = call(direction="inbound", answered_by="human", answered_at=ISO1)
    assert [t.touch.type for t in from_call(inbound)] == ["call_connect"]
    assert from_call(call(lead_id=None)) == []
    assert [t.touch.type for t in from_call(call(answered_by="unknown"))] == ["call_dial"]


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({}, "email_open_human"),
        ({"machine_open": True}, "email_open_machine"),
        ({"type": "click"}, "email_click"),
        ({"type": "click", "machine_open": True}, "email_open_machine"),
        ({"type": "delivered"}, "email_delivered"),
        ({"type": "bounce", "bounce_type": "hard"}, None),
        ({"type": "sent"}, None),
    ],
)
def test_email_events_as_touches(over: dict[str, Any], expected: str | None) -> None:
    got = from_email(email(**over))
    if expected is None:
        assert got == []
    else:
        assert got == [
            LeadTouch(
                "lead-1",
                Touch(f"email:m1:{expected}", T0 + 20_000, expected),
                "email",
                "smb",
                "rep-a",
            )
        ]


def test_two_opens_of_one_message_are_one_touch_at_the_first() -> None:
    first = from_email(email(event_id="o1", occurred_at="2027-01-15T08:05:00+00:00"))
    second = from_email(email(event_id="o2", occurred_at="2027-01-15T08:01:00+00:00"))
    touches = [t.touch for t in first + second + first]
    # One human open (2 points) at 08:01, scored at 08:01: exactly 2.
    assert score(touches, T0 + 60_000, EngagementConfig()) == 2.0


def test_an_email_touch_carries_the_owners_team() -> None:
    # A lead known only from e-mail: its engagement record's team comes from here.
    (record,) = email_touches(None, {}, email(owner_team_id="team-x"))
    assert orjson.loads(record[2])["team_id"] == "team-x"
    (record,) = email_touches(None, {}, email())
    assert orjson.loads(record[2])["team_id"] is None


def _crm(**over: Any) -> CrmEvent:
    base: dict[str, Any] = {"event_id": "h1", "occurred_at": ISO0, "type": "handoff"}
    return CrmEvent.model_validate({**base, **over})


def test_the_attribution_tap_sends_the_handoff_then_held_and_later_decisions() -> None:
    """Decisions name only the opportunity: the tap takes the lead from the handoff, sends a
    decision held before its handoff when the handoff arrives, and later ones as they come."""
    family = AttributionFamily(("industry",))
    tap = crm_touches(("industry",))
    won = _crm(
        event_id="w1",
        type="deal_won",
        opportunity_id="opp-1",
        amount=1000,
        currency="JPY",
        close_at="2027-01-20T00:00:00+00:00",
    )
    handoff = _crm(
        opportunity_id="opp-1",
        lead_id="lead-1",
        rep_id="rep-a",
        team_id="team-x",
        segment={"industry": "saas"},
        discovery={"budget": {"status": "answered"}},
    )
    accepted = _crm(event_id="a1", type="opportunity_accepted", opportunity_id="opp-1")

    def records(old: Any, new: Any, event: CrmEvent) -> list[dict[str, Any]]:
        out = []
        for role, key, value in tap(old, new, event):
            assert role == "touches"
            body = orjson.loads(value)
            assert key == body["lead_id"].encode()
            out.append(body)
        return out

    s1 = family.merge(None, won)
    assert records(None, s1, won) == []  # no handoff yet: no lead to send it to
    s2 = family.merge(s1, handoff)
    sent = records(s1, s2, handoff)
    assert [(r["type"], r["touch_id"], r["rep_id"], r["segment"]) for r in sent] == [
        ("crm_handoff", "crm:h1", "rep-a", "saas"),
        ("crm_won", "crm:w1", "rep-a", "saas"),
    ]
    # A deal counts at its close time (README, CRM KPIs): so does its marker.
    assert sent[1]["occurred_at"] == to_ms(datetime(2027, 1, 20, tzinfo=UTC))
    assert {r["opportunity_id"] for r in sent} == {"opp-1"}
    s3 = family.merge(s2, accepted)
    assert [r["type"] for r in records(s2, s3, accepted)] == ["crm_accepted"]
    created = _crm(
        event_id="l1", type="lead_created", lead_id="lead-9", segment={"industry": "retail"}
    )
    (lead,) = records(None, family.merge(None, created), created)
    assert (lead["type"], lead["segment"], lead["lead_id"]) == ("crm_lead", "retail", "lead-9")


def test_web_events_and_ad_impressions() -> None:
    assert from_web(web()) == [
        LeadTouch("lead-1", Touch("web:w1", T0 + 20_000, "pricing_page_view"), "web", "smb")
    ]
    impressions = web(
        type="ad_impressions", lead_id=None, count=5000, campaign_id="spring", channel="ads"
    )
    assert from_web(impressions) == []


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"type": "ad_impressions", "count": 10, "campaign_id": "c"}, "never per lead"),
        ({"type": "ad_impressions", "lead_id": None, "campaign_id": "c"}, "need count"),
        ({"lead_id": None}, "needs lead_id"),
        ({"count": 3}, "ad_impressions only"),
    ],
)
def test_bad_web_events_are_refused_with_a_reason(over: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        web(**over)
