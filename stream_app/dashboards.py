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
- Every panel and the team variable name the provisioned data source by uid; no ${DS_...}.
"""

from __future__ import annotations

import json
import re
import sys
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

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    kind: str  # stat | bargauge | timeseries | table
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


def ratio(numerator: str, denominator: str, by: str) -> str:
    """sum/sum; the denominator filter drops groups where it is 0 instead of showing NaN."""
    return f"sum by ({by}) ({numerator}) / (sum by ({by}) ({denominator}) > 0)"


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
    refs = [chr(ord("A") + i) for i in range(len(columns))]
    rates = ["Connect rate", *(f"Pace {label.lower()}" for _, label in KPIS)]
    overrides: list[Json] = [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [
                {"id": "unit", "value": "percentunit"},
                {"id": "decimals", "value": 0},
                {"id": "noValue", "value": "-"},
            ],
        }
        for name in rates
    ]
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
    return Panel(
        "table",
        "Reps today",
        "Per rep in today's event-time business day. Connect rate = connects / dials of the rep; "
        "pace = actual / expected-by-now ('-' before anything is expected or without a target).",
        tuple(Target(expr, name, instant=True, table=True) for name, expr in columns),
        GRID_WIDTH,
        10,
        no_value=COUNT_NO_VALUE,
        decimals=0,
        overrides=tuple(overrides),
        transformations=(
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {"rep": 0, "team": 1}
                    | {f"Value #{ref}": i + 2 for i, ref in enumerate(refs)},
                    "renameByName": {"rep": "Rep", "team": "Team"}
                    | {f"Value #{ref}": name for ref, (name, _) in zip(refs, columns, strict=True)},
                },
            },
        ),
        options={"sortBy": [{"displayName": "Dials", "desc": True}]},
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
        "color": {"mode": "palette-classic" if panel.kind == "timeseries" else "thresholds"},
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


def _team_variable() -> Json:
    query = "label_values(isales_calls_window_dials, team)"
    return {
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "datasource": dict(DATASOURCE),
        "definition": query,
        "hide": 0,
        "includeAll": True,
        "label": "Team",
        "multi": True,
        "name": "team",
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
            [_team_variable()],
        ),
        _dashboard(
            "isales-pipeline-health",
            "Inside sales: pipeline health",
            "Throughput, lag, event-time delay and the exactness counters of the KPI worker.",
            _pipeline_panels(),
            [],
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


_GRAFANA_VARS = re.compile(r"\$(?:team|__rate_interval|__interval)\b")


def expand(expr: str, *, team: str = ".*", interval: str = "1m") -> str:
    """The expr as Grafana would send it, for running it against Prometheus directly."""
    values = {"$team": team, "$__rate_interval": interval, "$__interval": interval}
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
