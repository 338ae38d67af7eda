"""PromQL the boards share: selectors with the board variables, sum/sum rates guarded
against a zero denominator, and the CRM and email expressions."""

from __future__ import annotations

from collections.abc import Callable

from stream_app.spine.business_time import WEEKDAYS

TEAM = 'team=~"$team"'


TODAY = f'window="1d",position="current",{TEAM}'


DAY = f'period="day",{TEAM}'


CAMPAIGN = 'campaign=~"$campaign"'


def today(metric: str) -> str:
    return f"isales_calls_window_{metric}{{{TODAY}}}"


def pacing(metric: str, kpi: str) -> str:
    return f'isales_pacing_{metric}{{kpi="{kpi}",{DAY}}}'


def total(selector: str, by: str) -> str:
    return f"sum by ({by}) ({selector})"


def guarded(numerator: str, denominator: str) -> str:
    """The denominator filter drops groups where it is 0 instead of showing NaN or +Inf."""
    return f"{numerator} / ({denominator} > 0)"


def ratio(numerator: str, denominator: str, by: str) -> str:
    """sum/sum, guarded."""
    return guarded(total(numerator, by), total(denominator, by))


def cohort(metric: str, dimension: str) -> str:
    return f'isales_email_cohort_{metric}{{{CAMPAIGN},dimension="{dimension}"}}'


def email_activity(metric: str, window: str) -> str:
    return f'isales_email_window_{metric}{{{CAMPAIGN},window="{window}",position="current"}}'


def rate(metric: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}[$__rate_interval]))"


def cohort_rates(
    dimension: str, by: str, relabel: Callable[[str], str] | None = None
) -> dict[str, str]:
    """The worker's cohort rate formulas as sum / sum over the count gauges, grouped `by`.
    `relabel` wraps every sum alike (numerator and denominator still match)."""

    def s(metric: str) -> str:
        summed = total(cohort(metric, dimension), by)
        return summed if relabel is None else relabel(summed)

    return {
        "open_rate": guarded(s("human_opens"), s("delivered")),
        "adjusted_open_rate": guarded(
            s("human_opens"), f"({s('delivered')} - {s('machine_only')})"
        ),
        "click_rate": guarded(s("clicks"), s("delivered")),
        "click_to_open_rate": guarded(s("clicks"), s("human_opens")),
        "bounce_rate": guarded(f"({s('bounced_hard')} + {s('bounced_soft')})", s("sent")),
    }


def in_week_order(expr: str) -> str:
    """Relabel send_weekday values "mon".."sun" as "1 Mon".."7 Sun" so they sort in week order."""
    for i, day in enumerate(WEEKDAYS, 1):
        expr = f'label_replace({expr}, "value", "{i} {day.title()}", "value", "{day}")'
    return expr


WEEK = "7d"


def crm_window(metric: str, window: str = "1d") -> str:
    return f'isales_crm_window_{metric}{{window="{window}",position="current",{TEAM}}}'


def crm_total(metric: str, matchers: str = "") -> str:
    """An all-time counter of the CRM worker (exact: read from its state at scrape time)."""
    extra = f"{matchers}," if matchers else ""
    return f"isales_crm_{metric}_total{{{extra}{TEAM}}}"


def increase(selector: str, over: str) -> str:
    return f"increase({selector}[{over}])"


def discovery(status: str) -> str:
    return crm_total("discovery_fields", f'status="{status}"')


def win_rate(won: str, lost: str, by: str) -> str:
    """won / (won + lost), sum/sum, guarded."""
    return guarded(total(won, by), f"({total(won, by)} + {total(lost, by)})")


def ttc_quantile(q: float) -> str:
    """Over the all-time buckets, summed per team; teams without a decided deal are dropped
    (histogram_quantile would give NaN)."""
    buckets = total(f"isales_crm_handoff_to_close_seconds_bucket{{{TEAM}}}", "team, le")
    decided = total(f"isales_crm_handoff_to_close_seconds_count{{{TEAM}}}", "team")
    return f"histogram_quantile({q}, {buckets} and on (team) ({decided} > 0))"
