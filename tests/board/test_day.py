"""Which day the board's activity shows (docs/operations/board.md, "Outside business hours"),
and calls per hour from a day-cumulative series; times written out by hand in Tokyo."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from stream_app.board.day import pace_per_hour, per_hour, shown_day
from stream_app.spine.business_time import BusinessCalendar

TOKYO = ZoneInfo("Asia/Tokyo")
CAL = BusinessCalendar(
    tz=TOKYO,
    workdays=frozenset({1, 2, 3, 4, 5}),
    start_minute=9 * 60,
    end_minute=18 * 60,
    holidays=frozenset({date(2026, 12, 3)}),  # a Thursday off
)
GRACE = 300_000


def ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=TOKYO).timestamp() * 1000)


def test_monday_at_nine_is_today_from_nine() -> None:
    day = shown_day(CAL, ms(2026, 12, 7, 9, 0), GRACE)
    assert (day.kind, day.day) == ("today", date(2026, 12, 7))
    assert day.hours == (ms(2026, 12, 7, 9, 0), ms(2026, 12, 7, 9, 0))
    later = shown_day(CAL, ms(2026, 12, 7, 13, 30), GRACE)
    assert later.hours == (ms(2026, 12, 7, 9, 0), ms(2026, 12, 7, 13, 30))
    assert later.at_ms == ms(2026, 12, 7, 13, 30)


def test_sunday_evening_is_friday_as_it_closed() -> None:
    day = shown_day(CAL, ms(2026, 12, 6, 20, 0), GRACE)
    assert (day.kind, day.day) == ("last_business_day", date(2026, 12, 4))
    assert day.at_ms == ms(2026, 12, 4, 18, 5)  # the close plus the 5 minutes' grace
    assert day.hours == (ms(2026, 12, 4, 9, 0), ms(2026, 12, 4, 18, 0))


def test_monday_before_nine_is_still_friday_and_a_holiday_is_skipped() -> None:
    assert shown_day(CAL, ms(2026, 12, 7, 8, 59), GRACE).day == date(2026, 12, 4)
    # Friday 4 Dec before nine: Thursday 3 Dec is a holiday, so Wednesday 2 Dec.
    assert shown_day(CAL, ms(2026, 12, 4, 7, 0), GRACE).day == date(2026, 12, 2)


def test_a_workday_after_close_is_still_today() -> None:
    day = shown_day(CAL, ms(2026, 12, 7, 19, 0), GRACE)
    assert (day.kind, day.day) == ("today", date(2026, 12, 7))
    assert day.hours == (ms(2026, 12, 7, 9, 0), ms(2026, 12, 7, 18, 0))


def test_no_workday_at_all_is_today_so_far_outside_hours() -> None:
    closed = BusinessCalendar(TOKYO, frozenset(), 9 * 60, 18 * 60, frozenset())
    day = shown_day(closed, ms(2026, 12, 6, 20, 0), GRACE)
    assert (day.kind, day.day) == ("outside_hours", date(2026, 12, 6))
    assert day.hours == (ms(2026, 12, 6, 0, 0), ms(2026, 12, 6, 20, 0))


def test_per_hour_is_the_increase_over_each_hour() -> None:
    nine, s = ms(2026, 12, 7, 9, 0), 1 / 1000
    # The day's dials so far, sampled every 30 min from 9:00 (seconds, value).
    samples = [((nine + k * 1_800_000) * s, v) for k, v in enumerate([2, 10, 30, 31, 55])]
    # 9:00-10:00: 30 - 2 = 28; 10:00-11:00: 55 - 30 = 25; 11:00-11:10 (until): 55 - 55 = 0.
    until = nine + 2 * 3_600_000 + 600_000
    rows = per_hour(samples, (nine, ms(2026, 12, 7, 18, 0)), until)
    assert rows == [
        (nine, 28.0, False),
        (nine + 3_600_000, 25.0, False),
        (nine + 7_200_000, 0.0, False),
    ]


def test_per_hour_is_unknown_before_prometheus_has_a_sample() -> None:
    nine = ms(2026, 12, 7, 9, 0)
    samples = [((nine + 5_400_000) / 1000, 40.0), ((nine + 7_200_000) / 1000, 46.0)]
    rows = per_hour(samples, (nine, nine + 3 * 3_600_000), nine + 3 * 3_600_000)
    # 9-10: no sample at all; 10-11: Prometheus started at 10:30, so from its first sample
    # (40) to 11:00 (46): 6, partial, never the 40 made before it; 11-12: 46 - 46.
    assert rows == [
        (nine, None, False),
        (nine + 3_600_000, 6.0, True),
        (nine + 7_200_000, 0.0, False),
    ]


def test_the_pace_per_hour_is_the_target_spread_over_the_business_hours() -> None:
    # 90 dials over 9:00-18:00: 10 an hour; an hour outside the shift expects none.
    day = shown_day(CAL, ms(2026, 12, 7, 12, 30), GRACE)
    hours = [ms(2026, 12, 7, 8, 0), ms(2026, 12, 7, 9, 0), ms(2026, 12, 7, 17, 0)]
    assert pace_per_hour(CAL, day.day, hours, 90.0) == [0.0, 10.0, 10.0]
    # A day with a 9:00-13:30 shift: the last half hour expects half an hour's share.
    short = BusinessCalendar(TOKYO, frozenset({1}), 9 * 60, 13 * 60 + 30, frozenset())
    hours = [ms(2026, 12, 7, 12, 0), ms(2026, 12, 7, 13, 0)]
    assert pace_per_hour(short, date(2026, 12, 7), hours, 45.0) == [10.0, 5.0]
