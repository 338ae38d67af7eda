"""CRM KPI topic records: handoff and outcome windows per rep, and handoff-day cohorts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from schemas.common import from_ms
from schemas.kpi import KPI_SCHEMA_VERSION
from stream_app.families.crm.kpis import COUNTED, rates, split, totals_of
from stream_app.spine.records import closing_fields, ratio, record_key, window_fields


def window_records(
    value: Mapping[str, Any], *, tz: str, final: bool, now_ms: int
) -> list[tuple[str, bytes, bytes]]:
    """("handoffs" | "outcomes", key, record) for one rep window."""
    parts = split(value["c"])
    total = totals_of(parts["by_segment"])
    common = {
        "schema_version": KPI_SCHEMA_VERSION,
        "rep_id": value["g"],
        "team_id": value.get("team", ""),
        **window_fields(value, tz=tz),
        **closing_fields(value, final=final, now_ms=now_ms),
    }
    r = rates(total, parts["plain"])
    handoffs = {
        **common,
        "kpi": "crm_handoffs",
        "bucketed_by": "handoff occurred_at; accepted/rejected by their own occurred_at",
        "handoffs": total["handoffs"],
        "accepted": total["accepted"],
        "rejected": total["rejected"],
        "handoff_conversion": r["handoff_conversion"],
        "by_segment": {
            seg: {k: c[k] for k in ("handoffs", "accepted", "rejected")}
            for seg, c in sorted(parts["by_segment"].items())
        },
        "discovery": {name: s for name, s in sorted(parts["discovery"].items())},
        "fields_answered": parts["plain"].get("fields_answered", 0),
        "fields_applicable": parts["plain"].get("fields_applicable", 0),
        "discovery_completeness": r["discovery_completeness"],
        "complete_handoffs": parts["plain"].get("complete_handoffs", 0),
    }
    outcomes = {
        **common,
        "kpi": "crm_outcomes",
        "bucketed_by": "close_at",
        "won": total["won"],
        "lost": total["lost"],
        "win_rate": r["win_rate"],
        "won_amount": {cur: cents / 100 for cur, cents in sorted(parts["amounts"].items())},
        "by_segment": {
            seg: {k: c[k] for k in ("won", "lost")}
            for seg, c in sorted(parts["by_segment"].items())
        },
    }
    key = {"rep_id": value["g"], "window": value["spec"], "window_start_ms": value["start"]}
    return [
        ("handoffs", record_key(kpi="crm_handoffs", **key), orjson.dumps(handoffs)),
        ("outcomes", record_key(kpi="crm_outcomes", **key), orjson.dumps(outcomes)),
    ]


def cohort_records(totals: Mapping[str, Any], now_ms: int) -> list[tuple[bytes, bytes]]:
    """For the handoffs a rep made on each day: how many are accepted, won, lost so far."""
    parts = split(totals["c"])
    records = []
    for day, c in sorted(parts["cohorts"].items()):
        body = {
            "schema_version": KPI_SCHEMA_VERSION,
            "kpi": "crm_cohort",
            "rep_id": totals["g"],
            "team_id": totals.get("team", ""),
            "handoff_day": day,
            **{name: c[name] for name in COUNTED},
            "won_amount": {
                cur: cents / 100 for cur, cents in sorted(c["won_amount_cents"].items())
            },
            "handoff_conversion": ratio(c["accepted"], c["handoffs"]),
            "win_rate": ratio(c["won"], c["won"] + c["lost"]),
            "emitted_at": from_ms(now_ms).isoformat(),
        }
        records.append(
            (record_key(kpi="crm_cohort", rep_id=totals["g"], handoff_day=day), orjson.dumps(body))
        )
    return records
