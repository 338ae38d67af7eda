"""The calls family's series (calls pipeline): activity counters and windows, and pacing
against the targets file. See stream_app/spine/catalog.py."""

from __future__ import annotations

from stream_app.spine.catalog import Series

SERIES: tuple[Series, ...] = (
    Series(
        "isales_business_open",
        "gauge",
        "1 inside business hours of the targets calendar (zone, weekdays, hours, holidays).",
        (),
    ),
    Series(
        "isales_business_period_elapsed_ratio",
        "gauge",
        "Share of the business day or week's working time that has passed.",
        ("period",),
    ),
    Series(
        "isales_targets_reloads_total",
        "counter",
        "Targets file loads, by result; on error the previous targets stay in force.",
        ("result",),
    ),
    Series(
        "isales_targets_loaded_timestamp_seconds",
        "gauge",
        "When the targets in force were loaded (Unix seconds); 0 if none.",
        (),
    ),
    Series(
        "isales_pacing_target",
        "gauge",
        "Target for the period (0 on a day off).",
        ("kpi", "period", "rep", "team"),
    ),
    Series(
        "isales_pacing_actual",
        "gauge",
        "Done so far in the period (today's event-time day window).",
        ("kpi", "period", "rep", "team"),
    ),
    Series(
        "isales_pacing_expected",
        "gauge",
        "Target x elapsed share of the period's business time.",
        ("kpi", "period", "rep", "team"),
    ),
    Series(
        "isales_pacing_ratio",
        "gauge",
        "actual / expected; absent while nothing is expected yet.",
        ("kpi", "period", "rep", "team"),
    ),
    Series(
        "isales_calls_today_dials",
        "gauge",
        "Outbound call attempts. Today: the business time zone's calendar day now (by the clock).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_today_connects",
        "gauge",
        "Outbound calls answered by a person. Today: the business time zone's "
        "calendar day now (by the clock).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_today_machine_answers",
        "gauge",
        "Outbound calls answered by a machine or voicemail. Today: the business time zone's "
        "calendar day now (by the clock).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_today_talk_seconds",
        "gauge",
        "Seconds from answer to hang-up on connects. Today: the business time zone's "
        "calendar day now (by the clock).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_today_short_calls",
        "gauge",
        "Connects under the short-call threshold. Today: the business time zone's "
        "calendar day now (by the clock).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_dials_total",
        "counter",
        "Outbound call attempts, whatever the outcome. All time, every event accepted (late ones "
        "too).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_connects_total",
        "counter",
        "Outbound calls answered by a person. All time, every event accepted (late ones too).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_machine_answers_total",
        "counter",
        "Outbound calls answered by a machine or voicemail; not connects. All time, every event "
        "accepted (late ones too).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_talk_seconds_total",
        "counter",
        "Seconds from answer to hang-up on connects. All time, every event accepted (late ones "
        "too).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_short_calls_total",
        "counter",
        "Connects whose talk time is under the short-call threshold. All time, every event "
        "accepted (late ones too).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_inbound_calls_total",
        "counter",
        "Inbound calls taken. All time, every event accepted (late ones too).",
        ("rep", "team"),
    ),
    Series(
        "isales_calls_window_dials",
        "gauge",
        "Outbound call attempts, whatever the outcome. In the event-time window (bucketed by "
        "started_at).",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_calls_window_connects",
        "gauge",
        "Outbound calls answered by a person. In the event-time window (bucketed by answered_at).",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_calls_window_machine_answers",
        "gauge",
        "Outbound calls answered by a machine or voicemail; not connects. In the event-time window"
        " (bucketed by answered_at).",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_calls_window_talk_seconds",
        "gauge",
        "Seconds from answer to hang-up on connects. In the event-time window (bucketed by "
        "ended_at).",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_calls_window_short_calls",
        "gauge",
        "Connects whose talk time is under the short-call threshold. In the event-time window "
        "(bucketed by ended_at).",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_calls_window_inbound_calls",
        "gauge",
        "Inbound calls taken. In the event-time window (bucketed by started_at).",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_calls_window_connect_rate",
        "gauge",
        "Connects / dials in the window. Absent while the denominator is 0.",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_calls_window_avg_talk_seconds",
        "gauge",
        "Talk seconds / connects in the window. Absent while the denominator is 0.",
        ("position", "rep", "team", "window"),
    ),
)
