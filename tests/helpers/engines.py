"""An engine over a dict store, and feeding it events: the spine's unit-test bench."""

from __future__ import annotations

from typing import Any

from stream_app.families.calls.family import CallsFamily
from stream_app.spine.clock import FakeClock
from stream_app.spine.engine import Engine, Plan
from stream_app.spine.store import DictStore
from stream_app.spine.windows import parse_window_spec
from tests.helpers.factories import T0

SPECS = tuple(parse_window_spec(n) for n in ("1m", "15m", "1h", "1d"))


def make(
    store: DictStore | None = None, clock: FakeClock | None = None, grace_ms: int = 120_000
) -> Engine[Any]:
    return Engine(
        CallsFamily(30),
        store or DictStore(),
        clock or FakeClock(T0),
        specs=SPECS,
        tz="UTC",
        grace_ms=grace_ms,
        window_retention_ms=3_600_000,
        dedupe_retention_ms=7_200_000,
    )


def feed(
    engine: Engine[Any],
    events: list[Any],
    start: int = 0,
    partition: int = 0,
    flush_every: int = 0,
) -> list[Plan]:
    plans = []
    for offset, e in enumerate(events, start=start):
        plan = engine.plan(e, partition, offset)
        engine.commit(plan)
        plans.append(plan)
        if flush_every and offset % flush_every == 0:
            engine.flush()
    engine.flush()
    return plans


def window(engine: Engine[Any], spec: str, start: int, rep: str = "rep-01") -> dict[str, int]:
    value = engine.store.get(f"w/{rep}/{spec}/{start}")
    return {} if value is None else dict(value["c"])


def replayed(log: list[tuple[str, Any, int]]) -> DictStore:
    """A store rebuilt from a changelog's writes (`DictStore.log`), as a restart reads it: a
    prefix of the log is what a crash at that point leaves."""
    store = DictStore()
    for key, value, partition in log:
        if value is None:
            store.delete(key, partition)
        else:
            store.put(key, value, partition)
    return store
