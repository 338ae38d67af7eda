"""Far-late events, with the shipped defaults (25 h dedupe horizon, 300 s grace): however late
an event comes and however often, its call counts once, or (past the horizon) not again."""

from __future__ import annotations

from typing import Any

from stream_app.families.calls.family import CallsFamily
from stream_app.settings import Settings
from stream_app.spine.clock import FakeClock
from stream_app.spine.engine import Engine
from stream_app.spine.store import DictStore
from tests.helpers.factories import T0, event

S = Settings()
HOUR = 3_600_000
DAY = 24 * HOUR


def engine() -> Engine[Any]:
    return Engine(
        CallsFamily(S.short_call_seconds),
        DictStore(),
        FakeClock(T0),
        specs=S.window_specs,
        tz=S.business_timezone,
        grace_ms=S.grace_ms,
        window_retention_ms=int(S.window_retention_hours * HOUR),
        dedupe_retention_ms=int(S.dedupe_retention_hours * HOUR),
    )


def initiated(call: str, start: int, n: int = 1) -> Any:
    return event(n, call, occurred_at=start, started_at=start)


def completed(call: str, start: int) -> Any:
    answered, ended = start + 5_000, start + 65_000
    return event(
        9,
        call,
        status="completed",
        occurred_at=ended,
        started_at=start,
        answered_by="human",
        answered_at=answered,
        ended_at=ended,
    )


def test_calls_1_3_and_10_days_late_count_once_or_not_again() -> None:
    eng = engine()
    offset = 0

    def send(*events: Any) -> list[str]:
        nonlocal offset
        kinds: list[str] = []
        for e in events:
            plan = eng.plan(e, 0, offset)
            eng.commit(plan)
            kinds.append(plan.kind)
            offset += 1
            eng.flush()
            eng.sweep({0})  # the retention timer may run at any moment: here, always
        return kinds

    # Day 0: call A and call B start; only their first events arrive on time.
    send(initiated("A", T0), initiated("B", T0 + 1_000))
    # Traffic moves the watermark one day on; A's hang-up arrives 1 day late (inside the
    # 25 h horizon): its connect and talk count in the all-time totals, its dial stays one.
    send(initiated("bg1", T0 + DAY))
    assert send(completed("A", T0), completed("A", T0)) == ["applied", "duplicate"]
    # Three days on, B's hang-up and a redelivery of B's first event arrive: past the horizon,
    # they count nowhere; B's dial, counted on day 0, stays one.
    send(initiated("bg2", T0 + 3 * DAY))
    assert send(completed("B", T0 + 1_000), initiated("B", T0 + 1_000)) == ["expired", "expired"]
    # Ten days on, call C arrives whole for the first time, twice over: past the horizon.
    send(initiated("bg3", T0 + 10 * DAY))
    c = [initiated("C", T0 + 2_000), completed("C", T0 + 2_000)]
    assert send(*c, *c) == ["expired"] * 4

    totals = eng.totals("rep-01")
    assert totals is not None
    # README: dials = A, B and the three background calls; connects = A's only.
    assert totals["c"]["dials"] == 5
    assert totals["c"]["connects"] == 1
    assert totals["c"]["talk_ms"] == 60_000
    pst = eng.partition_state(0)
    assert pst is not None and pst["exp"] == 6 and pst["dup"] == 1
