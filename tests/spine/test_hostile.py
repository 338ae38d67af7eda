"""Every hostile kind of the fault suite lands in the class the README's DLQ table gives it."""

from __future__ import annotations

import random

import pytest

from stream_app.families.calls.family import CallsFamily
from stream_app.kafka.ingest import decide
from stream_app.settings import Settings
from stream_app.spine.clock import FakeClock
from stream_app.spine.engine import Engine
from stream_app.spine.store import DictStore
from tests.helpers.factories import T0, raw_event
from tests.helpers.hostile import KINDS, hostile

# A west-of-UTC zone: where a year-1 timestamp used to crash the day math.
SETTINGS = Settings(business_timezone="America/Los_Angeles")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_dead_lettered_under_its_class(kind: str) -> None:
    engine = Engine(
        CallsFamily(30),
        DictStore(),
        FakeClock(T0),
        specs=SETTINGS.window_specs,
        tz=SETTINGS.business_timezone,
        grace_ms=SETTINGS.grace_ms,
        window_retention_ms=3_600_000,
        dedupe_retention_ms=3_600_000,
    )
    rng = random.Random(kind)
    for n in range(20):
        bad = hostile(rng, kind, raw_event(), n)
        decided = decide(
            engine, SETTINGS, key=bad.key, value=bad.value, partition=0, offset=n, now_ms=T0
        )
        assert decided.rejected is not None, (kind, n)
        assert decided.rejected.reason_class == bad.reason_class, (kind, decided.rejected)
        reason = decided.rejected.reason
        assert "@" not in reason and "4155550" not in reason, reason
