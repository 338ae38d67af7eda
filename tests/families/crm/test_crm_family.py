"""CRM attribution and KPI facts: pure, no Kafka."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.crm import UNATTRIBUTED, AttributedEvent, CrmEvent
from stream_app.families.crm.attribution import AttributionFamily
from stream_app.families.crm.family import CrmFamily
from stream_app.families.crm.kpis import rates, split

ATTR = AttributionFamily(("industry", "size_band"))
CRM = CrmFamily("Europe/Berlin", ("budget", "authority", "need", "timeline"))
T0 = 1_772_440_000_000


def crm(kind: str, n: int, **extra: Any) -> CrmEvent:
    body = {
        "event_id": f"e{n}",
        "occurred_at": T0 + n * 1000,
        "type": kind,
        "opportunity_id": "opp-1",
        "lead_id": "lead-1",
        **extra,
    }
    return CrmEvent.model_validate(body)


def handoff(fields: dict[str, str], n: int = 1) -> CrmEvent:
    return crm(
        "handoff",
        n,
        rep_id="rep-1",
        team_id="team-a",
        segment={"industry": "saas", "size_band": "smb"},
        discovery={name: {"status": status} for name, status in fields.items()},
    )


FULL = {"budget": "answered", "authority": "answered", "need": "answered", "timeline": "answered"}


def run_attribution(*events: CrmEvent) -> list[tuple[str, bytes, dict[str, Any]]]:
    state, out = None, []
    for e in events:
        new = ATTR.merge(state, e)
        out += [(role, key, orjson.loads(value)) for role, key, value in ATTR.emit(state, new, e)]
        state = new
    return out


def crm_facts(records: list[dict[str, Any]], group: str) -> dict[str, int]:
    state = None
    for r in records:
        event = AttributedEvent.model_validate(r)
        if event.rep_id == group:
            state = CRM.merge(state, event)
    return {k: v for k, (_, v) in CRM.facts(state or {}).items()}


def test_asked_unanswered_and_not_asked_are_counted_apart() -> None:
    fields = {
        "budget": "asked_declined",
        "authority": "asked_unknown",
        "need": "not_asked",
        "timeline": "answered",
        "competition": "not_applicable",
    }
    emitted = run_attribution(handoff(fields))
    facts = crm_facts([v for _, _, v in emitted], "rep-1")
    figures = split(facts)
    assert figures["discovery"]["budget"]["asked_declined"] == 1
    assert figures["discovery"]["authority"]["asked_unknown"] == 1
    assert figures["discovery"]["need"]["not_asked"] == 1
    assert figures["discovery"]["need"]["asked_declined"] == 0
    assert figures["discovery"]["budget"]["not_asked"] == 0


def test_not_applicable_leaves_the_denominator() -> None:
    fields = {**FULL, "timeline": "not_applicable", "competition": "not_asked"}
    facts = crm_facts([v for _, _, v in run_attribution(handoff(fields))], "rep-1")
    # 3 answered out of 4 applicable (timeline is n/a): completeness 0.75, not 3/5.
    assert (facts["fields_answered"], facts["fields_applicable"]) == (3, 4)
    assert (
        rates({}, {"fields_answered": 3, "fields_applicable": 4})["discovery_completeness"] == 0.75
    )
    assert facts["complete_handoffs"] == 1  # every required field answered or n/a
    worse = {**FULL, "need": "asked_declined"}
    assert "complete_handoffs" not in crm_facts(
        [v for _, _, v in run_attribution(handoff(worse))], "rep-1"
    )


def test_a_win_before_its_handoff_is_held_then_credited_to_the_rep() -> None:
    won = crm("deal_won", 5, amount="1200.50", currency="EUR", close_at=T0 + 86_400_000)
    early = run_attribution(won)
    # Held: counted as unattributed downstream, and recorded as such on the outcomes topic.
    assert [(role, key) for role, key, _ in early] == [
        ("attributed", UNATTRIBUTED.encode()),
        ("outcomes", orjson.dumps({"event_id": "e5", "kpi": "crm_attribution"})),
    ]
    assert early[1][2]["status"] == "unattributed"
    later = run_attribution(won, handoff(FULL, 9))
    roles = [(role, key, v.get("kind") or v.get("status")) for role, key, v in later[2:]]
    assert roles == [
        ("attributed", b"rep-1", "handoff"),
        ("attributed", b"rep-1", "won"),
        ("attributed", UNATTRIBUTED.encode(), "claimed"),
        ("outcomes", orjson.dumps({"event_id": "e5", "kpi": "crm_attribution"}), "attributed"),
    ]
    records = [v for role, _, v in later if role == "attributed"]
    rep = crm_facts(records, "rep-1")
    assert rep["won|saas:smb"] == 1 and rep["won_amount|EUR"] == 120_050
    # The won event keeps its close time through the repartition.
    won_record = next(v for _, _, v in later if v.get("kind") == "won")
    assert won_record["occurred_at"] == T0 + 86_400_000
    assert crm_facts(records, UNATTRIBUTED) == {}  # claimed: no longer unattributed
    assert crm_facts(records[:1], UNATTRIBUTED) == {
        "unattributed|won": 1,
        "unattributed_amount|EUR": 120_050,
    }


def test_newest_decision_stands_whatever_the_order() -> None:
    h = run_attribution(handoff(FULL))[0][2]
    acc = {**h, "event_id": "a", "kind": "accepted", "occurred_at": T0 + 5_000}
    rej = {**h, "event_id": "r", "kind": "rejected", "occurred_at": T0 + 9_000}
    for order in ([h, acc, rej], [rej, acc, h], [acc, rej, h, acc]):
        facts = crm_facts(order, "rep-1")
        assert "rejected|saas:smb" in facts and "accepted|saas:smb" not in facts


def test_cohorts_are_by_handoff_day_and_not_windowed() -> None:
    h = run_attribution(handoff(FULL))[0][2]
    lost = {**h, "event_id": "l", "kind": "lost", "occurred_at": T0 + 20 * 86_400_000}
    facts = crm_facts([h, lost], "rep-1")
    assert facts["cohort|2026-03-02|handoffs"] == 1 and facts["cohort|2026-03-02|lost"] == 1
    assert not CRM.windowed("cohort|2026-03-02|lost") and CRM.windowed("lost|saas:smb")
    assert facts["ttc_le|" + str(30 * 86_400)] == 1


def test_live_demo_hands_off_after_connects() -> None:
    import random

    from stream_app.families.calls.demo import live_records
    from stream_app.families.crm.demo import crm_follow_up
    from stream_app.spine.decode import Accepted, decode

    follow_ups = 0
    stream = live_records(50, 1, T0, "Europe/Berlin", 65_536, follow_up=crm_follow_up)
    for _, (_, record) in zip(range(40_000), stream, strict=False):  # ~15 min of demo
        if record.topic != "crm":
            continue
        follow_ups += 1
        got = decode(
            record.value, record.key, ATTR, max_bytes=65_536, now_ms=T0 + 10**9, max_future_ms=0
        )
        assert isinstance(got, Accepted), got
    assert follow_ups > 10
    call = {"call_id": "c1", "rep_id": "rep-1", "status": "completed", "answered_by": "human"}
    for seed in range(20):
        for at, follow in crm_follow_up(random.Random(seed), call, "team-a", T0):
            assert at > T0 and follow.key == b"opp-c1"


def test_cohort_weeks_are_the_last_four_monday_weeks_zeros_too() -> None:
    from datetime import date

    from stream_app.families.crm.kpis import cohort_weeks

    # Sunday 2026-12-06: its week starts Monday 2026-11-30; four weeks back to 2026-11-09.
    cohorts = {
        "2026-12-06": {"handoffs": 2, "accepted": 1, "won": 1},
        "2026-11-30": {"handoffs": 1, "lost": 1},
        "2026-11-15": {"handoffs": 4, "accepted": 3, "rejected": 1},  # a Sunday
        "2026-11-08": {"handoffs": 9},  # five weeks back: outside
        "2026-12-07": {"handoffs": 9},  # next week: outside
    }
    weeks = cohort_weeks(cohorts, date(2026, 12, 6))
    assert list(weeks) == ["2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]
    assert weeks["2026-11-09"] == {
        "handoffs": 4,
        "accepted": 3,
        "rejected": 1,
        "won": 0,
        "lost": 0,
    }
    assert weeks["2026-11-16"] == dict.fromkeys(weeks["2026-11-16"], 0)
    assert weeks["2026-11-30"] == {"handoffs": 3, "accepted": 1, "rejected": 0, "won": 1, "lost": 1}
