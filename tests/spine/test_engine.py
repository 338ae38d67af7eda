"""The spine over a plain dict: dedupe, lateness, finality, retention and crash replay."""

from __future__ import annotations

import random
from typing import Any

import pytest

from stream_app.families.calls.family import CallsFamily
from stream_app.spine.clock import FakeClock
from stream_app.spine.engine import Engine
from stream_app.spine.store import DictStore
from tests.helpers.engines import SPECS, feed, make, replayed, window
from tests.helpers.factories import T0, connected_call, event


def test_a_call_counts_once_however_many_events_and_duplicates() -> None:
    engine = make()
    events = connected_call(talk_ms=70_000)
    plans = feed(engine, [*events, events[0], events[3], events[3]])
    assert [p.kind for p in plans].count("duplicate") == 3
    assert window(engine, "1h", T0) == {"dials": 1, "connects": 1, "talk_ms": 70_000}
    assert window(engine, "1m", T0) == {"dials": 1, "connects": 1}
    assert window(engine, "1m", T0 + 60_000) == {"talk_ms": 70_000}
    totals = engine.store.get("t/rep-01")
    assert totals is not None and totals["c"] == {"dials": 1, "connects": 1, "talk_ms": 70_000}
    pst = engine.store.get("p/0")
    assert pst is not None and pst["dup"] == 3 and pst["applied"] == 4


def test_replayed_offsets_change_nothing() -> None:
    engine = make()
    events = connected_call()
    feed(engine, events)
    before = {k: dict(v) for k, v in engine.store.durable.data.items()}  # type: ignore[attr-defined]
    plans = feed(engine, events)
    assert {p.kind for p in plans} == {"replayed"}
    assert engine.store.durable.data == before  # type: ignore[attr-defined]


def test_late_within_grace_corrects_beyond_grace_is_refused_and_counted() -> None:
    engine = make(grace_ms=120_000)
    feed(engine, [event(1, call="now", occurred_at=T0 + 600_000, started_at=T0 + 600_000)])
    # 4 minutes late: the 1m window [T0+5m, T0+6m) closed at T0+8m <= watermark T0+10m.
    late = feed(
        engine, [event(1, call="old", occurred_at=T0 + 300_000, started_at=T0 + 300_000)], start=1
    )[0]
    assert late.late_specs == ("1m",)
    assert window(engine, "1m", T0 + 300_000) == {}
    assert window(engine, "15m", T0) == {"dials": 2}
    # 90 seconds late: within grace for its minute, so the minute is corrected.
    ok = feed(
        engine,
        [event(1, call="recent", occurred_at=T0 + 510_000, started_at=T0 + 510_000)],
        start=2,
    )[0]
    assert ok.late_specs == ()
    assert window(engine, "1m", T0 + 480_000) == {"dials": 1}
    totals = engine.store.get("t/rep-01")
    assert totals is not None and totals["c"]["dials"] == 3, "totals count late facts too"
    pst = engine.store.get("p/0")
    assert pst is not None and pst["late"] == 1 and pst["late_w"] == {"1m": 1}
    assert pst.get("late_h", 0) == 0, "4 minutes behind the newest event is live, not history"


def test_late_events_a_day_or_more_behind_the_newest_are_history() -> None:
    day = 86_400_000
    engine = Engine(
        CallsFamily(30),
        DictStore(),
        FakeClock(T0),
        specs=SPECS,
        tz="UTC",
        grace_ms=120_000,
        window_retention_ms=30 * day,
        dedupe_retention_ms=30 * day,  # so a week-old event is late, not expired
    )
    feed(engine, [event(1, call="now", occurred_at=T0 + 2 * day, started_at=T0 + 2 * day)])
    # Exactly a day behind the partition's newest event: history; a minute less: live.
    feed(
        engine,
        [
            event(1, call="day", occurred_at=T0 + day, started_at=T0 + day),
            event(1, call="almost", occurred_at=T0 + day + 60_000, started_at=T0 + day + 60_000),
            event(1, call="week", occurred_at=T0 - 5 * day, started_at=T0 - 5 * day),
        ],
        start=1,
    )
    pst = engine.store.get("p/0")
    assert pst is not None and pst["late"] == 3 and pst["late_h"] == 2


def test_windows_close_by_watermark_and_final_windows_refuse_updates() -> None:
    engine = make(grace_ms=60_000)
    feed(engine, [event(1, call="a")])
    engine.rebuild_index({0})
    assert engine.due_windows(0, engine.watermark(0)) == []
    due = engine.due_windows(0, T0 + 120_000)
    assert [v["spec"] for _, v in due] == ["1m"]
    for key, value in due:
        engine.mark_final(key, value)
    assert engine.store.get(f"w/rep-01/1m/{T0}")["final"]  # type: ignore[index]
    plan = feed(engine, [event(1, call="b", occurred_at=T0 + 1_000)], start=1)[0]
    assert plan.late_specs == ("1m",)


def test_idle_partition_closes_by_wall_clock_only_when_caught_up() -> None:
    clock = FakeClock(T0)
    engine = make(clock=clock)
    feed(engine, [event(1)])
    clock.advance(10_000)
    assert engine.effective_watermark(0, caught_up=True, idle_ms=30_000) == T0
    clock.advance(3_600_000)
    assert engine.effective_watermark(0, caught_up=False, idle_ms=30_000) == T0
    assert engine.effective_watermark(0, caught_up=True, idle_ms=30_000) == clock.now_ms() - 30_000


def test_retention_deletes_closed_windows_and_old_entities_only() -> None:
    engine = make()
    feed(engine, connected_call())
    engine.rebuild_index({0})
    for key, value in engine.due_windows(0, T0 + 10 * 3_600_000):
        engine.mark_final(key, value)
    feed(
        engine,
        [event(1, call="later", occurred_at=T0 + 3 * 3_600_000, started_at=T0 + 3 * 3_600_000)],
        start=10,
    )
    engine.sweep({0})
    engine.flush()
    keys = set(engine.store.durable.data)  # type: ignore[attr-defined]
    assert f"w/rep-01/1m/{T0}" not in keys, "closed, past retention"
    assert "e/rep-01/c1" not in keys, "past the dedupe horizon"
    assert "e/rep-01/later" in keys and "t/rep-01" in keys and "p/0" in keys


def _scenario(seed: int) -> list[Any]:
    rng = random.Random(seed)
    events = []
    for n in range(12):
        start = T0 + rng.randint(0, 900_000)
        kind = rng.choice(["human", "machine", "none"])
        if kind == "none":
            events += [
                event(1, call=f"c{n}", occurred_at=start, started_at=start),
                event(
                    2,
                    call=f"c{n}",
                    status="no_answer",
                    occurred_at=start + 20_000,
                    started_at=start,
                ),
            ]
        else:
            events += connected_call(
                call=f"c{n}", start=start, answered_by=kind, talk_ms=rng.randint(1_000, 400_000)
            )
    rng.shuffle(events)
    # Redeliveries land anywhere, also before later events of the same call.
    for dup in rng.sample(events, 8):
        events.insert(rng.randint(events.index(dup) + 1, len(events)), dup)
    return events


@pytest.mark.parametrize(("seed", "flush_every"), [(5, 3), (6, 8), (7, 20)])
def test_a_crash_after_any_write_then_replay_gives_the_uninterrupted_state(
    seed: int, flush_every: int
) -> None:
    events = _scenario(seed)
    reference = make()
    feed(reference, events, flush_every=flush_every)  # the changelog sees flushed batches
    log: list[tuple[str, Any, int]] = reference.store.durable.log  # type: ignore[attr-defined]
    # The whole log is the state: nothing reaches the state but through a write to the log.
    assert replayed(log).data == reference.store.durable.data  # type: ignore[attr-defined]
    rng = random.Random(seed)
    for cut in range(len(log) + 1):
        survivor = replayed(log[:cut])
        pst = survivor.get("p/0")
        committed = -1 if pst is None else pst["o"]
        # Kafka may redeliver from any earlier committed offset.
        restart_at = rng.randint(0, committed + 1)
        engine = make(survivor)
        feed(engine, events[restart_at:], start=restart_at, flush_every=rng.randint(1, 5))
        assert survivor.data == reference.store.durable.data, f"crash after write {cut}"  # type: ignore[attr-defined]


def test_history_closes_windows_by_event_time_alone_however_long_the_pause() -> None:
    """README: only a live partition (its newest event arrived within ISALES_LIVE_LAG_SECONDS
    of its event time) has its windows closed by the wall clock; a backfill of last week,
    paused for an hour, keeps its open windows open until later events close them."""
    week = 7 * 86_400_000
    clock = FakeClock(T0 + week)
    engine = make(clock=clock)
    feed(engine, connected_call(start=T0))
    clock.advance(3_600_000)
    assert engine.effective_watermark(0, caught_up=True, idle_ms=30_000) == T0 + 65_000
    assert engine.due_windows(0, T0 + 65_000) == []
    # The same call live: closed by the wall clock once the partition has been quiet.
    live_clock = FakeClock(T0 + 70_000)
    live = make(clock=live_clock)
    feed(live, connected_call(start=T0))
    live_clock.advance(3_600_000)
    idle_wm = live.effective_watermark(0, caught_up=True, idle_ms=30_000)
    assert idle_wm == live_clock.now_ms() - 30_000
    assert live.due_windows(0, idle_wm)
