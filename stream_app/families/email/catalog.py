"""The e-mail family's series (email pipeline): send cohorts, A/B verdicts and activity
windows. See stream_app/spine/catalog.py."""

from __future__ import annotations

from stream_app.spine.catalog import Series

SERIES: tuple[Series, ...] = (
    Series(
        "isales_email_cohort_sent",
        "gauge",
        "Messages sent. Send cohort: every message of the campaign ever seen, by dimension "
        "(variant, segment, send_weekday, send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_delivered",
        "gauge",
        "Messages delivered. Send cohort: every message of the campaign ever seen, by dimension "
        "(variant, segment, send_weekday, send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_bounced_hard",
        "gauge",
        "Messages that bounced hard. Send cohort: every message of the campaign ever seen, by "
        "dimension (variant, segment, send_weekday, send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_bounced_soft",
        "gauge",
        "Messages that bounced soft only (a hard bounce outranks it). Send cohort: every message "
        "of the campaign ever seen, by dimension (variant, segment, send_weekday, send_hour, "
        "team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_deferred",
        "gauge",
        "Messages deferred at least once. Send cohort: every message of the campaign ever seen, by"
        " dimension (variant, segment, send_weekday, send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_dropped",
        "gauge",
        "Messages the platform dropped. Send cohort: every message of the campaign ever seen, by "
        "dimension (variant, segment, send_weekday, send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_human_opens",
        "gauge",
        "Messages opened by a person at least once (a click implies one). Send cohort: every "
        "message of the campaign ever seen, by dimension (variant, segment, send_weekday, "
        "send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_machine_opens",
        "gauge",
        "Messages opened by a machine or privacy proxy at least once. Send cohort: every message "
        "of the campaign ever seen, by dimension (variant, segment, send_weekday, send_hour, "
        "team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_machine_only",
        "gauge",
        "Messages with machine opens and no human open. Send cohort: every message of the campaign"
        " ever seen, by dimension (variant, segment, send_weekday, send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_clicks",
        "gauge",
        "Messages with at least one click. Send cohort: every message of the campaign ever seen, "
        "by dimension (variant, segment, send_weekday, send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_unsubscribes",
        "gauge",
        "Messages that led to an unsubscribe. Send cohort: every message of the campaign ever "
        "seen, by dimension (variant, segment, send_weekday, send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_spam_reports",
        "gauge",
        "Messages reported as spam. Send cohort: every message of the campaign ever seen, by "
        "dimension (variant, segment, send_weekday, send_hour, team).",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_open_rate",
        "gauge",
        "Unique human opens / delivered. Send cohort; absent while the denominator is 0.",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_adjusted_open_rate",
        "gauge",
        "Unique human opens / (delivered - messages with only machine opens). Send cohort; absent "
        "while the denominator is 0.",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_click_rate",
        "gauge",
        "Unique clicks / delivered. Send cohort; absent while the denominator is 0.",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_click_to_open_rate",
        "gauge",
        "Unique clicks / unique human opens. Send cohort; absent while the denominator is 0.",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_cohort_bounce_rate",
        "gauge",
        "(Hard + soft bounced messages) / sent. Send cohort; absent while the denominator is 0.",
        ("campaign", "dimension", "value"),
    ),
    Series(
        "isales_email_ab_z_score",
        "gauge",
        "Two-proportion z statistic of the variant against the campaign's best other variant.",
        ("campaign", "kpi", "variant"),
    ),
    Series(
        "isales_email_ab_p_value",
        "gauge",
        "Two-sided p-value of that z-test (not corrected for repeated looks).",
        ("campaign", "kpi", "variant"),
    ),
    Series(
        "isales_email_ab_leader",
        "gauge",
        "1 for the variant that leads at p < alpha with enough deliveries on both sides.",
        ("campaign", "kpi", "variant"),
    ),
    Series(
        "isales_email_window_sent",
        "gauge",
        "Messages whose first sent happened in the event-time window (activity, not the send "
        "cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_delivered",
        "gauge",
        "Messages whose first delivered happened in the event-time window (activity, not the send "
        "cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_bounced_hard",
        "gauge",
        "Messages whose first bounced hard happened in the event-time window (activity, not the "
        "send cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_bounced_soft",
        "gauge",
        "Messages whose first bounced soft happened in the event-time window (activity, not the "
        "send cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_deferred",
        "gauge",
        "Messages whose first deferred happened in the event-time window (activity, not the send "
        "cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_dropped",
        "gauge",
        "Messages whose first dropped happened in the event-time window (activity, not the send "
        "cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_human_opens",
        "gauge",
        "Messages whose first human opens happened in the event-time window (activity, not the "
        "send cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_machine_opens",
        "gauge",
        "Messages whose first machine opens happened in the event-time window (activity, not the "
        "send cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_clicks",
        "gauge",
        "Messages whose first clicks happened in the event-time window (activity, not the send "
        "cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_unsubscribes",
        "gauge",
        "Messages whose first unsubscribes happened in the event-time window (activity, not the "
        "send cohort).",
        ("campaign", "position", "variant", "window"),
    ),
    Series(
        "isales_email_window_spam_reports",
        "gauge",
        "Messages whose first spam reports happened in the event-time window (activity, not the "
        "send cohort).",
        ("campaign", "position", "variant", "window"),
    ),
)
