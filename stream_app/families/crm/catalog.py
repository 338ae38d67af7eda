"""The CRM family's series (crm pipeline; the crm-attribution stage exposes only the
pipeline series): handoffs, their quality, outcomes. See stream_app/spine/catalog.py."""

from __future__ import annotations

from stream_app.spine.catalog import Series

SERIES: tuple[Series, ...] = (
    Series(
        "isales_crm_handoffs_total",
        "counter",
        "Leads handed to field sales (opportunities created), by handoff time. All time.",
        ("rep", "segment", "team"),
    ),
    Series(
        "isales_crm_accepted_total",
        "counter",
        "Handoffs field sales accepted, by decision time. All time.",
        ("rep", "segment", "team"),
    ),
    Series(
        "isales_crm_rejected_total",
        "counter",
        "Handoffs field sales rejected, by decision time. All time.",
        ("rep", "segment", "team"),
    ),
    Series(
        "isales_crm_won_total",
        "counter",
        "Deals won, credited to the inside-sales rep who handed over, by close time. All time.",
        ("rep", "segment", "team"),
    ),
    Series(
        "isales_crm_lost_total",
        "counter",
        "Deals lost, credited to the inside-sales rep who handed over, by close time. All time.",
        ("rep", "segment", "team"),
    ),
    Series(
        "isales_crm_won_amount_total",
        "counter",
        "Won amount (currency units), by close time.",
        ("currency", "rep", "team"),
    ),
    Series(
        "isales_crm_discovery_fields_total",
        "counter",
        "Discovery fields on handoffs by status: answered, asked_declined (asked, would not say), "
        "asked_unknown (asked, did not know), not_asked, not_applicable.",
        ("field", "rep", "status", "team"),
    ),
    Series(
        "isales_crm_complete_handoffs_total",
        "counter",
        "Handoffs with every required field answered (or n/a).",
        ("rep", "team"),
    ),
    Series(
        "isales_crm_discovery_answered_fields_total",
        "counter",
        "Answered discovery fields on handoffs.",
        ("rep", "team"),
    ),
    Series(
        "isales_crm_discovery_applicable_fields_total",
        "counter",
        "Discovery fields not marked not_applicable.",
        ("rep", "team"),
    ),
    Series(
        "isales_crm_handoff_to_close_seconds",
        "histogram",
        "Time from handoff to close of decided deals (won or lost).",
        ("rep", "team"),
    ),
    Series(
        "isales_crm_unattributed_outcomes",
        "gauge",
        "Won/lost deals whose handoff has not been seen (held for attribution).",
        ("outcome",),
    ),
    Series(
        "isales_crm_unattributed_won_amount",
        "gauge",
        "Won amount of deals whose handoff has not been seen (currency units).",
        ("currency",),
    ),
    Series(
        "isales_crm_window_handoffs",
        "gauge",
        "Leads handed to field sales (opportunities created), by handoff time. In the event-time "
        "window.",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_crm_window_accepted",
        "gauge",
        "Handoffs field sales accepted, by decision time. In the event-time window.",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_crm_window_rejected",
        "gauge",
        "Handoffs field sales rejected, by decision time. In the event-time window.",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_crm_window_won",
        "gauge",
        "Deals won, credited to the inside-sales rep who handed over, by close time. In the "
        "event-time window.",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_crm_window_lost",
        "gauge",
        "Deals lost, credited to the inside-sales rep who handed over, by close time. In the "
        "event-time window.",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_crm_window_handoff_conversion",
        "gauge",
        "Accepted / handoffs in the window. Absent while 0/0.",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_crm_window_win_rate",
        "gauge",
        "Won / (won + lost) in the window. Absent while 0/0.",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_crm_window_discovery_completeness",
        "gauge",
        "Answered / applicable discovery fields in the window. Absent while 0/0.",
        ("position", "rep", "team", "window"),
    ),
    Series(
        "isales_crm_cohort_week_handoffs",
        "gauge",
        "Of the handoffs made in the week starting `week` (Monday, business time zone; the last "
        "four weeks): how many.",
        ("rep", "team", "week"),
    ),
    Series(
        "isales_crm_cohort_week_accepted",
        "gauge",
        "Of the handoffs made in the week starting `week` (Monday, business time zone; the last "
        "four weeks): how many field sales accepted so far (newest decision).",
        ("rep", "team", "week"),
    ),
    Series(
        "isales_crm_cohort_week_rejected",
        "gauge",
        "Of the handoffs made in the week starting `week` (Monday, business time zone; the last "
        "four weeks): how many field sales rejected so far (newest decision).",
        ("rep", "team", "week"),
    ),
    Series(
        "isales_crm_cohort_week_won",
        "gauge",
        "Of the handoffs made in the week starting `week` (Monday, business time zone; the last "
        "four weeks): how many are won so far (newest outcome).",
        ("rep", "team", "week"),
    ),
    Series(
        "isales_crm_cohort_week_lost",
        "gauge",
        "Of the handoffs made in the week starting `week` (Monday, business time zone; the last "
        "four weeks): how many are lost so far (newest outcome).",
        ("rep", "team", "week"),
    ),
)
