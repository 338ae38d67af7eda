"""Less personal data at the edge (docs/operations/personal-data.md, "At the gateway"): what the
gateway writes of each vendor's payload lacks the phone numbers, addresses, names and secrets
the vendor sent, and the adapter makes the same canonical events of it as of the payload as
received, so the KPIs are the same. The payloads are the adapters' test payloads (field names
and values from the vendors' webhook docs; see each adapter test's header).

A kept party is its keyed hash: HMAC-SHA256 of the value under ISALES_GATEWAY_HASH_KEY, hex,
computed here with hashlib, not with the code under test."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest

from stream_app.adapters import aircall as aircall_adapter
from stream_app.adapters import hubspot as hubspot_adapter
from stream_app.adapters import sendgrid as sendgrid_adapter
from stream_app.adapters import twilio as twilio_adapter
from stream_app.gateway.minimise import minimiser
from tests.adapters.test_aircall import S, hook
from tests.adapters.test_hubspot import hs, prop
from tests.adapters.test_sendgrid import event
from tests.adapters.test_twilio import QUERY, RECEIVED_MS, amd, form

KEY = b"a test key"
DISCOVERY = ("isales_budget", "isales_authority", "isales_need", "isales_timeline")
plain = minimiser(DISCOVERY, None)
hashed = minimiser(DISCOVERY, KEY)


def hmac_hex(value: str) -> str:
    return "hmac-sha256:" + hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()


TWILIO = [
    form("initiated"),
    form("ringing"),
    form("in-progress", AnsweredBy="human"),
    form("completed", CallDuration="42", Caller="+15550000000", Called="+15551111111"),
    form("busy", FromCity="SAN FRANCISCO", ToZip="94105", Digits="1234"),
    form("ringing", Direction="inbound", From="client:rep-a"),
    amd("machine_start"),
]


@pytest.mark.parametrize("body", TWILIO)
def test_twilio_keeps_what_the_adapter_reads(body: bytes) -> None:
    for minimise in (plain, hashed):
        kept = minimise("twilio", body)
        assert twilio_adapter.adapt(kept, QUERY, RECEIVED_MS) == twilio_adapter.adapt(
            body, QUERY, RECEIVED_MS
        )
        assert b"555" not in kept and b"SAN+FRANCISCO" not in kept and b"94105" not in kept
        assert b"Digits" not in kept and b"AccountSid" not in kept
    fields = parse_qs(plain("twilio", body).decode())
    assert "To" not in fields
    assert fields.get("From", ["client:"])[0].startswith("client:")


def test_twilio_parties_are_a_keyed_hash_when_a_key_is_set() -> None:
    fields = parse_qs(hashed("twilio", form("completed", CallDuration="42")).decode())
    assert fields["From"] == [hmac_hex("+15550000000")]
    assert fields["To"] == [hmac_hex("+15551111111")]
    softphone = parse_qs(hashed("twilio", form("ringing", From="client:rep-a")).decode())
    assert softphone["From"] == ["client:rep-a"]


AIRCALL = [
    hook("call.created"),
    hook("call.answered", answered_at=S + 5, tags=[{"id": 1, "name": "Connected"}]),
    hook("call.ended", answered_at=S + 5, ended_at=S + 40, tags=[{"name": "voicemail"}]),
    hook("call.ended", direction="inbound", answered_at=S + 3, ended_at=S + 9),
    hook("call.hungup", ended_at=S + 20, missed_call_reason="no_available_agent"),
    hook("call.tagged", answered_at=S + 5, ended_at=S + 40, tags=[{"name": "Voicemail"}]),
]


@pytest.mark.parametrize("body", AIRCALL)
def test_aircall_keeps_what_the_adapter_reads_and_never_the_token(body: bytes) -> None:
    for minimise in (plain, hashed):
        kept = minimise("aircall", body)
        assert aircall_adapter.adapt(kept) == aircall_adapter.adapt(body)
        parsed = orjson.loads(kept)
        assert "token" not in parsed
        text = kept.decode()
        for personal in ("+33", "rep@example.com", "Rep A", "Sales FR", "phone_numbers"):
            assert personal not in text, personal
    data = orjson.loads(plain("aircall", AIRCALL[0]))["data"]
    assert data["user"] == {"id": 456} and data["contact"] == {"id": 77}
    assert "raw_digits" not in data
    assert orjson.loads(hashed("aircall", AIRCALL[0]))["data"]["raw_digits"] == hmac_hex(
        "+33 1 23 45 67 89"
    )


def sendgrid_batch() -> list[dict[str, Any]]:
    return [
        event("processed"),
        event("delivered", ip="168.1.1.1", response="250 OK"),
        event("open", ip="66.249.84.1", useragent="Mozilla/5.0", sg_machine_open=True),
        event("click", url="https://Example.com/pricing?utm=x&email=someone@example.com"),
        event("bounce", type="blocked", reason="550 someone@example.com unknown"),
        event("dropped", reason="Bounced Address"),
    ]


def test_sendgrid_keeps_what_the_adapter_reads() -> None:
    body = orjson.dumps(sendgrid_batch())
    for minimise in (plain, hashed):
        kept = minimise("sendgrid", body)
        assert sendgrid_adapter.adapt(kept) == sendgrid_adapter.adapt(body)
        for personal in (b"someone@", b"168.1.1.1", b"66.249", b"Mozilla", b"smtp-id", b"pricing"):
            assert personal not in kept, personal
    clicked = orjson.loads(plain("sendgrid", body))[3]
    assert clicked["url"] == "https://Example.com/"
    assert "email" not in clicked
    assert orjson.loads(hashed("sendgrid", body))[0]["email"] == hmac_hex("someone@example.com")


def test_hubspot_keeps_kpi_values_and_only_the_status_of_discovery_answers() -> None:
    events = [
        prop("dealstage", "appointmentscheduled"),
        prop("amount", "1200.50", event_id=2),
        prop("hubspot_owner_id", "52550153", event_id=3),
        prop("deal_currency_code", "EUR", event_id=4),
        prop("isales_budget", "about 50k, says Jane Doe", event_id=5),
        prop("isales_need", "Unknown", event_id=6),
        prop("isales_timeline", "", event_id=7),
        prop("description", "call Jane on +81 90 1234 5678", event_id=8),
        hs(
            "contact.propertyChange",
            object_id=55,
            event_id=9,
            propertyName="email",
            propertyValue="jane@example.com",
            sourceId="userId:1234",
        ),
    ]
    body = orjson.dumps(events)
    kept = plain("hubspot", body)
    assert b"Jane" not in kept and b"jane@" not in kept and b"+81" not in kept
    assert b"userId" not in kept and b"changeSource" not in kept
    before, after = hubspot_adapter.adapt(body), hubspot_adapter.adapt(kept)
    values = [getattr(m, "event", {}).get("value") for m in after]
    assert values[:4] == ["appointmentscheduled", "1200.50", "52550153", "EUR"]
    # Discovery: an answer is "answered"; the documented markers and an empty value stay.
    assert values[4:7] == ["answered", "Unknown", ""]
    assert values[7:] == ["", ""]  # other properties: the change, not the value
    ids = [getattr(m, "event", {}).get("event_id") for m in before]
    assert ids == [getattr(m, "event", {}).get("event_id") for m in after]
    single = plain("hubspot", orjson.dumps(events[0]))
    assert orjson.loads(single)["propertyValue"] == "appointmentscheduled"


def test_a_body_the_rule_cannot_read_is_written_as_received() -> None:
    """The adapter dead-letters it with its reason (the DLQ keeps it for its retention)."""
    for vendor, body in (
        ("aircall", b"not json"),
        ("sendgrid", b'{"not": "a batch"}'),
        ("hubspot", b"[1, 2"),
        ("twilio", b'{"json": "body"}'),
    ):
        assert plain(vendor, body) == body
