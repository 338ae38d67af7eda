"""What the board shows, as PromQL over the metrics the workers export (README, "The board"):
each query is an instant vector; the page gets the series as plain rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Query:
    section: str
    name: str
    promql: str
    by: tuple[str, ...] = ()


def _calls(window: str, kpi: str) -> str:
    return (
        f'sum by (rep, team) (isales_calls_window_{kpi}{{window="{window}", position="current"}})'
    )


QUERIES: tuple[Query, ...] = (
    # The team overview: this hour and today per rep, against the day's pace.
    *(
        Query("reps", f"{kpi}_{label}", _calls(window, kpi), ("rep", "team"))
        for kpi in ("dials", "connects", "talk_seconds")
        for window, label in (("1h", "hour"), ("1d", "today"))
    ),
    Query(
        "reps",
        "dials_expected",
        'sum by (rep, team) (isales_pacing_expected{kpi="dials", period="day"})',
        ("rep", "team"),
    ),
    Query(
        "reps",
        "dials_target",
        'sum by (rep, team) (isales_pacing_target{kpi="dials", period="day"})',
        ("rep", "team"),
    ),
    # Handoffs, their quality and wins, all time, per inside-sales rep.
    *(
        Query("crm", name, f"sum by (rep) (isales_crm_{name}_total)", ("rep",))
        for name in ("handoffs", "complete_handoffs", "accepted", "won", "lost")
    ),
    Query(
        "crm_amount",
        "won_amount",
        "sum by (rep, currency) (isales_crm_won_amount_total)",
        ("rep", "currency"),
    ),
    # The e-mail A/B: per campaign and variant, human opens of delivered messages.
    *(
        Query(
            "email",
            name,
            f'sum by (campaign, value) (isales_email_cohort_{name}{{dimension="variant"}})',
            ("campaign", "value"),
        )
        for name in ("delivered", "human_opens")
    ),
    # Pipeline health.
    Query("health", "up", 'max by (pipeline) (up{job="isales-kpi"})', ("pipeline",)),
    Query(
        "health",
        "events_per_second",
        'sum by (pipeline) (rate(isales_events_applied_total{job="isales-kpi"}[1m]))',
        ("pipeline",),
    ),
    Query(
        "health",
        "lag",
        'sum by (pipeline) (isales_consumer_lag_messages{job="isales-kpi"})',
        ("pipeline",),
    ),
    Query(
        "health",
        "dead_letters",
        'sum by (pipeline) (isales_dead_letter_events_total{job="isales-kpi"})',
        ("pipeline",),
    ),
    Query(
        "health",
        "late",
        'sum by (pipeline) (isales_late_events_total{job="isales-kpi"})',
        ("pipeline",),
    ),
    # People the directory does not list: a warning beside the alerts, not an alert.
    Query(
        "unmapped",
        "unmapped_events",
        "sum by (vendor) (isales_vendor_unmapped_events_total) > 0",
        ("vendor",),
    ),
)
