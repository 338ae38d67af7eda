"""Field types shared by every event family."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Epoch milliseconds between 1973 and 5138: smaller integers are almost surely epoch seconds.
_MIN_EPOCH_MS = 100_000_000_000
_MAX_EPOCH_MS = 99_999_999_999_999
_PHONE_LIKE = re.compile(r"^\+?[\d().\- ]{7,}$")


def to_ms(value: datetime) -> int:
    """Exact integer milliseconds since the epoch (no float rounding)."""
    return (value - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _parse_timestamp(value: Any) -> datetime:
    if isinstance(value, bool):
        raise PydanticCustomError("timestamp_type", "timestamp must be ISO-8601 or epoch ms")
    if isinstance(value, int):
        if not _MIN_EPOCH_MS <= value <= _MAX_EPOCH_MS:
            raise PydanticCustomError(
                "timestamp_range",
                "integer timestamp {value} is not epoch milliseconds (seconds given?)",
                {"value": value},
            )
        return from_ms(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "timestamp_format", "timestamp {value!r} is not ISO-8601", {"value": value}
            ) from None
        if parsed.tzinfo is None:
            raise PydanticCustomError(
                "timestamp_naive",
                "timestamp {value!r} has no UTC offset; local times are ambiguous",
                {"value": value},
            )
        return parsed.astimezone(UTC)
    raise PydanticCustomError("timestamp_type", "timestamp must be ISO-8601 or epoch ms")


Timestamp = Annotated[
    datetime,
    BeforeValidator(_parse_timestamp),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time", "description": "ISO-8601 with offset"},
                {
                    "type": "integer",
                    "minimum": _MIN_EPOCH_MS,
                    "maximum": _MAX_EPOCH_MS,
                    "description": "epoch milliseconds",
                },
            ]
        },
        mode="validation",
    ),
]


def _no_personal_data(value: Any) -> Any:
    # Label values end up in Prometheus; a phone number or address must never get there.
    if isinstance(value, str) and ("@" in value or _PHONE_LIKE.match(value)):
        raise PydanticCustomError(
            "personal_data", "value looks like an e-mail address or phone number"
        )
    return value


LabelId = Annotated[
    str,
    BeforeValidator(_no_personal_data),
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"),
]
"""An identifier that may become a metric label: a rep, team, campaign, variant or segment."""

EventId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
