"""Boards: CRM handoffs and quality; outcomes and win rate."""

from __future__ import annotations

from stream_app.grafana.model import COUNT_NO_VALUE, PACE_THRESHOLDS, Json, Panel, Target
from stream_app.grafana.panels import bar_chart, rate_overrides, table
from stream_app.grafana.promql import (
    WEEK,
    crm_total,
    crm_window,
    discovery,
    increase,
    ratio,
    total,
    ttc_quantile,
    win_rate,
)
from stream_app.grafana.render import dashboard, variable

DISCOVERY_STATUSES = (
    ("answered", "Answered", "green"),
    ("asked_declined", "Asked, declined", "orange"),
    ("asked_unknown", "Asked, unknown", "yellow"),
    ("not_asked", "Not asked", "red"),
    ("not_applicable", "Not applicable", "text"),
)
"""isales_crm_discovery_fields_total `status` values: never merged, least of all the two kinds
of "asked, unanswered" with "not asked" (a coaching signal each, and different ones)."""


CRM_TEAMS = "label_values(isales_crm_window_handoffs, team)"


TTC_QUANTILES = ((0.5, "p50"), (0.9, "p90"))


def handoffs_panels() -> list[Panel]:
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
        bar_chart(
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
        bar_chart(
            "① Asked, unanswered against ② not asked, per rep (all time)",
            "The seed's central example, per rep from the all-time counters, summed over "
            "fields: answered; ① asked but unanswered (the prospect would not say, or did not "
            "know: asked_declined + asked_unknown); ② never asked (the rep's gap). Both end in "
            "an empty field; only ② is a coaching point.",
            ("rep", "Rep"),
            [
                ("Answered", total(discovery("answered"), "rep")),
                (
                    "① Asked, unanswered",
                    # One status per selector, never a merge by regex: the union, summed.
                    f"sum by (rep) ({discovery('asked_declined')} or {discovery('asked_unknown')})",
                ),
                ("② Not asked", total(discovery("not_asked"), "rep")),
            ],
            16,
            stacked=True,
            overrides=tuple(
                {
                    "matcher": {"id": "byName", "options": name},
                    "properties": [
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": color}}
                    ],
                }
                for name, color in (
                    ("Answered", "green"),
                    ("① Asked, unanswered", "orange"),
                    ("② Not asked", "red"),
                )
            ),
        ),
        bar_chart(
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
    return table(
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
        overrides=rate_overrides(["Conversion"]),
        sort_by="Handoffs",
    )


def _crm_discovery_rep_table() -> Panel:
    by = "rep, team"
    statuses = {status: name for status, name, _ in DISCOVERY_STATUSES}
    return table(
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
        overrides=rate_overrides(["Complete share", "Completeness"]),
        sort_by="Handoffs",
        width=14,
    )


def outcomes_panels() -> list[Panel]:
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
        bar_chart(
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
        bar_chart(
            "Last four weeks: handoff conversion and win rate by handoff week",
            "The handoff cohorts of the last four weeks (Monday to Sunday, business time zone): "
            "of the handoffs made that week, handoff conversion (商談化率) = accepted / handoffs "
            "and win rate (受注率) = won / (won + lost) so far, sum/sum over the selected teams. "
            "A cohort fills as field sales decides, so the current week reads low at first.",
            ("week", "Week of"),
            [
                (
                    "Handoff conversion",
                    ratio(cohort_week("accepted"), cohort_week("handoffs"), "week"),
                ),
                ("Win rate", win_rate(cohort_week("won"), cohort_week("lost"), "week")),
            ],
            16,
            unit="percentunit",
            no_value="no handoffs in the last four weeks",
            decimals=1,
        ),
    ]


def cohort_week(metric: str) -> str:
    """The last four weeks' handoff cohorts of the selected teams (isales_crm_cohort_week_*)."""
    return f'isales_crm_cohort_week_{metric}{{team=~"$team"}}'


def _crm_outcomes_rep_table() -> Panel:
    by = "rep, team"
    return table(
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
        overrides=rate_overrides(["Win rate today", "Win rate"]),
        sort_by="Won",
        width=14,
    )


def _crm_amount_rep_table() -> Panel:
    by = "rep, team, currency"
    amount = crm_total("won_amount")
    return table(
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


def boards() -> list[Json]:
    return [
        dashboard(
            "isales-handoffs",
            "Inside sales: handoffs and quality",
            "CRM handoffs to field sales per team and rep: volume today, decisions, conversion, "
            "discovery quality and segments.",
            handoffs_panels(),
            [variable("team", "Team", CRM_TEAMS)],
        ),
        dashboard(
            "isales-outcomes",
            "Inside sales: outcomes and win rate",
            "Won and lost deals credited to the inside-sales rep who handed them over: win "
            "rate, won amount, time from handoff to close, unattributed outcomes.",
            outcomes_panels(),
            [variable("team", "Team", CRM_TEAMS)],
        ),
    ]
