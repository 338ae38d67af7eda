"""The CRM family and the relationship family count the same deals the same way.

The same CRM events (handoffs, opportunities decided and re-decided, deals won, reopened and
lost, duplicates, any order after the handoffs) go through the attribution stage and on through
both routes the service runs: `isales.crm.attributed` -> the CRM stage, and the attribution
tap's touches -> the engagement stage -> `isales.reach` -> the reach stage. Per rep, accepted
and won must be the same on both, and equal the CRM section's definition written here from
docs/kpis/crm.md: an opportunity's newest decision and newest outcome (by time, then event id;
an outcome's time is its close time) stand."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from schemas.crm import AttributedEvent, CrmEvent
from schemas.touch import ReachRecord, TouchRecord
from stream_app.families.crm.attribution import AttributionFamily
from stream_app.families.crm.family import CrmFamily
from stream_app.families.engagement.config import EngagementConfig
from stream_app.families.engagement.lead import LeadFamily
from stream_app.families.engagement.reach import ReachFamily
from stream_app.families.engagement.touches import Tapped, crm_touches
from stream_app.spine.clock import FakeClock
from stream_app.spine.engine import Engine
from stream_app.spine.store import DictStore
from stream_app.spine.windows import parse_window_spec

T0 = 1_800_000_000_000
DAY = 86_400_000
SEGMENT_BY = ("industry", "size_band")
DECISIONS = ("opportunity_accepted", "opportunity_rejected")
OUTCOMES = ("deal_won", "deal_lost")


def engine(family: Any) -> Engine[Any]:
    return Engine(
        family,
        DictStore(),
        FakeClock(T0 + 400 * DAY),
        specs=(parse_window_spec("1d"),),
        tz="UTC",
        grace_ms=1000 * DAY,
        window_retention_ms=1000 * DAY,
        dedupe_retention_ms=1000 * DAY,
    )


def scenario(seed: int) -> list[dict[str, Any]]:
    """30 opportunities of 3 reps; each handed over once, then 0-4 decisions and 0-3 outcomes
    at random times (some equal), so opportunities are re-decided and deals reopened."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for n in range(30):
        opp, at = f"opp-{n}", T0 + rng.randint(0, 20) * DAY
        rows.append(
            {
                "event_id": f"h-{n}",
                "occurred_at": at,
                "type": "handoff",
                "opportunity_id": opp,
                "lead_id": f"lead-{n}",
                "rep_id": f"rep-{n % 3}",
                "team_id": f"team-{n % 2}",
                "segment": {"industry": "saas", "size_band": rng.choice(["smb", "ent"])},
                "discovery": {"budget": {"status": "answered"}},
            }
        )
        for k in range(rng.randint(0, 4)):
            rows.append(
                {
                    "event_id": f"d-{n}-{k}",
                    "occurred_at": at + rng.choice([1, 2, 2, 3]) * DAY,
                    "type": rng.choice(DECISIONS),
                    "opportunity_id": opp,
                }
            )
        for k in range(rng.randint(0, 3)):
            close = at + rng.choice([10, 12, 12, 30]) * DAY
            kind = rng.choice(OUTCOMES)
            extra = {"amount": "1000.00", "currency": "EUR"} if kind == "deal_won" else {}
            rows.append(
                {
                    "event_id": f"o-{n}-{k}",
                    # Recorded after the close, in another order than the closes.
                    "occurred_at": close + rng.randint(0, 3) * DAY,
                    "close_at": close,
                    "type": kind,
                    "opportunity_id": opp,
                    **extra,
                }
            )
    return rows


def truth(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """docs/kpis/crm.md: per rep, opportunities whose newest decision is accepted and whose
    newest outcome is won (newest by time, an outcome's time its close, then event id)."""
    rep = {r["opportunity_id"]: r["rep_id"] for r in rows if r["type"] == "handoff"}
    newest: dict[tuple[str, str], tuple[int, str, str]] = {}
    for r in rows:
        if r["type"] == "handoff":
            continue
        group = "decision" if r["type"] in DECISIONS else "outcome"
        mine = (r.get("close_at", r["occurred_at"]), r["event_id"], r["type"])
        key = (r["opportunity_id"], group)
        if key not in newest or mine > newest[key]:
            newest[key] = mine
    out: Counter[tuple[str, str]] = Counter()
    for (opp, _), (_, _, kind) in newest.items():
        if kind == "opportunity_accepted":
            out[(rep[opp], "accepted")] += 1
        elif kind == "deal_won":
            out[(rep[opp], "won")] += 1
    return out


def totals(eng: Engine[Any], prefix: str) -> Counter[tuple[str, str]]:
    """The stage's all-time counts per group: (rep, accepted|won), summed over segment/band."""
    out: Counter[tuple[str, str]] = Counter()
    for key, state in eng.store.items():
        if not key.startswith("t/") or not state["g"].startswith(prefix):
            continue
        rep = state["g"][len(prefix) :]
        for fact, n in state["c"].items():
            metric = fact.split("|")[0]
            if metric in ("accepted", "won") and n:
                out[(rep, metric)] += n
    return out


@pytest.mark.parametrize("seed", range(8))
def test_crm_and_reach_count_the_same_accepted_and_won_per_rep(seed: int) -> None:
    rows = scenario(seed)
    rng = random.Random(seed + 1000)
    handoffs = [r for r in rows if r["type"] == "handoff"]
    rest = [r for r in rows if r["type"] != "handoff"]
    rest += rng.sample(rest, len(rest) // 4)  # duplicates
    rng.shuffle(rest)
    # Some decisions before their handoff (held, then released), most after.
    early, late = rest[: len(rest) // 5], rest[len(rest) // 5 :]
    attribution = engine(Tapped(AttributionFamily(SEGMENT_BY), crm_touches(SEGMENT_BY)))
    emitted: list[tuple[str, bytes, bytes]] = []
    for offset, row in enumerate([*early, *handoffs, *late]):
        plan = attribution.plan(CrmEvent.model_validate(row), 0, offset)
        attribution.commit(plan)
        emitted.extend(plan.emits)

    crm = engine(CrmFamily("UTC", ("budget",)))
    lead = engine(LeadFamily(EngagementConfig()))
    reach = engine(ReachFamily())
    attributed = [v for role, _, v in emitted if role == "attributed"]
    touches = [v for role, _, v in emitted if role == "touches"]
    assert attributed and touches
    rng.shuffle(attributed)
    for offset, value in enumerate(attributed):
        crm.commit(crm.plan(AttributedEvent.model_validate_json(value), 0, offset))
    credits: list[bytes] = []
    for offset, value in enumerate(touches):
        plan = lead.plan(TouchRecord.model_validate_json(value), 0, offset)
        lead.commit(plan)
        credits.extend(v for role, _, v in plan.emits if role == "reach")
    credits.extend(v for role, _, v in lead.end_batch() if role == "reach")
    for offset, value in enumerate(credits):
        reach.commit(reach.plan(ReachRecord.model_validate_json(value), 0, offset))

    expected = truth(rows)
    assert sum(expected.values()) > 0
    assert totals(crm, "") == expected
    assert totals(reach, "rep:") == expected
