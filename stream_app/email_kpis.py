"""Email KPIs from per-campaign counts: cohorts by dimension, rates, A/B and topic records.

Counts come from the engine's campaign totals (send cohorts: everything ever seen for the
messages of a campaign, whenever it happened) and campaign windows (activity in event time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import orjson

from schemas.common import from_ms
from stream_app.ab import Comparison, compare
from stream_app.families.email import METRICS, split_fact

COUNTS = tuple(m.fact for m in METRICS)
WINDOW_COUNTS = tuple(m for m in COUNTS if m != "machine_only")
"""machine_only is withdrawn when a human open arrives, maybe hours later: cohort-only."""
AB_KPIS = {"open_rate": "human_opens", "click_rate": "clicks"}


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


def rates(c: Mapping[str, int]) -> dict[str, float | None]:
    delivered = c.get("delivered", 0)
    opens = c.get("human_opens", 0)
    return {
        "open_rate": _ratio(opens, delivered),
        # Messages opened only by machines say nothing about a person: leave them out.
        "adjusted_open_rate": _ratio(opens, delivered - c.get("machine_only", 0)),
        "click_rate": _ratio(c.get("clicks", 0), delivered),
        "click_to_open_rate": _ratio(c.get("clicks", 0), opens),
        "bounce_rate": _ratio(
            c.get("bounced_hard", 0) + c.get("bounced_soft", 0), c.get("sent", 0)
        ),
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


def _key(**fields: Any) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def cohort_records(
    campaign: str, counts: Mapping[str, int], now_ms: int
) -> list[tuple[bytes, bytes]]:
    records = []
    for (dimension, value), c in sorted(by_dimension(counts).items()):
        body: dict[str, Any] = {
            "schema_version": 1,
            "kpi": "email_cohort",
            "campaign_id": campaign,
            "dimension": dimension,
            "value": value,
            **{metric: c.get(metric, 0) for metric in COUNTS},
            **rates(c),
            "emitted_at": from_ms(now_ms).isoformat(),
        }
        key = _key(kpi="email_cohort", campaign_id=campaign, dimension=dimension, value=value)
        records.append((key, orjson.dumps(body)))
    return records


def ab_records(
    campaign: str, counts: Mapping[str, int], *, alpha: float, min_n: int, now_ms: int
) -> list[tuple[bytes, bytes]]:
    records = []
    for kpi, comparison in sorted(ab(counts, alpha=alpha, min_n=min_n).items()):
        body = {
            "schema_version": 1,
            "kpi": "email_ab",
            "campaign_id": campaign,
            "metric": kpi,
            "alpha": alpha,
            "min_delivered": min_n,
            "leader": comparison.leader,
            "variants": [
                {
                    "variant": r.variant,
                    "successes": r.successes,
                    "delivered": r.n,
                    "rate": r.rate,
                    "rival": r.rival,
                    "z": r.z,
                    "p_value": r.p_value,
                }
                for r in comparison.results
            ],
            "emitted_at": from_ms(now_ms).isoformat(),
        }
        records.append((_key(kpi="email_ab", campaign_id=campaign, metric=kpi), orjson.dumps(body)))
    return records


def window_records(
    value: Mapping[str, Any], *, tz: str, final: bool, now_ms: int
) -> list[tuple[bytes, bytes]]:
    """Activity of one campaign window, one record per variant."""
    records = []
    for (dimension, variant), c in sorted(by_dimension(value["c"]).items()):
        if dimension != "variant":
            continue
        body = {
            "schema_version": 1,
            "kpi": "email_activity",
            "campaign_id": value["g"],
            "variant": variant,
            "window": value["spec"],
            "window_start": from_ms(value["start"]).isoformat(),
            "window_end": from_ms(value["end"]).isoformat(),
            "window_start_ms": value["start"],
            "window_end_ms": value["end"],
            "time_zone": tz,
            **{metric: c.get(metric, 0) for metric in WINDOW_COUNTS},
            "final": final,
            "revision": value["rev"] + (1 if final and not value["final"] else 0),
            "emitted_at": from_ms(now_ms).isoformat(),
        }
        key = _key(
            kpi="email_activity",
            campaign_id=value["g"],
            variant=variant,
            window=value["spec"],
            window_start_ms=value["start"],
        )
        records.append((key, orjson.dumps(body)))
    return records
