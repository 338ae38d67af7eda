"""Business-calendar arithmetic: is the floor open, and how much of the business day (or week)
has gone by. Pure functions over integer epoch milliseconds and a time zone.

Local wall times are resolved with zoneinfo, so a working day that crosses a DST change is 8 or
10 hours of real time when the clock says 9 to 18; pacing follows the real seconds worked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["day", "week"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names as the targets file, the email cohorts and the boards spell them (Monday first,
as `date.weekday()` counts)."""


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    tz: ZoneInfo
    workdays: frozenset[int]
    """ISO weekdays, Monday = 1."""
    start_minute: int
    end_minute: int
    """Minutes after local midnight; end may be 1440 (a shift that runs to midnight)."""
    holidays: frozenset[date]

    def is_workday(self, day: date) -> bool:
        return day.isoweekday() in self.workdays and day not in self.holidays


def _local_ms(day: date, minute: int, tz: ZoneInfo) -> int:
    if minute >= 1440:  # a shift that runs to midnight ends at the next day's 00:00
        day, minute = day + timedelta(days=1), minute - 1440
    hour, minute = divmod(minute, 60)
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp() * 1000)


def local_date(ms: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz).date()


def shift(cal: BusinessCalendar, day: date) -> tuple[int, int] | None:
    """The day's working interval [start, end) in epoch ms, or None on a day off."""
    if not cal.is_workday(day):
        return None
    return _local_ms(day, cal.start_minute, cal.tz), _local_ms(day, cal.end_minute, cal.tz)


def is_open(cal: BusinessCalendar, now_ms: int) -> bool:
    hours = shift(cal, local_date(now_ms, cal.tz))
    return hours is not None and hours[0] <= now_ms < hours[1]


def period_days(period: Period, today: date) -> list[date]:
    if period == "day":
        return [today]
    monday = today - timedelta(days=today.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def _overlap(hours: tuple[int, int], upto_ms: int) -> int:
    return max(0, min(hours[1], upto_ms) - hours[0])


def worked_ms(cal: BusinessCalendar, days: Iterable[date], upto_ms: int) -> tuple[int, int]:
    """(business ms elapsed by `upto_ms`, business ms in total) over the given days."""
    elapsed = total = 0
    for day in days:
        hours = shift(cal, day)
        if hours is None:
            continue
        total += hours[1] - hours[0]
        elapsed += _overlap(hours, upto_ms)
    return elapsed, total


def elapsed_fraction(cal: BusinessCalendar, period: Period, now_ms: int) -> float:
    """Share of the period's business time that has passed: 0 before the first shift starts,
    constant between shifts and after hours (pacing holds still), 1 once the last shift ends.
    A period with no business time (a weekend day, a holiday) is 0."""
    days = period_days(period, local_date(now_ms, cal.tz))
    elapsed, total = worked_ms(cal, days, now_ms)
    return elapsed / total if total else 0.0


def has_business_time(cal: BusinessCalendar, period: Period, now_ms: int) -> bool:
    days = period_days(period, local_date(now_ms, cal.tz))
    return worked_ms(cal, days, now_ms)[1] > 0


def period_start(cal: BusinessCalendar, period: Period, now_ms: int) -> date:
    return period_days(period, local_date(now_ms, cal.tz))[0]
