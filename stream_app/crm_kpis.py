"""CRM KPIs from a rep's counts: formulas and KPI topic records (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import orjson

from schemas.common import from_ms

SEP = "|"
COUNTED = ("handoffs", "accepted", "rejected", "won", "lost")
STATUSES = ("answered", "asked_declined", "asked_unknown", "not_asked", "not_applicable")


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


def split(counts: Mapping[str, int]) -> dict[str, Any]:
    """Facts of a rep (totals or one window) as nested figures."""
    by_segment: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED, 0))
    amounts: dict[str, int] = defaultdict(int)
    discovery: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    cohorts: dict[str, dict[str, Any]] = {}
    ttc: dict[str, int] = {}
    unattributed: dict[str, int] = {}
    unattributed_amount: dict[str, int] = {}
    plain: dict[str, int] = {}
    for fact, n in counts.items():
        head, _, rest = fact.partition(SEP)
        if head in COUNTED:
            by_segment[rest][head] += n
        elif head == "won_amount":
            amounts[rest] += n
        elif head == "disc":
            name, _, status = rest.partition(SEP)
            discovery[name][status] += n
        elif head == "cohort":
            day, _, what = rest.partition(SEP)
            cohort = cohorts.setdefault(day, {**dict.fromkeys(COUNTED, 0), "won_amount_cents": {}})
            if what.startswith("won_amount" + SEP):
                cohort["won_amount_cents"][what.split(SEP, 1)[1]] = n
            else:
                cohort[what] += n
        elif head == "ttc_le":
            ttc[rest] = n
        elif head == "unattributed":
            unattributed[rest] = n
        elif head == "unattributed_amount":
            unattributed_amount[rest] = n
        else:
            plain[fact] = n
    return {
        "by_segment": dict(by_segment),
        "amounts": dict(amounts),
        "discovery": dict(discovery),
        "cohorts": cohorts,
        "ttc": ttc,
        "unattributed": unattributed,
        "unattributed_amount": unattributed_amount,
        "plain": plain,
    }


def totals_of(by_segment: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    out = dict.fromkeys(COUNTED, 0)
    for counts in by_segment.values():
        for name in COUNTED:
            out[name] += counts.get(name, 0)
    return out


def rates(c: Mapping[str, int], plain: Mapping[str, int]) -> dict[str, float | None]:
    return {
        "handoff_conversion": _ratio(c.get("accepted", 0), c.get("handoffs", 0)),
        "win_rate": _ratio(c.get("won", 0), c.get("won", 0) + c.get("lost", 0)),
        "discovery_completeness": _ratio(
            plain.get("fields_answered", 0), plain.get("fields_applicable", 0)
        ),
    }


def _key(**fields: Any) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def window_records(
    value: Mapping[str, Any], *, tz: str, final: bool, now_ms: int
) -> list[tuple[str, bytes, bytes]]:
    """("handoffs" | "outcomes", key, record) for one rep window."""
    parts = split(value["c"])
    total = totals_of(parts["by_segment"])
    common = {
        "schema_version": 1,
        "rep_id": value["g"],
        "team_id": value.get("team", ""),
        "window": value["spec"],
        "window_start": from_ms(value["start"]).isoformat(),
        "window_end": from_ms(value["end"]).isoformat(),
        "window_start_ms": value["start"],
        "window_end_ms": value["end"],
        "time_zone": tz,
        "final": final,
        "revision": value["rev"] + (1 if final and not value["final"] else 0),
        "emitted_at": from_ms(now_ms).isoformat(),
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
        ("handoffs", _key(kpi="crm_handoffs", **key), orjson.dumps(handoffs)),
        ("outcomes", _key(kpi="crm_outcomes", **key), orjson.dumps(outcomes)),
    ]


def cohort_records(totals: Mapping[str, Any], now_ms: int) -> list[tuple[bytes, bytes]]:
    """For the handoffs a rep made on each day: how many are accepted, won, lost so far."""
    parts = split(totals["c"])
    records = []
    for day, c in sorted(parts["cohorts"].items()):
        body = {
            "schema_version": 1,
            "kpi": "crm_cohort",
            "rep_id": totals["g"],
            "team_id": totals.get("team", ""),
            "handoff_day": day,
            **{name: c[name] for name in COUNTED},
            "won_amount": {
                cur: cents / 100 for cur, cents in sorted(c["won_amount_cents"].items())
            },
            "handoff_conversion": _ratio(c["accepted"], c["handoffs"]),
            "win_rate": _ratio(c["won"], c["won"] + c["lost"]),
            "emitted_at": from_ms(now_ms).isoformat(),
        }
        records.append(
            (_key(kpi="crm_cohort", rep_id=totals["g"], handoff_day=day), orjson.dumps(body))
        )
    return records
