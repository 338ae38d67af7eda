"""Email KPI math from per-campaign counts: cohorts by dimension, rates, the A/B comparison.

Counts come from the engine's campaign totals (send cohorts: everything ever seen for the
messages of a campaign, whenever it happened) and campaign windows (activity in event time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from stream_app.families.email.ab import Comparison, compare
from stream_app.families.email.family import METRICS, split_fact
from stream_app.spine.records import ratio

COUNTS = tuple(m.fact for m in METRICS)
WINDOW_COUNTS = tuple(m for m in COUNTS if m != "machine_only")
"""machine_only is withdrawn when a human open arrives, maybe hours later: cohort-only."""
AB_KPIS = {"open_rate": "human_opens", "click_rate": "clicks"}


def rates(c: Mapping[str, int]) -> dict[str, float | None]:
    delivered = c.get("delivered", 0)
    opens = c.get("human_opens", 0)
    return {
        "open_rate": ratio(opens, delivered),
        # Messages opened only by machines say nothing about a person: leave them out.
        "adjusted_open_rate": ratio(opens, delivered - c.get("machine_only", 0)),
        "click_rate": ratio(c.get("clicks", 0), delivered),
        "click_to_open_rate": ratio(c.get("clicks", 0), opens),
        "bounce_rate": ratio(c.get("bounced_hard", 0) + c.get("bounced_soft", 0), c.get("sent", 0)),
    }


def by_dimension(counts: Mapping[str, int]) -> dict[tuple[str, str], dict[str, int]]:
    """(dimension, value) -> metric -> count, from `<metric>|<dimension>|<value>` facts."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for fact, n in counts.items():
        metric, dimension, value = split_fact(fact)
        out[(dimension, value)][metric] = n
    return dict(out)


def ab(counts: Mapping[str, int], *, alpha: float, min_n: int) -> dict[str, Comparison]:
    """kpi -> comparison of the campaign's variants."""
    variants = {v: c for (d, v), c in by_dimension(counts).items() if d == "variant"}
    return {
        kpi: compare(
            {v: (c.get(metric, 0), c.get("delivered", 0)) for v, c in variants.items()},
            alpha=alpha,
            min_n=min_n,
        )
        for kpi, metric in AB_KPIS.items()
    }
