"""Grafana dashboards as code: plain dicts, written to deploy/grafana/dashboards.

`python -m stream_app.dashboards` regenerates the checked-in JSON; tests/test_dashboards.py fails
while the files on disk differ from what this module builds.

Rules the queries follow (README, "Dashboards"):
- "Today" is the event-time business day: the window gauges with window="1d", position="current",
  bucketed per fact (dials by started_at, connects by answered_at, talk by ended_at).
- Counts never show "No data": ungrouped queries end in `or vector(0)`, grouped ones rely on the
  worker exporting every known rep (and every dead-letter reason, window size) at 0, and count
  panels set noValue "0".
- Rates are sum(numerator) / sum(denominator), denominator guarded with `> 0`; per-rep rate
  gauges are never averaged (they are not used at all).
- Every panel and every variable name the provisioned data source by uid; no ${DS_...}.

The email board reads the email worker's send-cohort gauges (every message of a campaign ever
seen, by dimension: pin `dimension`, and every message counts once under each dimension) and its
activity window gauges (pin `window` and `position`). Cohort rates are recomputed as sum / sum from
the count gauges; the per-row rate gauges the worker exports are never read. Every email selector
filters `campaign=~"$campaign"`.

The CRM boards (handoffs, outcomes) read the CRM worker. "Today"/"this hour" are its window count
gauges (window="1d"/"1h", position="current"); its per-rep rate gauges (conversion, win rate,
completeness) are never read: rates are recomputed sum / sum from counts, conversion = accepted /
handoffs, win rate = won / (won + lost), completeness = answered / applicable discovery fields.
"All time" reads the all-time counters (exact: they come from the worker's state);
"7 days" and "time range" are increase() of those counters over 7d / $__range, i.e. by processing
time. Discovery statuses are never merged ("asked, declined/unknown" apart from "not asked").
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATASOURCE_UID = "isales-prometheus"
DATASOURCE: dict[str, str] = {"type": "prometheus", "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39
GRID_WIDTH = 24
OUT_DIR = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "dashboards"

TEAM = 'team=~"$team"'
TODAY = f'window="1d",position="current",{TEAM}'
DAY = f'period="day",{TEAM}'
KPIS = (("dials", "Dials"), ("connects", "Connects"), ("talk_minutes", "Talk minutes"))
CAMPAIGN = 'campaign=~"$campaign"'
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""send_weekday values, in week order."""

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    kind: str  # stat | bargauge | barchart | timeseries | table
    title: str
    description: str
    targets: tuple[Target, ...]
    width: int
    height: int
    unit: str = "short"
    no_value: str | None = None
    """'0' on count panels; a word on ratio/time panels where absence means something."""
    decimals: int | None = None
    minimum: float | None = None
    thresholds: tuple[tuple[float | None, str], ...] = ((None, "green"),)
    mappings: tuple[Json, ...] = ()
    overrides: tuple[Json, ...] = ()
    transformations: tuple[Json, ...] = ()
    options: Json = field(default_factory=dict)
    bars: bool = False
    min_interval: str | None = None


def today(metric: str) -> str:
    return f"isales_calls_window_{metric}{{{TODAY}}}"


def pacing(metric: str, kpi: str) -> str:
    return f'isales_pacing_{metric}{{kpi="{kpi}",{DAY}}}'


def total(selector: str, by: str) -> str:
    return f"sum by ({by}) ({selector})"


def guarded(numerator: str, denominator: str) -> str:
    """The denominator filter drops groups where it is 0 instead of showing NaN or +Inf."""
    return f"{numerator} / ({denominator} > 0)"


def ratio(numerator: str, denominator: str, by: str) -> str:
    """sum/sum, guarded."""
    return guarded(total(numerator, by), total(denominator, by))


def cohort(metric: str, dimension: str) -> str:
    return f'isales_email_cohort_{metric}{{{CAMPAIGN},dimension="{dimension}"}}'


def email_activity(metric: str, window: str) -> str:
    return f'isales_email_window_{metric}{{{CAMPAIGN},window="{window}",position="current"}}'


COUNT_NO_VALUE = "0"
PACE_THRESHOLDS: tuple[tuple[float | None, str], ...] = (
    (None, "red"),
    (0.8, "orange"),
    (1.0, "green"),
)


# --- team overview ---------------------------------------------------------------------------


def _team_overview_panels() -> list[Panel]:
    actual = {
        "dials": f"sum({today('dials')})",
        "connects": f"sum({today('connects')})",
        "talk_minutes": f"sum({today('talk_seconds')}) / 60",
    }
    panels = [
        Panel(
            "stat",
            "Business hours",
            "Open while any worker's targets calendar (time zone, weekdays, hours, holidays) says "
            "the business day is running: max(isales_business_open).",
            (Target("max(isales_business_open)", "Business hours", instant=True),),
            3,
            6,
            no_value="unknown",
            thresholds=((None, "text"), (1, "green")),
            mappings=(
                {
                    "type": "value",
                    "options": {
                        "0": {"text": "Closed", "color": "text", "index": 0},
                        "1": {"text": "Open", "color": "green", "index": 1},
                    },
                },
            ),
        ),
        Panel(
            "stat",
            "Business day elapsed",
            "Share of today's business hours already past; expected-by-now is target x this.",
            (
                Target(
                    'max(isales_business_period_elapsed_ratio{period="day"})',
                    "Elapsed",
                    instant=True,
                ),
            ),
            3,
            6,
            unit="percentunit",
            no_value="unknown",
        ),
    ]
    for kpi, label in KPIS:
        panels.append(
            Panel(
                "stat",
                f"{label} today",
                f"{label} of the selected teams in today's event-time business day "
                '(window="1d", position="current"), against the expected-by-now and the day '
                "target from the targets file (reps with targets only).",
                (
                    Target(f"({actual[kpi]}) or vector(0)", "Actual", instant=True),
                    Target(
                        f"sum({pacing('expected', kpi)}) or vector(0)",
                        "Expected by now",
                        instant=True,
                    ),
                    Target(f"sum({pacing('target', kpi)}) or vector(0)", "Target", instant=True),
                ),
                6,
                6,
                no_value=COUNT_NO_VALUE,
                decimals=0,
                options={"textMode": "value_and_name"},
            )
        )
    panels += [
        Panel(
            "bargauge",
            "Team pace today",
            "sum(actual) / sum(expected-by-now) per team and KPI (1 = on pace). Missing before "
            "the business day starts, while nothing is expected yet.",
            tuple(
                Target(
                    ratio(pacing("actual", kpi), pacing("expected", kpi), "team"),
                    f"{{{{team}}}} {label.lower()}",
                    instant=True,
                )
                for kpi, label in KPIS
            ),
            12,
            8,
            unit="percentunit",
            no_value="nothing expected yet",
            thresholds=PACE_THRESHOLDS,
            minimum=0,
        ),
        Panel(
            "bargauge",
            "Connect rate by team",
            "sum(connects) / sum(dials) per team in the current event-time hour and business "
            "day; never an average of per-rep rates. Connects are bucketed by answer time, dials "
            "by start time.",
            tuple(
                Target(
                    ratio(
                        f'isales_calls_window_connects{{window="{w}",position="current",{TEAM}}}',
                        f'isales_calls_window_dials{{window="{w}",position="current",{TEAM}}}',
                        "team",
                    ),
                    f"{{{{team}}}} {name}",
                    instant=True,
                )
                for w, name in (("1h", "this hour"), ("1d", "today"))
            ),
            12,
            8,
            unit="percentunit",
            no_value="no dials yet",
            thresholds=((None, "blue"),),
        ),
        _rep_table(),
        Panel(
            "timeseries",
            "Dials per team",
            "Dials per graph interval (increase of the all-time counter, late events included).",
            (
                Target(
                    f"sum by (team) (increase(isales_calls_dials_total{{{TEAM}}}[$__interval]))",
                    "{{team}}",
                ),
            ),
            12,
            8,
            no_value=COUNT_NO_VALUE,
            bars=True,
            min_interval="1m",
        ),
        Panel(
            "bargauge",
            "Short calls and machine answers today",
            "Gaming signals: connects with talk under the short-call threshold, and dials answered "
            "by voicemail, per team today.",
            (
                Target(f"sum by (team) ({today('short_calls')})", "{{team}} short", instant=True),
                Target(
                    f"sum by (team) ({today('machine_answers')})",
                    "{{team}} machine",
                    instant=True,
                ),
            ),
            6,
            8,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "orange"),),
        ),
        Panel(
            "timeseries",
            "Short calls and machine answers per team",
            "Per graph interval, from the all-time counters.",
            (
                Target(
                    "sum by (team) "
                    f"(increase(isales_calls_short_calls_total{{{TEAM}}}[$__interval]))",
                    "{{team}} short",
                ),
                Target(
                    "sum by (team) "
                    f"(increase(isales_calls_machine_answers_total{{{TEAM}}}[$__interval]))",
                    "{{team}} machine",
                ),
            ),
            6,
            8,
            no_value=COUNT_NO_VALUE,
            min_interval="1m",
        ),
    ]
    return panels


def _rep_table() -> Panel:
    by = "rep, team"
    columns: list[tuple[str, str]] = [
        ("Dials", f"sum by ({by}) ({today('dials')})"),
        ("Connects", f"sum by ({by}) ({today('connects')})"),
        ("Connect rate", ratio(today("connects"), today("dials"), by)),
        ("Talk minutes", f"sum by ({by}) ({today('talk_seconds')}) / 60"),
        ("Short calls", f"sum by ({by}) ({today('short_calls')})"),
        ("Machine answers", f"sum by ({by}) ({today('machine_answers')})"),
    ]
    columns += [
        (f"Pace {label.lower()}", ratio(pacing("actual", kpi), pacing("expected", kpi), by))
        for kpi, label in KPIS
    ]
    overrides = _rate_overrides(["Connect rate", *(f"Pace {label.lower()}" for _, label in KPIS)])
    overrides += [
        {
            "matcher": {"id": "byName", "options": f"Pace {label.lower()}"},
            "properties": [
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                {"id": "thresholds", "value": _thresholds(PACE_THRESHOLDS)},
            ],
        }
        for _, label in KPIS
    ]
    overrides.append(
        {
            "matcher": {"id": "byName", "options": "Talk minutes"},
            "properties": [{"id": "decimals", "value": 1}],
        }
    )
    return _table(
        "Reps today",
        "Per rep in today's event-time business day. Connect rate = connects / dials of the rep; "
        "pace = actual / expected-by-now ('-' before anything is expected or without a target).",
        {"rep": "Rep", "team": "Team"},
        columns,
        height=10,
        overrides=overrides,
        sort_by="Dials",
    )


def _rate_overrides(names: list[str], decimals: int = 0) -> list[Json]:
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [
                {"id": "unit", "value": "percentunit"},
                {"id": "decimals", "value": decimals},
                {"id": "noValue", "value": "-"},
            ],
        }
        for name in names
    ]


def _organize(keys: dict[str, str], columns: list[str]) -> Json:
    """Instant table queries merged on their labels: key labels first, then one column per
    query (`Value #<refId>`), named."""
    refs = [chr(ord("A") + i) for i in range(len(columns))]
    return {
        "id": "organize",
        "options": {
            "excludeByName": {"Time": True},
            "indexByName": {label: i for i, label in enumerate(keys)}
            | {f"Value #{ref}": i + len(keys) for i, ref in enumerate(refs)},
            "renameByName": keys
            | {f"Value #{ref}": name for ref, name in zip(refs, columns, strict=True)},
        },
    }


def _table(
    title: str,
    description: str,
    keys: dict[str, str],
    columns: list[tuple[str, str]],
    *,
    height: int,
    overrides: list[Json],
    sort_by: str,
    width: int = GRID_WIDTH,
    no_value: str = COUNT_NO_VALUE,
) -> Panel:
    """One row per combination of the `keys` labels (label -> column title), one column per
    (title, expr); every expr must aggregate `by` exactly the key labels."""
    return Panel(
        "table",
        title,
        description,
        tuple(Target(expr, name, instant=True, table=True) for name, expr in columns),
        width,
        height,
        no_value=no_value,
        decimals=0,
        overrides=tuple(overrides),
        transformations=(
            {"id": "merge", "options": {}},
            _organize(keys, [name for name, _ in columns]),
        ),
        options={"sortBy": [{"displayName": sort_by, "desc": True}]},
    )


# --- pipeline health -------------------------------------------------------------------------


def _rate(metric: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}[$__rate_interval]))"


def _pipeline_panels() -> list[Panel]:
    def last_hour(metric: str) -> str:
        return f"sum(increase({metric}[1h])) or vector(0)"

    stat = {"graphMode": "area"}
    return [
        Panel(
            "stat",
            "Workers up",
            'Scrape targets of job "isales-kpi" answering.',
            (Target('sum(up{job="isales-kpi"}) or vector(0)', "up", instant=True),),
            4,
            4,
            no_value=COUNT_NO_VALUE,
            thresholds=((None, "red"), (1, "green")),
        ),
        Panel(
            "stat",
            "Events applied",
            "Events merged into state per second, all workers.",
            (Target("sum(rate(isales_events_applied_total[$__rate_interval])) or vector(0)"),),
            4,
            4,
            unit="ops",
            no_value=COUNT_NO_VALUE,
            options=stat,
        ),
        Panel(
            "stat",
            "Consumer lag",
            "Records not yet processed, all partitions.",
            (Target("sum(isales_consumer_lag_messages) or vector(0)"),),
            4,
            4,
            no_value=COUNT_NO_VALUE,
            thresholds=((None, "green"), (10_000, "orange")),
            options=stat,
        ),
        Panel(
            "stat",
            "Event-time delay (max)",
            "Wall clock minus the slowest partition's watermark. Also grows while a partition "
            "receives no events.",
            (Target("max(isales_event_time_delay_seconds)"),),
            4,
            4,
            unit="s",
            no_value="no partitions",
            thresholds=((None, "green"), (60, "orange"), (300, "red")),
            options=stat,
        ),
        Panel(
            "stat",
            "Dead-lettered (1h)",
            "Records sent to the dead-letter topic in the last hour.",
            (Target(last_hour("isales_dead_letter_events_total"), instant=True),),
            4,
            4,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "green"), (1, "orange")),
        ),
        Panel(
            "stat",
            "Rebalances (1h)",
            "Consumer group rebalances in the last hour; every one pauses all partitions.",
            (Target(last_hour("isales_rebalances_total"), instant=True),),
            4,
            4,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "green"), (3, "orange")),
        ),
        Panel(
            "timeseries",
            "Throughput",
            "Events merged into state per second, by source topic.",
            (Target(_rate("isales_events_applied_total", "source"), "{{source}}"),),
            12,
            8,
            unit="ops",
            no_value=COUNT_NO_VALUE,
        ),
        Panel(
            "timeseries",
            "Consumer lag by partition",
            "End offset minus next offset to process. Each worker exports only its partitions.",
            (
                Target(
                    "sum by (topic, partition) (isales_consumer_lag_messages)",
                    "{{topic}}/{{partition}}",
                ),
            ),
            12,
            8,
            no_value=COUNT_NO_VALUE,
        ),
        Panel(
            "timeseries",
            "Event-time delay by partition",
            "Wall clock minus the partition watermark (newest event time processed).",
            (
                Target(
                    "max by (topic, partition) (isales_event_time_delay_seconds)",
                    "{{topic}}/{{partition}}",
                ),
            ),
            12,
            8,
            unit="s",
            no_value="no partitions",
        ),
        Panel(
            "timeseries",
            "Dead-lettered events by reason",
            "Records per second sent to the dead-letter topic, by reason class.",
            (Target(_rate("isales_dead_letter_events_total", "reason"), "{{reason}}"),),
            12,
            8,
            unit="ops",
            no_value=COUNT_NO_VALUE,
        ),
        Panel(
            "timeseries",
            "Late events and late window updates",
            "Events beyond grace (sent to the late topic) and refused window updates by window "
            "size, per second.",
            (
                Target(_rate("isales_late_events_total", "source"), "late events {{source}}"),
                Target(
                    _rate("isales_late_window_updates_total", "window"),
                    "late updates {{window}}",
                ),
            ),
            12,
            8,
            unit="ops",
            no_value=COUNT_NO_VALUE,
        ),
        Panel(
            "timeseries",
            "Duplicate events",
            "Events ignored as already applied (same event_id), per second.",
            (Target(_rate("isales_duplicate_events_total", "source"), "{{source}}"),),
            12,
            8,
            unit="ops",
            no_value=COUNT_NO_VALUE,
        ),
        Panel(
            "timeseries",
            "Offset rewinds and holes",
            "Seeks back over records the fetcher skipped, and gaps accepted as real holes, per "
            "graph interval.",
            (
                Target(
                    "sum(increase(isales_offset_rewinds_total[$__interval])) or vector(0)",
                    "rewinds",
                ),
                Target(
                    "sum(increase(isales_offset_holes_total[$__interval])) or vector(0)",
                    "holes",
                ),
            ),
            8,
            8,
            no_value=COUNT_NO_VALUE,
            bars=True,
            min_interval="1m",
        ),
        Panel(
            "timeseries",
            "Rebalances",
            "Consumer group rebalances per graph interval.",
            (
                Target(
                    "sum(increase(isales_rebalances_total[$__interval])) or vector(0)",
                    "rebalances",
                ),
            ),
            8,
            8,
            no_value=COUNT_NO_VALUE,
            bars=True,
            min_interval="1m",
        ),
        Panel(
            "bargauge",
            "Label overflow",
            "Distinct label values folded into 'other' since each worker started; above 0, "
            "raise the label's cap (ISALES_LABEL_CAP_*).",
            (
                Target(
                    "sum by (label) (isales_label_overflow_total)",
                    "{{label}}",
                    instant=True,
                ),
            ),
            8,
            8,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "green"), (1, "red")),
        ),
        Panel(
            "timeseries",
            "Targets reloads",
            "Reloads of the targets file per graph interval, by result; an error keeps the "
            "previous targets.",
            (
                Target(
                    "sum by (result) (increase(isales_targets_reloads_total[$__interval]))",
                    "{{result}}",
                ),
            ),
            16,
            6,
            no_value=COUNT_NO_VALUE,
            bars=True,
            min_interval="1m",
            overrides=(
                {
                    "matcher": {"id": "byName", "options": "error"},
                    "properties": [
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}
                    ],
                },
            ),
        ),
        Panel(
            "stat",
            "Targets loaded",
            "When the newest worker last loaded the targets file successfully.",
            (
                # 0 means "never loaded": filtered out so the panel says so.
                Target("max(isales_targets_loaded_timestamp_seconds > 0) * 1000", instant=True),
            ),
            8,
            6,
            unit="dateTimeFromNow",
            no_value="never",
        ),
    ]


# --- email A/B ---------------------------------------------------------------------------------

VARIANT = "variant"
"""The cohort dimension whose `value` is the A/B variant."""
EMAIL_COUNTS = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("human_opens", "Human opens"),
    ("machine_opens", "Machine opens"),
    ("machine_only", "Machine-only"),
    ("clicks", "Clicks"),
)
EMAIL_RATES = (
    ("open_rate", "Open rate"),
    ("adjusted_open_rate", "Adjusted open rate"),
    ("click_rate", "Click rate"),
    ("click_to_open_rate", "Click-to-open"),
    ("bounce_rate", "Bounce rate"),
)
ACTIVITY_COUNTS = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("human_opens", "Human opens"),
    ("machine_opens", "Machine opens"),
    ("clicks", "Clicks"),
    ("bounced_hard", "Hard bounces"),
    ("bounced_soft", "Soft bounces"),
    ("deferred", "Deferred"),
    ("dropped", "Dropped"),
    ("unsubscribes", "Unsubscribes"),
    ("spam_reports", "Spam reports"),
)
"""The activity window gauges; machine_only is cohort-only (a later human open withdraws it)."""
AB_KPIS = (("open_rate", "open rate"), ("click_rate", "click rate"))


def cohort_rates(
    dimension: str, by: str, relabel: Callable[[str], str] | None = None
) -> dict[str, str]:
    """The worker's cohort rate formulas as sum / sum over the count gauges, grouped `by`.
    `relabel` wraps every sum alike (numerator and denominator still match)."""

    def s(metric: str) -> str:
        summed = total(cohort(metric, dimension), by)
        return summed if relabel is None else relabel(summed)

    return {
        "open_rate": guarded(s("human_opens"), s("delivered")),
        "adjusted_open_rate": guarded(
            s("human_opens"), f"({s('delivered')} - {s('machine_only')})"
        ),
        "click_rate": guarded(s("clicks"), s("delivered")),
        "click_to_open_rate": guarded(s("clicks"), s("human_opens")),
        "bounce_rate": guarded(f"({s('bounced_hard')} + {s('bounced_soft')})", s("sent")),
    }


def in_week_order(expr: str) -> str:
    """Relabel send_weekday values "mon".."sun" as "1 Mon".."7 Sun" so they sort in week order."""
    for i, day in enumerate(WEEKDAYS, 1):
        expr = f'label_replace({expr}, "value", "{i} {day.title()}", "value", "{day}")'
    return expr


def _email_panels() -> list[Panel]:
    by = "campaign, value"
    rates = cohort_rates(VARIANT, by)
    variants = _table(
        "Campaigns by variant",
        "Send cohort of each campaign and variant: every message ever seen for it, whenever its "
        "events happened. Open rate = human opens / delivered; adjusted open rate leaves out "
        "messages opened only by machines or privacy proxies (human opens / (delivered - "
        "machine-only)); click rate = clicks / delivered; click-to-open = clicks / human opens; "
        "bounce rate = (hard + soft bounces) / sent. Counts are unique messages; rates are "
        "sum / sum, '-' while the denominator is 0.",
        {"campaign": "Campaign", "value": "Variant"},
        [(name, total(cohort(metric, VARIANT), by)) for metric, name in EMAIL_COUNTS]
        + [(name, rates[key]) for key, name in EMAIL_RATES],
        height=8,
        overrides=_rate_overrides([name for _, name in EMAIL_RATES], decimals=1),
        sort_by="Delivered",
    )
    return [
        variants,
        _ab_table(),
        Panel(
            "bargauge",
            "Human vs machine opens by variant",
            "Send cohort: messages opened by a person at least once (a click implies one), "
            "messages opened by a machine or privacy proxy at least once, and messages with "
            "machine opens only (left out of the adjusted open rate).",
            tuple(
                Target(
                    total(cohort(metric, VARIANT), by),
                    f"{{{{campaign}}}} {{{{value}}}} {name}",
                    instant=True,
                )
                for metric, name in (
                    ("human_opens", "human"),
                    ("machine_opens", "machine"),
                    ("machine_only", "machine only"),
                )
            ),
            10,
            8,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "blue"),),
        ),
        _breakdown("segment", "Segment", 12),
        _breakdown("team", "Team", 12, note=" 'none' = no owner team."),
        _breakdown("send_weekday", "Send weekday", 8, order=in_week_order),
        _breakdown("send_hour", "Send hour", 16),
        *(_activity_table(window, name) for window, name in (("1h", "this hour"), ("1d", "today"))),
    ]


def _ab_table() -> Panel:
    by = "campaign, kpi, variant"
    # Each campaign lives on one worker; max by all labels only drops instance/job (and a
    # duplicate while a partition moves between workers). Statistics are never combined.
    columns = [
        ("z", f"max by ({by}) (isales_email_ab_z_score{{{CAMPAIGN}}})"),
        ("p-value", f"max by ({by}) (isales_email_ab_p_value{{{CAMPAIGN}}})"),
        ("Leader", f"max by ({by}) (isales_email_ab_leader{{{CAMPAIGN}}})"),
    ]
    overrides: list[Json] = [
        {
            "matcher": {"id": "byName", "options": "z"},
            "properties": [{"id": "decimals", "value": 2}, {"id": "noValue", "value": "-"}],
        },
        {
            "matcher": {"id": "byName", "options": "p-value"},
            "properties": [{"id": "decimals", "value": 4}, {"id": "noValue", "value": "-"}],
        },
        {
            "matcher": {"id": "byName", "options": "Leader"},
            "properties": [
                {
                    "id": "mappings",
                    "value": [
                        {
                            "type": "value",
                            "options": {
                                "0": {"text": "-", "index": 0},
                                "1": {"text": "Leader", "color": "green", "index": 1},
                            },
                        }
                    ],
                },
                {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            ],
        },
    ]
    return _table(
        "A/B test",
        "Per campaign, KPI (open rate, click rate) and variant: two-proportion z-test against "
        "the campaign's best other variant, and the leader (the best variant when it beats the "
        "runner-up at p < ISALES_AB_ALPHA with at least ISALES_AB_MIN_DELIVERED deliveries on "
        "both sides). The p-value is not corrected for repeated looks: watching it until it "
        "dips below alpha overstates significance; decide the sample size up front.",
        {"campaign": "Campaign", "kpi": "KPI", "variant": "Variant"},
        columns,
        height=8,
        overrides=overrides,
        sort_by="Leader",
        width=14,
        no_value="-",
    )


def _breakdown(
    dimension: str,
    name: str,
    width: int,
    *,
    note: str = "",
    order: Callable[[str], str] | None = None,
) -> Panel:
    """Open and click rate per value of a cohort dimension, bars sorted by value (`order`
    relabels values whose names do not sort)."""
    rates = cohort_rates(dimension, "value", order)
    return _bar_chart(
        f"Open and click rate by {name.lower()}",
        f"Send cohort of the selected campaigns by the message's {name.lower()}: "
        "sum(human opens) / sum(delivered) and sum(clicks) / sum(delivered) over the campaigns, "
        "never an average of per-campaign rates. Every message counts once under each "
        f"dimension.{note}",
        ("value", name),
        [("Open rate", rates["open_rate"]), ("Click rate", rates["click_rate"])],
        width,
        unit="percentunit",
        no_value="no deliveries yet",
        decimals=1,
    )


def _bar_chart(
    title: str,
    description: str,
    key: tuple[str, str],
    columns: list[tuple[str, str]],
    width: int,
    *,
    unit: str = "short",
    no_value: str = COUNT_NO_VALUE,
    decimals: int = 0,
    stacked: bool = False,
    overrides: tuple[Json, ...] = (),
) -> Panel:
    """One bar group per value of the `key` label (label, axis title), sorted by it; one bar
    (or stack segment) per (title, expr); every expr must aggregate `by` exactly the key."""
    label, name = key
    options: Json = {"xField": name}
    if stacked:
        options["stacking"] = "normal"
    return Panel(
        "barchart",
        title,
        description,
        tuple(Target(expr, col, instant=True, table=True) for col, expr in columns),
        width,
        8,
        unit=unit,
        no_value=no_value,
        decimals=decimals,
        minimum=0,
        overrides=overrides,
        transformations=(
            {"id": "merge", "options": {}},
            {"id": "sortBy", "options": {"fields": {}, "sort": [{"field": label}]}},
            _organize({label: name}, [col for col, _ in columns]),
        ),
        options=options,
    )


def _activity_table(window: str, name: str) -> Panel:
    by = "campaign, variant"
    return _table(
        f"Activity {name}",
        f"Messages per campaign and variant whose first event of each kind happened {name} "
        f'(event-time window="{window}", position="current", in the business time zone): '
        "activity, not the send cohort, so a message sent yesterday and opened today counts "
        "here as an open only. Machine-only is cohort-only.",
        {"campaign": "Campaign", "variant": "Variant"},
        [(col, total(email_activity(metric, window), by)) for metric, col in ACTIVITY_COUNTS],
        height=7,
        overrides=[],
        sort_by="Sent",
    )


# --- CRM: handoffs and outcomes --------------------------------------------------------------

DISCOVERY_STATUSES = (
    ("answered", "Answered", "green"),
    ("asked_declined", "Asked, declined", "orange"),
    ("asked_unknown", "Asked, unknown", "yellow"),
    ("not_asked", "Not asked", "red"),
    ("not_applicable", "Not applicable", "text"),
)
"""isales_crm_discovery_fields_total `status` values: never merged, least of all the two kinds
of "asked, unanswered" with "not asked" (a coaching signal each, and different ones)."""
WEEK = "7d"
CRM_TEAMS = "label_values(isales_crm_window_handoffs, team)"
TTC_QUANTILES = ((0.5, "p50"), (0.9, "p90"))


def crm_window(metric: str, window: str = "1d") -> str:
    return f'isales_crm_window_{metric}{{window="{window}",position="current",{TEAM}}}'


def crm_total(metric: str, matchers: str = "") -> str:
    """An all-time counter of the CRM worker (exact: read from its state at scrape time)."""
    extra = f"{matchers}," if matchers else ""
    return f"isales_crm_{metric}_total{{{extra}{TEAM}}}"


def increase(selector: str, over: str) -> str:
    return f"increase({selector}[{over}])"


def discovery(status: str) -> str:
    return crm_total("discovery_fields", f'status="{status}"')


def win_rate(won: str, lost: str, by: str) -> str:
    """won / (won + lost), sum/sum, guarded."""
    return guarded(total(won, by), f"({total(won, by)} + {total(lost, by)})")


def ttc_quantile(q: float) -> str:
    """Over the all-time buckets, summed per team; teams without a decided deal are dropped
    (histogram_quantile would give NaN)."""
    buckets = total(f"isales_crm_handoff_to_close_seconds_bucket{{{TEAM}}}", "team, le")
    decided = total(f"isales_crm_handoff_to_close_seconds_count{{{TEAM}}}", "team")
    return f"histogram_quantile({q}, {buckets} and on (team) ({decided} > 0))"


def _handoffs_panels() -> list[Panel]:
    by = "team"
    status_colors = tuple(
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for _, name, color in DISCOVERY_STATUSES
    )
    return [
        Panel(
            "bargauge",
            "Handoffs today and this hour",
            "Leads handed to field sales (opportunities created) per team in the current "
            'event-time business day and hour (window="1d" / "1h", position="current"), by '
            "handoff time.",
            tuple(
                Target(total(crm_window("handoffs", w), by), f"{{{{team}}}} {name}", instant=True)
                for w, name in (("1d", "today"), ("1h", "this hour"))
            ),
            8,
            8,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "blue"),),
        ),
        Panel(
            "bargauge",
            "Accepted and rejected today",
            "Field sales decisions per team today, bucketed by decision time (a handoff made "
            "yesterday and accepted today counts here today).",
            (
                Target(total(crm_window("accepted"), by), "{{team}} accepted", instant=True),
                Target(total(crm_window("rejected"), by), "{{team}} rejected", instant=True),
            ),
            8,
            8,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "blue"),),
        ),
        Panel(
            "bargauge",
            "Handoff conversion by team",
            "sum(accepted) / sum(handoffs) per team, never an average of per-rep rates. Today: "
            "decisions by decision time over handoffs by handoff time (can exceed 100% on a day "
            "with few new handoffs). All time: from the all-time counters; undecided handoffs "
            "count in the denominator.",
            (
                Target(
                    ratio(crm_window("accepted"), crm_window("handoffs"), by),
                    "{{team}} today",
                    instant=True,
                ),
                Target(
                    ratio(crm_total("accepted"), crm_total("handoffs"), by),
                    "{{team}} all time",
                    instant=True,
                ),
            ),
            8,
            8,
            unit="percentunit",
            no_value="no handoffs yet",
            thresholds=((None, "blue"),),
            minimum=0,
        ),
        _crm_handoffs_rep_table(),
        _bar_chart(
            "Discovery fields by status (time range)",
            "Discovery fields on the handoffs processed in the dashboard's time range "
            "(increase of the all-time counters), stacked by status per field. 'Asked, "
            "declined' (the lead would not say), 'asked, unknown' (the lead did not know) and "
            "'not asked' are kept apart: only 'not asked' is the rep's gap.",
            ("field", "Field"),
            [
                (name, total(increase(discovery(status), "$__range"), "field"))
                for status, name, _ in DISCOVERY_STATUSES
            ],
            16,
            stacked=True,
            overrides=status_colors,
        ),
        Panel(
            "bargauge",
            "Discovery completeness by team (all time)",
            "Completeness = answered fields / applicable fields (all fields minus not "
            "applicable), sum/sum per team. Complete handoffs = handoffs with every required "
            "field (ISALES_CRM_REQUIRED_FIELDS) answered or not applicable, over all handoffs.",
            (
                Target(
                    ratio(
                        crm_total("discovery_answered_fields"),
                        crm_total("discovery_applicable_fields"),
                        by,
                    ),
                    "{{team}} completeness",
                    instant=True,
                ),
                Target(
                    ratio(crm_total("complete_handoffs"), crm_total("handoffs"), by),
                    "{{team}} complete handoffs",
                    instant=True,
                ),
            ),
            8,
            8,
            unit="percentunit",
            no_value="no handoffs yet",
            thresholds=PACE_THRESHOLDS,
            minimum=0,
        ),
        _crm_discovery_rep_table(),
        _bar_chart(
            "Handoffs by segment (time range)",
            "Handoffs, accepted and rejected processed in the dashboard's time range (increase "
            "of the all-time counters) per segment (the handoff's ISALES_CRM_SEGMENT_BY "
            "attributes, e.g. saas:smb).",
            ("segment", "Segment"),
            [
                (name, total(increase(crm_total(metric), "$__range"), "segment"))
                for metric, name in (
                    ("handoffs", "Handoffs"),
                    ("accepted", "Accepted"),
                    ("rejected", "Rejected"),
                )
            ],
            10,
        ),
    ]


def _crm_handoffs_rep_table() -> Panel:
    by = "rep, team"
    return _table(
        "Reps today: handoffs",
        "Per rep in today's event-time business day: handoffs by handoff time, decisions by "
        "decision time; conversion = accepted / handoffs of the rep ('-' without handoffs).",
        {"rep": "Rep", "team": "Team"},
        [
            ("Handoffs", total(crm_window("handoffs"), by)),
            ("Accepted", total(crm_window("accepted"), by)),
            ("Rejected", total(crm_window("rejected"), by)),
            ("Conversion", ratio(crm_window("accepted"), crm_window("handoffs"), by)),
        ],
        height=9,
        overrides=_rate_overrides(["Conversion"]),
        sort_by="Handoffs",
    )


def _crm_discovery_rep_table() -> Panel:
    by = "rep, team"
    statuses = {status: name for status, name, _ in DISCOVERY_STATUSES}
    return _table(
        "Reps: discovery quality (all time)",
        "Per rep, from the all-time counters: completeness = answered / applicable fields; "
        "complete share = complete handoffs / handoffs; fields asked but declined, asked but "
        "unknown, and not asked (summed over fields), each on its own.",
        {"rep": "Rep", "team": "Team"},
        [
            ("Handoffs", total(crm_total("handoffs"), by)),
            ("Complete share", ratio(crm_total("complete_handoffs"), crm_total("handoffs"), by)),
            (
                "Completeness",
                ratio(
                    crm_total("discovery_answered_fields"),
                    crm_total("discovery_applicable_fields"),
                    by,
                ),
            ),
            *(
                (statuses[status], total(discovery(status), by))
                for status in ("asked_declined", "asked_unknown", "not_asked")
            ),
        ],
        height=8,
        overrides=_rate_overrides(["Complete share", "Completeness"]),
        sort_by="Handoffs",
        width=14,
    )


def _outcomes_panels() -> list[Panel]:
    by = "team"

    def week(metric: str) -> str:
        return increase(crm_total(metric), WEEK)

    return [
        Panel(
            "bargauge",
            "Won and lost today",
            "Deals closed per team in today's event-time business day (by close time), "
            "credited to the inside-sales rep who handed them over.",
            (
                Target(total(crm_window("won"), by), "{{team}} won", instant=True),
                Target(total(crm_window("lost"), by), "{{team}} lost", instant=True),
            ),
            6,
            8,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "blue"),),
        ),
        Panel(
            "bargauge",
            "Won and lost, last 7 days",
            "Deals closed per team and processed in the last 7 days: increase of the all-time "
            "counters over 7d (processing time, not close time).",
            (
                Target(total(week("won"), by), "{{team}} won", instant=True),
                Target(total(week("lost"), by), "{{team}} lost", instant=True),
            ),
            6,
            8,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "blue"),),
        ),
        Panel(
            "bargauge",
            "Win rate by team",
            "won / (won + lost) per team, sum/sum (never an average of per-rep rates): today "
            "(event-time window), last 7 days (increase over 7d) and all time. Missing while "
            "nothing was decided.",
            (
                Target(
                    win_rate(crm_window("won"), crm_window("lost"), by),
                    "{{team}} today",
                    instant=True,
                ),
                Target(win_rate(week("won"), week("lost"), by), "{{team}} 7 days", instant=True),
                Target(
                    win_rate(crm_total("won"), crm_total("lost"), by),
                    "{{team}} all time",
                    instant=True,
                ),
            ),
            6,
            8,
            unit="percentunit",
            no_value="no decided deals",
            thresholds=((None, "blue"),),
            minimum=0,
        ),
        Panel(
            "stat",
            "Unattributed outcomes",
            "Won and lost deals whose handoff has not been seen (held until it arrives, then "
            "credited to its rep). All teams: they have no rep yet.",
            tuple(
                Target(
                    f'sum(isales_crm_unattributed_outcomes{{outcome="{outcome}"}}) or vector(0)',
                    outcome,
                    instant=True,
                )
                for outcome in ("won", "lost")
            ),
            3,
            8,
            no_value=COUNT_NO_VALUE,
            decimals=0,
            thresholds=((None, "green"), (1, "orange")),
            options={"textMode": "value_and_name"},
        ),
        Panel(
            "stat",
            "Unattributed won amount",
            "Won amount (currency units) of deals whose handoff has not been seen, per currency.",
            (
                # `on ()`: the 0 only when no currency has a series (a plain `or vector(0)`
                # adds an unlabelled 0 beside grouped results).
                Target(
                    "sum by (currency) (isales_crm_unattributed_won_amount) or on () vector(0)",
                    "{{currency}}",
                    instant=True,
                ),
            ),
            3,
            8,
            no_value=COUNT_NO_VALUE,
            thresholds=((None, "text"),),
            options={"textMode": "value_and_name"},
        ),
        _crm_outcomes_rep_table(),
        _crm_amount_rep_table(),
        Panel(
            "bargauge",
            "Won amount by team and currency",
            "Won amount (currency units, never converted or added across currencies) per team: "
            "last 7 days (increase over 7d, processing time) and all time.",
            (
                Target(
                    total(week("won_amount"), "team, currency"),
                    "{{team}} {{currency}} 7 days",
                    instant=True,
                ),
                Target(
                    total(crm_total("won_amount"), "team, currency"),
                    "{{team}} {{currency}} all time",
                    instant=True,
                ),
            ),
            8,
            8,
            no_value=COUNT_NO_VALUE,
            thresholds=((None, "green"),),
        ),
        Panel(
            "bargauge",
            "Time from handoff to close",
            "Median and 90th percentile of handoff-to-close time of decided deals (won or lost) "
            "per team, from the all-time histogram buckets summed per team (1, 3, 7, 14, 30, 60, "
            "90 days; interpolated within a bucket, capped at 90 days).",
            tuple(
                Target(ttc_quantile(q), f"{{{{team}}}} {name}", instant=True)
                for q, name in TTC_QUANTILES
            ),
            8,
            8,
            unit="s",
            no_value="no decided deals",
            decimals=1,
            thresholds=((None, "blue"),),
            minimum=0,
        ),
        _bar_chart(
            "Win rate by segment (all time)",
            "won / (won + lost) per segment of the handoff (ISALES_CRM_SEGMENT_BY, e.g. "
            "saas:smb), sum/sum over the selected teams' all-time counters.",
            ("segment", "Segment"),
            [("Win rate", win_rate(crm_total("won"), crm_total("lost"), "segment"))],
            8,
            unit="percentunit",
            no_value="no decided deals",
            decimals=1,
        ),
    ]


def _crm_outcomes_rep_table() -> Panel:
    by = "rep, team"
    return _table(
        "Reps: outcomes",
        "Per rep (the inside-sales rep who handed the deal over): won, lost and win rate = "
        "won / (won + lost) today (event-time business day, by close time) and all time ('-' "
        "while nothing was decided).",
        {"rep": "Rep", "team": "Team"},
        [
            ("Won today", total(crm_window("won"), by)),
            ("Lost today", total(crm_window("lost"), by)),
            ("Win rate today", win_rate(crm_window("won"), crm_window("lost"), by)),
            ("Won", total(crm_total("won"), by)),
            ("Lost", total(crm_total("lost"), by)),
            ("Win rate", win_rate(crm_total("won"), crm_total("lost"), by)),
        ],
        height=10,
        overrides=_rate_overrides(["Win rate today", "Win rate"]),
        sort_by="Won",
        width=14,
    )


def _crm_amount_rep_table() -> Panel:
    by = "rep, team, currency"
    amount = crm_total("won_amount")
    return _table(
        "Reps: won amount",
        "Won amount per rep and currency (currency units): last 7 days (increase over 7d, "
        "processing time) and all time.",
        {"rep": "Rep", "team": "Team", "currency": "Currency"},
        [("7 days", total(increase(amount, WEEK), by)), ("All time", total(amount, by))],
        height=10,
        overrides=[
            {
                "matcher": {"id": "byName", "options": name},
                "properties": [{"id": "decimals", "value": 2}],
            }
            for name in ("7 days", "All time")
        ],
        sort_by="All time",
        width=10,
    )


# --- JSON ------------------------------------------------------------------------------------


def _thresholds(steps: tuple[tuple[float | None, str], ...]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def _target_json(target: Target, ref: str) -> Json:
    out: Json = {
        "datasource": dict(DATASOURCE),
        "editorMode": "code",
        "expr": target.expr,
        "instant": target.instant,
        "legendFormat": target.legend or "__auto",
        "range": not target.instant,
        "refId": ref,
    }
    if target.table:
        out["format"] = "table"
    return out


def _options(panel: Panel) -> Json:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    base: Json
    if panel.kind == "stat":
        base = {
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": reduce,
            "textMode": "auto",
        }
    elif panel.kind == "bargauge":
        base = {
            "displayMode": "gradient",
            "orientation": "horizontal",
            "reduceOptions": reduce,
            "showUnfilled": True,
            "valueMode": "color",
        }
    elif panel.kind == "barchart":
        base = {
            "barWidth": 0.9,
            "groupWidth": 0.7,
            "legend": {
                "calcs": [],
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
            },
            "orientation": "auto",
            "showValue": "auto",
            "stacking": "none",
            "tooltip": {"mode": "multi", "sort": "none"},
            "xTickLabelRotation": 0,
            "xTickLabelSpacing": 0,
        }
    elif panel.kind == "timeseries":
        base = {
            "legend": {
                "calcs": ["lastNotNull", "max"],
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind == "table":
        base = {"cellHeight": "sm", "showHeader": True}
    else:
        raise ValueError(f"unknown panel kind {panel.kind!r}")
    return base | panel.options


def _field_defaults(panel: Panel) -> Json:
    defaults: Json = {
        "color": {
            "mode": "palette-classic" if panel.kind in ("timeseries", "barchart") else "thresholds"
        },
        "mappings": list(panel.mappings),
        "thresholds": _thresholds(panel.thresholds),
        "unit": panel.unit,
    }
    if panel.no_value is not None:
        defaults["noValue"] = panel.no_value
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.kind == "timeseries":
        defaults["min"] = 0
        defaults["custom"] = {
            "drawStyle": "bars" if panel.bars else "line",
            "fillOpacity": 60 if panel.bars else 10,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": "normal" if panel.bars else "none"},
        }
    elif panel.kind == "barchart":
        defaults["custom"] = {"axisSoftMin": 0, "fillOpacity": 80, "gradientMode": "none"}
    elif panel.kind == "table":
        defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
    return defaults


def _layout(panels: list[Panel]) -> list[tuple[Panel, Json]]:
    """Left to right, wrapping at the grid width."""
    placed: list[tuple[Panel, Json]] = []
    x = y = row_height = 0
    for panel in panels:
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        placed.append((panel, {"h": panel.height, "w": panel.width, "x": x, "y": y}))
        x += panel.width
        row_height = max(row_height, panel.height)
    return placed


def _panel_json(panel: Panel, panel_id: int, grid: Json) -> Json:
    out: Json = {
        "datasource": dict(DATASOURCE),
        "description": panel.description,
        "fieldConfig": {"defaults": _field_defaults(panel), "overrides": list(panel.overrides)},
        "gridPos": grid,
        "id": panel_id,
        "options": _options(panel),
        "targets": [_target_json(t, chr(ord("A") + i)) for i, t in enumerate(panel.targets)],
        "title": panel.title,
        "type": panel.kind,
    }
    if panel.transformations:
        out["transformations"] = list(panel.transformations)
    if panel.min_interval:
        out["interval"] = panel.min_interval
    return out


def _variable(name: str, label: str, query: str) -> Json:
    """Multi-value query variable with All (regex .*), for `label=~"$name"` matchers."""
    return {
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "datasource": dict(DATASOURCE),
        "definition": query,
        "hide": 0,
        "includeAll": True,
        "label": label,
        "multi": True,
        "name": name,
        "options": [],
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor"},
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }


def _dashboard(
    uid: str, title: str, description: str, panels: list[Panel], variables: list[Json]
) -> Json:
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": False,
                "icon": "dashboard",
                "includeVars": False,
                "keepTime": True,
                "tags": ["isales"],
                "targetBlank": False,
                "title": "Inside sales",
                "type": "dashboards",
            }
        ],
        "panels": [
            _panel_json(panel, i + 1, grid) for i, (panel, grid) in enumerate(_layout(panels))
        ],
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["isales"],
        "templating": {"list": variables},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON."""
    boards = [
        _dashboard(
            "isales-team-overview",
            "Inside sales: team overview",
            "Call KPIs per team and rep for today's event-time business day, against targets.",
            _team_overview_panels(),
            [_variable("team", "Team", "label_values(isales_calls_window_dials, team)")],
        ),
        _dashboard(
            "isales-pipeline-health",
            "Inside sales: pipeline health",
            "Throughput, lag, event-time delay and the exactness counters of the KPI worker.",
            _pipeline_panels(),
            [],
        ),
        _dashboard(
            "isales-email-ab",
            "Inside sales: email A/B",
            "Email campaigns per variant: send-cohort open, click and bounce rates, the A/B "
            "z-test, rates by segment, send time and team, and activity this hour and today.",
            _email_panels(),
            [
                _variable(
                    "campaign",
                    "Campaign",
                    "label_values(isales_email_cohort_delivered, campaign)",
                )
            ],
        ),
        _dashboard(
            "isales-handoffs",
            "Inside sales: handoffs and quality",
            "CRM handoffs to field sales per team and rep: volume today, decisions, conversion, "
            "discovery quality and segments.",
            _handoffs_panels(),
            [_variable("team", "Team", CRM_TEAMS)],
        ),
        _dashboard(
            "isales-outcomes",
            "Inside sales: outcomes and win rate",
            "Won and lost deals credited to the inside-sales rep who handed them over: win "
            "rate, won amount, time from handoff to close, unattributed outcomes.",
            _outcomes_panels(),
            [_variable("team", "Team", CRM_TEAMS)],
        ),
    ]
    return {f"{board['uid']}.json": board for board in boards}


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL expr) for every target of every panel."""
    return [
        (board["uid"], panel["title"], target["expr"])
        for board in dashboards().values()
        for panel in board["panels"]
        for target in panel["targets"]
    ]


_GRAFANA_VARS = re.compile(r"\$(?:team|campaign|__rate_interval|__interval|__range)\b")


def expand(
    expr: str,
    *,
    team: str = ".*",
    campaign: str = ".*",
    interval: str = "1m",
    time_range: str = "6h",
) -> str:
    """The expr as Grafana would send it, for running it against Prometheus directly
    (`time_range` is the dashboard's time range, `$__range`; the boards default to 6h)."""
    values = {
        "$team": team,
        "$campaign": campaign,
        "$__rate_interval": interval,
        "$__interval": interval,
        "$__range": time_range,
    }
    return _GRAFANA_VARS.sub(lambda m: values[m.group(0)], expr)


def _render(board: Json) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(directory: Path) -> list[Path]:
    """Write every dashboard; delete *.json files in `directory` this module no longer makes."""
    directory.mkdir(parents=True, exist_ok=True)
    boards = dashboards()
    for stale in directory.glob("*.json"):
        if stale.name not in boards:
            stale.unlink()
    written = []
    for name, board in boards.items():
        path = directory / name
        path.write_text(_render(board), encoding="utf-8")
        written.append(path)
    return written


def check(directory: Path) -> list[str]:
    """Names of files that are missing, differ from the generator, or are no longer generated."""
    boards = dashboards()
    problems = [
        name
        for name, board in boards.items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != _render(board)
    ]
    if directory.is_dir():
        problems += sorted(p.name for p in directory.glob("*.json") if p.name not in boards)
    return problems


if __name__ == "__main__":
    for written_path in write(OUT_DIR):
        sys.stdout.write(f"{written_path}\n")
