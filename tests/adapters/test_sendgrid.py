"""SendGrid Event Webhook payloads (field names and meanings from SendGrid's Event Webhook
reference; the payloads are written here) -> canonical e-mail events, by hand."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.email import EmailEvent
from stream_app.adapters import Canonical, Ignored, Rejected
from stream_app.adapters.sendgrid import adapt

T = 1_796_000_000  # Unix seconds, as SendGrid sends them
ARGS = {
    "campaign_id": "spring",
    "variant": "B",
    "subject_id": "s2",
    "segment": "smb",
    "lead_id": "lead-7",
    "owner_rep_id": "rep-a",
    "sent_at": str(T - 60),
}


def event(kind: str, **over: Any) -> dict[str, Any]:
    base = {
        "email": "someone@example.com",
        "timestamp": T,
        "smtp-id": "<abc@example.com>",
        "event": kind,
        "category": ["spring", "newsletter"],
        "sg_event_id": f"ev-{kind}",
        "sg_message_id": "msg14c5.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
        **ARGS,
    }
    return base | over


def one(payload: list[Any]) -> Canonical:
    (mapped,) = adapt(orjson.dumps(payload))
    assert isinstance(mapped, Canonical), mapped
    EmailEvent.model_validate(mapped.event)  # what the e-mail pipeline accepts
    return mapped


COMMON = {
    "message_id": "sendgrid:msg14c5",
    "campaign_id": "spring",
    "variant": "B",
    "subject_id": "s2",
    "segment": "smb",
    "lead_id": "lead-7",
    "owner_rep_id": "rep-a",
    "sent_at": (T - 60) * 1000,
    "occurred_at": T * 1000,
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (event("processed"), {"type": "sent", "event_id": "sendgrid:ev-processed"}),
        (event("delivered"), {"type": "delivered", "event_id": "sendgrid:ev-delivered"}),
        (
            event("open", sg_machine_open=True, useragent="Mozilla/5.0"),
            {"type": "open", "event_id": "sendgrid:ev-open", "machine_open": True},
        ),
        (
            event("open", sg_machine_open=False),
            {"type": "open", "event_id": "sendgrid:ev-open", "machine_open": False},
        ),
        (
            event("click", url="https://Example.com/pricing?utm=x"),
            {"type": "click", "event_id": "sendgrid:ev-click", "url_host": "example.com"},
        ),
        (
            event("bounce", type="bounce", reason="550 5.1.1 unknown user"),
            {"type": "bounce", "event_id": "sendgrid:ev-bounce", "bounce_type": "hard"},
        ),
        (
            event("bounce", type="blocked"),
            {"type": "bounce", "event_id": "sendgrid:ev-bounce", "bounce_type": "soft"},
        ),
        (event("deferred", attempt="3"), {"type": "deferred", "event_id": "sendgrid:ev-deferred"}),
        (event("dropped"), {"type": "dropped", "event_id": "sendgrid:ev-dropped"}),
        (
            event("group_unsubscribe", asm_group_id=4),
            {"type": "unsubscribe", "event_id": "sendgrid:ev-group_unsubscribe"},
        ),
        (event("spamreport"), {"type": "spam_report", "event_id": "sendgrid:ev-spamreport"}),
    ],
)
def test_each_event_type(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    mapped = one([raw])
    assert mapped.role == "email" and mapped.key == b"spring"
    assert mapped.event == COMMON | expected
    assert "someone@example.com" not in orjson.dumps(mapped.event).decode()


def test_string_numbers_categories_and_a_processed_event_without_sent_at() -> None:
    raw = event("processed", timestamp=str(T), sent_at=None, campaign_id=None, category="autumn")
    mapped = one([raw])
    assert mapped.event["occurred_at"] == T * 1000
    assert mapped.event["sent_at"] == T * 1000  # processed is the send
    assert mapped.event["campaign_id"] == "autumn" and mapped.key == b"autumn"


def test_a_retried_batch_maps_to_the_same_event_ids() -> None:
    batch = [event("delivered"), event("open", sg_machine_open=False)]
    first = [m.event["event_id"] for m in adapt(orjson.dumps(batch)) if isinstance(m, Canonical)]
    again = [
        m.event["event_id"]
        for m in adapt(orjson.dumps(list(reversed(batch))))
        if isinstance(m, Canonical)
    ]
    assert sorted(first) == sorted(again) == ["sendgrid:ev-delivered", "sendgrid:ev-open"]


def test_a_batch_mixing_types_and_one_bad_event_keeps_the_good_ones() -> None:
    batch = [
        event("delivered"),
        event("open", sg_event_id=None),
        event("group_resubscribe"),
        event("opened"),  # a type SendGrid does not send today: ignored, not a dead letter
    ]
    mapped = adapt(orjson.dumps(batch))
    assert [type(m).__name__ for m in mapped] == ["Canonical", "Rejected", "Ignored", "Ignored"]
    assert mapped[2:] == [Ignored("sendgrid", "group_resubscribe"), Ignored("sendgrid", "opened")]


@pytest.mark.parametrize(
    ("payload", "reason_class"),
    [
        (b"{not json", "invalid_json"),
        (b'{"event": "open"}', "invalid_payload"),
        (orjson.dumps([event("open", sg_message_id=None)]), "missing_field"),
        (orjson.dumps([event("open", timestamp="yesterday")]), "invalid_timestamp"),
        (orjson.dumps([event("open", lead_id=None)]), "missing_field"),
        (orjson.dumps([event("open", campaign_id=None, category=[])]), "missing_field"),
        (orjson.dumps([event("open", sent_at=None)]), "missing_field"),
        (orjson.dumps(["open"]), "invalid_payload"),
    ],
)
def test_bad_payloads_are_rejected_with_a_reason(payload: bytes, reason_class: str) -> None:
    (mapped,) = adapt(payload)
    assert isinstance(mapped, Rejected) and mapped.reason_class == reason_class
    assert mapped.reason and "@" not in mapped.reason
