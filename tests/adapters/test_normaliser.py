"""The normaliser's decode and emit, without Kafka: an envelope of each vendor becomes its
canonical events (on the calls or e-mail role, keyed as those pipelines require); an envelope
that maps to nothing but rejections is a decode rejection (the DLQ, counted) with the
adapter's reason; a batch's bad events go to the DLQ role on their own."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson

from stream_app.adapters.normaliser import NormaliserFamily
from stream_app.spine.decode import Accepted, Rejected, decode

NOW = 1_796_100_000_000
FAMILY = NormaliserFamily()


def envelope(vendor: str, body: str, query: str = "", request_id: str = "r1") -> bytes:
    return orjson.dumps(
        {
            "request_id": request_id,
            "vendor": vendor,
            "received_at": NOW,
            "query": query,
            "body": body,
        }
    )


def decoded(raw: bytes) -> Accepted[Any] | Rejected:
    return decode(raw, b"r1", FAMILY, max_bytes=1_000_000, now_ms=NOW, max_future_ms=60_000)


def test_a_twilio_callback_becomes_a_call_event_keyed_by_rep() -> None:
    form = urlencode(
        {
            "CallSid": "CA9",
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
            "AnsweredBy": "human",
            "Timestamp": "Mon, 30 Nov 2026 00:53:40 +0000",
        }
    )
    query = urlencode({"rep_id": "rep-a", "team_id": "team-x", "started_at": "1796000000000"})
    result = decoded(envelope("twilio", form, query))
    assert isinstance(result, Accepted)
    ((role, key, value),) = FAMILY.emit(None, {}, result.event)
    event = orjson.loads(value)
    assert (role, key) == ("calls", b"rep-a")
    assert (event["event_id"], event["status"], event["answered_by"]) == (
        "twilio:CA9:in-progress",
        "answered",
        "human",
    )


def test_a_callback_that_maps_to_nothing_but_rejections_is_dead_lettered() -> None:
    result = decoded(envelope("aircall", '{"resource": "call", "event": "call.created"}'))
    assert isinstance(result, Rejected)
    assert result.reason_class == "wrong_type"  # the adapter's invalid_payload
    assert "aircall: no data object" in result.reason


def test_a_sendgrid_batch_sends_good_events_on_and_bad_ones_to_the_dlq() -> None:
    good = {
        "event": "delivered",
        "timestamp": 1_796_000_000,
        "sg_event_id": "e1",
        "sg_message_id": "m1.filter",
        "campaign_id": "spring",
        "lead_id": "lead-1",
        "sent_at": 1_796_000_000,
        "email": "someone@example.com",
    }
    bad = {**good, "sg_event_id": "e2", "lead_id": None}
    result = decoded(envelope("sendgrid", orjson.dumps([good, bad]).decode()))
    assert isinstance(result, Accepted)
    emits = FAMILY.emit(None, {}, result.event)
    assert [(role, key) for role, key, _ in emits] == [
        ("email", b"spring"),
        ("rejected", b"sendgrid"),
    ]
    dead = orjson.loads(emits[1][2])
    assert dead["reason_class"] == "missing_field" and dead["request_id"] == "r1"
    assert b"someone@example.com" not in b"".join(v for _, _, v in emits)
