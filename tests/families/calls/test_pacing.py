"""Business calendar, targets file and pacing: pure functions, no Kafka."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from stream_app.families.calls.pacing import RepDay, pace
from stream_app.families.calls.targets import TargetsError, TargetsStore, parse
from stream_app.spine.business_time import BusinessCalendar, elapsed_fraction, is_open
from stream_app.spine.clock import FakeClock

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = frozenset(range(1, 6))


def ms(text: str, tz: ZoneInfo = TOKYO) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=tz).timestamp() * 1000)


def tokyo(holidays: tuple[date, ...] = ()) -> BusinessCalendar:
    return BusinessCalendar(TOKYO, WEEKDAYS, 9 * 60, 18 * 60, frozenset(holidays))


# 2026-11-23 is a Monday.
@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        ("2026-11-25T08:59:59", False),
        ("2026-11-25T09:00:00", True),
        ("2026-11-25T17:59:59", True),
        ("2026-11-25T18:00:00", False),  # half-open: 18:00 is after hours
        ("2026-11-28T11:00:00", False),  # Saturday
        ("2026-11-26T11:00:00", False),  # a holiday (below)
    ],
)
def test_business_hours(moment: str, open_: bool) -> None:
    assert is_open(tokyo((date(2026, 11, 26),)), ms(moment)) is open_


def test_day_fraction_rises_in_hours_and_holds_still_outside() -> None:
    cal = tokyo()
    assert elapsed_fraction(cal, "day", ms("2026-11-25T07:00:00")) == 0.0
    assert elapsed_fraction(cal, "day", ms("2026-11-25T13:30:00")) == 0.5
    assert elapsed_fraction(cal, "day", ms("2026-11-25T18:00:00")) == 1.0
    assert elapsed_fraction(cal, "day", ms("2026-11-25T23:59:00")) == 1.0  # no decay at night
    assert elapsed_fraction(cal, "day", ms("2026-11-28T13:30:00")) == 0.0  # Saturday


def test_week_fraction_skips_weekends_and_holidays() -> None:
    # Wednesday 13:30 of a Mon-Fri week: 2.5 of 5 days; with Monday a holiday 1.5 of 4.
    assert elapsed_fraction(tokyo(), "week", ms("2026-11-25T13:30:00")) == 0.5
    cal = tokyo((date(2026, 11, 23),))
    assert elapsed_fraction(cal, "week", ms("2026-11-25T13:30:00")) == 1.5 / 4
    assert elapsed_fraction(cal, "week", ms("2026-11-29T12:00:00")) == 1.0  # Sunday


def test_a_day_across_a_dst_change_is_measured_in_real_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29: clocks go 02:00 -> 03:00. A 00:00-24:00 shift lasts 23 real hours.
    cal = BusinessCalendar(berlin, frozenset(range(1, 8)), 0, 1440, frozenset())
    assert elapsed_fraction(cal, "day", ms("2026-03-29T12:00:00", berlin)) == 11 / 23


TARGETS = """
calendar: {workdays: [mon, tue, wed, thu, fri], hours: {start: "09:00", end: "18:00"}}
defaults: {dials_per_day: 40, connects_per_day: 4, talk_minutes_per_day: 60}
teams:
  team-a:
    defaults: {dials_per_day: 50}
    reps:
      rep-1: {talk_minutes_per_day: 90}
"""


def test_rep_targets_fall_back_to_team_then_file_defaults() -> None:
    t = parse(TARGETS, "Asia/Tokyo")
    assert t.for_rep("rep-1", "team-a").dials_per_day == 50  # team default
    assert t.for_rep("rep-1", "team-a").talk_minutes_per_day == 90  # own
    assert t.for_rep("rep-2", "team-a").talk_minutes_per_day == 60  # file default
    assert t.for_rep("rep-3", "team-z").dials_per_day == 40  # unknown team: file defaults


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("defaults: {dials_per_day: -1}", "dials_per_day"),
        ("defaults: {dails_per_day: 40}", "dails_per_day"),  # typo: extra keys are refused
        ('calendar: {hours: {start: "25:00"}}', "time of day"),
        ('calendar: {hours: {start: "18:00", end: "09:00"}}', "end must be after start"),
        ("calendar: {workdays: [monday]}", "workdays"),
        ("calendar: {timezone: Europe/Berlin}", "differs from ISALES_BUSINESS_TIMEZONE"),
        ("calendar: {timezone: Mars/Olympus}", "unknown time zone"),
        ("defaults: [unclosed", "not valid YAML"),
    ],
)
def test_bad_files_are_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(TargetsError, match=says):
        parse(text, "Asia/Tokyo")


def test_a_broken_reload_keeps_the_previous_targets(tmp_path: Path) -> None:
    path = tmp_path / "targets.yml"
    path.write_text(TARGETS)
    store = TargetsStore(path, "Asia/Tokyo", FakeClock(1_000))
    assert store.maybe_reload()
    assert store.current.defaults.dials_per_day == 40
    assert not store.maybe_reload()  # unchanged: nothing to do
    path.write_text(TARGETS + "  oops: [\n")
    assert not store.maybe_reload()
    assert store.reloads == {"ok": 1, "error": 1}
    assert store.last_error and "YAML" in store.last_error
    assert store.current.defaults.dials_per_day == 40  # still in force
    path.write_text(TARGETS.replace("dials_per_day: 40", "dials_per_day: 80"))
    assert store.maybe_reload()
    assert store.current.defaults.dials_per_day == 80
    assert store.reloads == {"ok": 2, "error": 1}
    path.unlink()
    assert not store.maybe_reload()
    assert store.current.defaults.dials_per_day == 80
    assert store.reloads["error"] == 2


def test_pacing_expected_actual_and_ratio() -> None:
    t = parse(TARGETS, "Asia/Tokyo")
    reps = [
        RepDay("rep-1", "team-a", {"dials": 20, "connects": 3, "talk_ms": 30 * 60_000}),
        RepDay("rep-2", "team-b", {}),  # nothing done yet: a zero row, not a missing one
    ]
    rows = {(r.rep, r.kpi): r for r in pace(t, tokyo(), ms("2026-11-25T13:30:00"), reps)}
    dials = rows[("rep-1", "dials")]
    assert (dials.target, dials.expected, dials.actual, dials.ratio) == (50, 25, 20, 0.8)
    talk = rows[("rep-1", "talk_minutes")]
    assert (talk.target, talk.expected, talk.actual) == (90, 45, 30)
    idle = rows[("rep-2", "dials")]
    assert (idle.actual, idle.expected, idle.ratio) == (0, 20, 0.0)
    assert len(rows) == 6


def test_pacing_on_a_day_off_expects_nothing() -> None:
    t = parse(TARGETS, "Asia/Tokyo")
    rows = pace(t, tokyo(), ms("2026-11-28T13:30:00"), [RepDay("rep-1", "team-a", {"dials": 5})])
    dials = next(r for r in rows if r.kpi == "dials")
    assert (dials.target, dials.expected, dials.actual, dials.ratio) == (0, 0, 5, None)


def test_reps_without_a_target_get_no_row() -> None:
    t = parse("teams: {team-a: {defaults: {dials_per_day: 10}}}", "Asia/Tokyo")
    rows = pace(t, tokyo(), ms("2026-11-25T13:30:00"), [RepDay("rep-9", "team-b", {})])
    assert rows == []


def test_pacing_records_match_their_schema() -> None:
    import orjson

    from schemas.kpi import PacingKey, PacingKpi
    from stream_app.families.calls.pacing import pacing_key, pacing_record

    t = parse(TARGETS, "Asia/Tokyo")
    now = ms("2026-11-25T13:30:00")
    rows = pace(t, tokyo(), now, [RepDay("rep-1", "team-a", {"dials": 20})])
    row = next(r for r in rows if r.kpi == "dials")
    record = PacingKpi.model_validate_json(pacing_record(row, cal=tokyo(), now_ms=now))
    assert (record.actual, record.expected, record.pace_ratio) == (20, 25, 0.8)
    assert record.period_start == "2026-11-25" and record.business_hours_open
    key = PacingKey.model_validate(orjson.loads(pacing_key(row, tokyo(), now)))
    assert (key.rep_id, key.metric, key.period_start) == ("rep-1", "dials", "2026-11-25")
