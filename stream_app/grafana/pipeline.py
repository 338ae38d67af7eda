"""The spine's board: pipeline health. Throughput, lag, event-time delay and the exactness
counters of every worker."""

from __future__ import annotations

from stream_app.grafana.model import COUNT_NO_VALUE, Json, Panel, Target
from stream_app.grafana.promql import rate
from stream_app.grafana.render import dashboard


def panels() -> list[Panel]:
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
            (Target(rate("isales_events_applied_total", "source"), "{{source}}"),),
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
            (Target(rate("isales_dead_letter_events_total", "reason"), "{{reason}}"),),
            12,
            8,
            unit="ops",
            no_value=COUNT_NO_VALUE,
        ),
        Panel(
            "timeseries",
            "Late events and late window updates",
            "Events beyond grace (sent to the late topic) and refused window updates by window "
            "size, per second. History: late events a day or more behind their partition's "
            "newest event (a backfill, seeded past), apart from live ones that missed grace.",
            (
                Target(rate("isales_late_events_total", "source"), "late events {{source}}"),
                Target(
                    rate("isales_late_history_events_total", "source"),
                    "of them history {{source}}",
                ),
                Target(
                    rate("isales_late_window_updates_total", "window"),
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
            (Target(rate("isales_duplicate_events_total", "source"), "{{source}}"),),
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


def boards() -> list[Json]:
    return [
        dashboard(
            "isales-pipeline-health",
            "Inside sales: pipeline health",
            "Throughput, lag, event-time delay and the exactness counters of the KPI worker.",
            panels(),
            [],
        )
    ]
