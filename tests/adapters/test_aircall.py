"""Aircall call webhooks (event names and fields from Aircall's webhook and Call object docs;
payloads written here) -> canonical call events, by hand."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.telephony import CallEvent
from stream_app.adapters import Canonical, Ignored, Rejected
from stream_app.adapters.aircall import adapt

S = 1_796_000_000  # data.started_at, Unix seconds


def hook(event: str, **data: Any) -> bytes:
    call = {
        "id": 812,
        "direction": "outbound",
        "status": "done",
        "started_at": S,
        "answered_at": None,
        "ended_at": None,
        "duration": 0,
        "raw_digits": "+33 1 23 45 67 89",
        "user": {"id": 456, "name": "Rep A", "email": "rep@example.com"},
        "teams": [{"id": 9, "name": "Sales FR"}],
        "contact": {"id": 77, "phone_numbers": [{"value": "+33123456789"}]},
        "tags": [],
        "missed_call_reason": None,
    } | data
    return orjson.dumps(
        {"resource": "call", "event": event, "timestamp": S + 500, "token": "t", "data": call}
    )


BASE = {
    "call_id": "aircall:812",
    "rep_id": "aircall-456",
    "team_id": "aircall-team-9",
    "lead_id": "aircall-contact-77",
    "direction": "outbound",
    "started_at": S * 1000,
}


def one(payload: bytes) -> dict[str, Any]:
    (mapped,) = adapt(payload)
    assert isinstance(mapped, Canonical), mapped
    assert mapped.role == "calls" and mapped.key == b"aircall-456"
    CallEvent.model_validate(mapped.event)
    assert "+33" not in orjson.dumps(mapped.event).decode()
    return mapped.event


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            hook("call.created"),
            {
                "event_id": "aircall:812:call.created",
                "status": "initiated",
                "occurred_at": S * 1000,
            },
        ),
        (
            hook("call.answered", answered_at=S + 12),
            {
                "event_id": "aircall:812:call.answered",
                "status": "answered",
                "occurred_at": (S + 12) * 1000,
                "answered_at": (S + 12) * 1000,
            },
        ),
        (
            # Talk is ended - answered (102 s), not `duration` (ringing and IVR included).
            hook("call.ended", answered_at=S + 12, ended_at=S + 114, duration=114),
            {
                "event_id": "aircall:812:call.ended",
                "status": "completed",
                "occurred_at": (S + 114) * 1000,
                "answered_at": (S + 12) * 1000,
                "ended_at": (S + 114) * 1000,
                "talk_seconds": 102.0,
            },
        ),
        (
            hook("call.ended", ended_at=S + 30, missed_call_reason="no_available_agent"),
            {
                "event_id": "aircall:812:call.ended",
                "status": "no_answer",
                "occurred_at": (S + 30) * 1000,
                "ended_at": (S + 30) * 1000,
                "disposition": "no_available_agent",
            },
        ),
        (
            # The rep tags the call: now it is known a person answered.
            hook(
                "call.tagged",
                answered_at=S + 12,
                ended_at=S + 114,
                tags=[{"id": 1, "name": "Connected"}],
            ),
            {
                "event_id": f"aircall:812:call.tagged:{S + 500}",
                "status": "completed",
                "occurred_at": (S + 500) * 1000,
                "answered_at": (S + 12) * 1000,
                "ended_at": (S + 114) * 1000,
                "talk_seconds": 102.0,
                "answered_by": "human",
            },
        ),
    ],
)
def test_each_event(payload: bytes, expected: dict[str, Any]) -> None:
    assert one(payload) == BASE | expected


def test_voicemail_tags_and_inbound_calls() -> None:
    machine = one(
        hook("call.ended", answered_at=S + 5, ended_at=S + 40, tags=[{"name": "voicemail"}])
    )
    assert machine["answered_by"] == "machine"
    inbound = one(hook("call.answered", direction="inbound", answered_at=S + 3))
    assert (inbound["direction"], inbound["answered_by"]) == ("inbound", "human")
    untagged = one(hook("call.answered", answered_at=S + 3))
    assert "answered_by" not in untagged  # an answered outbound call may be a voicemail


def test_a_retry_is_the_same_event_and_other_resources_are_ignored() -> None:
    payload = hook("call.ended", answered_at=S + 12, ended_at=S + 114)
    assert one(payload)["event_id"] == one(payload)["event_id"]
    contact = orjson.dumps({"resource": "contact", "event": "contact.created", "data": {}})
    assert adapt(contact) == [Ignored("aircall", "contact.created")]
    assert adapt(hook("call.voicemail_left")) == [Ignored("aircall", "call.voicemail_left")]


@pytest.mark.parametrize(
    "event",
    # Call events Aircall's API reference documents (Webhooks, "Events") that say nothing about
    # a dial, a connect or talk time; and one it may add tomorrow.
    [
        "call.agent_declined",
        "call.unsuccessful_transfer",
        "call.comm_assets_generated",
        "call.hold",
        "call.unhold",
        "call.external_transferred",
        "call.ivr_option_selected",
        "call.exploded",
    ],
)
def test_normal_traffic_with_nothing_for_the_kpis_is_ignored_not_rejected(event: str) -> None:
    assert adapt(hook(event)) == [Ignored("aircall", event)]


@pytest.mark.parametrize(
    ("payload", "reason_class"),
    [
        (b"nope", "invalid_json"),
        (orjson.dumps({"resource": "call", "event": "call.created"}), "invalid_payload"),
        (hook("call.created", direction=None), "missing_field"),
        (hook("call.created", started_at="soon"), "invalid_timestamp"),
        (hook("call.answered"), "missing_field"),
        (hook("call.ended"), "missing_field"),
    ],
)
def test_bad_payloads_are_rejected(payload: bytes, reason_class: str) -> None:
    (mapped,) = adapt(payload)
    assert isinstance(mapped, Rejected) and mapped.reason_class == reason_class
