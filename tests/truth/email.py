"""Ground truth for email KPIs, computed from the produced records without the service's code.

Written from the README's definitions: unique per message, a click implies a human open unless
flagged as machine, machine-only = machine opens and no human one, a hard bounce outranks a soft
one, send weekday/hour in the business time zone, z-test with statistics.NormalDist.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from statistics import NormalDist
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from tests.truth.calls import bounds, ms

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass
class EmailTruth:
    cohorts: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)
    """(campaign, dimension, value) -> metric -> messages"""
    windows: dict[tuple[str, str, str, int], dict[str, int]] = field(default_factory=dict)
    """(campaign, variant, window, start) -> metric -> messages whose first ... was in it"""
    applied: int = 0
    duplicates: int = 0
    messages: int = 0


def _first(events: list[dict[str, Any]], pick: Any) -> int | None:
    times = [ms(e["occurred_at"]) for e in events if pick(e)]
    return min(times) if times else None


def message_firsts(events: list[dict[str, Any]]) -> dict[str, int]:
    def of(kind: str) -> Any:
        return lambda e: e["type"] == kind

    human = _first(events, lambda e: e["type"] in ("open", "click") and not e.get("machine_open"))
    machine = _first(events, lambda e: e["type"] in ("open", "click") and e.get("machine_open"))
    hard = _first(events, lambda e: e["type"] == "bounce" and e["bounce_type"] == "hard")
    soft = _first(events, lambda e: e["type"] == "bounce" and e["bounce_type"] == "soft")
    found = {
        "sent": _first(events, of("sent")),
        "delivered": _first(events, of("delivered")),
        "deferred": _first(events, of("deferred")),
        "dropped": _first(events, of("dropped")),
        "clicks": _first(events, of("click")),
        "unsubscribes": _first(events, of("unsubscribe")),
        "spam_reports": _first(events, of("spam_report")),
        "human_opens": human,
        "machine_opens": machine,
        "bounced_hard": hard,
        "bounced_soft": soft if hard is None else None,
        "machine_only": machine if human is None else None,
    }
    return {k: v for k, v in found.items() if v is not None}


def compute(values: list[bytes], *, tz: str, sizes: tuple[str, ...]) -> EmailTruth:
    """`values`: the valid records (duplicates included) in production order. Assumes no
    window update is refused as late (the scenario keeps disorder within grace)."""
    truth = EmailTruth()
    seen: set[str] = set()
    by_message: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for raw in values:
        event = orjson.loads(raw)
        if event["event_id"] in seen:
            truth.duplicates += 1
            continue
        seen.add(event["event_id"])
        truth.applied += 1
        by_message[(event["campaign_id"], event["message_id"])].append(event)
    zone = ZoneInfo(tz)
    for (campaign, _), events in by_message.items():
        truth.messages += 1
        newest = max(events, key=lambda e: (ms(e["occurred_at"]), e["event_id"]))
        sent = datetime.fromtimestamp(ms(newest["sent_at"]) / 1000, tz=zone)
        dims = {
            "variant": newest["variant"],
            "segment": newest["segment"],
            "send_weekday": DAYS[sent.weekday()],
            "send_hour": f"{sent.hour:02d}",
            "team": newest.get("owner_team_id") or "none",
        }
        for metric, at in message_firsts(events).items():
            for dimension, value in dims.items():
                bucket = truth.cohorts.setdefault((campaign, dimension, value), {})
                bucket[metric] = bucket.get(metric, 0) + 1
            if metric == "machine_only":
                continue
            for size in sizes:
                start = bounds(at, size, tz)[0]
                win = truth.windows.setdefault((campaign, dims["variant"], size, start), {})
                win[metric] = win.get(metric, 0) + 1
    return truth


def z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    p = (x1 + x2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2)) if n1 and n2 else 0.0
    if se == 0:
        return None
    z = (x1 / n1 - x2 / n2) / se
    return z, 2 * (1 - NormalDist().cdf(abs(z)))


def leader(arms: dict[str, tuple[int, int]], alpha: float, min_n: int) -> str | None:
    """The variant with the best rate, if it beats the runner-up significantly."""
    ranked = sorted(arms.items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[1][1], kv[0]))
    (_, (x2, n2)), (best, (x1, n1)) = ranked[-2], ranked[-1]
    test = z_test(x1, n1, x2, n2)
    if test is None or min(n1, n2) < min_n:
        return None
    z, p = test
    return best if z > 0 and p < alpha else None
