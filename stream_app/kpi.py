"""KPI topic records built from window state."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.common import from_ms
from schemas.kpi import KPI_SCHEMA_VERSION
from stream_app.family import Family, derive
from stream_app.store import Value


def kpi_key(family_name: str, value: Value) -> bytes:
    return orjson.dumps(
        {
            "kpi": family_name,
            "rep_id": value["g"],
            "window": value["spec"],
            "window_start_ms": value["start"],
        },
        option=orjson.OPT_SORT_KEYS,
    )


def kpi_record(family: Family[Any], value: Value, *, tz: str, final: bool, now_ms: int) -> bytes:
    counts: dict[str, int] = value["c"]
    record: dict[str, Any] = {
        "schema_version": KPI_SCHEMA_VERSION,
        "kpi": family.name,
        "rep_id": value["g"],
        "team_id": value.get("team", ""),
        "window": value["spec"],
        "window_start": from_ms(value["start"]).isoformat(),
        "window_end": from_ms(value["end"]).isoformat(),
        "window_start_ms": value["start"],
        "window_end_ms": value["end"],
        "time_zone": tz,
        "bucketed_by": {m.name: m.bucketed_by for m in family.metrics},
    }
    for metric in family.metrics:
        raw = counts.get(metric.fact, 0)
        record[metric.name] = raw / metric.divisor if metric.divisor != 1 else raw
    for spec in family.derived:
        record[spec.name] = derive(counts, spec)
    record["final"] = final
    record["revision"] = value["rev"] + (1 if final and not value["final"] else 0)
    record["emitted_at"] = from_ms(now_ms).isoformat()
    return orjson.dumps(record)
