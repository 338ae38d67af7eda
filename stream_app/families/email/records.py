"""Email KPI topic records: send cohorts, the A/B comparison, activity windows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from schemas.common import from_ms
from schemas.kpi import KPI_SCHEMA_VERSION
from stream_app.families.email.kpis import COUNTS, WINDOW_COUNTS, ab, by_dimension, rates
from stream_app.spine.records import closing_fields, record_key, window_fields


def cohort_records(
    campaign: str, counts: Mapping[str, int], now_ms: int
) -> list[tuple[bytes, bytes]]:
    records = []
    for (dimension, value), c in sorted(by_dimension(counts).items()):
        body: dict[str, Any] = {
            "schema_version": KPI_SCHEMA_VERSION,
            "kpi": "email_cohort",
            "campaign_id": campaign,
            "dimension": dimension,
            "value": value,
            **{metric: c.get(metric, 0) for metric in COUNTS},
            **rates(c),
            "emitted_at": from_ms(now_ms).isoformat(),
        }
        key = record_key(kpi="email_cohort", campaign_id=campaign, dimension=dimension, value=value)
        records.append((key, orjson.dumps(body)))
    return records


def ab_records(
    campaign: str, counts: Mapping[str, int], *, alpha: float, min_n: int, now_ms: int
) -> list[tuple[bytes, bytes]]:
    records = []
    for kpi, comparison in sorted(ab(counts, alpha=alpha, min_n=min_n).items()):
        body = {
            "schema_version": KPI_SCHEMA_VERSION,
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
        records.append(
            (record_key(kpi="email_ab", campaign_id=campaign, metric=kpi), orjson.dumps(body))
        )
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
            "schema_version": KPI_SCHEMA_VERSION,
            "kpi": "email_activity",
            "campaign_id": value["g"],
            "variant": variant,
            **window_fields(value, tz=tz),
            **{metric: c.get(metric, 0) for metric in WINDOW_COUNTS},
            **closing_fields(value, final=final, now_ms=now_ms),
        }
        key = record_key(
            kpi="email_activity",
            campaign_id=value["g"],
            variant=variant,
            window=value["spec"],
            window_start_ms=value["start"],
        )
        records.append((key, orjson.dumps(body)))
    return records
