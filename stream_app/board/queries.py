"""What the board shows, as PromQL over the metrics the workers export (docs: "The board"):
each query is an instant vector; the page gets the series as plain rows and computes each rate
from the summed counts of the rows it shows (never an average of rates), so a team filter's
rates are the team's.

`scope="day"` queries are read at the shown business day's time (now, or the last business
day's close: board/day.py); the rest now. CRM, e-mail and relationship figures are all time
(since the service's state began), as the workers count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Query:
    section: str
    name: str
    promql: str
    by: tuple[str, ...] = ()
    scope: Literal["day", "now"] = "now"


def _sum(metric: str, by: tuple[str, ...], selector: str = "") -> str:
    return f"sum by ({', '.join(by)}) ({metric}{selector})"


REP = ("rep", "team")
CALL_KPIS = ("dials", "connects", "machine_answers", "talk_seconds", "short_calls")
OUTCOMES = ("handoffs", "accepted", "rejected", "won", "lost")

QUERIES: tuple[Query, ...] = (
    # Activity of the shown day per rep (the calendar's day by the clock), against its pace.
    *(
        Query("reps", f"{kpi}_today", _sum(f"isales_calls_today_{kpi}", REP), REP, "day")
        for kpi in CALL_KPIS
    ),
    *(
        Query(
            "reps",
            f"dials_{name}",
            _sum(f"isales_pacing_{name}", REP, '{kpi="dials", period="day"}'),
            REP,
            "day",
        )
        for name in ("expected", "target")
    ),
    # Handoffs, their quality and outcomes, all time, per inside-sales rep.
    *(Query("crm", name, _sum(f"isales_crm_{name}_total", REP), REP) for name in OUTCOMES),
    Query("crm", "complete_handoffs", _sum("isales_crm_complete_handoffs_total", REP), REP),
    *(
        Query(
            "crm",
            f"fields_{status}",
            _sum("isales_crm_discovery_fields_total", REP, f'{{status="{status}"}}'),
            REP,
        )
        for status in ("answered", "asked_declined", "asked_unknown", "not_asked", "not_applicable")
    ),
    Query("crm", "ttc_seconds", _sum("isales_crm_handoff_to_close_seconds_sum", REP), REP),
    Query("crm", "ttc_count", _sum("isales_crm_handoff_to_close_seconds_count", REP), REP),
    Query(
        "crm_amount",
        "won_amount",
        _sum("isales_crm_won_amount_total", ("rep", "team", "currency")),
        ("rep", "team", "currency"),
    ),
    # The funnel's calls, all time (the CRM steps are the crm section's totals).
    *(
        Query("funnel", kpi, _sum(f"isales_calls_{kpi}_total", REP), REP)
        for kpi in ("dials", "connects")
    ),
    # Handoff cohorts of the last four weeks: the trend of 商談化率 and 受注率.
    *(
        Query(
            "trend",
            name,
            _sum(f"isales_crm_cohort_week_{name}", ("week", "rep", "team")),
            ("week", "rep", "team"),
        )
        for name in OUTCOMES
    ),
    # The e-mail A/B: per campaign and variant, human opens of delivered messages.
    *(
        Query(
            "email",
            name,
            f'sum by (campaign, value) (isales_email_cohort_{name}{{dimension="variant"}})',
            ("campaign", "value"),
        )
        for name in ("delivered", "human_opens", "machine_opens")
    ),
    *(
        Query(
            "email_ab",
            name,
            f'max by (campaign, variant) (isales_email_ab_{name}{{kpi="open_rate"}})',
            ("campaign", "variant"),
        )
        for name in ("leader", "p_value")
    ),
    # Relationship and reach (the seed's section 3).
    Query("bands", "leads", "sum by (band) (isales_reach_leads_by_band)", ("band",)),
    *(
        Query(
            "calibration",
            name,
            _sum(f"isales_reach_{metric}", ("band", "rep", "team")),
            ("band", "rep", "team"),
        )
        for name, metric in (
            ("handoffs", "handoffs_total"),
            ("accepted", "handoffs_accepted_total"),
            ("won", "handoffs_won_total"),
        )
    ),
    Query(
        "touchpoints",
        "touchpoints",
        _sum("isales_reach_touchpoints_total", ("rep", "team", "channel"), '{kind!="machine"}'),
        ("rep", "team", "channel"),
    ),
    *(
        Query(
            "segments",
            name,
            f'sum by (segment) (isales_reach_segment_leads{{stage="{name}"}})',
            ("segment",),
        )
        for name in ("targeted", "touched", "engaged")
    ),
    *(
        Query(
            "segments", name, f"sum by (segment) (isales_reach_segment_{name}_total)", ("segment",)
        )
        for name in ("handoffs", "won")
    ),
    *(
        Query("segments", name, f"max by (segment) (isales_reach_segment_{name})", ("segment",))
        for name in ("fit_index", "engages_not_winning")
    ),
    # Pipeline health.
    Query("health", "up", 'max by (pipeline) (up{job="isales-kpi"})', ("pipeline",)),
    Query(
        "health",
        "events_per_second",
        'sum by (pipeline) (rate(isales_events_applied_total{job="isales-kpi"}[1m]))',
        ("pipeline",),
    ),
    *(
        Query("health", name, f'sum by (pipeline) ({metric}{{job="isales-kpi"}})', ("pipeline",))
        for name, metric in (
            ("lag", "isales_consumer_lag_messages"),
            ("dead_letters", "isales_dead_letter_events_total"),
            ("late", "isales_late_events_total"),
            ("late_history", "isales_late_history_events_total"),
        )
    ),
    # People the directory does not list: a warning beside the alerts, not an alert.
    Query(
        "unmapped",
        "unmapped_events",
        "sum by (vendor) (isales_vendor_unmapped_events_total) > 0",
        ("vendor",),
    ),
)

CHART_DIALS = "sum by (team) (isales_calls_today_dials)"
"""The day's dials so far per team: its increase per hour is the chart's bars."""
