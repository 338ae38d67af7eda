"""Demo email traffic: campaigns with A/B variants whose true open and click rates differ.

Shaped like a real nurture programme: a share of recipients sit behind a privacy proxy that
pre-fetches images (machine opens), some bounce, opens arrive before their delivery event, some
clicks come with no recorded open, events are redelivered, and a few records are malformed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from schemas.common import from_ms, to_ms
from stream_app.demo.traffic import Produced

SEGMENTS = ("smb", "mid-market", "enterprise")
TEAMS = ("team-a", "team-b", None)


@dataclass(frozen=True, slots=True)
class Arm:
    variant: str
    open_rate: float
    click_rate: float
    """Share of delivered messages clicked (each click implies a human open)."""
    messages: int


@dataclass
class EmailScenarioConfig:
    seed: int = 5
    campaigns: dict[str, tuple[Arm, ...]] = field(
        default_factory=lambda: {
            "nurture-q4": (Arm("A", 0.20, 0.02, 3000), Arm("B", 0.30, 0.04, 3000)),
            "webinar-invite": (
                Arm("A", 0.25, 0.03, 2000),
                Arm("B", 0.25, 0.03, 2000),
                Arm("C", 0.18, 0.02, 2000),
            ),
            "reengage": (Arm("A", 0.12, 0.01, 4000), Arm("B", 0.12, 0.01, 4000)),
        }
    )
    start_date: str = "2026-03-02"
    tz: str = "Europe/Berlin"
    proxy_share: float = 0.35
    bounce_rate: float = 0.03
    deferred_rate: float = 0.04
    dropped_rate: float = 0.01
    unsubscribe_rate: float = 0.004
    spam_rate: float = 0.001
    click_without_open_rate: float = 0.15
    open_before_delivery_rate: float = 0.05
    duplicate_rate: float = 0.06
    max_delay_ms: int = 60_000
    malformed: int = 40


def message_events(
    rng: random.Random, cfg: EmailScenarioConfig, campaign: str, arm: Arm, n: int, sent_ms: int
) -> list[tuple[int, dict[str, Any]]]:
    """(delivery delay ms, event) for one message, in the order they happened."""
    base = {
        "message_id": f"{campaign}-{arm.variant}-{n:06d}",
        "campaign_id": campaign,
        "variant": arm.variant,
        "subject_id": f"subj-{arm.variant.lower()}",
        "segment": SEGMENTS[n % len(SEGMENTS)],
        "lead_id": f"lead-{rng.getrandbits(40):010x}",
        "sent_at": from_ms(sent_ms).isoformat(),
    }
    team = TEAMS[n % len(TEAMS)]
    if team is not None:
        base["owner_team_id"] = team
    seq = 0
    out: list[tuple[int, dict[str, Any]]] = []

    def ev(kind: str, at_ms: int, delay: int = 0, **extra: Any) -> None:
        nonlocal seq
        seq += 1
        occurred: Any = at_ms if seq % 2 else from_ms(at_ms).isoformat()
        event = {**base, "event_id": f"{base['message_id']}-{seq}", "type": kind}
        out.append((delay, {**event, "occurred_at": occurred, **extra}))

    ev("sent", sent_ms)
    roll = rng.random()
    if roll < cfg.dropped_rate:
        ev("dropped", sent_ms + 500)
        return out
    if roll < cfg.dropped_rate + cfg.bounce_rate:
        hard = rng.random() < 0.4
        if not hard and rng.random() < 0.5:
            ev("deferred", sent_ms + 1_000)
        bounced = sent_ms + rng.randint(2_000, 30_000)
        ev("bounce", bounced, bounce_type="hard" if hard else "soft")
        if not hard and rng.random() < 0.25:  # retried, then refused for good
            ev("bounce", bounced + rng.randint(5_000, 50_000), bounce_type="hard")
        return out
    t = sent_ms + rng.randint(1_000, 10_000)
    if rng.random() < cfg.deferred_rate:
        ev("deferred", t)
        t += rng.randint(5_000, 30_000)
    early_open = rng.random() < cfg.open_before_delivery_rate
    # The delivery event can reach us after the first open: delay it past that open.
    ev("delivered", t, delay=cfg.max_delay_ms if early_open else 0)
    if rng.random() < cfg.proxy_share:
        ev("open", t + rng.randint(500, 5_000), machine_open=True)
    clicked = rng.random() < arm.click_rate
    opened = clicked or rng.random() < (arm.open_rate - arm.click_rate) / (1 - arm.click_rate)
    if opened:
        first = t + (rng.randint(2_000, 20_000) if early_open else rng.randint(60_000, 7_200_000))
        if not (clicked and rng.random() < cfg.click_without_open_rate):
            ev("open", first, machine_open=False)
            if rng.random() < 0.3:
                ev("open", first + rng.randint(60_000, 600_000), machine_open=False)
        if clicked:
            ev("click", first + rng.randint(5_000, 120_000), url_host="www.example.com")
        if rng.random() < cfg.unsubscribe_rate * 10:
            ev("unsubscribe", first + rng.randint(10_000, 60_000))
    if rng.random() < cfg.spam_rate:
        ev("spam_report", t + rng.randint(60_000, 600_000))
    return out


def _malformed(rng: random.Random, kind: str, sample: dict[str, Any]) -> Produced:
    key = sample["campaign_id"].encode()
    bad = {**sample, "event_id": f"bad-{rng.getrandbits(40):010x}"}
    if kind == "invalid_json":
        return Produced(key, b'{"type": "open", ', "malformed", kind)
    if kind == "missing_field":
        bad.pop("message_id")
    elif kind == "unknown_enum":
        bad["type"] = "forwarded"
    elif kind == "wrong_type":
        bad["machine_open"] = {"yes": 1}
    elif kind == "personal_data":
        bad["segment"] = "jane.doe@example.com"
    elif kind == "key_mismatch":
        key = b"not-the-campaign"
    elif kind == "inconsistent_timestamps":
        bad["sent_at"] = "2099-01-01T00:00:00+00:00"
    return Produced(key, orjson.dumps(bad), "malformed", kind)


MALFORMED_KINDS = (
    "invalid_json",
    "missing_field",
    "unknown_enum",
    "wrong_type",
    "personal_data",
    "key_mismatch",
    "inconsistent_timestamps",
)


def email_scenario(cfg: EmailScenarioConfig) -> list[Produced]:
    """A fixed, seeded list of records in production order."""
    rng = random.Random(cfg.seed)
    tz = ZoneInfo(cfg.tz)
    day0 = datetime.fromisoformat(cfg.start_date).replace(tzinfo=tz)
    timeline: list[tuple[int, int, dict[str, Any]]] = []
    for c, (campaign, arms) in enumerate(sorted(cfg.campaigns.items())):
        for arm in arms:
            for n in range(arm.messages):
                # Sends over two business days, at each campaign's own hours.
                day = day0 + timedelta(days=n % 2)
                sent = to_ms(day + timedelta(hours=9 + c * 2, seconds=rng.randint(0, 7_200)))
                for delay, event in message_events(rng, cfg, campaign, arm, n, sent):
                    at = event["occurred_at"]
                    at_ms = at if isinstance(at, int) else to_ms(datetime.fromisoformat(at))
                    if delay == 0 and rng.random() < 0.1:
                        delay = rng.randint(1_000, cfg.max_delay_ms // 2)
                    timeline.append((at_ms + delay, rng.getrandbits(32), event))
    timeline.sort(key=lambda item: (item[0], item[1]))
    out = [Produced(e["campaign_id"].encode(), orjson.dumps(e), "event") for _, _, e in timeline]
    engagement = [p for p in out if orjson.loads(p.value)["type"] in ("open", "click")]
    engaged = {id(p) for p in engagement}
    others = [p for p in out if id(p) not in engaged]
    n_dup = int(len(out) * cfg.duplicate_rate)
    # Engagement webhooks are the ones vendors repeat most.
    picks = rng.sample(engagement, min(len(engagement), n_dup * 2 // 3))
    picks += rng.sample(others, n_dup - len(picks))
    index = {id(p): i for i, p in enumerate(out)}
    inserts = sorted(
        ((min(index[id(p)] + rng.randint(1, 300), len(out)), p) for p in picks),
        key=lambda item: -item[0],
    )
    for position, original in inserts:
        out.insert(position, Produced(original.key, original.value, "duplicate"))
    samples = [orjson.loads(p.value) for p in rng.sample(engagement, 20)]
    for i in range(cfg.malformed):
        kind = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
        out.insert(rng.randint(0, len(out)), _malformed(rng, kind, rng.choice(samples)))
    return out
