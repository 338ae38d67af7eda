"""Demo CRM traffic: leads, handoffs after connects, decisions days later, wins weeks later.

Handoffs happen on business days shortly after a conversation (the call floor's roster and
hours); field sales decides in 1-3 days; accepted opportunities close in 5-40 days. Some
outcomes reach Kafka before their handoff (the CRM connector backfilled the opportunity late),
events are redelivered, some wins belong to opportunities no inside-sales rep handed over
(unattributable), and a few records are malformed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from schemas.common import from_ms, to_ms
from stream_app.demo.traffic import Produced, roster
from stream_app.families.crm.kpis import STATUSES

FIELDS = ("budget", "authority", "need", "timeline", "competition")
INDUSTRIES = ("saas", "manufacturing", "retail", "finance")
SIZES = ("smb", "mid", "ent")
CURRENCIES = ("EUR", "USD", "JPY")


@dataclass
class CrmScenarioConfig:
    seed: int = 3
    handoffs: int = 2200
    reps: int = 12
    teams: int = 2
    start_date: str = "2026-03-02"  # a Monday
    business_days: int = 20
    tz: str = "Europe/Berlin"
    early_outcome_rate: float = 0.15
    """Share of opportunities with an outcome whose handoff reaches Kafka after the outcome."""
    duplicate_rate: float = 0.06
    unattributable: int = 40
    malformed: int = 40


def _business_day(day0: datetime, n: int) -> datetime:
    days, d = 0, day0
    while True:
        if d.weekday() < 5:
            if days == n:
                return d
            days += 1
        d += timedelta(days=1)


def _discovery(rng: random.Random, quality: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS:
        roll = rng.random()
        if name == "competition" and roll < 0.3:
            status = "not_applicable"
        elif roll < quality:
            status = "answered"
        else:
            status = rng.choice(STATUSES[1:4])
        field: dict[str, Any] = {"status": status}
        if status == "answered":
            field["value"] = f"{name}-answer"
        out[name] = field
    return out


def crm_scenario(cfg: CrmScenarioConfig) -> list[Produced]:
    """A fixed, seeded list of CRM records in production order."""
    rng = random.Random(cfg.seed)
    tz = ZoneInfo(cfg.tz)
    day0 = datetime.fromisoformat(cfg.start_date).replace(tzinfo=tz)
    people = roster(cfg.reps, cfg.teams)
    quality = {rep: rng.uniform(0.4, 0.9) for rep, _ in people}
    timeline: list[tuple[int, int, bytes, dict[str, Any]]] = []
    seq = 0

    def add(key: str, at_ms: int, deliver_ms: int, body: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        occurred: Any = at_ms if seq % 2 else from_ms(at_ms).isoformat()
        event = {"event_id": f"crm-{cfg.seed}-{seq}", "occurred_at": occurred, **body}
        timeline.append((deliver_ms, rng.getrandbits(32), key.encode(), event))

    for n in range(cfg.handoffs):
        rep, team = people[rng.randrange(len(people))]
        lead, opp = f"lead-{cfg.seed}-{n:05d}", f"opp-{cfg.seed}-{n:05d}"
        segment = {
            "industry": rng.choice(INDUSTRIES),
            "size_band": rng.choice(SIZES),
            "region": "emea",
            "source": rng.choice(("inbound", "outbound")),
        }
        day = _business_day(day0, rng.randrange(cfg.business_days))
        # A handoff follows a conversation: business hours, after the call ends.
        handoff = to_ms(day + timedelta(hours=rng.uniform(9.5, 17.5)))
        created = handoff - rng.randint(1, 10) * 86_400_000
        add(lead, created, created, {"type": "lead_created", "lead_id": lead, "segment": segment})
        assigned = created + rng.randint(60_000, 3_600_000)
        add(
            lead,
            assigned,
            assigned,
            {"type": "lead_assigned", "lead_id": lead, "rep_id": rep, "team_id": team},
        )
        handoff_body = {
            "type": "handoff",
            "lead_id": lead,
            "opportunity_id": opp,
            "rep_id": rep,
            "team_id": team,
            "field_rep_id": f"ae-{rng.randrange(5)}",
            "segment": segment,
            "discovery": _discovery(rng, quality[rep]),
        }
        events: list[tuple[int, dict[str, Any]]] = []
        decided = handoff + rng.randint(3_600_000, 3 * 86_400_000)
        accepted = rng.random() < 0.7
        if accepted:
            events.append((decided, {"type": "opportunity_accepted", "opportunity_id": opp}))
            roll = rng.random()
            if roll < 0.8:
                close = decided + rng.randint(5, 40) * 86_400_000 + rng.randint(0, 86_399_999)
                if roll < 0.32:
                    amount = f"{rng.randint(5, 200) * 500}.00"
                    body = {
                        "type": "deal_won",
                        "opportunity_id": opp,
                        "amount": amount,
                        "currency": rng.choice(CURRENCIES),
                        "close_at": from_ms(close).isoformat(),
                    }
                else:
                    body = {
                        "type": "deal_lost",
                        "opportunity_id": opp,
                        "reason": "no budget",
                        "close_at": from_ms(close).isoformat(),
                    }
                # The CRM may send the close a little after it happened.
                events.append((close + rng.randint(0, 3_600_000), body))
        else:
            events.append(
                (
                    decided,
                    {
                        "type": "opportunity_rejected",
                        "opportunity_id": opp,
                        "reason": "not qualified",
                    },
                )
            )
        has_outcome = any(b["type"] in ("deal_won", "deal_lost") for _, b in events)
        handoff_delivered = handoff
        if has_outcome and rng.random() < cfg.early_outcome_rate:
            # Backfilled: the handoff reaches Kafka an hour after the last outcome.
            handoff_delivered = max(at for at, _ in events) + 3_600_000
        add(opp, handoff, handoff_delivered, handoff_body)
        for at, body in events:
            add(opp, at, at, body)
    for n in range(cfg.unattributable):
        opp = f"opp-foreign-{cfg.seed}-{n:04d}"
        close = to_ms(_business_day(day0, rng.randrange(cfg.business_days))) + 40 * 86_400_000
        won = n % 2 == 0
        foreign: dict[str, Any] = {
            "type": "deal_won" if won else "deal_lost",
            "opportunity_id": opp,
            "close_at": from_ms(close).isoformat(),
        }
        if won:
            foreign.update(amount="1000.00", currency="EUR")
        add(opp, close, close, foreign)
    timeline.sort(key=lambda item: (item[0], item[1]))
    out = [Produced(key, orjson.dumps(event), "event") for _, _, key, event in timeline]
    originals = list(out)
    for original in rng.sample(originals, int(len(originals) * cfg.duplicate_rate)):
        position = min(out.index(original) + rng.randint(1, 300), len(out))
        out.insert(position, Produced(original.key, original.value, "duplicate"))
    samples = [orjson.loads(p.value) for p in rng.sample(originals, 30)]
    kinds = (
        "invalid_json",
        "missing_field",
        "unknown_enum",
        "wrong_type",
        "personal_data",
        "key_mismatch",
    )
    for i in range(cfg.malformed):
        out.insert(
            rng.randint(0, len(out)), _malformed(rng, kinds[i % len(kinds)], rng.choice(samples))
        )
    return out


def _malformed(rng: random.Random, kind: str, sample: dict[str, Any]) -> Produced:
    key = (sample.get("opportunity_id") or sample["lead_id"]).encode()
    bad = {**sample, "event_id": f"bad-{rng.getrandbits(40):010x}"}
    if kind == "invalid_json":
        return Produced(key, b'{"type": "handoff", ', "malformed", kind)
    if kind == "missing_field":
        bad.pop("type")
    elif kind == "unknown_enum":
        bad["type"] = "deal_postponed"
    elif kind == "wrong_type":
        bad["amount"] = "lots"
        bad["type"] = "deal_won"
        bad["opportunity_id"] = bad.get("opportunity_id") or "opp-x"
        key = bad["opportunity_id"].encode()
    elif kind == "personal_data":
        bad["rep_id"] = "jane@example.com"
        bad["type"] = "lead_assigned"
        bad["lead_id"] = bad.get("lead_id") or "lead-x"
        key = bad["lead_id"].encode()
    elif kind == "key_mismatch":
        key = b"someone-else"
    return Produced(key, orjson.dumps(bad), "malformed", kind)


def event_time_ms(value: bytes) -> int:
    """The latest timestamp of a CRM record (occurred_at or close_at)."""
    from schemas.common import to_ms
    from schemas.crm import CrmEvent

    event = CrmEvent.model_validate(orjson.loads(value))
    return max(to_ms(t) for t in (event.occurred_at, event.close_at) if t is not None)


def past_only(records: list[Produced], now_ms: int) -> list[Produced]:
    """A scenario cut at `now`: deals that close in the future have not closed yet."""
    return [r for r in records if r.kind == "malformed" or event_time_ms(r.value) <= now_ms]


def _segment(lead: str | None, rng: random.Random) -> dict[str, str]:
    """The lead's segment: the same for every handoff of a lead (the web demo agrees)."""
    if lead is None:
        return {"industry": rng.choice(("saas", "retail")), "size_band": "smb"}
    from stream_app.families.engagement.demo import lead_segment

    industry, size = lead_segment(lead).split(":")
    return {"industry": industry, "size_band": size}


def crm_follow_up(
    rng: random.Random, call: dict[str, Any], team: str, ended_ms: int
) -> list[tuple[int, Produced]]:
    """A good conversation sometimes becomes a handoff minutes later; field sales decides and
    the deal closes soon after (demo time runs fast: minutes, not weeks)."""
    if rng.random() >= 0.3:
        return []
    opp = f"opp-{call['call_id']}"
    base = {"opportunity_id": opp}
    handoff_ms = ended_ms + rng.randint(30_000, 180_000)
    statuses = ("answered", "asked_declined", "asked_unknown", "not_asked")
    handoff = {
        **base,
        "event_id": f"{opp}-handoff",
        "occurred_at": handoff_ms,
        "type": "handoff",
        "lead_id": call.get("lead_id") or f"lead-{call['call_id']}",
        "rep_id": call["rep_id"],
        "team_id": team,
        "field_rep_id": "ae-1",
        "segment": _segment(call.get("lead_id"), rng),
        "discovery": {
            name: {"status": rng.choices(statuses, (6, 1, 1, 2))[0]}
            for name in ("budget", "authority", "need", "timeline")
        },
    }
    out = [(handoff_ms, handoff)]
    decided = handoff_ms + rng.randint(60_000, 300_000)
    accepted = rng.random() < 0.7
    kind = "opportunity_accepted" if accepted else "opportunity_rejected"
    out.append(
        (decided, {**base, "event_id": f"{opp}-decision", "occurred_at": decided, "type": kind})
    )
    if accepted:
        closed = decided + rng.randint(60_000, 600_000)
        won = rng.random() < 0.4
        deal = {
            **base,
            "event_id": f"{opp}-close",
            "occurred_at": closed,
            "type": "deal_won" if won else "deal_lost",
            "close_at": closed,
        }
        if won:
            deal.update(amount=f"{rng.randint(10, 100) * 100}.00", currency="EUR")
        out.append((closed, deal))
    return [(at, Produced(opp.encode(), orjson.dumps(e), "event", topic="crm")) for at, e in out]
