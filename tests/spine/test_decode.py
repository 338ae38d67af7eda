"""Decoding at the edge: every kind of bad input becomes a rejection with a reason class."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.common import to_ms
from stream_app.families.calls.family import CallsFamily
from stream_app.spine.decode import Accepted, Rejected, decode
from tests.helpers.factories import T0, as_bytes, raw_event

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


@pytest.mark.parametrize(
    "stamp",
    [
        "0001-01-01T00:00:00+01:00",  # no UTC datetime exists: astimezone overflows
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+00:00",  # representable, but west-of-UTC day math is not
        "1999-12-31T23:59:59.999Z",
        "2101-01-01T00:00:00Z",
    ],
)
def test_timestamps_outside_the_sane_range_are_invalid_values(stamp: str) -> None:
    result = run(as_bytes(raw_event(occurred_at=stamp, started_at=stamp)))
    assert isinstance(result, Rejected), result
    assert result.reason_class == "invalid_value"


def test_the_range_ends_are_inclusive_years() -> None:
    for stamp in ("2000-01-01T00:00:00Z", "2100-12-31T23:59:59.999Z"):
        result = decode(
            as_bytes(raw_event(occurred_at=stamp, started_at=stamp)),
            b"rep-01",
            FAMILY,
            max_bytes=10_000,
            now_ms=T0,
            max_future_ms=10**15,  # the future check is not what this test is about
        )
        assert isinstance(result, Accepted), (stamp, result)


@pytest.mark.parametrize(
    "rep", ["tel:14155550199", "14155550198.x", "rep.4155550199", "mailto:x", "SIP:rep", "a@b"]
)
def test_ids_that_could_carry_a_phone_or_address_are_personal_data(rep: str) -> None:
    result = run(as_bytes(raw_event(rep=rep)), key=rep.encode())
    assert isinstance(result, Rejected), result
    assert result.reason_class == "personal_data"
    assert rep not in result.reason


@pytest.mark.parametrize("rep", ["rep-415-555", "rep_123456", "emea.rep:42", "hotel:7"])
def test_ordinary_ids_pass(rep: str) -> None:
    assert isinstance(run(as_bytes(raw_event(rep=rep)), key=rep.encode()), Accepted)


def test_key_mismatch_names_lengths_never_the_key() -> None:
    result = run(as_bytes(raw_event()), key=b"jane.doe@example.com")
    assert isinstance(result, Rejected) and result.reason_class == "key_mismatch"
    assert "jane" not in result.reason and "example" not in result.reason
    assert "rep_id" in result.reason and "20 bytes" in result.reason


@pytest.mark.parametrize("bad", [["outbound"], True, {"a": 1}, 3])
def test_a_non_string_in_an_enum_field_is_the_wrong_type(bad: Any) -> None:
    result = run(as_bytes(raw_event(direction=bad)))
    assert isinstance(result, Rejected) and result.reason_class == "wrong_type", result


def test_zero_bytes_are_empty() -> None:
    assert run(b"") == Rejected("empty", "record has no value (null or zero bytes)")


def test_a_bad_timestamp_is_named_and_the_reason_has_no_placeholder() -> None:
    result = run(as_bytes(raw_event(occurred_at="yesterday at noon")))
    assert isinstance(result, Rejected)
    assert "'yesterday at noon'" in result.reason and "{" not in result.reason


def test_a_bad_timestamp_that_could_be_a_phone_is_not_quoted() -> None:
    result = run(as_bytes(raw_event(occurred_at="+1 415 555 0199")))
    assert isinstance(result, Rejected)
    assert "415" not in result.reason and "character string" in result.reason
    seconds = run(as_bytes(raw_event(occurred_at=14_155_550)))
    assert isinstance(seconds, Rejected) and "14155550" not in seconds.reason


def test_reasons_are_bounded() -> None:
    payload = as_bytes({**raw_event(), **{f"k{i}": i for i in range(10)}, "status": "x" * 5000})
    result = run(payload)
    assert isinstance(result, Rejected) and len(result.reason) <= 300


def test_an_id_is_checked_for_personal_data_every_time_it_comes() -> None:
    """Clean ids are remembered (the check is skipped for them); a personal one never is."""
    for _ in range(3):
        assert isinstance(run(as_bytes(raw_event(rep="rep-7")), key=b"rep-7"), Accepted)
        result = run(as_bytes(raw_event(rep="rep5551234567")), key=b"rep5551234567")
        assert isinstance(result, Rejected) and result.reason_class == "personal_data"
