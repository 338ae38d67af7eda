"""The engagement stage: every touch of a lead, on one partition (`isales.touches`, keyed by
lead), folded into the lead's state; the lead's score and band on `kpi.engagement`; and what the
lead means for its reps and its segment, credited on `isales.reach`.

The lead's state is a function of the set of records seen, never of their order: each touch id
keeps its earliest time, an opportunity its earliest handoff, and the lead's segment and owner
are chosen by a fixed rule over that set (README, "Relationship and reach"). What the stage
credits downstream carries a version (`v`, the count of the lead's state changes, which a
replay of the same log repeats), so the reach stage keeps the newest credit whatever the order
the records arrive in, and a credit that moves (a lead's segment decided by an earlier touch
that came late) is withdrawn where it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from schemas.common import from_ms, to_ms
from schemas.touch import TOUCH_TYPES, ReachKind, TouchRecord
from stream_app.families.engagement.config import MACHINE_TOUCHES, EngagementConfig
from stream_app.families.engagement.score import band
from stream_app.families.engagement.touches import REACH
from stream_app.spine.family_protocol import DerivedSpec, Emit, Facts, MetricSpec, State

ENGAGEMENT = "engagement"  # emit role of kpi.engagement
TOUCH_CAP = 256
"""Touches kept per lead (the newest by time): older ones have decayed to nothing that matters
(256 touches span months for the busiest lead) and the state stays bounded."""
VIEW_CACHE_MAX = 4_096
"""Leads whose last reach view is remembered (a few KB each) before the memory starts over."""
UNASSIGNED = "_unassigned"
UNKNOWN_SEGMENT = "unknown"
OUTREACH: frozenset[str] = frozenset({"call_dial", "email_delivered"})
"""Touches a rep makes that the lead need not notice: reach, not response."""
NOT_A_TOUCHPOINT: frozenset[str] = frozenset({"crm_handoff"})
DECISIONS = {"crm_accepted": "accepted", "crm_rejected": "rejected", "crm_won": "won"}
DECISIONS["crm_lost"] = "lost"
DECIDED_KINDS = frozenset({"accepted", "rejected"})
OUTCOME_KINDS = frozenset({"won", "lost"})


def touch_kind(touch_type: str) -> str:
    """outreach (a dial, a delivery), machine (no person), or response (everything else)."""
    if touch_type in MACHINE_TOUCHES:
        return "machine"
    return "outreach" if touch_type in OUTREACH else "response"


def lead_score(touches: Mapping[str, list[Any]], at_ms: int, config: EngagementConfig) -> float:
    """README: sum of weight(type) x 2^(-(at - touch time) / half-life) over the lead's distinct
    touches at or before `at` (the same formula as `score.score`, over the state's layout)."""
    half_life = config.half_life_ms
    return math.fsum(
        config.weight(t[1]) * math.pow(2.0, -(at_ms - t[0]) / half_life)
        for t in touches.values()
        if t[0] <= at_ms
    )


def _earliest(items: Mapping[str, list[Any]], pick: int) -> Any:
    """The value at `pick` of the earliest (time, id) item that has one."""
    best: tuple[int, str] | None = None
    value = None
    for key, item in items.items():
        if item[pick] is not None and (best is None or (item[0], key) < best):
            best, value = (item[0], key), item[pick]
    return value


def _latest(items: Mapping[str, list[Any]], pick: int) -> tuple[Any, tuple[int, str] | None]:
    best: tuple[int, str] | None = None
    value = None
    for key, item in items.items():
        if item[pick] is not None and (best is None or (item[0], key) > best):
            best, value = (item[0], key), item[pick]
    return value, best


def newest_decisions(held: Mapping[str, list[Any]]) -> set[str]:
    """An opportunity's newest decision (accepted or rejected) and newest outcome (won or
    lost), each by time then event id, as the CRM family counts them: a re-decided
    opportunity is what it was decided last, a reopened deal what it closed as last. The
    touch ids are `crm:<event id>`, so they order as the event ids do."""
    out: set[str] = set()
    for kinds in (DECIDED_KINDS, OUTCOME_KINDS):
        best = max(((at, tid, d) for tid, (at, d) in held.items() if d in kinds), default=None)
        if best is not None:
            out.add(best[2])
    return out


def _rank(entry: list[Any]) -> tuple[Any, ...]:
    """A touchpoint's versions in order: by time, then by what they say (a missing value
    first). The earliest stands; of versions saying the same time (every event of a call
    repeats its dial), one fixed by content, never by which arrived first."""
    at, kind, *said = entry
    return (at, kind, *((value is not None, value or "") for value in said))


@dataclass(slots=True)
class Summary:
    """What the lead's KPI record and its reach view read off its touches, in one walk of
    them (each used to walk them itself, several times a batch)."""

    last: int | None = None
    """The newest touch's time."""
    channels: dict[str, int] = field(default_factory=dict)
    """Touchpoints per channel that a person made (machine answers and opens left out)."""
    machine: dict[str, int] = field(default_factory=dict)
    touched: bool = False
    """Whether the lead responded at least once (a touch neither outreach nor a machine's)."""
    rep: tuple[int, str, Any] | None = None
    """(time, id, rep) of the newest touch naming a rep."""
    team: tuple[int, str, Any] | None = None
    segment: tuple[int, str, Any] | None = None
    """(time, id, segment) of the earliest touch naming a segment."""


def summarise(state: State) -> Summary:
    """One walk of the lead's touches. A CRM record or a handoff whose id a touch also has
    replaces that touch where the owner is chosen (as the merged views it stands for did)."""
    out = Summary()
    channels, machine = out.channels, out.machine
    replaced = state["c"].keys() | {h[1] for h in state["h"].values()}
    last = rep = team = seg = None
    touched = False
    for key, (at, kind, channel, t_rep, t_team, t_seg) in state["t"].items():
        if last is None or at > last:
            last = at
        if kind in MACHINE_TOUCHES:
            machine[channel] = machine.get(channel, 0) + 1
        else:
            channels[channel] = channels.get(channel, 0) + 1
            touched = touched or kind not in OUTREACH
        if t_seg is not None and (seg is None or (at, key) < seg[:2]):
            seg = (at, key, t_seg)
        if key in replaced:
            continue
        if t_rep is not None and (rep is None or (at, key) > rep[:2]):
            rep = (at, key, t_rep)
        if t_team is not None and (team is None or (at, key) > team[:2]):
            team = (at, key, t_team)
    out.last, out.touched, out.rep, out.team, out.segment = last, touched, rep, team, seg
    return out


class LeadFamily:
    name: str = "engagement"
    erasable: bool = True
    """Keyed by lead: reads the erasure list (stream-app erase)."""
    key_field: str = "lead_id"
    model: type[TouchRecord] = TouchRecord
    metrics: tuple[MetricSpec, ...] = ()
    derived: tuple[DerivedSpec, ...] = ()

    def __init__(self, config: EngagementConfig | Callable[[], EngagementConfig]) -> None:
        # A loader: the file is read where the worker runs (the spec is also built elsewhere,
        # by `topics` or a compose check, where the file's path may not exist).
        self._config = config
        self._views: dict[str, tuple[State, dict[tuple[str, str], dict[str, Any]]]] = {}
        self._pending: dict[str, tuple[State | None, State]] = {}
        """Lead -> (its state before the batch's first change, its state now)."""
        self._credits: dict[tuple[str, str], bytes] = {}
        """(group, credited id) -> the batch's newest credit, sent at the batch's end."""

    @cached_property
    def config(self) -> EngagementConfig:
        cfg = self._config
        return cfg if isinstance(cfg, EngagementConfig) else cfg()

    def partition_key(self, event: TouchRecord) -> str:
        return event.lead_id

    def group(self, event: TouchRecord) -> str:
        return event.lead_id

    def event_id(self, event: TouchRecord) -> str:
        return event.event_id

    def entity(self, event: TouchRecord) -> str:
        return event.lead_id

    def occurred_ms(self, event: TouchRecord) -> int:
        return to_ms(event.occurred_at)

    def entity_time(self, event: TouchRecord) -> int:
        # A lead has no time of its own: each touch is measured from when it happened.
        return to_ms(event.occurred_at)

    def check_time(self, event: TouchRecord) -> list[int]:
        return [to_ms(event.occurred_at)]

    # ---- state ------------------------------------------------------------------------------
    # t: touch id -> [at, type, channel, rep, team, segment]  (touchpoints, newest TOUCH_CAP)
    # c: CRM record id -> [at, marker, segment, rep, team]     (lead created / assigned)
    # h: opportunity -> [at, handoff touch id, rep, team, segment]  (earliest handoff)
    # d: opportunity -> {record id: [at, decision]}
    # n: how many times the state changed (the credits' version)

    def merge(self, state: State | None, event: TouchRecord) -> State:
        new: State = dict(state) if state else {"t": {}, "c": {}, "h": {}, "d": {}, "n": 0}
        at = to_ms(event.occurred_at)
        kind = event.type
        changed = False
        if kind in TOUCH_TYPES and kind not in NOT_A_TOUCHPOINT:
            seen = new["t"].get(event.touch_id)
            entry = [at, kind, event.channel, event.rep_id, event.team_id, event.segment]
            if seen is None or at < seen[0] or (at == seen[0] and _rank(entry) < _rank(seen)):
                touches = dict(new["t"])
                touches[event.touch_id] = entry
                if len(touches) > TOUCH_CAP:
                    oldest = min(touches, key=lambda k: (touches[k][0], k))
                    del touches[oldest]
                changed = touches != new["t"]
                new["t"] = touches
        elif kind == "crm_handoff" and event.opportunity_id is not None:
            opp = event.opportunity_id
            entry = [at, event.touch_id, event.rep_id, event.team_id, event.segment]
            seen = new["h"].get(opp)
            if seen is None or (at, event.touch_id) < (seen[0], seen[1]):
                new["h"] = {**new["h"], opp: entry}
                changed = True
        elif kind in DECISIONS and event.opportunity_id is not None:
            opp = event.opportunity_id
            held = new["d"].get(opp, {})
            seen = held.get(event.touch_id)
            if seen is None or at < seen[0]:
                new["d"] = {**new["d"], opp: {**held, event.touch_id: [at, DECISIONS[kind]]}}
                changed = True
        elif kind == "crm_lead":
            seen = new["c"].get(event.touch_id)
            if seen is None or at < seen[0]:
                entry = [at, kind, event.segment, event.rep_id, event.team_id]
                new["c"] = {**new["c"], event.touch_id: entry}
                changed = True
        if changed:
            new["n"] = new["n"] + 1
        return new

    def facts(self, state: State) -> Facts:
        return {}

    def labels(self, state: State) -> Mapping[str, str]:
        return {}

    def windowed(self, fact: str) -> bool:
        return False

    # ---- what the state says ----------------------------------------------------------------

    def segment(self, state: State, summary: Summary | None = None) -> str:
        """The CRM's segment for the lead (its earliest lead or handoff record naming one),
        else the segment of the lead's earliest touch naming one, else `unknown`."""
        crm = {**{k: [v[0], v[2]] for k, v in state["c"].items()}}
        crm.update({v[1]: [v[0], v[4]] for v in state["h"].values()})
        seg = _earliest(crm, 1)
        if seg is None:
            earliest = (summary or summarise(state)).segment
            seg = earliest[2] if earliest is not None else None
        return str(seg) if seg else UNKNOWN_SEGMENT

    def owner(self, state: State, summary: Summary | None = None) -> tuple[str | None, str | None]:
        """The rep (and team) of the lead's newest record naming one: the CRM assignment, a
        handoff, a call or an e-mail on the rep's behalf."""
        summary = summary or summarise(state)
        named: dict[str, list[Any]] = {k: [v[0], v[3]] for k, v in state["c"].items()}
        named.update({v[1]: [v[0], v[2]] for v in state["h"].values()})
        rep, best = _latest(named, 1)
        if summary.rep is not None and (best is None or summary.rep[:2] > best):
            rep, best = summary.rep[2], summary.rep[:2]
        if best is None:
            return None, None
        teams: dict[str, list[Any]] = {k: [v[0], v[4]] for k, v in state["c"].items()}
        teams.update({v[1]: [v[0], v[3]] for v in state["h"].values()})
        team, best = _latest(teams, 1)
        if summary.team is not None and (best is None or summary.team[:2] > best):
            team = summary.team[2]
        return rep, team

    def reach_view(
        self,
        state: State,
        score: Callable[[int], float] | None = None,
        summary: Summary | None = None,
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """(group, credited id) -> the credit's body, without its version: the handoffs per
        rep and the lead's status in its segment. `score(at)`: the lead's score at `at`."""
        cfg = self.config
        if score is None:
            score = self._scorer(state)
        if summary is None:
            summary = summarise(state)
        view: dict[tuple[str, str], dict[str, Any]] = {}
        counts = {"accepted": 0, "won": 0}
        for opp, (at, _tid, rep, team, _seg) in sorted(state["h"].items()):
            value = score(at)
            decisions = newest_decisions(state["d"].get(opp, {}))
            body = {
                "kind": ReachKind.handoff.value,
                "occurred_at": at,
                "team_id": team,
                "band": band(value, cfg.bands),
                "score": value,
                **{d: d in decisions for d in ("accepted", "rejected", "won", "lost")},
            }
            view[(f"rep:{rep or UNASSIGNED}", f"handoff:{opp}")] = body
            for d in counts:
                counts[d] += d in decisions
        last = summary.last
        times = [*(h[0] for h in state["h"].values()), *(c[0] for c in state["c"].values())]
        times += [d[0] for held in state["d"].values() for d in held.values()]
        status_at = max([last, *times] if last is not None else times)
        view[(f"seg:{self.segment(state, summary)}", "")] = {
            "kind": ReachKind.lead.value,
            "occurred_at": status_at,
            "touched": summary.touched,
            "handoffs": len(state["h"]),
            "accepted_n": counts["accepted"],
            "won_n": counts["won"],
            # A copy: the engagement record holds the same counts.
            "touches": dict(summary.channels),
            "score": score(last) if last is not None else 0.0,
            "score_at": last,
        }
        return view

    # ---- downstream ---------------------------------------------------------------------------

    def emit(self, old: State | None, new: State, event: TouchRecord) -> list[Emit]:
        """Nothing at once: the touch's own credit, the lead's KPI record and the rest of its
        credits go once per batch (`end_batch`): the lead's walk every touch of the lead (a
        backfill brings a lead's touches together), and the batch's credits of a group go
        downstream as one record (the reach output is bundled)."""
        if old is not None and old["n"] == new["n"]:
            return []  # nothing changed (an earlier copy of the touch stands)
        lead = event.lead_id
        first = self._pending.get(lead)
        # The state the lead's last credits described: the one before its first touch here.
        self._pending[lead] = (old if first is None else first[0], new)
        tid = event.touch_id
        touch = new["t"].get(tid)
        if touch is None or (old is not None and old["t"].get(tid) == touch):
            return []
        at, kind, channel, rep, team, _ = touch
        body = {
            "kind": ReachKind.touch.value,
            "occurred_at": at,
            "team_id": team,
            "channel": channel,
            "touch_type": kind,
        }
        self._credit(tid, new["n"], f"rep:{rep or UNASSIGNED}", body)
        return []

    def end_batch(self) -> list[Emit]:
        """Per lead the batch changed: its record on kpi.engagement, and what its reach view
        (handoffs per rep, status in its segment) says now that it did not before the batch,
        at the version of its state now; a credit that moved is withdrawn where it was. With
        them, the touches' own credits of the batch (each at its newest version)."""
        pending, self._pending = self._pending, {}
        out: list[Emit] = []
        for lead, (old, new) in pending.items():
            score, summary = self._scorer(new), summarise(new)
            out.append(self._engagement_record(lead, new, score, summary))
            before = self._view_of(lead, old) if old is not None else {}
            after = self.reach_view(new, score, summary)
            if len(self._views) >= VIEW_CACHE_MAX:
                self._views.clear()
            self._views[lead] = (new, after)
            v = new["n"]
            for (group, ident), body in after.items():
                if before.get((group, ident)) != body:
                    self._credit(ident or lead, v, group, body)
            for (group, ident), body in before.items():
                if (group, ident) not in after:
                    gone = {"kind": body["kind"], "occurred_at": body["occurred_at"], "moved": True}
                    self._credit(ident or lead, v, group, gone)
        credits, self._credits = self._credits, {}
        return out + [(REACH, group.encode(), value) for (group, _), value in credits.items()]

    def _credit(self, ident: str, v: int, group: str, body: Mapping[str, Any]) -> None:
        """A credit to send with the batch; a later version of the same credit in the batch
        replaces it (the reach stage would keep the newest anyway)."""
        record = {"id": ident, "v": v, "group": group, **body}
        self._credits[(group, ident)] = orjson.dumps(record)

    def erased_records(self, lead: str) -> list[tuple[str, bytes]]:
        """A lead erased on request: its kpi.engagement key gets a tombstone, and what this
        stage remembers of it goes."""
        self._views.pop(lead, None)
        self._pending.pop(lead, None)
        return [(ENGAGEMENT, lead.encode())]

    def _view_of(self, lead: str, state: State) -> dict[tuple[str, str], dict[str, Any]]:
        """`reach_view(state)`, remembered from the lead's last batch while `state` is still
        the object that batch left (the store keeps it): each batch needs the view before and
        after it, and the view walks every touch of the lead."""
        known = self._views.get(lead)
        if known is not None and known[0] is state:
            return known[1]
        return self.reach_view(state)

    def _scorer(self, state: State) -> Callable[[int], float]:
        """The lead's score at a time, each time computed once: the engagement record and the
        reach view both score the lead at its newest touch and at each handoff, and a score
        walks every touch of the lead."""
        touches, cfg = state["t"], self.config
        known: dict[int, float] = {}

        def score(at_ms: int) -> float:
            value = known.get(at_ms)
            if value is None:
                value = known[at_ms] = lead_score(touches, at_ms, cfg)
            return value

        return score

    def _engagement_record(
        self,
        lead: str,
        state: State,
        score: Callable[[int], float] | None = None,
        summary: Summary | None = None,
    ) -> Emit:
        """kpi.engagement, keyed by lead: the score at the lead's newest touch (a consumer
        decays it to any later time: score x 2^(-(t - score_at) / half-life))."""
        cfg = self.config
        if score is None:
            score = self._scorer(state)
        if summary is None:
            summary = summarise(state)
        last = summary.last
        value = score(last) if last is not None else 0.0
        last_at = from_ms(last).isoformat() if last is not None else None
        rep, team = self.owner(state, summary)
        channels, machine = summary.channels, summary.machine
        handoffs = []
        for opp, (at, _tid, h_rep, _team, _seg) in sorted(state["h"].items()):
            at_handoff = score(at)
            handoffs.append(
                {
                    "opportunity_id": opp,
                    "handoff_at": from_ms(at).isoformat(),
                    "rep_id": h_rep,
                    "score": at_handoff,
                    "band": band(at_handoff, cfg.bands),
                }
            )
        body = {
            "schema_version": 1,
            "kpi": "engagement",
            "lead_id": lead,
            "score": value,
            "band": band(value, cfg.bands),
            "score_at": last_at,
            "half_life_days": cfg.half_life_days,
            "touches": dict(sorted(channels.items())),
            "machine_touches": dict(sorted(machine.items())),
            "last_touch_at": last_at,
            "owner_rep_id": rep,
            "team_id": team,
            "segment": self.segment(state, summary),
            "handoffs": handoffs,
        }
        return (ENGAGEMENT, lead.encode(), orjson.dumps(body))
