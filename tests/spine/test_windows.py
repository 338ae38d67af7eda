"""Window math truth tables: edges, epoch 0, DST days and odd UTC offsets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.spine.windows import (
    Window,
    WindowSpec,
    day_bounds,
    is_closed,
    parse_window_spec,
    previous_window,
    window_for,
)


def ms(text: str, tz: str = "UTC") -> int:
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=ZoneInfo(tz))
    return int(stamp.astimezone(UTC).timestamp() * 1000)


M1, M15, H1, D1 = (parse_window_spec(n) for n in ("1m", "15m", "1h", "1d"))


@pytest.mark.parametrize(
    ("ts", "spec", "start", "end"),
    [
        (0, M1, 0, 60_000),
        (59_999, M1, 0, 60_000),
        (60_000, M1, 60_000, 120_000),
        (0, D1, 0, 86_400_000),
        (86_399_999, D1, 0, 86_400_000),
        (86_400_000, D1, 86_400_000, 172_800_000),
        (
            ms("2026-03-02T10:14:59.999+00:00"),
            M15,
            ms("2026-03-02T10:00:00+00:00"),
            ms("2026-03-02T10:15:00+00:00"),
        ),
        (
            ms("2026-03-02T10:15:00+00:00"),
            M15,
            ms("2026-03-02T10:15:00+00:00"),
            ms("2026-03-02T10:30:00+00:00"),
        ),
    ],
)
def test_utc_truth_table(ts: int, spec: WindowSpec, start: int, end: int) -> None:
    assert window_for(ts, spec, "UTC") == Window(spec.name, start, end)


def test_spring_forward_day_is_23_hours_in_berlin() -> None:
    tz = "Europe/Berlin"
    noon = ms("2026-03-29T12:00:00", tz)
    day = window_for(noon, D1, tz)
    assert day.start_ms == ms("2026-03-29T00:00:00", tz)
    assert day.end_ms == ms("2026-03-30T00:00:00", tz)
    assert day.end_ms - day.start_ms == 23 * 3_600_000
    # 01:59:59.999 CET is followed by 03:00 CEST: hour windows stay on local hours.
    before = window_for(ms("2026-03-29T01:59:59.999", tz), H1, tz)
    after = window_for(ms("2026-03-29T03:00:00", tz), H1, tz)
    assert before.end_ms == after.start_ms
    assert after.start_ms == ms("2026-03-29T03:00:00", tz)


def test_fall_back_day_is_25_hours_and_last_window_is_cut_at_midnight() -> None:
    tz = "Europe/Berlin"
    day = window_for(ms("2026-10-25T12:00:00", tz), D1, tz)
    assert day.end_ms - day.start_ms == 25 * 3_600_000
    last_hour = window_for(ms("2026-10-25T23:30:00", tz), H1, tz)
    assert last_hour.end_ms == day.end_ms
    # Both 02:xx hours exist; each gets its own window.
    first_two = window_for(ms("2026-10-25T00:30:00+00:00"), H1, tz)  # 02:30 CEST
    second_two = window_for(ms("2026-10-25T01:30:00+00:00"), H1, tz)  # 02:30 CET
    assert first_two.start_ms != second_two.start_ms
    assert second_two.start_ms - first_two.start_ms == 3_600_000


def test_windows_align_to_local_midnight_in_odd_offsets() -> None:
    tz = "Asia/Kathmandu"  # UTC+05:45
    ts = ms("2026-03-02T10:20:00", tz)
    assert window_for(ts, H1, tz).start_ms == ms("2026-03-02T10:00:00", tz)
    assert window_for(ts, M15, tz).start_ms == ms("2026-03-02T10:15:00", tz)
    assert day_bounds(ts, tz)[0] == ms("2026-03-02T00:00:00", tz)


def test_midnight_edges_in_tokyo() -> None:
    tz = "Asia/Tokyo"
    midnight = ms("2026-03-03T00:00:00", tz)
    assert window_for(midnight - 1, D1, tz).end_ms == midnight
    assert window_for(midnight, D1, tz).start_ms == midnight


def test_previous_window() -> None:
    tz = "Europe/Berlin"
    current = window_for(ms("2026-03-30T00:10:00", tz), D1, tz)
    previous = previous_window(current, D1, tz)
    assert previous.end_ms == current.start_ms
    assert previous.end_ms - previous.start_ms == 23 * 3_600_000


def test_is_closed_needs_watermark_past_end_plus_grace() -> None:
    assert not is_closed(1_000, 500, None)
    assert not is_closed(1_000, 500, 1_499)
    assert is_closed(1_000, 500, 1_500)


@pytest.mark.parametrize("bad", ["7m", "0m", "1w", "90s90", "2d", ""])
def test_bad_sizes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="window size"):
        parse_window_spec(bad)


ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/Santiago",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Havana",
    "Pacific/Chatham",
    "America/St_Johns",
)


@settings(max_examples=3000, deadline=None)
@given(
    ts=st.integers(min_value=ms("2000-01-01T00:00:00"), max_value=ms("2099-12-31T00:00:00")),
    tz=st.sampled_from(ZONES),
)
def test_day_bounds_are_the_local_calendar_day(ts: int, tz: str) -> None:
    """Truth from the definition: the local date of `ts`, and the instants its midnight and
    the next local midnight map to (zones with half- and quarter-hour offsets, 30-minute DST
    and DST changes at midnight included), whatever the lookup caches."""
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(ts / 1000, UTC).astimezone(zone)
    if int(local.astimezone(UTC).timestamp() * 1000) // 1000 != ts // 1000:
        return  # float rounding at the millisecond edge: the unit cases above cover it
    day = local.date()
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    nxt = date.fromordinal(day.toordinal() + 1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    expected = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    assert day_bounds(ts, tz) == expected
    assert day_bounds(ts, tz) == expected  # the second lookup comes from the cache
