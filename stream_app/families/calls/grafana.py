"""Board: team overview. Call KPIs per team and rep for today's event-time day, against targets."""

from __future__ import annotations

from stream_app.grafana.model import COUNT_NO_VALUE, PACE_THRESHOLDS, Json, Panel, Target
from stream_app.grafana.panels import rate_overrides, table
from stream_app.grafana.promql import TEAM, pacing, ratio, today
from stream_app.grafana.render import dashboard, thresholds, variable

KPIS = (("dials", "Dials"), ("connects", "Connects"), ("talk_minutes", "Talk minutes"))


def panels() -> list[Panel]:
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
    overrides = rate_overrides(["Connect rate", *(f"Pace {label.lower()}" for _, label in KPIS)])
    overrides += [
        {
            "matcher": {"id": "byName", "options": f"Pace {label.lower()}"},
            "properties": [
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                {"id": "thresholds", "value": thresholds(PACE_THRESHOLDS)},
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
    return table(
        "Reps today",
        "Per rep in today's event-time business day. Connect rate = connects / dials of the rep; "
        "pace = actual / expected-by-now ('-' before anything is expected or without a target).",
        {"rep": "Rep", "team": "Team"},
        columns,
        height=10,
        overrides=overrides,
        sort_by="Dials",
    )


def boards() -> list[Json]:
    return [
        dashboard(
            "isales-team-overview",
            "Inside sales: team overview",
            "Call KPIs per team and rep for today's event-time business day, against targets.",
            panels(),
            [variable("team", "Team", "label_values(isales_calls_window_dials, team)")],
        )
    ]
