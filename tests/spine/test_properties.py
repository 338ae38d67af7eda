"""Property tests: order within grace and duplication never change the KPIs, and the engine
agrees with the independent ground truth for any delivery order."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.telephony import CallEvent
from tests.helpers.engines import feed, make
from tests.helpers.factories import T0, raw_event
from tests.truth.calls import compute

MINUTE = 60_000


@st.composite
def call_lifecycles(draw: st.DrawFn) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 6))):
        call = f"c{n}"
        rep = draw(st.sampled_from(["rep-01", "rep-02"]))
        start = T0 + draw(st.integers(0, 20 * MINUTE))
        outcome = draw(st.sampled_from(["human", "machine", "no_answer", "inbound"]))
        base = {"started_at": start, "direction": "inbound" if outcome == "inbound" else "outbound"}
        events.append(raw_event(1, call, rep, occurred_at=start, **base))
        if outcome == "no_answer":
            events.append(
                raw_event(2, call, rep, status="no_answer", occurred_at=start + 20_000, **base)
            )
            continue
        answered = start + draw(st.integers(1_000, 20_000))
        talk = draw(st.integers(0, 10 * MINUTE))
        events.append(
            raw_event(
                2,
                call,
                rep,
                status="answered",
                occurred_at=answered,
                answered_by="unknown",
                answered_at=answered,
                **base,
            )
        )
        completed = {
            "answered_by": "human" if outcome == "inbound" else outcome,
            "answered_at": answered,
            "ended_at": answered + talk,
        }
        if draw(st.booleans()):
            completed["talk_seconds"] = talk / 1000
        events.append(
            raw_event(
                3, call, rep, status="completed", occurred_at=answered + talk, **base, **completed
            )
        )
    return events


def kpis(events: list[dict[str, Any]], grace_ms: int) -> tuple[dict[str, Any], dict[str, Any]]:
    engine = make(grace_ms=grace_ms)
    feed(engine, [CallEvent.model_validate(e) for e in events])
    data = engine.store.durable.data  # type: ignore[attr-defined]
    windows = {k: v["c"] for k, v in data.items() if k.startswith("w/")}
    totals = {k: v["c"] for k, v in data.items() if k.startswith("t/")}
    return windows, totals


def nonzero(windows: dict[str, Any]) -> dict[str, Any]:
    return {k: {m: n for m, n in c.items() if n} for k, c in windows.items() if any(c.values())}


@settings(max_examples=150, deadline=None)
@given(call_lifecycles(), st.randoms(use_true_random=False), st.data())
def test_any_order_and_duplication_within_grace_gives_the_same_kpis(
    events: list[dict[str, Any]], rnd: Any, data: st.DataObject
) -> None:
    grace = 24 * 3_600_000  # everything is within grace
    expected = kpis(events, grace)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    dups = data.draw(st.lists(st.sampled_from(events), max_size=8))
    for dup in dups:
        shuffled.insert(rnd.randint(0, len(shuffled)), dup)
    windows, totals = kpis(shuffled, grace)
    assert nonzero(windows) == nonzero(expected[0])
    assert totals == expected[1]


@settings(max_examples=150, deadline=None)
@given(call_lifecycles(), st.randoms(use_true_random=False), st.integers(0, 5 * MINUTE))
def test_engine_equals_ground_truth_for_any_delivery_order(
    events: list[dict[str, Any]], rnd: Any, grace: int
) -> None:
    delivered = list(events)
    rnd.shuffle(delivered)
    delivered += [rnd.choice(events) for _ in range(3)]
    windows, totals = kpis(delivered, grace)
    truth = compute(
        [(0, orjson.dumps(e)) for e in delivered], tz="UTC", grace_ms=grace, short_ms=30_000
    )
    want_windows = {
        f"w/{rep}/{size}/{start}": dict(c) for (rep, size, start), c in truth.windows.items()
    }
    assert nonzero(windows) == nonzero(want_windows)
    assert {k.removeprefix("t/"): v for k, v in totals.items()} == {
        rep: dict(c) for rep, c in truth.totals.items() if c
    }
