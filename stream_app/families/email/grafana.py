"""Board: email A/B. Send-cohort rates per variant, the z-test, breakdowns, activity."""

from __future__ import annotations

from stream_app.grafana.model import COUNT_NO_VALUE, Json, Panel, Target
from stream_app.grafana.panels import breakdown, rate_overrides, table
from stream_app.grafana.promql import (
    CAMPAIGN,
    cohort,
    cohort_rates,
    email_activity,
    in_week_order,
    total,
)
from stream_app.grafana.render import dashboard, variable

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


def panels() -> list[Panel]:
    by = "campaign, value"
    rates = cohort_rates(VARIANT, by)
    variants = table(
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
        overrides=rate_overrides([name for _, name in EMAIL_RATES], decimals=1),
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
        breakdown("segment", "Segment", 12),
        breakdown("team", "Team", 12, note=" 'none' = no owner team."),
        breakdown("send_weekday", "Send weekday", 8, order=in_week_order),
        breakdown("send_hour", "Send hour", 16),
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
    return table(
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


def _activity_table(window: str, name: str) -> Panel:
    by = "campaign, variant"
    return table(
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


def boards() -> list[Json]:
    return [
        dashboard(
            "isales-email-ab",
            "Inside sales: email A/B",
            "Email campaigns per variant: send-cohort open, click and bounce rates, the A/B "
            "z-test, rates by segment, send time and team, and activity this hour and today.",
            panels(),
            [
                variable(
                    "campaign", "Campaign", "label_values(isales_email_cohort_delivered, campaign)"
                )
            ],
        )
    ]
