"""What every KPI topic record shares: the window envelope, the revision rule, keys, ratios.

Keys are JSON with sorted keys, so the same window always has the same key and a re-sent
record overwrites on the compacted topic instead of adding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from schemas.common import from_ms


def record_key(**fields: Any) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def ratio(numerator: int | float, denominator: int | float) -> float | None:
    """A rate from its two counts; None (JSON null, no gauge) while the denominator is 0."""
    return numerator / denominator if denominator > 0 else None


def revision(window: Mapping[str, Any], *, final: bool) -> int:
    """The record's revision: grows with every change of the window, and once more for the
    final record (the window is marked final only after that record is acknowledged)."""
    return int(window["rev"]) + (1 if final and not window["final"] else 0)


def window_fields(window: Mapping[str, Any], *, tz: str) -> dict[str, Any]:
    """Which window a record is about: size, bounds (ISO and ms) and the time zone."""
    return {
        "window": window["spec"],
        "window_start": from_ms(window["start"]).isoformat(),
        "window_end": from_ms(window["end"]).isoformat(),
        "window_start_ms": window["start"],
        "window_end_ms": window["end"],
        "time_zone": tz,
    }


def closing_fields(window: Mapping[str, Any], *, final: bool, now_ms: int) -> dict[str, Any]:
    """The fields that end every window record: final, revision and when it was emitted."""
    return {
        "final": final,
        "revision": revision(window, final=final),
        "emitted_at": from_ms(now_ms).isoformat(),
    }
