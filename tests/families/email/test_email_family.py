"""Email per-message state, facts and the A/B test: pure, no Kafka."""

from __future__ import annotations

import math
import random
from datetime import datetime
from statistics import NormalDist
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas.email import EmailEvent
from stream_app.families.email.ab import compare, two_proportion_z
from stream_app.families.email.family import EmailFamily, fact_name
from stream_app.families.email.kpis import by_dimension, rates
from stream_app.spine.family_protocol import fact_deltas

FAM = EmailFamily("Europe/Berlin")
SENT = 1_772_438_400_000  # 2026-03-02 09:00 Europe/Berlin, a Monday


def event(kind: str, at: int, n: int = 0, **extra: Any) -> EmailEvent:
    return EmailEvent.model_validate(
        {
            "event_id": f"m1-{kind}-{n}",
            "occurred_at": at,
            "type": kind,
            "message_id": "m1",
            "campaign_id": "c1",
            "variant": "B",
            "subject_id": "s1",
            "segment": "smb",
            "lead_id": "lead-1",
            "sent_at": SENT,
            **extra,
        }
    )


def facts_of(*events: EmailEvent) -> dict[str, int]:
    state = None
    for e in events:
        state = FAM.merge(state, e)
    assert state is not None
    return FAM.message_facts(state)


def test_a_click_alone_is_a_human_open_and_a_click() -> None:
    got = facts_of(event("click", SENT + 9_000, url_host="example.com"))
    assert got == {"clicks": SENT + 9_000, "human_opens": SENT + 9_000}


def test_machine_only_until_a_person_opens() -> None:
    machine = event("open", SENT + 5_000, machine_open=True)
    assert "machine_only" in facts_of(machine)
    human = event("open", SENT + 60_000, 1, machine_open=False)
    got = facts_of(machine, human)
    assert "machine_only" not in got and got["machine_opens"] == SENT + 5_000
    assert got["human_opens"] == SENT + 60_000


def test_a_machine_flagged_click_does_not_make_a_human_open() -> None:
    got = facts_of(event("click", SENT + 9_000, machine_open=True, url_host="example.com"))
    assert "human_opens" not in got and got["machine_only"] == SENT + 9_000


def test_hard_bounce_outranks_soft() -> None:
    soft = event("bounce", SENT + 1_000, bounce_type="soft")
    hard = event("bounce", SENT + 9_000, 1, bounce_type="hard")
    assert "bounced_soft" in facts_of(soft)
    got = facts_of(hard, soft)
    assert "bounced_soft" not in got and got["bounced_hard"] == SENT + 9_000


def test_facts_carry_every_dimension_and_only_variant_facts_are_windowed() -> None:
    state = FAM.merge(None, event("delivered", SENT + 2_000))
    facts = FAM.facts(state)
    assert set(facts) == {
        fact_name("delivered", "variant", "B"),
        fact_name("delivered", "segment", "smb"),
        fact_name("delivered", "send_weekday", "mon"),
        fact_name("delivered", "send_hour", "09"),  # business time zone, not UTC (08)
        fact_name("delivered", "team", "none"),
    }
    assert [f for f in facts if FAM.windowed(f)] == [fact_name("delivered", "variant", "B")]
    assert not FAM.windowed(fact_name("machine_only", "variant", "B"))


KINDS = st.sampled_from(["sent", "delivered", "open", "click", "bounce", "deferred", "unsubscribe"])


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            "Europe/Amsterdam",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "Pacific/Chatham",
            "America/St_Johns",
        ]
    ),
    st.integers(min_value=-1_500_000_000_000, max_value=2_500_000_000_000),
)
# 1930-01-15 09:41 UTC, 10:00:32 in Amsterdam: its quarter hour began at 09:49:32 local.
@example("Europe/Amsterdam", -1_261_059_540_000)
def test_send_weekday_and_hour_are_the_local_time_of_the_send(zone: str, sent_at: int) -> None:
    """README: a message counts under the weekday and hour of its send in the business zone,
    also in zones on quarter-hour offsets and before 1937, when Amsterdam was +0:19:32."""
    fam = EmailFamily(zone)
    for at in (sent_at, sent_at // 900_000 * 900_000, sent_at + 1, sent_at - 1):
        local = datetime.fromtimestamp(at / 1000, tz=ZoneInfo(zone))
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
        state = {"sent_at": at, "v": "A", "seg": "smb", "team": "t1"}
        dims = fam.dimensions(state)
        assert (dims["send_weekday"], dims["send_hour"]) == (weekday, f"{local.hour:02d}")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(KINDS, st.integers(0, 10_000_000), st.booleans()), min_size=1, max_size=12)
)
def test_merge_is_order_free_and_idempotent(raw: list[tuple[str, int, bool]]) -> None:
    events = []
    for n, (kind, offset, flag) in enumerate(raw):
        extra: dict[str, Any] = {}
        if kind in ("open", "click"):
            extra["machine_open"] = flag
        if kind == "bounce":
            extra["bounce_type"] = "hard" if flag else "soft"
        events.append(event(kind, SENT + offset, n, **extra))
    reference = facts_of(*events)
    shuffled = list(events) + random.Random(len(events)).sample(events, len(events) // 2)
    random.Random(7).shuffle(shuffled)
    assert facts_of(*shuffled) == reference


def test_rates_from_counts() -> None:
    c = {"sent": 100, "delivered": 90, "human_opens": 27, "machine_only": 30, "clicks": 9}
    c["bounced_hard"], c["bounced_soft"] = 6, 4
    r = rates(c)
    assert r["open_rate"] == 0.3 and r["adjusted_open_rate"] == 27 / 60
    assert r["click_rate"] == 0.1 and r["click_to_open_rate"] == 9 / 27 and r["bounce_rate"] == 0.1
    assert rates({})["open_rate"] is None
    split = by_dimension({"delivered|variant|A": 5, "delivered|segment|smb": 5})
    assert split == {("variant", "A"): {"delivered": 5}, ("segment", "smb"): {"delivered": 5}}


def test_z_test_matches_the_textbook() -> None:
    got = two_proportion_z(300, 1000, 200, 1000)
    assert got is not None
    p = 500 / 2000
    z = 0.1 / math.sqrt(p * (1 - p) * (2 / 1000))
    assert abs(got.z - z) < 1e-12
    assert abs(got.p_value - 2 * (1 - NormalDist().cdf(z))) < 1e-12
    assert two_proportion_z(0, 100, 0, 100) is None and two_proportion_z(1, 0, 1, 10) is None


def test_leader_needs_significance_and_enough_deliveries() -> None:
    clear = compare({"A": (200, 1000), "B": (300, 1000)}, alpha=0.05, min_n=1000)
    assert clear.leader == "B"
    b = next(r for r in clear.results if r.variant == "B")
    assert b.rival == "A" and b.z is not None and b.z > 0
    assert compare({"A": (200, 1000), "B": (300, 1000)}, alpha=0.05, min_n=1001).leader is None
    assert compare({"A": (250, 1000), "B": (252, 1000)}, alpha=0.05, min_n=100).leader is None
    # Three arms: the best must beat the runner-up, not just the worst.
    three = compare({"A": (300, 1000), "B": (295, 1000), "C": (100, 1000)}, alpha=0.05, min_n=100)
    assert three.leader is None
    assert next(r for r in three.results if r.variant == "C").rival == "A"


def _collector_text(
    clock_ms: int, caps: int, campaigns: list[str], at: dict[str, int] | None = None
) -> str:
    from prometheus_client import CollectorRegistry, generate_latest

    from stream_app.families.email.metrics import EmailCollector
    from stream_app.spine.clock import FakeClock
    from stream_app.spine.engine import Engine
    from stream_app.spine.labels import LabelGuard
    from stream_app.spine.store import DictStore
    from stream_app.spine.windows import parse_window_spec

    engine: Engine[Any] = Engine(
        FAM,
        DictStore(),
        FakeClock(clock_ms),
        specs=(parse_window_spec("1h"),),
        tz="Europe/Berlin",
        grace_ms=60_000,
        window_retention_ms=10**12,
        dedupe_retention_ms=10**12,
    )
    for n, campaign in enumerate(campaigns):
        e = event("delivered", (at or {}).get(campaign, SENT + 2_000)).model_copy(
            update={"campaign_id": campaign, "message_id": f"m{n}", "event_id": f"d{n}"}
        )
        engine.commit(engine.plan(e, 0, n))
    engine.flush()
    engine.rebuild_index({0})
    guard = LabelGuard(dict.fromkeys(("rep", "team", "campaign", "variant", "segment"), caps))
    registry = CollectorRegistry()
    registry.register(
        EmailCollector(
            engine,
            alpha=0.05,
            min_n=10,
            idle_ms=3_600_000,
            prefix="isales",
            source_topic="email.events",
            owned=lambda: {0},
            highwater=lambda p: None,
            guard=guard,
            clock=FakeClock(clock_ms),
        )
    )
    return generate_latest(registry).decode()


def test_a_campaign_quiet_in_event_time_leaves_the_metrics() -> None:
    """README: a campaign with no event for ISALES_EMAIL_CAMPAIGN_IDLE_HOURS of event time
    (its partition's watermark moved on that far) leaves /metrics; the wall clock alone does
    not, so a backfilled campaign shows like a live one."""
    live = _collector_text(SENT + 60_000, 10, ["c1"])
    assert 'isales_email_cohort_delivered{campaign="c1",dimension="variant",value="B"} 1.0' in live
    backfilled = _collector_text(SENT + 30 * 86_400_000, 10, ["c1"])  # a month later, by the clock
    assert 'campaign="c1"' in backfilled
    later = {"c2": SENT + 2 * 3_600_000}  # another campaign moves the watermark past idle
    quiet = _collector_text(SENT + 2 * 3_600_000, 10, ["c1", "c2"], at=later)
    assert 'campaign="c1"' not in quiet and 'campaign="c2"' in quiet
    assert "isales_events_applied_total" in quiet  # the pipeline metrics stay


def test_campaign_labels_are_capped_into_other() -> None:
    text = _collector_text(SENT + 60_000, 2, ["c1", "c2", "c3", "c4"])
    campaigns = {
        line.split('campaign="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("isales_email_cohort_delivered{")
    }
    assert campaigns == {"c1", "c2", "other"}
    other = 'isales_email_cohort_delivered{campaign="other",dimension="variant",value="B"} 2.0'
    assert other in text  # folded, still counted
    assert 'isales_label_overflow_total{label="campaign"} 2.0' in text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            KINDS,
            st.integers(0, 10_000_000),
            st.booleans(),
            st.sampled_from(["A", "B"]),
            st.sampled_from([None, "team-a"]),
            st.sampled_from([0, 3_600_000]),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_an_events_changes_computed_from_the_states_equal_the_facts_difference(
    raw: list[tuple[str, int, bool, str, str | None, int]],
) -> None:
    """The engine takes `state_deltas` in place of the difference of the two states' facts
    (README: an event retracts what its message contributed and adds what it contributes now):
    they must agree for every event, whichever attributes the newer event brings."""
    state = None
    for n, (kind, offset, flag, variant, team, sent_shift) in enumerate(raw):
        extra: dict[str, Any] = {"variant": variant, "sent_at": SENT + sent_shift}
        if team is not None:
            extra["owner_team_id"] = team
        if kind in ("open", "click"):
            extra["machine_open"] = flag
        if kind == "bounce":
            extra["bounce_type"] = "hard" if flag else "soft"
        new = FAM.merge(state, event(kind, SENT + sent_shift + offset, n, **extra))
        expected = fact_deltas(FAM.facts(state) if state else {}, FAM.facts(new))
        assert FAM.state_deltas(state, new) == expected
        state = new
