"""Ground truth for call KPIs, computed from the produced records without the service's code,
from the README's definitions ("Call KPIs").

It replays each partition in production order, as the broker delivers it, and applies the
README's rules directly: dedupe by event_id, each call fact bucketed by its own timestamp,
a window update refused once the partition's watermark passed window end + grace.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SIZES = {"1m": 60_000, "15m": 900_000, "1h": 3_600_000, "1d": None}


def ms(value: Any) -> int:
    if isinstance(value, int):
        return value
    stamp = datetime.fromisoformat(value)
    return round(stamp.timestamp() * 1000)


def bounds(ts_ms: int, size: str, tz: str) -> tuple[int, int]:
    local = datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    next_midnight = (midnight + timedelta(days=1, hours=3)).replace(hour=0)
    day_start = round(midnight.timestamp() * 1000)
    day_end = round(next_midnight.timestamp() * 1000)
    step = SIZES[size]
    if step is None:
        return day_start, day_end
    start = day_start + (ts_ms - day_start) // step * step
    return start, min(start + step, day_end)


def call_facts(events: list[dict[str, Any]], short_ms: int) -> dict[str, tuple[int, int]]:
    """What one call contributes, from all of its events seen so far."""

    def order(e: dict[str, Any]) -> tuple[int, str]:
        return ms(e["occurred_at"]), e["event_id"]

    newest = max(events, key=order)
    facts: dict[str, tuple[int, int]] = {}
    start = ms(newest["started_at"])
    if newest["direction"] == "inbound":
        return {"inbound_calls": (start, 1)}
    facts["dials"] = (start, 1)
    verdicts = [e for e in events if e.get("answered_by")]
    if not verdicts:
        return facts
    verdict_event = max(verdicts, key=lambda e: (e["answered_by"] != "unknown", *order(e)))
    verdict = verdict_event["answered_by"]
    with_answer_time = [e for e in events if e.get("answered_at")]
    if with_answer_time:
        answered = ms(max(with_answer_time, key=order)["answered_at"])
    else:
        answered = ms(verdict_event["occurred_at"])
    if verdict == "machine":
        facts["machine_answers"] = (answered, 1)
    if verdict != "human":
        return facts
    facts["connects"] = (answered, 1)

    # README: each field of a call takes the value of its newest event that carries it; talk
    # is `talk_seconds`, else `ended_at - answered_at`: a rule per call, not per event.
    def newest_carrying(field: str) -> dict[str, Any] | None:
        carrying = [e for e in events if e.get(field) is not None]
        return max(carrying, key=order) if carrying else None

    with_talk, with_end = newest_carrying("talk_seconds"), newest_carrying("ended_at")
    talk: int | None = None
    if with_talk is not None:
        talk = round(with_talk["talk_seconds"] * 1000)
        end = ms(with_end["ended_at"]) if with_end else ms(with_talk["occurred_at"])
    elif with_end is not None and with_answer_time:
        end = ms(with_end["ended_at"])
        talk = max(end - answered, 0)
    if talk is not None:
        facts["talk_ms"] = (end, talk)
        if talk < short_ms:
            facts["short_calls"] = (end, 1)
    return facts


@dataclass
class Truth:
    windows: dict[tuple[str, str, int], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    window_team: dict[tuple[str, str, int], str] = field(default_factory=dict)
    window_end: dict[tuple[str, str, int], int] = field(default_factory=dict)
    totals: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    team_of: dict[str, str] = field(default_factory=dict)
    applied: int = 0
    duplicates: int = 0
    late_events: int = 0
    expired: int = 0
    late_updates: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    watermark: dict[int, int] = field(default_factory=dict)
    rep_partition: dict[str, int] = field(default_factory=dict)


def compute(
    records: list[tuple[int, bytes]],
    *,
    tz: str,
    grace_ms: int,
    short_ms: int,
    sizes: tuple[str, ...] = ("1m", "15m", "1h", "1d"),
    dedupe_ms: int = 25 * 3_600_000,
) -> Truth:
    """`records`: (partition, value) of every well-formed record, in production order."""
    truth = Truth()
    calls: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for partition, raw in records:
        event = json.loads(raw)
        rep, call = event["rep_id"], event["call_id"]
        truth.rep_partition[rep] = partition
        wm = truth.watermark.get(partition)
        if wm is not None and ms(event["started_at"]) + dedupe_ms <= wm:
            # README: a call's event whose started_at is the dedupe horizon behind the
            # partition's watermark counts nowhere (it goes to the late topic).
            truth.expired += 1
            continue
        if (rep, event["event_id"]) in seen:
            truth.duplicates += 1
            continue
        seen.add((rep, event["event_id"]))
        truth.applied += 1
        before = call_facts(calls[(rep, call)], short_ms) if calls[(rep, call)] else {}
        calls[(rep, call)].append(event)
        history = calls[(rep, call)]
        team = max(history, key=lambda e: (ms(e["occurred_at"]), e["event_id"]))["team_id"]
        after = call_facts(history, short_ms)
        late: set[str] = set()
        for metric in set(before) | set(after):
            if before.get(metric) == after.get(metric):
                continue
            changes = []
            if metric in before:
                changes.append((before[metric][0], -before[metric][1]))
            if metric in after:
                changes.append((after[metric][0], after[metric][1]))
            for ts, amount in changes:
                truth.totals[rep][metric] += amount
                for size in sizes:
                    start, end = bounds(ts, size, tz)
                    if wm is not None and wm >= end + grace_ms:
                        late.add(size)
                        continue
                    truth.windows[(rep, size, start)][metric] += amount
                    truth.window_team[(rep, size, start)] = team
                    truth.window_end[(rep, size, start)] = end
        truth.team_of[rep] = team
        truth.late_events += bool(late)
        for size in late:
            truth.late_updates[size] += 1
        occurred = ms(event["occurred_at"])
        truth.watermark[partition] = occurred if wm is None else max(wm, occurred)
    return truth
