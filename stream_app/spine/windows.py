"""Event-time window math: pure functions over integer milliseconds, half-open [start, end).

Fixed-size windows are aligned to local midnight of the business time zone and never straddle
it, so "15m" and "1h" windows line up with the business day even in +05:30 or +05:45 zones and on
DST days (where the day is 23 or 25 hours long and the last window is cut at the next midnight).
The special size "1d" is the calendar day in the business time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000}
_SIZE_RE = re.compile(r"^(\d+)([smh])$")


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A window size: `name` as configured ("15m", "1d"); `size_ms` is 0 for the calendar day."""

    name: str
    size_ms: int

    @property
    def is_day(self) -> bool:
        return self.size_ms == 0


@dataclass(frozen=True, slots=True)
class Window:
    spec: str
    start_ms: int
    end_ms: int


def parse_windows(names: tuple[str, ...]) -> tuple[WindowSpec, ...]:
    return tuple(parse_window_spec(name) for name in names)


def parse_window_spec(name: str) -> WindowSpec:
    name = name.strip()
    if name == "1d":
        return WindowSpec("1d", 0)
    match = _SIZE_RE.match(name)
    if not match:
        raise ValueError(f"window size {name!r}: use <n>s, <n>m, <n>h or 1d")
    size_ms = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if size_ms <= 0 or DAY_MS % size_ms:
        raise ValueError(f"window size {name!r} must divide 24h so windows align to midnight")
    return WindowSpec(name, size_ms)


@lru_cache(maxsize=4096)
def _day_bounds(day_ordinal: int, tz_name: str) -> tuple[int, int]:
    tz = ZoneInfo(tz_name)
    day = datetime.fromordinal(day_ordinal)
    start = day.replace(tzinfo=tz)
    end = (day + timedelta(days=1)).replace(tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


QUARTER_MS = 900_000


@lru_cache(maxsize=65_536)
def _quarter_day_bounds(quarter: int, tz_name: str) -> tuple[int, int]:
    return _exact_day_bounds(quarter * QUARTER_MS, tz_name)


def day_bounds(ts_ms: int, tz_name: str) -> tuple[int, int]:
    """[local midnight, next local midnight) around `ts_ms`, in UTC epoch milliseconds."""
    # Several times per event: looked up by the UTC quarter hour. Every zone's offset (and so
    # every local midnight) falls on a quarter hour of UTC, so the whole quarter shares its
    # day; the check sends any zone where that fails to the exact computation.
    start, end = _quarter_day_bounds(ts_ms // QUARTER_MS, tz_name)
    if start <= ts_ms < end:
        return start, end
    return _exact_day_bounds(ts_ms, tz_name)


def _exact_day_bounds(ts_ms: int, tz_name: str) -> tuple[int, int]:
    local = datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(tz_name))
    start, end = _day_bounds(local.toordinal(), tz_name)
    # Float rounding near midnight can land one millisecond off; the integer bounds decide.
    if ts_ms < start:
        return _day_bounds(local.toordinal() - 1, tz_name)
    if ts_ms >= end:
        return _day_bounds(local.toordinal() + 1, tz_name)
    return start, end


def window_for(ts_ms: int, spec: WindowSpec, tz_name: str) -> Window:
    day_start, day_end = day_bounds(ts_ms, tz_name)
    if spec.is_day:
        return Window(spec.name, day_start, day_end)
    start = day_start + (ts_ms - day_start) // spec.size_ms * spec.size_ms
    return Window(spec.name, start, min(start + spec.size_ms, day_end))


def previous_window(window: Window, spec: WindowSpec, tz_name: str) -> Window:
    return window_for(window.start_ms - 1, spec, tz_name)


def is_closed(window_end_ms: int, grace_ms: int, watermark_ms: int | None) -> bool:
    """A window is final once the watermark has passed its end plus the grace period."""
    return watermark_ms is not None and watermark_ms >= window_end_ms + grace_ms
