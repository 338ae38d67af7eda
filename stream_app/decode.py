"""Validate at the edge: raw bytes become a typed event or a rejection with a readable reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from stream_app.family import Family

E = TypeVar("E", bound=BaseModel)

# pydantic error types -> the reason classes counted on /metrics (a small, bounded set).
_REASON_CLASS = {
    "missing": "missing_field",
    "enum": "unknown_enum",
    "literal_error": "unknown_enum",
    "personal_data": "personal_data",
    "timestamp_order": "inconsistent_timestamps",
    "missing_bounce_type": "missing_field",
    "crm_missing": "missing_field",
}
_TYPE_ERRORS = (
    "_type",
    "_parsing",
    "timestamp_type",
    "timestamp_range",
    "timestamp_format",
    "timestamp_naive",
)


@dataclass(frozen=True, slots=True)
class Rejected:
    reason_class: str
    reason: str


@dataclass(frozen=True, slots=True)
class Accepted(Generic[E]):
    event: E


def _classify(error: ValidationError) -> Rejected:
    first = error.errors(include_url=False)[0]
    kind = str(first["type"])
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    reason = f"{where}: {first['msg']}"
    if len(error.errors()) > 1:
        reason += f" (and {len(error.errors()) - 1} more)"
    if kind in _REASON_CLASS:
        return Rejected(_REASON_CLASS[kind], reason)
    if kind.endswith(_TYPE_ERRORS) or kind in _TYPE_ERRORS:
        return Rejected("wrong_type", reason)
    return Rejected("invalid_value", reason)


def decode(
    raw: bytes | None,
    key: bytes | None,
    family: Family[E],
    *,
    max_bytes: int,
    now_ms: int,
    max_future_ms: int,
) -> Accepted[E] | Rejected:
    if raw is None:
        return Rejected("empty", "record has no value")
    if len(raw) > max_bytes:
        return Rejected("oversize", f"payload is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejected("invalid_json", f"not JSON: {exc}")
    if not isinstance(data, dict):
        return Rejected("wrong_type", f"payload is a JSON {type(data).__name__}, not an object")
    try:
        event = family.model.model_validate(data)
    except ValidationError as exc:
        return _classify(exc)
    horizon = now_ms + max_future_ms
    if any(ts > horizon for ts in family.check_time(event)):
        return Rejected(
            "future_timestamp",
            f"a timestamp is more than {max_future_ms // 1000}s ahead of the worker's clock",
        )
    expected_key = family.partition_key(event)
    if key is None or key.decode("utf-8", "replace") != expected_key:
        # Keying by the owner keeps every event of a rep on one partition, which is what makes
        # per-partition state exact; a wrongly keyed record would split a rep across workers.
        return Rejected(
            "key_mismatch", f"message key {key!r} must equal the partition key {expected_key!r}"
        )
    return Accepted(event)
