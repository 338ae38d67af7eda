"""A seeded scenario across the four sources (calls, e-mail, CRM, web) and its truth, written
from the README's "Relationship and reach" definitions, never from the stages' code:

* touches: an outbound call is a dial (at started_at) and, once answered, a connect (a person)
  or a machine answer (at answered_at); an e-mail message gives a delivery, a human open, a
  machine open and a click, each once, at the earliest of its events; a web event is a touch of
  its own type; a CRM handoff is the lead's handoff (not a touchpoint); ad impressions are
  counts per campaign and segment.
* credit: a touch goes to the rep on it (a call's rep, the e-mail's owner, the web event's
  owner), else `_unassigned`; kind outreach (dial, delivery), machine, or response.
* score(t) = sum of weight x 2^(-(t - touch time) / half-life) over touches at or before t;
  bands cold < warming <= .. < warm <= .. < hot by the thresholds; a handoff's band is the
  band of the score at the handoff's time.
* segment of a lead: the CRM's (lead_created / handoff), else its earliest touch naming one.
* per segment: targeted (every lead), touched (a response), engaged (warm or hot now),
  handoffs, accepted, won; fit index = (won / all won) / (targeted / all targeted);
  engages_not_winning: engaged share >= the org's and win rate < fraction x the org's, over
  at least min_handoffs handoffs.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HOUR = 3_600_000
DAY = 24 * HOUR
REPS = [(f"rep-{i:02d}", "team-a" if i % 2 else "team-b") for i in range(1, 7)]
SEGMENTS = {
    "saas:smb": ("saas", "smb"),
    "saas:ent": ("saas", "ent"),
    "retail:smb": ("retail", "smb"),
}
NOT_WINNING = "retail:smb"
WEIGHTS = {
    "page_view": 1,
    "pricing_page_view": 5,
    "meeting_booked": 25,
    "call_connect": 15,
    "email_open_human": 2,
    "email_click": 4,
}
HALF_LIFE_DAYS = 30.0
BANDS = (5.0, 20.0, 50.0)
FRACTION, MIN_HANDOFFS = 0.5, 5

ENGAGEMENT_FILE = f"""
half_life_days: {HALF_LIFE_DAYS}
weights: {WEIGHTS}
bands: {{warming: {BANDS[0]}, warm: {BANDS[1]}, hot: {BANDS[2]}}}
target_fit: {{win_rate_fraction: {FRACTION}, min_handoffs: {MIN_HANDOFFS}}}
"""


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def band(value: float) -> str:
    if value >= BANDS[2]:
        return "hot"
    if value >= BANDS[1]:
        return "warm"
    return "warming" if value >= BANDS[0] else "cold"


@dataclass
class Scenario:
    events: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    """source ("calls", "email", "crm", "web") -> distinct events, in time order."""


def scenario(seed: int, leads: int, base_ms: int) -> Scenario:
    rng = random.Random(seed)
    sc = Scenario()
    for n in range(leads):
        lead = f"lead-{n:04d}"
        segment = list(SEGMENTS)[n % 3]
        rep, team = REPS[n % len(REPS)]
        t0 = base_ms + rng.randint(0, 2 * DAY)
        industry, size = SEGMENTS[segment]
        sc.events["crm"].append(
            {
                "event_id": f"lc-{n}",
                "occurred_at": iso(t0),
                "type": "lead_created",
                "lead_id": lead,
                "segment": {"industry": industry, "size_band": size},
            }
        )
        hot = segment == NOT_WINNING  # engages very well, never wins
        for c in range(rng.randint(1, 3)):
            call = f"call-{n}-{c}"
            start = t0 + rng.randint(1, 5 * DAY)
            answered = rng.choice(["human", "machine", None])
            base_call: dict[str, Any] = {
                "call_id": call,
                "rep_id": rep,
                "team_id": team,
                "direction": "outbound",
                "started_at": iso(start),
                "lead_id": lead,
            }
            sc.events["calls"].append(
                {
                    **base_call,
                    "event_id": f"{call}-i",
                    "occurred_at": iso(start),
                    "status": "initiated",
                }
            )
            if answered:
                at = start + 20_000
                sc.events["calls"].append(
                    {
                        **base_call,
                        "event_id": f"{call}-a",
                        "occurred_at": iso(at),
                        "status": "answered",
                        "answered_by": answered,
                        "answered_at": iso(at),
                    }
                )
        for m in range(rng.randint(1, 3)):
            msg = f"msg-{n}-{m}"
            sent = t0 + rng.randint(1, 5 * DAY)
            base: dict[str, Any] = {
                "message_id": msg,
                "campaign_id": "spring",
                "variant": rng.choice("AB"),
                "subject_id": "s1",
                "segment": segment,
                "lead_id": lead,
                "owner_rep_id": rep if rng.random() < 0.8 else None,
                "sent_at": iso(sent),
            }
            kinds = [("delivered", 1000, False)]
            if rng.random() < (0.9 if hot else 0.5):
                kinds.append(("open", 3 * HOUR, False))
                kinds.append(("open", 5 * HOUR, False))  # a second open: the same touch
            if rng.random() < 0.3:
                kinds.append(("open", 60_000, True))  # a machine open
            if rng.random() < 0.3:
                kinds.append(("click", 6 * HOUR, False))
            for k, (kind, delay, machine) in enumerate(kinds):
                event: dict[str, Any] = {
                    **base,
                    "event_id": f"{msg}-{k}",
                    "occurred_at": iso(sent + delay),
                }
                event["type"] = kind
                if machine:
                    event["machine_open"] = True
                sc.events["email"].append(event)
        views = rng.randint(3, 8) if hot else rng.randint(0, 3)
        for w in range(views):
            kind = rng.choice(["page_view", "pricing_page_view", "meeting_booked"])
            at = t0 + rng.randint(1, 6 * DAY)
            event = {
                "event_id": f"web-{n}-{w}",
                "occurred_at": iso(at),
                "type": kind,
                "lead_id": lead,
                "channel": "web",
                "segment": segment,
            }
            if rng.random() < 0.5:
                event["owner_rep_id"] = rep
            sc.events["web"].append(event)
        if rng.random() < (0.6 if hot else 0.45):
            at = t0 + rng.randint(3 * DAY, 7 * DAY)
            opp = f"opp-{n}"
            sc.events["crm"].append(
                {
                    "event_id": f"h-{n}",
                    "occurred_at": iso(at),
                    "type": "handoff",
                    "opportunity_id": opp,
                    "lead_id": lead,
                    "rep_id": rep,
                    "team_id": team,
                    "segment": {"industry": industry, "size_band": size},
                    "discovery": {"budget": {"status": "answered"}},
                }
            )
            if rng.random() < 0.8:
                sc.events["crm"].append(
                    {
                        "event_id": f"a-{n}",
                        "occurred_at": iso(at + DAY),
                        "type": "opportunity_accepted",
                        "opportunity_id": opp,
                    }
                )
                won = not hot and rng.random() < 0.6
                close = at + 3 * DAY
                event = {
                    "event_id": f"d-{n}",
                    "occurred_at": iso(close),
                    "type": "deal_won" if won else "deal_lost",
                    "opportunity_id": opp,
                    "close_at": iso(close),
                }
                if won:
                    event |= {"amount": "1000.00", "currency": "JPY"}
                sc.events["crm"].append(event)
    for k, campaign in enumerate(("spring", "summer")):
        for segment in SEGMENTS:
            sc.events["web"].append(
                {
                    "event_id": f"imp-{campaign}-{segment}",
                    "occurred_at": iso(base_ms + k * HOUR),
                    "type": "ad_impressions",
                    "channel": "ads",
                    "campaign_id": campaign,
                    "segment": segment,
                    "count": 1000 + 7 * k + len(segment),
                }
            )
    return sc


def message_key(source: str, e: dict[str, Any]) -> bytes:
    """The key each source's topic documents for the scenario's event (docs: reference/topics)."""
    if source == "calls":
        return str(e["rep_id"]).encode()
    if source == "email":
        return str(e["campaign_id"]).encode()
    if source == "crm":
        return str(e.get("opportunity_id") or e["lead_id"]).encode()
    return str(e.get("lead_id") or e["campaign_id"]).encode()


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@dataclass
class Truth:
    touchpoints: Counter[tuple[str, str, str]]  # (rep, channel, kind)
    handoff_bands: Counter[tuple[str, str, str]]  # (rep, status, band)
    segments: Counter[tuple[str, str]]  # (segment, count name)
    segment_touches: Counter[tuple[str, str]]  # (segment, channel)
    impressions: Counter[tuple[str, str]]  # (segment, campaign)
    scores: dict[str, float]  # lead -> score at its newest touch
    segment_of: dict[str, str]
    owner_of: dict[str, str]
    anchors: dict[str, list[tuple[float, int]]]  # segment -> (score, score_at) per lead

    def engaged(self, segment: str, now_ms: int) -> int:
        h = HALF_LIFE_DAYS * DAY
        return sum(
            1 for s, at in self.anchors[segment] if s * 2 ** (-(now_ms - at) / h) >= BANDS[1]
        )

    def bands_now(self, segment: str, now_ms: int) -> Counter[str]:
        h = HALF_LIFE_DAYS * DAY
        return Counter(band(s * 2 ** (-(now_ms - at) / h)) for s, at in self.anchors[segment])


def truth(sc: Scenario) -> Truth:
    touches: dict[str, dict[str, tuple[int, str, str, str]]] = defaultdict(dict)
    reps_named: dict[str, list[tuple[int, str, str]]] = defaultdict(list)

    def touch(lead: str, tid: str, at: int, kind: str, channel: str, rep: str | None) -> None:
        seen = touches[lead].get(tid)
        if seen is None or at < seen[0]:
            touches[lead][tid] = (at, kind, channel, rep or "_unassigned")
        if rep:
            reps_named[lead].append((at, tid, rep))

    for e in sc.events["calls"]:
        call, lead, rep = e["call_id"], e["lead_id"], e["rep_id"]
        touch(lead, f"{call}:dial", ms(e["started_at"]), "call_dial", "call", rep)
        if e.get("answered_by") in ("human", "machine"):
            kind = "call_connect" if e["answered_by"] == "human" else "call_machine"
            touch(lead, f"{call}:{kind}", ms(e["answered_at"]), kind, "call", rep)
    for e in sc.events["email"]:
        machine = bool(e.get("machine_open"))
        kind = {
            "delivered": "email_delivered",
            "open": "email_open_machine" if machine else "email_open_human",
            "click": "email_open_machine" if machine else "email_click",
        }[e["type"]]
        touch(
            e["lead_id"],
            f"{e['message_id']}:{kind}",
            ms(e["occurred_at"]),
            kind,
            "email",
            e.get("owner_rep_id"),
        )
    impressions: Counter[tuple[str, str]] = Counter()
    for e in sc.events["web"]:
        if e["type"] == "ad_impressions":
            impressions[(e["segment"], e["campaign_id"])] += e["count"]
            continue
        touch(
            e["lead_id"],
            e["event_id"],
            ms(e["occurred_at"]),
            e["type"],
            e["channel"],
            e.get("owner_rep_id"),
        )
    crm_segment: dict[str, tuple[int, str]] = {}
    handoffs: dict[str, tuple[int, str, str]] = {}  # opp -> (at, lead, rep)
    decided: dict[str, set[str]] = defaultdict(set)
    for e in sc.events["crm"]:
        at = ms(e["occurred_at"])
        if e["type"] in ("lead_created", "handoff"):
            seg = ":".join((e["segment"]["industry"], e["segment"]["size_band"]))
            if e["lead_id"] not in crm_segment or at < crm_segment[e["lead_id"]][0]:
                crm_segment[e["lead_id"]] = (at, seg)
        if e["type"] == "handoff":
            handoffs[e["opportunity_id"]] = (at, e["lead_id"], e["rep_id"])
            reps_named[e["lead_id"]].append((at, f"h:{e['event_id']}", e["rep_id"]))
        elif e["type"] == "opportunity_accepted":
            decided[e["opportunity_id"]].add("accepted")
        elif e["type"] in ("deal_won", "deal_lost"):
            decided[e["opportunity_id"]].add(e["type"][5:])
    h = HALF_LIFE_DAYS * DAY

    def score(lead: str, at: int) -> float:
        return math.fsum(
            WEIGHTS.get(kind, 0) * 2 ** (-(at - t) / h)
            for t, kind, _, _ in touches[lead].values()
            if t <= at
        )

    tp: Counter[tuple[str, str, str]] = Counter()
    seg_touch: Counter[tuple[str, str]] = Counter()
    segments: Counter[tuple[str, str]] = Counter()
    scores, segment_of, owner_of = {}, {}, {}
    anchors: dict[str, list[tuple[float, int]]] = defaultdict(list)
    leads = set(touches) | set(crm_segment)
    for lead in leads:
        segment = crm_segment[lead][1] if lead in crm_segment else "unknown"
        segment_of[lead] = segment
        segments[(segment, "targeted")] += 1
        response = False
        for _, kind, channel, rep in touches[lead].values():
            k = (
                "machine"
                if kind in ("call_machine", "email_open_machine")
                else ("outreach" if kind in ("call_dial", "email_delivered") else "response")
            )
            tp[(rep, channel, k)] += 1
            if k != "machine":
                seg_touch[(segment, channel)] += 1
            response = response or k == "response"
        if response:
            segments[(segment, "touched")] += 1
        if touches[lead]:
            last = max(t for t, _, _, _ in touches[lead].values())
            scores[lead] = score(lead, last)
            anchors[segment].append((scores[lead], last))
        else:
            anchors[segment].append((0.0, 0))
        if reps_named[lead]:
            owner_of[lead] = max(reps_named[lead])[2]
    hb: Counter[tuple[str, str, str]] = Counter()
    for opp, (at, lead, rep) in handoffs.items():
        b = band(score(lead, at))
        hb[(rep, "handoffs", b)] += 1
        segments[(segment_of[lead], "handoffs")] += 1
        for d in decided[opp]:
            hb[(rep, d, b)] += 1
            if d in ("accepted", "won"):
                segments[(segment_of[lead], d)] += 1
    return Truth(tp, hb, segments, seg_touch, impressions, scores, segment_of, owner_of, anchors)


def fit(t: Truth, now_ms: int) -> dict[str, tuple[float | None, bool]]:
    """segment -> (fit index, engages_not_winning), from the README's formulas."""
    segs = sorted({s for s, _ in t.segments} | {s for s, _ in t.impressions})
    total_targeted = sum(t.segments[(s, "targeted")] for s in segs)
    total_won = sum(t.segments[(s, "won")] for s in segs)
    total_handoffs = sum(t.segments[(s, "handoffs")] for s in segs)
    org_engaged = sum(t.engaged(s, now_ms) for s in segs if t.anchors.get(s)) / total_targeted
    org_rate = total_won / total_handoffs
    out = {}
    for s in segs:
        targeted = t.segments[(s, "targeted")]
        won, handoffs = t.segments[(s, "won")], t.segments[(s, "handoffs")]
        index = None
        if total_won and targeted:
            index = (won / total_won) / (targeted / total_targeted)
        engaged = t.engaged(s, now_ms) / targeted if targeted else None
        flag = (
            handoffs >= MIN_HANDOFFS
            and engaged is not None
            and engaged >= org_engaged
            and org_rate > 0
            and won / handoffs < FRACTION * org_rate
        )
        out[s] = (index, flag)
    return out
