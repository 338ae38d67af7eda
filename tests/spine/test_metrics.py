"""Scrape-time exposition from engine state, with a fresh registry per test."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from stream_app.spine.clock import FakeClock
from stream_app.spine.collector import StateCollector
from stream_app.spine.engine import Engine
from stream_app.spine.labels import LabelGuard
from tests.helpers.engines import feed, make
from tests.helpers.factories import T0, connected_call, event
from tests.helpers.support import metric_sum, parse_metrics


def collect(
    engine: Engine[Any],
    owned: set[int],
    caps: dict[str, int] | None = None,
    registry: CollectorRegistry | None = None,
) -> Any:
    registry = registry or CollectorRegistry()
    guard = LabelGuard(caps or {"rep": 100, "team": 10})
    registry.register(
        StateCollector(
            engine,
            prefix="isales",
            source_topic="calls",
            owned=lambda: owned,
            highwater=lambda p: 10,
            guard=guard,
            clock=FakeClock(T0 + 60_000),
        )
    )
    return parse_metrics(generate_latest(registry).decode())


def test_counters_and_window_gauges_come_from_state() -> None:
    engine = make()
    feed(engine, connected_call(talk_ms=20_000))
    samples = collect(engine, {0})
    assert metric_sum(samples, "isales_calls_dials_total", rep="rep-01", team="team-a") == 1
    assert metric_sum(samples, "isales_calls_talk_seconds_total") == 20.0
    assert metric_sum(samples, "isales_calls_short_calls_total") == 1
    assert metric_sum(samples, "isales_calls_window_dials", window="1h", position="current") == 1
    assert (
        metric_sum(samples, "isales_calls_window_connect_rate", window="1h", position="current")
        == 1.0
    )
    # The quiet previous hour shows 0, not a missing series.
    assert (
        ("position", "previous"),
        ("rep", "rep-01"),
        ("team", "team-a"),
        ("window", "1h"),
    ) in samples["isales_calls_window_dials"]
    assert metric_sum(samples, "isales_consumer_lag_messages", partition="0") == 6
    assert metric_sum(samples, "isales_dead_letter_events_total", reason="oversize") == 0


def test_only_owned_partitions_are_exported() -> None:
    engine = make()
    feed(engine, connected_call(rep="rep-01"), partition=0)
    feed(engine, connected_call(call="c2", rep="rep-02"), partition=1)
    assert metric_sum(collect(engine, {0}), "isales_calls_dials_total") == 1
    assert metric_sum(collect(engine, {0, 1}), "isales_calls_dials_total") == 2
    assert metric_sum(collect(engine, set()), "isales_calls_dials_total") == 0


def test_label_cap_folds_overflow_into_other_and_counts_it() -> None:
    engine = make()
    for n in range(5):
        feed(engine, [event(1, call=f"c{n}", rep=f"rep-{n}")], start=n)
    registry = CollectorRegistry()
    samples = collect(engine, {0}, caps={"rep": 3, "team": 10}, registry=registry)
    reps = {dict(labels)["rep"] for labels in samples["isales_calls_dials_total"]}
    assert reps == {"rep-0", "rep-1", "rep-2", "other"}
    assert metric_sum(samples, "isales_calls_dials_total", rep="other") == 2
    assert metric_sum(samples, "isales_calls_dials_total") == 5, "nothing lost in folding"
    assert metric_sum(samples, "isales_label_overflow_total", label="rep") == 2
    assert metric_sum(samples, "isales_label_overflow_total", label="team") == 0


def admitted_reps(samples: Any) -> set[str]:
    return {dict(labels)["rep"] for labels in samples["isales_calls_dials_total"]} - {"other"}


def test_admission_follows_first_sight_in_event_time_and_survives_a_rebuild() -> None:
    """README: the `cap` values first seen (by the event time that created them, then by
    name) keep their series; the same state admits the same values after a restart."""
    engine = make()
    # Names sort against arrival on purpose: rep-z is seen first, rep-a last.
    order = ["rep-z", "rep-m", "rep-b", "rep-a"]
    for n, rep in enumerate(order):
        at = T0 + n * 60_000
        feed(engine, [event(1, call=f"c{n}", rep=rep, occurred_at=at, started_at=at)], start=n)
    caps = {"rep": 2, "team": 10}
    first = collect(engine, {0}, caps=caps)
    assert admitted_reps(first) == {"rep-z", "rep-m"}
    # A later call by an admitted rep, and a brand-new rep, change nothing for the admitted.
    at = T0 + 10 * 60_000
    feed(engine, [event(2, call="c9", rep="rep-a", occurred_at=at, started_at=at)], start=9)
    feed(engine, [event(1, call="c10", rep="rep-0", occurred_at=at, started_at=at)], start=10)
    again = collect(engine, {0}, caps=caps)  # a fresh guard: what a restarted worker builds
    assert admitted_reps(again) == {"rep-z", "rep-m"}
    assert metric_sum(again, "isales_calls_dials_total", rep="other") == 4
    assert metric_sum(again, "isales_label_overflow_total", label="rep") == 3


def test_a_guard_follows_the_state_from_scrape_to_scrape() -> None:
    engine = make()
    feed(engine, [event(1, call="c1", rep="rep-1")])
    guard = LabelGuard({"rep": 2, "team": 10})
    registry = CollectorRegistry()
    registry.register(
        StateCollector(
            engine,
            prefix="isales",
            source_topic="calls",
            owned=lambda: {0},
            highwater=lambda p: 10,
            guard=guard,
            clock=FakeClock(T0 + 60_000),
        )
    )
    assert admitted_reps(parse_metrics(generate_latest(registry).decode())) == {"rep-1"}
    feed(engine, [event(1, call="c2", rep="rep-2")], start=1)
    guard.new_scrape()
    assert admitted_reps(parse_metrics(generate_latest(registry).decode())) == {"rep-1", "rep-2"}
