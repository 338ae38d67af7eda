"""Validate at the edge: raw bytes become a typed event or a rejection with a readable reason."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from schemas.common import DEFAULT_TIME_RANGE_MS, from_ms, scrub
from stream_app.spine.family_protocol import Family

E = TypeVar("E", bound=BaseModel)

# pydantic error types -> the reason classes counted on /metrics (a small, bounded set).
_REASON_CLASS = {
    "missing": "missing_field",
    "enum": "unknown_enum",
    "literal_error": "unknown_enum",
    "personal_data": "personal_data",
    "timestamp_order": "inconsistent_timestamps",
    "timestamp_out_of_range": "invalid_value",
    "missing_bounce_type": "missing_field",
    "crm_missing": "missing_field",
    # The vendor adapters' reasons (stream_app.adapters), onto the same bounded classes.
    "missing_field": "missing_field",
    "unknown_enum": "unknown_enum",
    "unknown_type": "unknown_enum",
    "invalid_json": "invalid_json",
    "invalid_payload": "wrong_type",
    "invalid_timestamp": "invalid_value",
}
_TYPE_ERRORS = (
    "_type",
    "_parsing",
    "timestamp_type",
    "timestamp_range",
    "timestamp_format",
    "timestamp_naive",
)


REASON_MAX_CHARS = 300
"""Reasons go into a DLQ header and some into logs: bounded, whatever the exception said."""


@dataclass(frozen=True, slots=True)
class Rejected:
    reason_class: str
    reason: str


def internal_error(exc: BaseException) -> Rejected:
    """A record our own code could not handle: dead-lettered so the stream goes on."""
    return Rejected("internal_error", bounded(f"{type(exc).__name__}: {exc}"))


def bounded(reason: str) -> str:
    """Masked of anything personal, and cut to a length a header and a log line can carry."""
    text = scrub(reason)
    return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 3] + "..."


@dataclass(slots=True)  # one per record: not frozen, whose __init__ is 3x slower
class Accepted(Generic[E]):
    event: E
    parts: list[E] | None = None
    """A record of parts (`stream_app.spine.parts`): its events, in order (`event` is the
    first)."""


def _classify(error: ValidationError) -> Rejected:
    errors = error.errors(include_url=False, include_input=True)
    first = errors[0]
    kind = str(first["type"])
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    # pydantic's messages name the constraint, never the input; scrub() still masks a field
    # path that came from the payload (a dict key can be anything).
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    reason = bounded(f"{where}: {first['msg']}{more}")
    if kind in ("enum", "literal_error") and not isinstance(first.get("input"), str):
        # A list or a boolean where a name belongs is the wrong type, not an unknown name.
        return Rejected("wrong_type", reason)
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
    time_range_ms: tuple[int, int] = DEFAULT_TIME_RANGE_MS,
) -> Accepted[E] | Rejected:
    """Never raises: anything unexpected is an `internal_error` rejection, so one record can
    never stop the stream it came in."""
    try:
        return _decode(raw, key, family, max_bytes, now_ms, max_future_ms, time_range_ms)
    except Exception as exc:
        return internal_error(exc)


def _decode(
    raw: bytes | None,
    key: bytes | None,
    family: Family[E],
    max_bytes: int,
    now_ms: int,
    max_future_ms: int,
    time_range_ms: tuple[int, int],
) -> Accepted[E] | Rejected:
    if raw is None or not raw:
        return Rejected("empty", "record has no value (null or zero bytes)")
    if len(raw) > max_bytes:
        return Rejected("oversize", f"payload is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejected("invalid_json", bounded(f"not JSON: {exc}"))
    if not isinstance(data, dict):
        return Rejected("wrong_type", f"payload is a JSON {type(data).__name__}, not an object")
    parts: list[E] | None = None
    try:
        if len(data) == 1 and "parts" in data and getattr(family, "takes_parts", False):
            parts = _parts_validator(family.model).validate_python(data["parts"])
            event = parts[0]
        else:
            # The validator itself: BaseModel.model_validate is a Python frame passing seven
            # keyword arguments on to it, on every record.
            event = family.model.__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        return _classify(exc)
    if parts is not None:
        return _check_parts(parts, key, family, now_ms, max_future_ms, time_range_ms)
    return _check(event, key, family, now_ms, max_future_ms, time_range_ms)


def _check_parts(
    parts: list[E],
    key: bytes | None,
    family: Family[E],
    now_ms: int,
    max_future_ms: int,
    time_range_ms: tuple[int, int],
) -> Accepted[E] | Rejected:
    """Each part checked as a record of its own would be; the first refusal refuses the
    record (our own stages write them: one bad part is a bug to look at whole)."""
    for index, part in enumerate(parts):
        checked = _check(part, key, family, now_ms, max_future_ms, time_range_ms)
        if isinstance(checked, Rejected):
            return Rejected(checked.reason_class, bounded(f"part {index}: {checked.reason}"))
    return Accepted(parts[0], parts)


def _check(
    event: E,
    key: bytes | None,
    family: Family[E],
    now_ms: int,
    max_future_ms: int,
    time_range_ms: tuple[int, int],
) -> Accepted[E] | Rejected:
    stamps = family.check_time(event)
    low, high = time_range_ms
    earliest, newest = (min(stamps), max(stamps)) if stamps else (low, low)
    if earliest < low or newest >= high:
        return Rejected(
            "invalid_value",
            f"a timestamp is outside {from_ms(low).year}-{from_ms(high - 1).year} "
            "(ISALES_TIMESTAMP_MIN_YEAR / _MAX_YEAR)",
        )
    if newest > now_ms + max_future_ms:
        return Rejected(
            "future_timestamp",
            f"a timestamp is more than {max_future_ms // 1000}s ahead of the worker's clock",
        )
    expected_key = family.partition_key(event)
    if key is None or (
        key != expected_key.encode() and key.decode("utf-8", "replace") != expected_key
    ):
        # Keying by the owner keeps every event of a rep on one partition, which is what makes
        # per-partition state exact; a wrongly keyed record would split a rep across workers.
        # Lengths, never contents: a key can be an e-mail address or a phone number.
        given = "no message key" if key is None else f"the message key ({len(key)} bytes)"
        return Rejected(
            "key_mismatch",
            f"{given} does not match {family.key_field} "
            f"({len(expected_key)} characters); the key must equal it",
        )
    return Accepted(event)


@cache
def _parts_validator(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    """A non-empty list of the family's events, validated in one call."""
    return TypeAdapter(Annotated[list[model], Field(min_length=1)])  # type: ignore[valid-type, arg-type]
