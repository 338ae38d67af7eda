"""Sunday evening and Monday at 9:00 (docs/operations/board.md, "Outside business hours"): the
board served by `stream-app board`'s handler over a real Prometheus that holds last Friday's
calls, written into its store with `promtool tsdb create-blocks-from openmetrics` (Prometheus's
documented backfill), then loaded in headless Chromium.

The figures are written here from the definitions: a rep who made 10 dials an hour from 09:00
made 90 by the 18:00 close; the team's pace is its target over the nine business hours."""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from aiohttp import web

from stream_app.board.server import Board
from stream_app.kafka.local_broker import free_port
from stream_app.spine.business_time import BusinessCalendar
from stream_app.spine.clock import FakeClock
from tests.helpers.browser import cells, console_errors, render
from tests.helpers.prometheus_proc import PrometheusProc

TOKYO = ZoneInfo("Asia/Tokyo")
CAL = BusinessCalendar(TOKYO, frozenset({1, 2, 3, 4, 5}), 9 * 60, 18 * 60, frozenset())
# Per rep: (team, dials per hour, connects per dial, day target).
REPS = {"r1": ("team-a", 10, 0.2, 100), "r2": ("team-b", 5, 0.4, 50)}


def last_friday(now: datetime) -> date:
    """The newest Friday whose Sunday 20:00 (Tokyo) has passed: the test's Sunday evening is
    never in the future, and Friday is well inside Prometheus's retention."""
    day = now.astimezone(TOKYO).date() - timedelta(days=2)
    while day.weekday() != 4 or at(day + timedelta(days=2), 20) > now.timestamp():
        day -= timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO).timestamp()


def openmetrics(friday: date) -> str:
    """What the calls worker exported every 5 minutes on Friday from 08:00 to 20:00: the day's
    counts so far (dials made steadily through the shift) and the pacing gauges."""
    times = [at(friday, 8) + k * 300 for k in range(12 * 12 + 1)]
    series: dict[str, list[str]] = {}
    for rep, (team, per_hour, connect_share, target) in REPS.items():
        labels = f'rep="{rep}",team="{team}",job="isales-kpi"'
        for t in times:
            hours = min(max(t - at(friday, 9), 0), 9 * 3600) / 3600
            dials = math.floor(per_hour * hours)
            worked = hours / 9
            for name, value in (
                ("isales_calls_today_dials", dials),
                ("isales_calls_today_connects", math.floor(dials * connect_share)),
                ("isales_calls_today_talk_seconds", 45.0 if dials else 0.0),
                ("isales_calls_today_machine_answers", 0),
                ("isales_calls_today_short_calls", 0),
            ):
                series.setdefault(name, []).append(f"{name}{{{labels}}} {value} {t:.0f}")
            for name, value in (("target", target), ("expected", target * worked)):
                metric = "isales_pacing_" + name
                pace = f'{labels},kpi="dials",period="day"'
                series.setdefault(metric, []).append(f"{metric}{{{pace}}} {value} {t:.0f}")
    lines = []
    for name, samples in series.items():
        lines += [f"# TYPE {name} gauge", *samples]
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, date]]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package 'prometheus')"
    work = tmp_path_factory.mktemp("prometheus")
    friday = last_friday(datetime.now(TOKYO))
    source = work / "friday.om"
    source.write_text(openmetrics(friday))
    done = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(work / "data")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    prom = PrometheusProc(work, [], []).start()
    try:
        yield prom.url, friday
    finally:
        prom.stop()


class Served:
    """The board's app on a free port, in a thread, for the browser."""

    def __init__(self, board: Board) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(board.app())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def board_at(url: str, now: float) -> Board:
    return Board(url, calendar=lambda: CAL, grace_ms=300_000, clock=FakeClock(int(now * 1000)))


def api(board: Board) -> dict[str, Any]:
    with Served(board) as base, urllib.request.urlopen(f"{base}/api/board", timeout=30) as r:  # noqa: S310 - loopback
        body: dict[str, Any] = orjson.loads(r.read())
        return body


def test_sunday_evening_shows_friday_as_it_closed(
    prometheus: tuple[str, date], tmp_path: Path
) -> None:
    url, friday = prometheus
    sunday = at(friday + timedelta(days=2), 20)
    body = api(board_at(url, sunday))
    assert body["day"]["kind"] == "last_business_day"
    assert body["day"]["date"] == friday.isoformat()
    assert body["day"]["at"] == at(friday, 18, 5)  # the close plus the 5 minutes' grace
    reps = {r["rep"]: r for r in body["reps"]}
    # 10 an hour over 09:00-18:00: 90 by the close; 5 an hour: 45. Every target met at close.
    assert (reps["r1"]["dials_today"], reps["r2"]["dials_today"]) == (90, 45)
    assert (reps["r1"]["connects_today"], reps["r2"]["connects_today"]) == (18, 18)
    assert reps["r1"]["dials_expected"] == 100 and reps["r1"]["dials_target"] == 100
    hourly = body["hourly"]
    assert hourly["hours"] == [at(friday, 9) + h * 3600 for h in range(9)]
    assert hourly["teams"]["team-a"]["dials"] == [10.0] * 9
    assert hourly["teams"]["team-b"]["dials"] == [5.0] * 9
    assert hourly["teams"]["team-a"]["pace"] == pytest.approx([100 / 9] * 9)

    with Served(board_at(url, sunday)) as base:
        for lang, words in (("en", "Last business day"), ("ja", "前営業日")):
            dom, stderr = render(f"{base}/?lang={lang}", profile=tmp_path / "chromium")
            label = re.search(r'id="day-label"[^>]*>([^<]*)<', dom)
            assert label and words in label.group(1), label
            assert str(friday.day) in label.group(1)
            page = cells(dom)
            assert page.cells[("dials_today", "r1")] == "90"
            assert page.cells[("connect_rate_today", "r1")] == "20.0%"
            assert page.cells[("talk_minutes_today", "r1")] == "0.8"  # 45 s, never 0
            assert page.ids.get("errors", "") == "" and not console_errors(stderr)
            assert 'data-chart="hourly"' in dom and dom.count('class="bar"') >= 9


def test_monday_at_nine_is_monday_and_a_first_sunday_is_today_so_far(
    prometheus: tuple[str, date],
) -> None:
    url, friday = prometheus
    monday = api(board_at(url, at(friday + timedelta(days=3), 9, 30)))
    assert monday["day"]["kind"] == "today"
    assert monday["day"]["date"] == (friday + timedelta(days=3)).isoformat()
    assert monday.get("reps", []) == []  # nothing called yet this Monday: no Friday figures
    # A Prometheus that did not run on the last business day: today so far, labelled so.
    empty = api(board_at(url, at(friday + timedelta(days=9), 20)))
    assert empty["day"]["kind"] == "outside_hours"
    assert empty["day"]["date"] == (friday + timedelta(days=9)).isoformat()
