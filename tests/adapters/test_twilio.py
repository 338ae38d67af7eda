"""Twilio status callbacks (field names and values from Twilio's Voice status-callback and
answering-machine-detection docs; payloads written here) -> canonical call events, by hand."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from schemas.telephony import CallEvent
from stream_app.adapters import Canonical, Rejected
from stream_app.adapters.twilio import adapt
from stream_app.families.calls.family import CallsFamily

QUERY = {"rep_id": "rep-a", "team_id": "team-x", "lead_id": "lead-7", "started_at": "1796000000000"}
STAMP = "Mon, 30 Nov 2026 00:53:40 +0000"  # 1796000020000 ms
STAMP_MS = 1_796_000_020_000


def form(status: str, **over: str) -> bytes:
    base = {
        "AccountSid": "ACxxxxxxxx",
        "CallSid": "CA1",
        "CallStatus": status,
        "Direction": "outbound-api",
        "From": "+15550000000",
        "To": "+15551111111",
        "Timestamp": STAMP,
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "2",
    }
    return urlencode(base | over).encode()


BASE = {
    "call_id": "twilio:CA1",
    "rep_id": "rep-a",
    "team_id": "team-x",
    "lead_id": "lead-7",
    "direction": "outbound",
    "started_at": 1_796_000_000_000,
    "occurred_at": STAMP_MS,
}


def one(body: bytes, query: dict[str, str] | None = None) -> dict[str, Any]:
    (mapped,) = adapt(body, QUERY if query is None else query)
    assert isinstance(mapped, Canonical), mapped
    assert mapped.role == "calls" and mapped.key == b"rep-a"
    CallEvent.model_validate(mapped.event)
    return mapped.event


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (form("initiated"), {"status": "initiated"}),
        (form("ringing"), {"status": "ringing"}),
        (
            form("in-progress", AnsweredBy="human"),
            {"status": "answered", "answered_by": "human", "answered_at": STAMP_MS},
        ),
        (
            form("completed", AnsweredBy="machine_end_beep", CallDuration="31"),
            {
                "status": "completed",
                "answered_by": "machine",
                "ended_at": STAMP_MS,
                "talk_seconds": 31.0,
            },
        ),
        (
            form("completed", AnsweredBy="fax", CallDuration="4"),
            {
                "status": "completed",
                "answered_by": "machine",
                "ended_at": STAMP_MS,
                "talk_seconds": 4.0,
            },
        ),
        (
            form("completed", CallDuration="0"),
            {"status": "completed", "ended_at": STAMP_MS},
        ),
        (form("no-answer"), {"status": "no_answer", "ended_at": STAMP_MS}),
        (form("busy"), {"status": "busy", "ended_at": STAMP_MS}),
        (
            form(
                "completed",
                Direction="outbound-dial",
                ParentCallSid="CA0",
                CallDuration="95",
                AnsweredBy="human",
            ),
            {
                "status": "completed",
                "answered_by": "human",
                "ended_at": STAMP_MS,
                "talk_seconds": 95.0,
            },
        ),
    ],
)
def test_each_status(body: bytes, expected: dict[str, Any]) -> None:
    status = dict(x.split("=") for x in body.decode().split("&"))["CallStatus"]
    assert one(body) == BASE | {"event_id": f"twilio:CA1:{status}"} | expected


def test_an_inbound_call_and_the_reps_softphone_leg() -> None:
    inbound = one(form("ringing", Direction="inbound"))
    assert inbound["direction"] == "inbound"
    # A rep dialling from the browser: the parent leg comes in from client:<identity>.
    assert adapt(form("in-progress", Direction="inbound", From="client:rep-a"), QUERY) == []


def test_started_at_from_the_initiated_callback_when_the_url_has_none() -> None:
    query = {k: v for k, v in QUERY.items() if k != "started_at"}
    assert one(form("initiated"), query)["started_at"] == STAMP_MS
    (rejected,) = adapt(form("ringing"), query)
    assert isinstance(rejected, Rejected) and "started_at" in rejected.reason


def test_a_retry_is_the_same_event() -> None:
    first = one(form("completed", CallDuration="40", SequenceNumber="3"))
    again = one(form("completed", CallDuration="40", SequenceNumber="3"))
    assert first["event_id"] == again["event_id"] == "twilio:CA1:completed"
    assert one(form("ringing"))["event_id"] != first["event_id"]


@pytest.mark.parametrize(
    ("body", "query", "reason_class"),
    [
        (b"\xff\xfe", QUERY, "invalid_payload"),
        (form("ringing", CallSid=""), QUERY, "missing_field"),
        (form("answered"), QUERY, "unknown_enum"),
        (form("ringing", Direction="sideways"), QUERY, "unknown_enum"),
        (form("ringing", Timestamp="yesterday"), QUERY, "invalid_timestamp"),
        (form("ringing"), {"team_id": "team-x", "started_at": "1"}, "missing_field"),
    ],
)
def test_bad_callbacks_are_rejected(body: bytes, query: dict[str, str], reason_class: str) -> None:
    (mapped,) = adapt(body, query)
    assert isinstance(mapped, Rejected) and mapped.reason_class == reason_class


# ---- asynchronous answering-machine detection ----------------------------------------------
# With AsyncAmd=true the verdict comes on its own AsyncAmdStatusCallback request, whose
# parameters are CallSid, AccountSid, AnsweredBy and MachineDetectionDuration (ms), without
# CallStatus (Twilio docs: https://www.twilio.com/docs/voice/answering-machine-detection,
# "AsyncAmd" and "Webhook parameters"; twilio-python's Call create docstrings for
# async_amd_status_callback).

RECEIVED_MS = STAMP_MS + 4_000  # when the gateway received the AMD callback


def amd(answered_by: str) -> bytes:
    return urlencode(
        {
            "AccountSid": "ACxxxxxxxx",
            "CallSid": "CA1",
            "AnsweredBy": answered_by,
            "MachineDetectionDuration": "2840",
        }
    ).encode()


def test_an_async_amd_callback_becomes_the_calls_verdict() -> None:
    (mapped,) = adapt(amd("human"), QUERY, RECEIVED_MS)
    assert isinstance(mapped, Canonical)
    event = CallEvent.model_validate(mapped.event)
    assert mapped.event == {
        **BASE,
        "event_id": "twilio:CA1:amd",
        "occurred_at": RECEIVED_MS,
        "status": "answered",
        "answered_by": "human",
    }
    assert event.answered_by == "human"
    (machine,) = adapt(amd("machine_end_beep"), QUERY, RECEIVED_MS)
    assert isinstance(machine, Canonical) and machine.event["answered_by"] == "machine"
    (bad,) = adapt(amd("robot"), QUERY, RECEIVED_MS)
    assert isinstance(bad, Rejected) and bad.reason_class == "unknown_enum"


@pytest.mark.parametrize("verdict", ["human", "machine_start"])
def test_the_verdict_before_or_after_the_final_status_gives_the_same_kpis(verdict: str) -> None:
    """A call answered at STAMP, hung up 95 s later (CallDuration 95), its async verdict
    arriving first or last: one dial; a human verdict is one connect at the answer with 95 s of
    talk, a machine verdict one machine answer (README/docs "Call KPIs": connects are
    AnsweredBy=human, machine answers machine_*)."""
    ended = "Mon, 30 Nov 2026 00:55:15 +0000"
    callbacks = [
        form("initiated", Timestamp="Mon, 30 Nov 2026 00:53:20 +0000"),
        form("in-progress"),
        form("completed", Timestamp=ended, CallDuration="95"),
    ]
    events = [one(body) for body in callbacks]
    (verdict_event,) = adapt(amd(verdict), QUERY, RECEIVED_MS)
    assert isinstance(verdict_event, Canonical)
    family = CallsFamily(30)

    def facts(order: list[dict[str, Any]]) -> Any:
        state = None
        for event in order:
            state = family.merge(state, CallEvent.model_validate(event))
        assert state is not None
        return family.facts(state)

    first, last = facts([verdict_event.event, *events]), facts([*events, verdict_event.event])
    assert first == last
    dial_ms = 1_796_000_000_000
    if verdict == "human":
        assert first == {
            "dials": (dial_ms, 1),
            "connects": (STAMP_MS, 1),
            "talk_ms": (STAMP_MS + 95_000, 95_000),
        }
    else:
        assert first == {"dials": (dial_ms, 1), "machine_answers": (STAMP_MS, 1)}
