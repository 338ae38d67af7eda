"""Decoding at the edge: every kind of bad input becomes a rejection with a reason class."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.common import to_ms
from stream_app.decode import Accepted, Rejected, decode
from stream_app.families.calls import CallsFamily
from tests.factories import T0, as_bytes, raw_event

FAMILY = CallsFamily(short_call_seconds=30)


def run(payload: bytes | None, key: bytes | None = b"rep-01", max_bytes: int = 10_000) -> Any:
    return decode(
        payload, key, FAMILY, max_bytes=max_bytes, now_ms=T0 + 3_600_000, max_future_ms=300_000
    )


def test_valid_event_with_iso_and_epoch_ms() -> None:
    result = run(as_bytes(raw_event(occurred_at="2026-03-02T11:00:00+01:00")))
    assert isinstance(result, Accepted)
    assert to_ms(result.event.occurred_at) == T0
    assert result.event.occurred_at.tzinfo is not None
    assert to_ms(result.event.started_at) == T0


@pytest.mark.parametrize(
    ("payload", "reason_class"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "wrong_type"),
        (as_bytes({k: v for k, v in raw_event().items() if k != "call_id"}), "missing_field"),
        (as_bytes(raw_event(status="teleported")), "unknown_enum"),
        (as_bytes(raw_event(answered_by="robot")), "unknown_enum"),
        (as_bytes(raw_event(talk_seconds="forty")), "wrong_type"),
        (as_bytes(raw_event(occurred_at="2026-03-02T10:00:00")), "wrong_type"),
        (as_bytes(raw_event(occurred_at=1_772_445_600)), "wrong_type"),
        (as_bytes(raw_event(occurred_at=True)), "wrong_type"),
        (as_bytes(raw_event(talk_seconds=-3)), "invalid_value"),
        (as_bytes(raw_event(occurred_at="2099-01-01T00:00:00Z")), "future_timestamp"),
        (as_bytes(raw_event(ended_at=T0 - 1_000)), "inconsistent_timestamps"),
        (as_bytes(raw_event(rep="jane@example.com")), "personal_data"),
        (as_bytes(raw_event(team_id="+44 20 7946 0958")), "personal_data"),
        (None, "empty"),
    ],
)
def test_rejections(payload: bytes | None, reason_class: str) -> None:
    result = run(payload, key=b"jane@example.com" if b"jane@" in (payload or b"") else b"rep-01")
    assert isinstance(result, Rejected), result
    assert result.reason_class == reason_class
    assert result.reason


def test_oversize_is_checked_before_parsing() -> None:
    result = run(b"x" * 11, max_bytes=10)
    assert result == Rejected("oversize", "payload is 11 bytes; the limit is 10")


def test_wrong_key_would_split_a_rep_across_partitions() -> None:
    result = run(as_bytes(raw_event()), key=b"call-123")
    assert isinstance(result, Rejected) and result.reason_class == "key_mismatch"
    assert isinstance(run(as_bytes(raw_event()), key=None), Rejected)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert isinstance(run(as_bytes(raw_event(vendor_extra={"a": 1}))), Accepted)
