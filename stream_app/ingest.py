"""One source record to one plan: decode, then the engine's plan, and nothing can escape.

The service awaits Kafka around this; everything here is synchronous and pure of Kafka, so a
poison record is a unit test, not a crash loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from stream_app.decode import Accepted, Rejected, decode, internal_error
from stream_app.engine import Engine, Plan
from stream_app.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decided:
    plan: Plan
    rejected: Rejected | None = None
    """Set when the record goes to the dead-letter topic (plan.kind is "rejected")."""


def decide(
    engine: Engine[Any],
    settings: Settings,
    *,
    key: bytes | None,
    value: bytes | None,
    partition: int,
    offset: int,
    now_ms: int,
) -> Decided:
    """What one record does to state. A record our own code cannot handle is dead-lettered as
    `internal_error` instead of raising: raising would restart the agent, which seeks back to
    the same record, forever. `plan()` writes nothing, so giving up on it is clean."""
    s = settings
    result: Accepted[Any] | Rejected = decode(
        value,
        key,
        engine.family,
        max_bytes=s.max_payload_bytes,
        now_ms=now_ms,
        max_future_ms=int(s.max_future_skew_seconds * 1000),
        time_range_ms=s.time_range_ms,
    )
    if isinstance(result, Accepted):
        try:
            return Decided(engine.plan(result.event, partition, offset))
        except Exception as exc:
            result = internal_error(exc)
            log.error(
                "internal error on partition %d offset %d, record dead-lettered: %s",
                partition,
                offset,
                result.reason,
            )
    return Decided(engine.plan_reject(partition, offset, result.reason_class), result)
