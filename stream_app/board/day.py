"""Which business day the board's activity section shows, and its calls per hour (pure).

At 9:00 on a Monday the manager wants today as it starts; on a Sunday evening, Friday as it
closed, labelled so, not a row of zeros that reads as broken. The day's figures are Prometheus's
at that day's close plus the windows' grace (late calls of the day are in), so a closed day
reads as it ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from stream_app.spine.business_time import BusinessCalendar, local_date, shift

DayKind = Literal["today", "last_business_day", "outside_hours"]
LOOK_BACK_DAYS = 31
"""How far back the last business day is looked for (a long holiday, a closed month)."""


@dataclass(frozen=True, slots=True)
class ShownDay:
    kind: DayKind
    """today: a business day whose shift has started; last_business_day: the floor is closed
    and the last business day is shown at its close; outside_hours: the floor is closed and
    no business day is known to Prometheus, so today's figures so far are shown."""
    day: date
    at_ms: int
    """When the day's figures are read (now, or the last business day's close + grace)."""
    hours: tuple[int, int]
    """The span the calls-per-hour chart covers, [start, end) in epoch ms."""


def shown_day(cal: BusinessCalendar, now_ms: int, grace_ms: int) -> ShownDay:
    today = local_date(now_ms, cal.tz)
    hours = shift(cal, today)
    if hours is not None and hours[0] <= now_ms:
        return ShownDay("today", today, now_ms, (hours[0], min(hours[1], now_ms)))
    for back in range(1, LOOK_BACK_DAYS + 1):
        day = today - timedelta(days=back)
        hours = shift(cal, day)
        if hours is not None:
            return ShownDay("last_business_day", day, min(hours[1] + grace_ms, now_ms), hours)
    return outside_hours(cal, now_ms)


def outside_hours(cal: BusinessCalendar, now_ms: int) -> ShownDay:
    """Today so far, from local midnight: what there is when no business day can be shown."""
    today = local_date(now_ms, cal.tz)
    midnight = datetime(today.year, today.month, today.day, tzinfo=cal.tz)
    return ShownDay("outside_hours", today, now_ms, (int(midnight.timestamp() * 1000), now_ms))


HOUR_MS = 3_600_000


def per_hour(
    samples: Sequence[tuple[float, float]], hours: tuple[int, int], until_ms: int
) -> list[tuple[int, float | None, bool]]:
    """Hour starts in `hours` with the increase of a day-cumulative series over each hour
    (calls of the day so far, sampled by Prometheus): the value at the hour's end (or
    `until_ms`) less the value at its start, each the newest sample at or before that time,
    and whether the hour is partial. An hour Prometheus started in counts from its first
    sample (partial: the calls before it that hour are unknown, never put in the bar); an hour
    with no sample at all is None."""
    points = sorted((int(t * 1000), v) for t, v in samples)

    def at(ms: int) -> float | None:
        best = None
        for t, v in points:
            if t > ms:
                break
            best = v
        return best

    out: list[tuple[int, float | None, bool]] = []
    start, end = hours
    hour = start
    while hour < end and hour <= until_ms:
        close = min(hour + HOUR_MS, end, until_ms)
        first, last = at(hour), at(close)
        if last is None:
            out.append((hour, None, False))
        elif first is not None:
            out.append((hour, max(last - first, 0.0), False))
        else:
            inside = [v for t, v in points if hour <= t <= close]
            out.append((hour, max(last - inside[0], 0.0), True) if inside else (hour, None, False))
        hour += HOUR_MS
    return out


def pace_per_hour(
    cal: BusinessCalendar, day: date, hour_starts: Sequence[int], target: float
) -> list[float]:
    """The pace line: the day's target spread evenly over its business time, per hour (the
    expected-by-now of pacing grows at this rate: target x elapsed share of the shift)."""
    hours = shift(cal, day)
    if hours is None or hours[1] <= hours[0]:
        return [0.0 for _ in hour_starts]
    length = hours[1] - hours[0]
    out = []
    for start in hour_starts:
        overlap = max(0, min(start + HOUR_MS, hours[1]) - max(start, hours[0]))
        out.append(target * overlap / length)
    return out
