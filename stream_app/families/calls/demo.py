"""Demo call traffic: a seeded, fixed scenario (tests, benchmarks) or a live stream at a rate.

The traffic is shaped like a real SDR floor: about 20 reps in 3 teams dialling through the
business day, roughly 10% human connects, some voicemail, ~3% duplicated events, lifecycle
events out of order, late deliveries and a few malformed records.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from schemas.common import from_ms, to_ms
from stream_app.demo.traffic import Produced, roster

OUTCOMES = (  # (outcome, weight) for outbound calls
    ("human", 0.10),
    ("machine", 0.08),
    ("no_answer", 0.55),
    ("busy", 0.12),
    ("failed", 0.05),
    ("canceled", 0.10),
)


@dataclass
class ScenarioConfig:
    seed: int = 7
    calls: int = 5000
    reps: int = 20
    teams: int = 3
    days: int = 1
    start_date: str = "2026-03-02"  # a Monday
    tz: str = "Europe/Berlin"
    duplicate_rate: float = 0.05
    reorder_rate: float = 0.15
    late_within_rate: float = 0.02
    late_within_ms: tuple[int, int] = (20_000, 90_000)
    late_beyond_rate: float = 0.01
    late_beyond_ms: tuple[int, int] = (1_800_000, 3_600_000)
    malformed: int = 60
    inbound_rate: float = 0.05
    short_connect_rate: float = 0.3
    reps_list: list[tuple[str, str]] = field(default_factory=list)


def call_events(
    rng: random.Random,
    call_id: str,
    rep: str,
    team: str,
    start_ms: int,
    inbound: bool,
    short_rate: float,
) -> list[dict[str, Any]]:
    """The lifecycle events of one call, in the order they happened."""
    direction = "inbound" if inbound else "outbound"
    base = {
        "call_id": call_id,
        "rep_id": rep,
        "team_id": team,
        "direction": direction,
        "started_at": from_ms(start_ms).isoformat(),
    }
    seq = 0

    def ev(status: str, at_ms: int, **extra: Any) -> dict[str, Any]:
        nonlocal seq
        seq += 1
        # Mix both timestamp forms the schema accepts.
        occurred: Any = at_ms if seq % 2 else from_ms(at_ms).isoformat()
        return {
            **base,
            "event_id": f"{call_id}-{seq}",
            "status": status,
            "occurred_at": occurred,
            **extra,
        }

    events = [ev("initiated", start_ms)]
    ring_ms = start_ms + rng.randint(1_000, 4_000)
    events.append(ev("ringing", ring_ms))
    outcome = (
        "human" if inbound else rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
    )
    if outcome in ("human", "machine"):
        answered_ms = ring_ms + rng.randint(2_000, 20_000)
        answered_at = from_ms(answered_ms).isoformat()
        # Answering-machine detection may decide at the answer or only at the hang-up.
        early = rng.random() < 0.3
        at_answer = outcome if early else "unknown"
        events.append(ev("answered", answered_ms, answered_by=at_answer, answered_at=answered_at))
        if outcome == "human":
            talk_ms = (
                rng.randint(3_000, 29_000)
                if rng.random() < short_rate
                else rng.randint(30_000, 900_000)
            )
        else:
            talk_ms = rng.randint(5_000, 40_000)
        ended_ms = answered_ms + talk_ms
        completed: dict[str, Any] = {"ended_at": from_ms(ended_ms).isoformat()}
        if not early or rng.random() < 0.5:
            completed["answered_by"] = outcome
        # Vendors differ in what the hang-up event carries: everything, the timestamps only,
        # talk time without answered_at, or ended_at alone (talk then comes from answered_at
        # on the earlier event).
        style = rng.choice(("full", "timestamps", "talk_only", "end_only"))
        if style in ("full", "timestamps"):
            completed["answered_at"] = answered_at
        if style in ("full", "talk_only"):
            completed["talk_seconds"] = talk_ms / 1000
        events.append(ev("completed", ended_ms, **completed))
    else:
        end_ms = ring_ms + rng.randint(5_000, 30_000)
        events.append(ev(outcome, end_ms, ended_at=from_ms(end_ms).isoformat()))
    return events


MALFORMED_KINDS = (
    "invalid_json",
    "missing_field",
    "unknown_enum",
    "wrong_type",
    "future_timestamp",
    "oversize",
    "personal_data",
    "key_mismatch",
)


def malformed_record(
    rng: random.Random, kind: str, sample: dict[str, Any], max_bytes: int
) -> Produced:
    key = sample["rep_id"].encode()
    bad = dict(sample)
    bad["event_id"] = f"bad-{rng.getrandbits(48):012x}"
    if kind == "invalid_json":
        return Produced(key, b'{"event_id": "x", "status": ', "malformed", kind)
    if kind == "missing_field":
        bad.pop("call_id")
    elif kind == "unknown_enum":
        bad["status"] = "teleported"
    elif kind == "wrong_type":
        bad["talk_seconds"] = "forty"
    elif kind == "future_timestamp":
        bad["occurred_at"] = "2099-01-01T00:00:00+00:00"
    elif kind == "oversize":
        bad["disposition"] = "x" * 10
        bad["padding"] = "y" * (max_bytes + 10)
    elif kind == "personal_data":
        bad["rep_id"] = "+1 555 123 4567"
    elif kind == "key_mismatch":
        key = b"not-the-rep"
    return Produced(key, orjson.dumps(bad), "malformed", kind)


def business_starts(rng: random.Random, cfg: ScenarioConfig) -> list[int]:
    """Call start times over business days: a morning and an afternoon peak, 09:00-18:00."""
    tz = ZoneInfo(cfg.tz)
    day0 = datetime.fromisoformat(cfg.start_date)
    starts = []
    for _ in range(cfg.calls):
        day = day0 + timedelta(days=rng.randrange(cfg.days))
        hour = min(max(rng.choice([rng.gauss(10.5, 1.0), rng.gauss(15.0, 1.2)]), 9.0), 17.99)
        local = day.replace(tzinfo=tz) + timedelta(hours=hour)
        starts.append(to_ms(local) + rng.randint(0, 999))
    return sorted(starts)


def scenario(cfg: ScenarioConfig, max_bytes: int = 65_536) -> list[Produced]:
    """A fixed, seeded list of records in production order."""
    rng = random.Random(cfg.seed)
    people = cfg.reps_list or roster(cfg.reps, cfg.teams)
    timeline: list[tuple[int, int, dict[str, Any]]] = []
    for n, start in enumerate(business_starts(rng, cfg)):
        rep, team = people[rng.randrange(len(people))]
        events = call_events(
            rng,
            f"call-{cfg.seed}-{n:06d}",
            rep,
            team,
            start,
            rng.random() < cfg.inbound_rate,
            cfg.short_connect_rate,
        )
        for event in events:
            at = event["occurred_at"]
            at_ms = at if isinstance(at, int) else to_ms(datetime.fromisoformat(at))
            delay = 0
            roll = rng.random()
            if roll < cfg.late_beyond_rate:
                delay = rng.randint(*cfg.late_beyond_ms)
            elif roll < cfg.late_beyond_rate + cfg.late_within_rate:
                delay = rng.randint(*cfg.late_within_ms)
            elif roll < cfg.late_beyond_rate + cfg.late_within_rate + cfg.reorder_rate:
                delay = rng.randint(1_000, 15_000)  # overtaken by the call's next event
            timeline.append((at_ms + delay, rng.getrandbits(32), {**event, "_delay": delay}))
    timeline.sort(key=lambda item: (item[0], item[1]))
    out: list[Produced] = []
    for _, _, event in timeline:
        delay = event.pop("_delay")
        out.append(Produced(event["rep_id"].encode(), orjson.dumps(event), "event", None, delay))
    # Redeliveries: a copy of an event, produced again a little or a lot later.
    originals = [p for p in out]
    # Where each original stands now, found by identity in a parallel list of ids: index()
    # over the records compared dataclasses field by field, quadratic in the scenario size
    # (minutes at 50,000 calls). Every record is distinct, so the positions are the same.
    ids = [id(p) for p in out]
    for original in rng.sample(originals, int(len(originals) * cfg.duplicate_rate)):
        position = min(ids.index(id(original)) + rng.randint(1, 400), len(out))
        copy = Produced(original.key, original.value, "duplicate")
        out.insert(position, copy)
        ids.insert(position, id(copy))
    samples = [orjson.loads(p.value) for p in rng.sample(originals, min(50, len(originals)))]
    for i in range(cfg.malformed):
        kind = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
        bad = malformed_record(rng, kind, rng.choice(samples), max_bytes)
        out.insert(rng.randint(0, len(out)), bad)
    return out


# ---- live traffic ----------------------------------------------------------------------------


FollowUp = Callable[[random.Random, dict[str, Any], str, int], list[tuple[int, Produced]]]
"""What another family makes of a human connect (CRM: a handoff minutes later)."""


def live_records(
    rate: float,
    seed: int | None,
    now_ms: int,
    tz: str,
    max_bytes: int,
    follow_up: FollowUp | None = None,
) -> Iterator[tuple[int, Produced]]:
    """(send-at ms, record) pairs for calls starting from `now_ms` on, `rate` events/s; each
    human connect also passes through `follow_up`."""
    rng = random.Random(seed)
    people = roster(20, 3)
    pending: list[tuple[int, int, Produced]] = []
    next_call = now_ms
    n = 0
    events_per_call = 3.3
    while True:
        while next_call <= now_ms + 60_000:
            rep, team = rng.choice(people)
            n += 1
            # Each rep works a book of leads: the same lead is called again (engagement).
            lead = f"lead-{rep}-{rng.randint(1, 40)}"
            for event in call_events(
                rng, f"live-{seed}-{n}-{next_call}", rep, team, next_call, rng.random() < 0.05, 0.3
            ):
                event["lead_id"] = lead
                at = event["occurred_at"]
                at_ms = at if isinstance(at, int) else to_ms(datetime.fromisoformat(at))
                roll = rng.random()
                delay = (
                    rng.randint(20_000, 90_000)
                    if roll < 0.02
                    else rng.randint(1_000, 8_000)
                    if roll < 0.15
                    else 0
                )
                record = Produced(rep.encode(), orjson.dumps(event), "event")
                heapq.heappush(pending, (at_ms + delay, rng.getrandbits(32), record))
                human = event["status"] == "completed" and event.get("answered_by") == "human"
                if follow_up is not None and human:
                    for crm_at, crm_record in follow_up(rng, event, team, at_ms):
                        heapq.heappush(pending, (crm_at, rng.getrandbits(32), crm_record))
                if rng.random() < 0.03:
                    heapq.heappush(
                        pending,
                        (
                            at_ms + delay + rng.randint(500, 60_000),
                            rng.getrandbits(32),
                            Produced(record.key, record.value, "duplicate"),
                        ),
                    )
                if rng.random() < 0.003:
                    kind = rng.choice(MALFORMED_KINDS)
                    bad = malformed_record(rng, kind, event, max_bytes)
                    heapq.heappush(pending, (at_ms, rng.getrandbits(32), bad))
            next_call += int(rng.expovariate(rate / events_per_call) * 1000) + 1
        send_at, _, record = heapq.heappop(pending)
        now_ms = max(now_ms, send_at)
        yield send_at, record
