"""Pacing: where each rep stands against today's target, now.

expected-by-now = target x elapsed fraction of the business day; pace ratio = actual / expected.
Actuals are the rep's current local-day ("1d") event-time window, read from state at the moment
of asking, so pacing is exactly as right as the window KPIs. Team and org pacing are sums of the
rep rows (PromQL `sum by (team)`, or summing `kpi.pacing` records), never averages of ratios.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from schemas.common import from_ms
from stream_app.families.calls.targets import TargetsFile, TargetsStore
from stream_app.spine.business_time import (
    BusinessCalendar,
    Period,
    elapsed_fraction,
    has_business_time,
    is_open,
    period_start,
)
from stream_app.spine.clock import Clock
from stream_app.spine.collector import wanted_under
from stream_app.spine.windows import window_for

if TYPE_CHECKING:
    from stream_app.spine.pipeline import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PacedKpi:
    kpi: str
    target_field: str
    fact: str
    divisor: int
    period: Period


PACED: tuple[PacedKpi, ...] = (
    PacedKpi("dials", "dials_per_day", "dials", 1, "day"),
    PacedKpi("connects", "connects_per_day", "connects", 1, "day"),
    PacedKpi("talk_minutes", "talk_minutes_per_day", "talk_ms", 60_000, "day"),
)


@dataclass(frozen=True, slots=True)
class RepDay:
    """A rep's counts in today's local-day window (raw facts, talk time in ms)."""

    rep: str
    team: str
    counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class PaceRow:
    rep: str
    team: str
    kpi: str
    period: Period
    target: float
    actual: float
    expected: float

    @property
    def ratio(self) -> float | None:
        return self.actual / self.expected if self.expected > 0 else None


def pace(
    targets: TargetsFile, cal: BusinessCalendar, now_ms: int, reps: Iterable[RepDay]
) -> list[PaceRow]:
    """One row per rep and KPI that has a target. On a day with no business time (weekend,
    holiday) the day's target is 0: nothing is expected, whatever is done still shows."""
    fraction = {p: elapsed_fraction(cal, p, now_ms) for p in ("day", "week")}
    working = {p: has_business_time(cal, p, now_ms) for p in ("day", "week")}
    rows = []
    for rep in reps:
        mine = targets.for_rep(rep.rep, rep.team)
        for paced in PACED:
            configured = getattr(mine, paced.target_field)
            if configured is None:
                continue
            target = float(configured) if working[paced.period] else 0.0
            actual = rep.counts.get(paced.fact, 0) / paced.divisor
            rows.append(
                PaceRow(
                    rep.rep,
                    rep.team,
                    paced.kpi,
                    paced.period,
                    target,
                    actual,
                    target * fraction[paced.period],
                )
            )
    return rows


def pacing_key(row: PaceRow, cal: BusinessCalendar, now_ms: int) -> bytes:
    """One record per rep, KPI and period: compaction keeps the latest standing of each day."""
    return orjson.dumps(
        {
            "kpi": "pacing",
            "rep_id": row.rep,
            "metric": row.kpi,
            "period": row.period,
            "period_start": period_start(cal, row.period, now_ms).isoformat(),
        },
        option=orjson.OPT_SORT_KEYS,
    )


def pacing_record(row: PaceRow, *, cal: BusinessCalendar, now_ms: int) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "kpi": "pacing",
            "rep_id": row.rep,
            "team_id": row.team,
            "metric": row.kpi,
            "period": row.period,
            "period_start": period_start(cal, row.period, now_ms).isoformat(),
            "time_zone": cal.tz.key,
            "target": row.target,
            "actual": row.actual,
            "expected": row.expected,
            "pace_ratio": row.ratio,
            "elapsed_fraction": elapsed_fraction(cal, row.period, now_ms),
            "business_hours_open": is_open(cal, now_ms),
            "as_of": from_ms(now_ms).isoformat(),
        }
    )


TODAY = {
    "dials": "Outbound call attempts.",
    "connects": "Outbound calls answered by a person.",
    "machine_answers": "Outbound calls answered by a machine or voicemail.",
    "talk_seconds": "Seconds from answer to hang-up on connects.",
    "short_calls": "Connects under the short-call threshold.",
}
TODAY_FACTS = {
    "dials": ("dials", 1),
    "connects": ("connects", 1),
    "machine_answers": ("machine_answers", 1),
    "talk_seconds": ("talk_ms", 1000),
    "short_calls": ("short_calls", 1),
}
"""The board's "today" figures: name -> (the calls family's fact, divisor)."""


class PacingCollector(Collector):
    def __init__(
        self,
        store: TargetsStore,
        rep_days: Callable[[int], list[RepDay]],
        *,
        prefix: str,
        label: Callable[[str, str], str],
        clock: Clock,
    ) -> None:
        self.store = store
        self.rep_days = rep_days
        self.prefix = prefix
        self.label = label
        self.clock = clock

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        p, now = self.prefix, self.clock.now_ms()
        if wanted_under(f"{p}_business") or wanted_under(f"{p}_targets"):
            yield from self._calendar(now)
        pacing, today = wanted_under(f"{p}_pacing"), wanted_under(f"{p}_calls_today")
        # Both read today's windows of every rep: walked once a scrape.
        days = self.rep_days(now) if pacing or today else []
        if pacing:
            yield from self._rows(now, days)
        if today:
            yield from self._today(days)

    def _today(self, days: list[RepDay]) -> Iterator[Any]:
        """Every rep's counts in today's business-zone day by the clock. The window gauges'
        `current` is as of each partition's newest event, so a partition quiet since Friday
        still shows Friday there on Monday morning; a board's "today" is the calendar's."""
        gauges = {
            kpi: GaugeMetricFamily(
                f"{self.prefix}_calls_today_{kpi}",
                f"{text} Today: the business time zone's calendar day now (by the clock).",
                labels=["rep", "team"],
            )
            for kpi, text in TODAY.items()
        }
        summed: dict[tuple[str, str], dict[str, float]] = {}
        for rep in days:
            key = (self.label("rep", rep.rep), self.label("team", rep.team))
            acc = summed.setdefault(key, dict.fromkeys(TODAY, 0.0))
            for kpi, (fact, divisor) in TODAY_FACTS.items():
                acc[kpi] += rep.counts.get(fact, 0) / divisor
        for (rep_l, team_l), counts in sorted(summed.items()):
            for kpi, value in counts.items():
                gauges[kpi].add_metric([rep_l, team_l], value)
        yield from gauges.values()

    def _calendar(self, now: int) -> Iterator[Any]:
        p = self.prefix
        cal = self.store.calendar
        open_g = GaugeMetricFamily(
            f"{p}_business_open",
            "1 inside business hours of the targets calendar (zone, weekdays, hours, holidays).",
        )
        open_g.add_metric([], 1 if is_open(cal, now) else 0)
        elapsed = GaugeMetricFamily(
            f"{p}_business_period_elapsed_ratio",
            "Share of the business day or week's working time that has passed.",
            labels=["period"],
        )
        for period in ("day", "week"):
            elapsed.add_metric([period], elapsed_fraction(cal, period, now))
        reloads = CounterMetricFamily(
            f"{p}_targets_reloads",
            "Targets file loads, by result; on error the previous targets stay in force.",
            labels=["result"],
        )
        for result, n in sorted(self.store.reloads.items()):
            reloads.add_metric([result], n)
        loaded = GaugeMetricFamily(
            f"{p}_targets_loaded_timestamp_seconds",
            "When the targets in force were loaded (Unix seconds); 0 if none.",
        )
        loaded.add_metric([], (self.store.loaded_at_ms or 0) / 1000)
        yield from (open_g, elapsed, reloads, loaded)

    def _rows(self, now: int, days: list[RepDay]) -> Iterator[Any]:
        labels = ["rep", "team", "kpi", "period"]
        doc = {
            "target": "Target for the period (0 on a day off).",
            "actual": "Done so far in the period (today's event-time day window).",
            "expected": "Target x elapsed share of the period's business time.",
            "ratio": "actual / expected; absent while nothing is expected yet.",
        }
        gauges = {
            name: GaugeMetricFamily(f"{self.prefix}_pacing_{name}", text, labels=labels)
            for name, text in doc.items()
        }
        summed: dict[tuple[str, str, str, Period], list[float]] = {}
        for row in pace(self.store.current, self.store.calendar, now, days):
            key = (self.label("rep", row.rep), self.label("team", row.team), row.kpi, row.period)
            acc = summed.setdefault(key, [0.0, 0.0, 0.0])
            acc[0] += row.target
            acc[1] += row.actual
            acc[2] += row.expected
        for key, (target, actual, expected) in sorted(summed.items()):
            values = list(key)
            gauges["target"].add_metric(values, target)
            gauges["actual"].add_metric(values, actual)
            gauges["expected"].add_metric(values, expected)
            if expected > 0:
                gauges["ratio"].add_metric(values, actual / expected)
        yield from gauges.values()


class Pacing:
    """The calls pipeline's extra: the targets file (polled and reloaded on SIGHUP), pacing
    gauges on /metrics and records on `kpi.pacing`."""

    def __init__(self, ctx: Context) -> None:
        s = self.settings = ctx.settings
        self.ctx = ctx
        self.targets = TargetsStore(s.targets_file, s.business_timezone, ctx.clock)
        self.targets.maybe_reload(force=True)
        self.day_spec = next((w for w in s.window_specs if w.name == "1d"), None)
        if self.day_spec is None:
            log.warning("no 1d window configured (ISALES_WINDOWS): pacing has no actuals")
        now = ctx.clock.now_ms()
        self._checked_ms = now
        self._published_ms: int | None = None

    def collectors(self) -> list[Collector]:
        ctx = self.ctx
        return [
            PacingCollector(
                self.targets, self.rep_days, prefix=ctx.prefix, label=ctx.guard, clock=ctx.clock
            )
        ]

    def start(self) -> None:
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, lambda: self.targets.maybe_reload(force=True)
        )

    def rep_days(self, now_ms: int) -> list[RepDay]:
        """Every rep this worker owns, with their counts in today's local-day window."""
        if self.day_spec is None:
            return []
        engine = self.ctx.engine
        start = window_for(now_ms, self.day_spec, self.settings.business_timezone).start_ms
        days = []
        for _, totals in engine.all_totals(self.ctx.owned()):
            window = engine.window(totals["g"], self.day_spec.name, start)
            counts = {} if window is None else window["c"]
            days.append(RepDay(totals["g"], totals.get("team", ""), counts))
        return days

    async def tick(self) -> None:
        s, now = self.settings, self.ctx.clock.now_ms()
        if now - self._checked_ms >= s.targets_check_interval_seconds * 1000:
            self._checked_ms = now
            self.targets.maybe_reload()
        due = self._published_ms is None
        if due or now - (self._published_ms or 0) >= s.pacing_publish_interval_seconds * 1000:
            self._published_ms = now
            await self._publish(now)

    async def _publish(self, now: int) -> None:
        cal = self.targets.calendar
        topic = self.ctx.outputs["pacing"].topic
        pending = []
        for row in pace(self.targets.current, cal, now, self.rep_days(now)):
            record = pacing_record(row, cal=cal, now_ms=now)
            pending.append(await self.ctx.produce(topic, pacing_key(row, cal, now), record))
        for fut in pending:
            await fut
