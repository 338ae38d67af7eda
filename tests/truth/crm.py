"""Ground truth for CRM KPIs from the produced records, without the service's code.

From the README's definitions: the first handoff of an opportunity (in its partition's order)
attributes it to a rep, team and segment; the newest decision and the newest outcome (by event
time, then event id) stand; wins are bucketed by close time; an outcome whose opportunity never
has a handoff is unattributed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from tests.truth.calls import bounds, ms

REQUIRED = ("budget", "authority", "need", "timeline")
TTC = (86_400, 3 * 86_400, 7 * 86_400, 14 * 86_400, 30 * 86_400, 60 * 86_400, 90 * 86_400)


def _zero() -> dict[str, int]:
    return defaultdict(int)


@dataclass
class CrmTruth:
    team_of: dict[str, str] = field(default_factory=dict)
    counted: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    """(rep, segment, handoffs|accepted|rejected|won|lost) -> n"""
    amounts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    """(rep, currency) -> cents"""
    discovery: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    plain: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    """(rep, complete_handoffs|fields_answered|fields_applicable|ttc_count|ttc_sum_ms)"""
    ttc: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    windows: dict[tuple[str, str, int], dict[str, int]] = field(
        default_factory=lambda: defaultdict(_zero)
    )
    """(rep, size, start) -> handoffs/accepted/rejected/won/lost/won_amount|CUR/answered/..."""
    cohorts: dict[tuple[str, str], dict[str, int]] = field(
        default_factory=lambda: defaultdict(_zero)
    )
    """(rep, handoff day) -> handoffs/accepted/rejected/won/lost"""
    unattributed: dict[str, int] = field(default_factory=lambda: {"won": 0, "lost": 0})
    unattributed_cents: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    attribution: dict[str, str] = field(default_factory=dict)
    """outcome event id -> attributed | unattributed"""
    applied: int = 0
    duplicates: int = 0


def _cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def _bucket(seconds: float) -> str:
    return next((str(b) for b in TTC if seconds <= b), "+Inf")


def compute(
    values: list[bytes], *, tz: str, sizes: tuple[str, ...], segment_by: tuple[str, ...]
) -> CrmTruth:
    truth = CrmTruth()
    seen: set[str] = set()
    handoff: dict[str, dict[str, Any]] = {}
    decisions: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    outcomes: dict[str, list[tuple[int, str, dict[str, Any]]]] = defaultdict(list)
    for raw in values:
        e = orjson.loads(raw)
        if e["event_id"] in seen:
            truth.duplicates += 1
            continue
        seen.add(e["event_id"])
        truth.applied += 1
        kind = e["type"]
        if kind == "handoff":
            handoff.setdefault(e["opportunity_id"], e)
        elif kind in ("opportunity_accepted", "opportunity_rejected"):
            decisions[e["opportunity_id"]].append(
                (ms(e["occurred_at"]), e["event_id"], kind.split("_")[1])
            )
        elif kind in ("deal_won", "deal_lost"):
            outcomes[e["opportunity_id"]].append((ms(e["close_at"]), e["event_id"], e))
    zone = ZoneInfo(tz)

    def bump(rep: str, at: int, name: str, n: int = 1) -> None:
        for size in sizes:
            truth.windows[(rep, size, bounds(at, size, tz)[0])][name] += n

    for opp, events in outcomes.items():
        if opp not in handoff:
            for _, eid, e in events:
                won = e["type"] == "deal_won"
                truth.unattributed["won" if won else "lost"] += 1
                if won:
                    truth.unattributed_cents[e["currency"]] += _cents(e["amount"])
                truth.attribution[eid] = "unattributed"
        else:
            for _, eid, _ in events:
                truth.attribution[eid] = "attributed"
    for opp, h in handoff.items():
        rep, team, at = h["rep_id"], h["team_id"], ms(h["occurred_at"])
        truth.team_of[rep] = team
        seg = ":".join(h["segment"].get(a) or "unknown" for a in segment_by)
        day = datetime.fromtimestamp(at / 1000, tz=zone).date().isoformat()
        truth.counted[(rep, seg, "handoffs")] += 1
        truth.cohorts[(rep, day)]["handoffs"] += 1
        bump(rep, at, "handoffs")
        statuses = {name: f["status"] for name, f in h["discovery"].items()}
        for name, status in statuses.items():
            truth.discovery[(rep, name, status)] += 1
        answered = sum(s == "answered" for s in statuses.values())
        applicable = sum(s != "not_applicable" for s in statuses.values())
        truth.plain[(rep, "fields_answered")] += answered
        truth.plain[(rep, "fields_applicable")] += applicable
        bump(rep, at, "fields_answered", answered)
        bump(rep, at, "fields_applicable", applicable)
        if all(statuses.get(f) in ("answered", "not_applicable") for f in REQUIRED):
            truth.plain[(rep, "complete_handoffs")] += 1
        if decisions[opp]:
            dec_at, _, verdict = max(decisions[opp])
            truth.counted[(rep, seg, verdict)] += 1
            truth.cohorts[(rep, day)][verdict] += 1
            bump(rep, dec_at, verdict)
        if outcomes[opp]:
            close, _, e = max(outcomes[opp], key=lambda o: (o[0], o[1]))
            verdict = "won" if e["type"] == "deal_won" else "lost"
            truth.counted[(rep, seg, verdict)] += 1
            truth.cohorts[(rep, day)][verdict] += 1
            bump(rep, close, verdict)
            if verdict == "won":
                truth.amounts[(rep, e["currency"])] += _cents(e["amount"])
                bump(rep, close, f"won_amount|{e['currency']}", _cents(e["amount"]))
            elapsed = max(close - at, 0)
            truth.ttc[(rep, _bucket(elapsed / 1000))] += 1
            truth.plain[(rep, "ttc_count")] += 1
            truth.plain[(rep, "ttc_sum_ms")] += elapsed
    return truth
