"""One record to one plan: nothing a record does can raise out of `decide`."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.families.calls.family import CallsFamily
from stream_app.kafka.ingest import decide
from stream_app.settings import Settings
from stream_app.spine.clock import FakeClock
from stream_app.spine.engine import Engine
from stream_app.spine.store import DictStore
from tests.helpers.factories import T0, as_bytes, raw_event

SETTINGS = Settings(business_timezone="America/Los_Angeles")


class ExplodingCalls(CallsFamily):
    """A family with a bug that only one kind of event reaches."""

    def merge(self, state: Any, event: Any) -> Any:
        if event.call_id == "poison":
            raise OverflowError("date value out of range")
        return super().merge(state, event)


def engine(family: CallsFamily | None = None) -> Engine[Any]:
    return Engine(
        family or CallsFamily(30),
        DictStore(),
        FakeClock(T0),
        specs=SETTINGS.window_specs,
        tz=SETTINGS.business_timezone,
        grace_ms=SETTINGS.grace_ms,
        window_retention_ms=3_600_000,
        dedupe_retention_ms=3_600_000,
    )


def run(eng: Engine[Any], raw: bytes | None, offset: int, key: bytes | None = b"rep-01") -> Any:
    decided = decide(eng, SETTINGS, key=key, value=raw, partition=0, offset=offset, now_ms=T0)
    eng.commit(decided.plan)
    return decided


def test_an_exception_while_planning_dead_letters_the_record_and_the_stream_goes_on() -> None:
    eng = engine(ExplodingCalls(30))
    first = run(eng, as_bytes(raw_event(1, call="poison")), 0)
    assert first.rejected is not None and first.rejected.reason_class == "internal_error"
    assert "OverflowError" in first.rejected.reason
    second = run(eng, as_bytes(raw_event(1, call="fine")), 1)
    assert second.rejected is None and second.plan.kind == "applied"
    eng.flush()
    pst = eng.store.get("p/0")
    assert pst is not None
    assert pst["o"] == 1 and pst["dlq"] == {"internal_error": 1} and pst["applied"] == 1
    totals = eng.store.get("t/rep-01")
    assert totals is not None and totals["c"] == {"dials": 1}


def test_year_one_in_a_west_of_utc_zone_is_rejected_before_day_math() -> None:
    eng = engine()
    stamp = "0001-01-01T00:00:00+00:00"
    decided = run(eng, as_bytes(raw_event(occurred_at=stamp, started_at=stamp)), 0)
    assert decided.rejected is not None and decided.rejected.reason_class == "invalid_value"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
fields = st.sampled_from([*sorted(raw_event()), "answered_at", "ended_at", "talk_seconds"])


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200), key=st.none() | st.binary(max_size=20))
def test_any_bytes_are_decided(raw: bytes, key: bytes | None) -> None:
    decided = run(engine(), raw, 0, key)
    assert decided.plan.kind in ("applied", "rejected")


@settings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(fields, json_values, max_size=4))
def test_any_field_values_are_decided(changes: dict[str, Any]) -> None:
    try:
        raw = orjson.dumps({**raw_event(), **changes})
    except TypeError:
        return  # orjson refuses integers beyond 64 bits: nothing to send
    decided = run(engine(), raw, 0)
    if decided.rejected is not None:
        assert decided.rejected.reason_class != "internal_error", decided.rejected
