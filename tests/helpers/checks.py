"""Assertions shared by the integration tests: service output == ground truth."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Protocol

import orjson

from stream_app.families.calls.family import CallsFamily
from tests.helpers.support import (
    Samples,
    WorkerProc,
    latest_by_key,
    metric_sum,
    read_topic,
    wait_for,
)
from tests.truth.calls import Truth, bounds

FACTS = [(m.fact, m.name, m.divisor) for m in CallsFamily.metrics]
SOURCE_FACT_NAMES = {fact: name for fact, name, _ in FACTS}


def processed(samples: Samples) -> int:
    return int(
        metric_sum(samples, "isales_events_applied_total")
        + metric_sum(samples, "isales_duplicate_events_total")
        + metric_sum(samples, "isales_dead_letter_events_total")
        + metric_sum(samples, "isales_expired_events_total")
        + metric_sum(samples, "isales_erased_events_total")
    )


def progress(worker: WorkerProc) -> int:
    """Records handled so far, or 0 while the worker does not answer (starting, killed)."""
    try:
        return processed(worker.scrape())
    except OSError:
        return 0


def settled(worker: WorkerProc, pause: float = 1.0) -> bool:
    """Caught up and idle: no lag, and nothing handled during `pause`. For a worker whose
    input count is not known up front (the CRM KPI stage reads what attribution sends)."""
    try:
        first = processed(worker.scrape())
        time.sleep(pause)
        samples = worker.scrape()
    except OSError:
        return False
    lag = metric_sum(samples, "isales_consumer_lag_messages")
    return lag == 0 and processed(samples) == first and first > 0


def check_counters(samples: Samples, truth: Truth) -> None:
    mismatches = []
    for rep, facts in sorted(truth.totals.items()):
        for fact, name, divisor in FACTS:
            got = metric_sum(samples, f"isales_calls_{name}_total", rep=rep)
            want = facts.get(fact, 0) / divisor
            if abs(got - want) > 1e-6:
                mismatches.append((rep, name, got, want))
    assert not mismatches, f"counter mismatches (rep, kpi, got, want): {mismatches[:10]}"
    assert metric_sum(samples, "isales_events_applied_total") == truth.applied
    assert metric_sum(samples, "isales_duplicate_events_total") == truth.duplicates
    assert metric_sum(samples, "isales_late_events_total") == truth.late_events
    assert metric_sum(samples, "isales_expired_events_total") == truth.expired
    for size, n in truth.late_updates.items():
        assert metric_sum(samples, "isales_late_window_updates_total", window=size) == n


def check_window_gauges(samples: Samples, truth: Truth, tz: str, sizes: tuple[str, ...]) -> int:
    """Current and previous windows of each rep, as of its partition's watermark."""
    checked = 0
    for rep, partition in sorted(truth.rep_partition.items()):
        wm = truth.watermark[partition]
        for size in sizes:
            current = bounds(wm, size, tz)
            previous = bounds(current[0] - 1, size, tz)
            for position, (start, _end) in (("current", current), ("previous", previous)):
                counts = truth.windows.get((rep, size, start), {})
                for fact, name, divisor in FACTS:
                    got = metric_sum(
                        samples,
                        f"isales_calls_window_{name}",
                        rep=rep,
                        window=size,
                        position=position,
                    )
                    want = counts.get(fact, 0) / divisor
                    assert abs(got - want) < 1e-6, (rep, size, position, name, got, want)
                    checked += 1
    return checked


def check_kpi_topic(latest: dict[bytes, Any], truth: Truth, *, final: bool) -> None:
    by_window = {(v["rep_id"], v["window"], v["window_start_ms"]): v for v in latest.values()}
    assert set(by_window) == set(truth.windows), (
        f"windows only on topic: {sorted(set(by_window) - set(truth.windows))[:5]}, "
        f"only in truth: {sorted(set(truth.windows) - set(by_window))[:5]}"
    )
    wrong: list[tuple[object, ...]] = []
    for key, counts in truth.windows.items():
        record = by_window[key]
        for fact, name, divisor in FACTS:
            if abs(record[name] - counts.get(fact, 0) / divisor) > 1e-6:
                wrong.append((key, name, record[name], counts.get(fact, 0) / divisor))
        if record["team_id"] != truth.window_team[key]:
            wrong.append((key, "team", record["team_id"], truth.window_team[key]))
        if record["window_end_ms"] != truth.window_end[key]:
            wrong.append((key, "end", record["window_end_ms"], truth.window_end[key]))
        dials, connects = counts.get("dials", 0), counts.get("connects", 0)
        want_rate = connects / dials if dials else None
        assert record["connect_rate"] == want_rate or abs(record["connect_rate"] - want_rate) < 1e-9
        if final:
            assert record["final"], key
    assert not wrong, f"KPI topic mismatches: {wrong[:10]}"


def wait_all_final(bootstrap: str, topic: str, truth: Truth, timeout: float = 120) -> None:
    """Until the latest record of every window on the KPI topic says final."""

    def all_final() -> bool:
        latest = latest_by_key(read_topic(bootstrap, topic))
        return len(latest) >= len(truth.windows) and all(v["final"] for v in latest.values())

    wait_for(all_final, timeout, "every window final on the KPI topic", every=2)


def kpi_key_of(rep: str, window: str, start: int) -> bytes:
    return orjson.dumps(
        {"kpi": "calls", "rep_id": rep, "window": window, "window_start_ms": start},
        option=orjson.OPT_SORT_KEYS,
    )


class ScriptedCalls(Protocol):
    """A vendor script's call truth per rep, counted from its facts."""

    dials: Counter[str]
    connects: Counter[str]
    machines: Counter[str]
    talk: Counter[str]


def check_call_totals(samples: Samples, sc: ScriptedCalls) -> None:
    """Each scripted rep's all-time call counters equal the script's."""
    for rep in sc.dials:
        got = {
            name: metric_sum(samples, f"isales_calls_{name}_total", rep=rep)
            for name in ("dials", "connects", "machine_answers", "talk_seconds")
        }
        want = {
            "dials": sc.dials[rep],
            "connects": sc.connects[rep],
            "machine_answers": sc.machines[rep],
            "talk_seconds": sc.talk[rep],
        }
        assert got == want, rep
