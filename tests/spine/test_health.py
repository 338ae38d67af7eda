"""Readiness, outage logs, cluster checks and scrape auth: the pure parts."""

from __future__ import annotations

import base64
import logging

import pytest
from pydantic import SecretStr

from stream_app.kafka.cluster_watch import behind
from stream_app.ops.health import StallWatch
from stream_app.ops.logstorm import QUIET_FOR_RECOVERY_MS, LogStorm
from stream_app.ops.web_auth import authorized
from stream_app.spine.clock import FakeClock


def test_a_partition_is_stalled_only_with_records_waiting_and_no_progress() -> None:
    watch = StallWatch(timeout_ms=10_000)
    assert not watch.observe(0, next_offset=5, highwater=9, now_ms=0)
    assert not watch.observe(0, next_offset=5, highwater=9, now_ms=9_999)
    assert watch.observe(0, next_offset=5, highwater=9, now_ms=10_000)
    assert not watch.observe(0, next_offset=6, highwater=9, now_ms=10_001), "it moved"
    assert not watch.observe(1, next_offset=9, highwater=9, now_ms=0)
    assert not watch.observe(1, next_offset=9, highwater=9, now_ms=60_000), "nothing waits"
    assert not watch.observe(2, next_offset=3, highwater=None, now_ms=0)
    assert not watch.observe(2, next_offset=3, highwater=None, now_ms=60_000), "unknown end"
    watch.forget_except({1})
    assert set(watch.since) == {1}


def record(msg: str, name: str = "aiokafka.conn", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, ("x",), None)


def test_an_outage_is_three_lines_not_one_per_retry(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(1_000_000)
    storm = LogStorm(clock, interval_ms=300_000)
    passed = []
    for i in range(10_000):
        clock.advance(2)
        msg = "Unable connect to node with id %s" if i % 2 else "Unable to update metadata from %s"
        rec = record(msg)
        if storm.filter(rec):
            passed.append(rec.getMessage())
    assert len(passed) == 1 and passed[0].startswith("Kafka unreachable")
    clock.advance(300_000)
    rec = record("Unable connect to node with id %s")
    assert storm.filter(rec) and "still unreachable after 319 s" in rec.getMessage()
    assert "10000 connection errors held back" in rec.getMessage()
    storm.tick()  # errors just happened: not over
    assert storm.outage_since_ms is not None
    clock.advance(QUIET_FOR_RECOVERY_MS)
    with caplog.at_level(logging.WARNING, logger="stream_app.kafka"):
        storm.tick()
    assert storm.outage_since_ms is None
    assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_other_repeats_pass_once_per_interval_with_a_count() -> None:
    clock = FakeClock(0)
    storm = LogStorm(clock, interval_ms=60_000)
    warn = logging.WARNING
    shown = [storm.filter(record("Got error produce response %s", level=warn)) for _ in range(50)]
    assert shown.count(True) == 1
    clock.advance(60_000)
    again = record("Got error produce response %s", level=warn)
    assert storm.filter(again) and "(49 more like this" in again.getMessage()
    assert storm.filter(record("anything", name="stream_app.service")), "our own logs always pass"
    assert storm.filter(record("debug noise", level=logging.INFO)), "INFO is left to the level"


def test_end_offsets_below_the_state_are_lost_data() -> None:
    assert behind({0: 10, 1: 5}, {0: 10, 1: 7}) == []
    assert behind({0: 10, 1: 5}, {0: 3, 1: 7}) == [(0, 3, 10)]
    assert behind({0: 10}, {}) == [], "unknown partitions are not judged"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_scrape_auth() -> None:
    assert authorized(None, token=None, user=None, password=None)
    token = SecretStr("s3cret")
    assert authorized("Bearer s3cret", token=token, user=None, password=None)
    assert authorized("bearer s3cret", token=token, user=None, password=None)
    for bad in (None, "", "Bearer nope", "Basic czNjcmV0", "s3cret"):
        assert not authorized(bad, token=token, user=None, password=None)
    password = SecretStr("pa:ss")
    assert authorized(basic("prom", "pa:ss"), token=None, user="prom", password=password)
    for bad in (basic("prom", "pa"), basic("other", "pa:ss"), "Basic !!!", "Bearer pa:ss"):
        assert not authorized(bad, token=None, user="prom", password=password)
