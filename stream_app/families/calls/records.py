"""Call KPI records on `kpi.calls`, one per rep and window (README, "Output: KPI topic")."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.kpi import KPI_SCHEMA_VERSION
from stream_app.spine.family_protocol import Family, derive
from stream_app.spine.records import closing_fields, record_key, window_fields
from stream_app.spine.store import Value


def kpi_key(family_name: str, value: Value) -> bytes:
    return record_key(
        kpi=family_name, rep_id=value["g"], window=value["spec"], window_start_ms=value["start"]
    )


def kpi_record(family: Family[Any], value: Value, *, tz: str, final: bool, now_ms: int) -> bytes:
    counts: dict[str, int] = value["c"]
    record: dict[str, Any] = {
        "schema_version": KPI_SCHEMA_VERSION,
        "kpi": family.name,
        "rep_id": value["g"],
        "team_id": value.get("team", ""),
        **window_fields(value, tz=tz),
        "bucketed_by": {m.name: m.bucketed_by for m in family.metrics},
    }
    for metric in family.metrics:
        raw = counts.get(metric.fact, 0)
        record[metric.name] = raw / metric.divisor if metric.divisor != 1 else raw
    for spec in family.derived:
        record[spec.name] = derive(counts, spec)
    return orjson.dumps({**record, **closing_fields(value, final=final, now_ms=now_ms)})
